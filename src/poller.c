/* SPDX-License-Identifier: MIT */
/* Which poller a new loop gets. Every backend is built in; CSOCK_LOOP_BACKEND in the environment
 * picks one at run time, else the build's default (CSOCK__LOOP_DEFAULT, from CMake's
 * CSOCK_LOOP_BACKEND). io_uring may be missing (an old kernel), disabled
 * (kernel.io_uring_disabled) or refused (a seccomp filter, as Docker's default profile has): a
 * loop that asked for it then gets epoll, and says so in the trace, nothing else. */
#include "loop_internal.h"

#include <stdlib.h>
#include <string.h>

#ifndef CSOCK__LOOP_DEFAULT
#define CSOCK__LOOP_DEFAULT "epoll"
#endif

static const csock__poller_ops *const backends[] = {&csock__poller_epoll, &csock__poller_poll,
                                                    &csock__poller_uring};

static const csock__poller_ops *find(const char *name)
{
    for (size_t i = 0; i < sizeof backends / sizeof *backends; i++)
        if (strcmp(backends[i]->name, name) == 0) return backends[i];
    return NULL;
}

int csock__poller_open(csock_loop *loop)
{
    const char *env = getenv("CSOCK_LOOP_BACKEND");
    const char *name = env && *env ? env : CSOCK__LOOP_DEFAULT;
    const csock__poller_ops *ops = find(name);
    if (!ops) {
        char text[64] = "";
        size_t pos = 0;
        csock__escape(text, sizeof text, &pos, name, strlen(name));
        return csock__failf(CSOCK_EINVAL, "loop: CSOCK_LOOP_BACKEND=%s: not epoll, poll or uring",
                            text);
    }
    char why[128];
    int rc = ops->create(&loop->poller, why, sizeof why);
    if (rc < 0 && ops == &csock__poller_uring) {
        if (csock__tracing()) csock__trace("loop: io_uring unavailable (%s): using epoll", why);
        ops = &csock__poller_epoll;
        rc = ops->create(&loop->poller, why, sizeof why);
    }
    if (rc < 0) return csock__failf(rc, "loop: %s", why);
    loop->backend = ops;
    return 0;
}
