/* SPDX-License-Identifier: MIT */
/* --progress: a timer on the loop formats the counters the data path keeps; nothing is done per
 * chunk but two additions. */
#include "progress.h"

#include "report.h"
#include "session.h"

#include <stdio.h>
#include <unistd.h>

#define TTY_INTERVAL  0.25 /* seconds between redraws of a terminal's line */
#define LINE_INTERVAL 1.0  /* seconds between lines elsewhere (a log, a pipe) */

static void elapsed_text(double t, char *buf, size_t size)
{
    if (t < 60) {
        snprintf(buf, size, "%.1f s", t);
        return;
    }
    long s = (long)t;
    if (s < 3600)
        snprintf(buf, size, "%ldm%02lds", s / 60, s % 60);
    else
        snprintf(buf, size, "%ldh%02ldm%02lds", s / 3600, s / 60 % 60, s % 60);
}

/* "1.2 MiB sent, 345 B received, 3.2 s, 400.0 KiB/s": the rate is both directions' bytes over
 * the time so far. */
static void show(const struct progress *p, const char *label, int last)
{
    double t = monotonic_time() - p->start;
    char sent[32], received[32], rate[32], elapsed[32];
    bytes_text(p->sent, sent, sizeof sent);
    bytes_text(p->received, received, sizeof received);
    elapsed_text(t, elapsed, sizeof elapsed);
    bytes_text(t > 0 ? (uint64_t)((double)(p->sent + p->received) / t) : 0, rate, sizeof rate);
    /* On a terminal the line is redrawn in place (carriage return, then erase to its end), and
     * a message said meanwhile first clears it. */
    fprintf(stderr, "%scsock: %s%s sent, %s received, %s, %s/s%s", p->tty ? "\r" : "", label, sent,
            received, elapsed, rate, p->tty ? "\033[K" : "\n");
    if (p->tty && last) fputc('\n', stderr);
    say_partial_line(p->tty && !last);
}

static void tick(csock_loop *loop, csock_timer *t, void *data)
{
    (void)loop, (void)t;
    show(data, "", 0);
}

int progress_start(struct progress *p, csock_loop *loop, int on)
{
    *p = (struct progress){.on = on, .start = monotonic_time()};
    if (!on) return 0;
    p->tty = isatty(STDERR_FILENO);
    p->timer = csock_loop_call_every(loop, p->tty ? TTY_INTERVAL : LINE_INTERVAL, tick, p);
    if (p->timer) return 0;
    say("%s", csock_lasterror());
    return -1;
}

void progress_pause(struct progress *p)
{
    if (!p->timer) return;
    csock_timer_cancel(p->timer);
    p->timer = NULL;
}

void progress_end(struct progress *p)
{
    progress_pause(p);
    if (!p->on) return;
    p->on = 0;
    show(p, "total: ", 1);
}
