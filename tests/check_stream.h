/* SPDX-License-Identifier: MIT */
/* What stream and server tests share: an echo that writes back every byte it is given. */
#ifndef CSOCK_CHECK_STREAM_H
#define CSOCK_CHECK_STREAM_H

#include "check.h"

#include <csock/stream.h>

/* on_data for an echo: writes back what arrived (a failed write closes the stream with the
 * error, which its on_close sees). */
static inline void check_echo(csock_stream *st, void *data)
{
    (void)data;
    const char *p;
    size_t n = csock_stream_peek(st, &p);
    CHECK(csock_stream_write(st, p, n) >= 0);
    csock_stream_consume(st, n);
}

#endif
