/* SPDX-License-Identifier: MIT */
/* The io_uring backend where the build's <linux/io_uring.h> is too old for poller_uring.c: it is
 * never available, so a loop that asks for it gets epoll (poller.c). */
#include "loop_internal.h"

#include <stdio.h>

static int create(csock__poller **out, char *why, size_t size)
{
    (void)out;
    snprintf(why, size, "built without io_uring: <linux/io_uring.h> older than Linux 5.19");
    return CSOCK_ENOSYS;
}

const csock__poller_ops csock__poller_uring = {"uring", create, NULL, NULL, NULL, NULL,
                                               NULL,    NULL,   NULL, NULL, NULL};
