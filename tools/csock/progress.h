/* SPDX-License-Identifier: MIT */
/* --progress: how much a session has moved, how fast and for how long, said on standard error by
 * a timer on the session's loop (the data path only adds to two counters). On a terminal one line
 * is redrawn four times a second; otherwise a line is written each second. A last line, "total:",
 * comes at the end. */
#ifndef CSOCK_TOOL_PROGRESS_H
#define CSOCK_TOOL_PROGRESS_H

#include <csock/loop.h>

#include <stdint.h>

struct progress {
    int on;                  /* --progress was given: the rest is used only then */
    int tty;                 /* standard error is a terminal */
    uint64_t sent, received; /* the callers add to these as bytes pass */
    double start;            /* monotonic seconds at progress_start */
    csock_timer *timer;
};

/* Starts the updates on loop, if on. Returns 0, or -1 having said why (the loop refused the
 * timer). */
int progress_start(struct progress *p, csock_loop *loop, int on);

/* Stops the updates (the loop is done with, or about to be); safe to call more than once. */
void progress_pause(struct progress *p);

/* Stops the updates and writes the last line, once. */
void progress_end(struct progress *p);

#endif
