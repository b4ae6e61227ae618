/* SPDX-License-Identifier: MIT */
/* Timers: a binary min-heap ordered by due time, then by the order they were set, so that timers
 * due together run in that order. Cancelling removes a timer from the heap at once. */
#include "loop_internal.h"

#include <stdlib.h>

struct csock_timer {
    csock_loop *loop;
    csock_timer_cb cb;
    void *data;
    int64_t due_ns;
    int64_t interval_ns; /* 0: once */
    uint64_t seq;        /* tie-break, and "set during this pass" */
    size_t index;        /* in the heap; SIZE_MAX when not in it */
    int running;         /* inside its own callback */
    int cancelled;       /* cancelled inside its own callback: freed when it returns */
    int restarted;       /* restarted inside its own callback: queued when it returns */
};

static int before(const csock_timer *a, const csock_timer *b)
{
    return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static void place(csock_loop *loop, csock_timer *t, size_t i)
{
    loop->heap[i] = t;
    t->index = i;
}

static void sift_up(csock_loop *loop, size_t i)
{
    csock_timer *t = loop->heap[i];
    while (i > 0 && before(t, loop->heap[(i - 1) / 2])) {
        place(loop, loop->heap[(i - 1) / 2], i);
        i = (i - 1) / 2;
    }
    place(loop, t, i);
}

static void sift_down(csock_loop *loop, size_t i)
{
    csock_timer *t = loop->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= loop->timers) break;
        if (child + 1 < loop->timers && before(loop->heap[child + 1], loop->heap[child])) child++;
        if (!before(loop->heap[child], t)) break;
        place(loop, loop->heap[child], i);
        i = child;
    }
    place(loop, t, i);
}

static int push(csock_loop *loop, csock_timer *t)
{
    if (loop->timers == loop->heap_cap) {
        size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 16;
        csock_timer **heap = realloc(loop->heap, cap * sizeof *heap);
        if (!heap) return csock__failf(CSOCK_ENOMEM, "loop: timer: out of memory");
        loop->heap = heap;
        loop->heap_cap = cap;
    }
    t->seq = loop->timer_seq++;
    place(loop, t, loop->timers++);
    sift_up(loop, t->index);
    return 0;
}

static void pop(csock_loop *loop, csock_timer *t)
{
    size_t i = t->index, last = --loop->timers;
    t->index = SIZE_MAX;
    if (i == last) return;
    place(loop, loop->heap[last], i);
    sift_up(loop, i);
    sift_down(loop, loop->heap[i]->index);
}

static csock_timer *start(csock_loop *loop, int64_t due_ns, int64_t interval_ns, csock_timer_cb cb,
                          void *data)
{
    csock_timer *t = malloc(sizeof *t);
    if (!t) {
        csock__failf(CSOCK_ENOMEM, "loop: timer: out of memory");
        return NULL;
    }
    *t = (csock_timer){.loop = loop,
                       .cb = cb,
                       .data = data,
                       .due_ns = due_ns,
                       .interval_ns = interval_ns,
                       .index = SIZE_MAX};
    if (push(loop, t) < 0) {
        free(t);
        return NULL;
    }
    return t;
}

/* Checks the loop and callback, then converts seconds of the given kind (timeout.c's one rule
 * for numbers of seconds). Returns 0 or a recorded CSOCK_EINVAL. */
static int check(const csock_loop *loop, csock_timer_cb cb, double seconds,
                 csock__seconds_kind kind, const char *op, int64_t *ns)
{
    if (!loop || !cb)
        return csock__failf(CSOCK_EINVAL, "loop: timer: %s", !loop ? "NULL loop" : "NULL callback");
    return csock__seconds_ns(seconds, kind, op, ns);
}

csock_timer *csock_loop_call_later(csock_loop *loop, double delay, csock_timer_cb cb, void *data)
{
    int64_t ns;
    if (check(loop, cb, delay, CSOCK__DELAY, "loop: call_later", &ns) < 0) return NULL;
    return start(loop, csock__loop_now_ns(loop) + ns, 0, cb, data);
}

csock_timer *csock_loop_call_at(csock_loop *loop, double when, csock_timer_cb cb, void *data)
{
    /* A time is checked as how far ahead of the loop's clock it lies: in the past it is due at
     * once, in the future no further than any delay. */
    int64_t now = loop ? csock__loop_now_ns(loop) : 0, ns;
    if (check(loop, cb, when - (double)now / 1e9, CSOCK__AHEAD, "loop: call_at", &ns) < 0)
        return NULL;
    return start(loop, now + ns, 0, cb, data);
}

csock_timer *csock_loop_call_every(csock_loop *loop, double interval, csock_timer_cb cb, void *data)
{
    int64_t ns;
    if (check(loop, cb, interval, CSOCK__INTERVAL, "loop: call_every", &ns) < 0) return NULL;
    return start(loop, csock__loop_now_ns(loop) + ns, ns, cb, data);
}

int csock_timer_restart(csock_timer *t, double delay)
{
    if (!t || t->cancelled) return csock__failf(CSOCK_EINVAL, "loop: timer restart: no such timer");
    int64_t ns;
    int rc = csock__seconds_ns(delay, CSOCK__DELAY, "loop: timer restart", &ns);
    if (rc < 0) return rc;
    csock_loop *loop = t->loop;
    if (t->index != SIZE_MAX) pop(loop, t);
    t->due_ns = csock__loop_now_ns(loop) + ns;
    if (!t->running) return push(loop, t);
    t->restarted = 1; /* queued when its callback returns */
    return 0;
}

void csock_timer_cancel(csock_timer *t)
{
    if (!t || t->cancelled) return;
    if (t->index != SIZE_MAX) pop(t->loop, t);
    if (t->running)
        t->cancelled = 1;
    else
        free(t);
}

int csock__next_timer_ms(csock_loop *loop)
{
    if (loop->timers == 0) return -1;
    int64_t left = loop->heap[0]->due_ns - csock__loop_now_ns(loop);
    if (left <= 0) return 0;
    int64_t ms = (left + 999999) / 1000000;
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

int csock__run_timers(csock_loop *loop)
{
    /* Only timers set before this pass run in it: one that re-arms itself at 0 cannot spin. */
    uint64_t set_before = loop->timer_seq;
    int64_t now = csock__loop_now_ns(loop);
    int ran = 0;
    while (loop->timers > 0) {
        csock_timer *t = loop->heap[0];
        if (t->due_ns > now || t->seq >= set_before) break;
        pop(loop, t);
        int64_t due = t->due_ns;
        t->running = 1;
        t->cb(loop, t, t->data);
        t->running = 0;
        ran++;
        /* Re-queueing cannot fail: the timer's own place in the heap was just freed. */
        if (t->cancelled) {
            free(t);
        } else if (t->restarted) {
            t->restarted = 0;
            push(loop, t);
        } else if (t->interval_ns) {
            /* The next run keeps the rhythm; after a late pass it comes one interval from now
             * rather than as a burst of catch-up runs. */
            t->due_ns = due + t->interval_ns;
            if (t->due_ns <= now) t->due_ns = now + t->interval_ns;
            push(loop, t);
        } else {
            free(t);
        }
    }
    return ran;
}

void csock__free_timers(csock_loop *loop)
{
    for (size_t i = 0; i < loop->timers; i++)
        free(loop->heap[i]);
    free(loop->heap);
    loop->heap = NULL;
    loop->timers = loop->heap_cap = 0;
}
