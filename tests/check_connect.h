/* SPDX-License-Identifier: MIT */
/* Test helpers for connecting on the loop (csock_loop_connect): one connect on a loop of its own,
 * and what came of it. */
#ifndef CSOCK_CHECK_CONNECT_H
#define CSOCK_CHECK_CONNECT_H

#include "check.h"

#include <csock/connect.h>

#include <sys/socket.h>

/* Runs passes until *done is nonzero, for at most seconds. */
static inline void run_until(csock_loop *loop, const int *done, double seconds)
{
    double end = check_now() + seconds;
    while (!*done && check_now() < end)
        csock_loop_run_once(loop, 0.05);
}

typedef struct {
    int calls, error, family;
    double at;
    char message[512];
} outcome;

static inline void on_connected(csock_loop *loop, csock *s, int error, void *data)
{
    outcome *o = data;
    (void)loop;
    o->calls++;
    o->error = error;
    o->at = check_now();
    if (s) {
        csock_addr peer;
        o->family = csock_getpeername(s, &peer) == 0 ? peer.ss.ss_family : -1;
        csock_free(s);
    } else {
        snprintf(o->message, sizeof o->message, "%s", csock_lasterror());
    }
}

/* Connects to host and port on a loop of its own, and waits (30 s at most) for the answer;
 * *seconds gets how long it took. */
static inline outcome connect_once(const char *host, int port, const csock_connect_options *opts,
                                   double *seconds)
{
    csock_loop *loop = csock_loop_new();
    outcome o = {0};
    double start = check_now();
    CHECK(csock_loop_connect(loop, host, port, opts, on_connected, &o) != NULL);
    run_until(loop, &o.calls, 30);
    CHECK_EQ(o.calls, 1);
    *seconds = o.at - start;
    csock_loop_free(loop);
    return o;
}

#endif
