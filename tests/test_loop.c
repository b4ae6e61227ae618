/* SPDX-License-Identifier: MIT */
/* The event loop on the backend built in: readiness, pausing, removal from callbacks (also of
 * events fetched in the same batch, and of reused descriptor numbers), timers, the clock,
 * stopping, waking and posting from other threads, and signals. */
#include "check.h"

#include <csock/loop.h>

#include "../src/loop_internal.h" /* the end-of-pass hooks layers use */

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

/* Counts callbacks per watch, in a small table the tests inspect. */
struct seen {
    int calls, events;
    csock_watch *remove; /* removed by this watch's callback, if set */
    int close_fd;        /* closed after that removal, if >= 0 */
    int *reopen_fd;      /* a new pipe's read end goes here, and gets watched by *reopened */
    csock_watch **reopened;
    struct seen *reopened_seen;
};

static void count(csock_loop *loop, csock_watch *w, int events, void *data)
{
    (void)w;
    struct seen *s = data;
    s->calls++;
    s->events |= events;
    if (s->remove) {
        csock_watch_remove(s->remove);
        s->remove = NULL;
        /* A new pipe's read end, moved to the number about to be closed; readable at once (end
         * of file), so a stale event would look like a real one. */
        int p[2];
        CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
        if (s->close_fd >= 0) close(s->close_fd);
        if (!s->reopen_fd) {
            close(p[0]);
            close(p[1]);
        } else {
            CHECK_EQ(dup3(p[0], s->close_fd, O_CLOEXEC), s->close_fd);
            close(p[0]);
            close(p[1]);
            *s->reopen_fd = s->close_fd;
            *s->reopened = csock_loop_add(loop, s->close_fd, CSOCK_READ, count, s->reopened_seen);
            CHECK(*s->reopened != NULL);
        }
    }
}

static void readiness(void)
{
    csock_loop *loop = csock_loop_new();
    printf("  backend: %s\n", csock_loop_backend(loop));
    csock *a, *b;
    check_tcp_pair("127.0.0.1", &a, &b);
    struct seen s = {.close_fd = -1};
    csock_watch *w = csock_loop_add(loop, csock_fileno(b), CSOCK_READ, count, &s);
    CHECK(w != NULL);
    CHECK_EQ(csock_watch_fd(w), csock_fileno(b));
    CHECK_EQ(csock_loop_run_once(loop, 0), 0);
    CHECK_EQ(s.calls, 0);
    CHECK_EQ(csock_send(a, "x", 1), 1);
    CHECK_EQ(csock_loop_run_once(loop, 5), 1);
    CHECK_EQ(s.events, CSOCK_READ);
    /* Level-triggered: still readable until read. */
    CHECK_EQ(csock_loop_run_once(loop, 0), 1);
    CHECK_EQ(s.calls, 2);
    /* Paused: nothing, though the byte is still there. */
    CHECK_EQ(csock_watch_set(w, 0), 0);
    CHECK_EQ(csock_loop_run_once(loop, 0), 0);
    CHECK_EQ(csock_watch_events(w), 0);
    /* Writable at once, and only what was asked for is reported. */
    s.events = 0;
    CHECK_EQ(csock_watch_set(w, CSOCK_WRITE), 0);
    CHECK_EQ(csock_loop_run_once(loop, 5), 1);
    CHECK_EQ(s.events, CSOCK_WRITE);
    /* A hang-up is reported as what the watch asked for; a paused watch is not woken by it. */
    CHECK_EQ(csock_watch_set(w, 0), 0);
    csock_close(a);
    CHECK_EQ(csock_loop_run_once(loop, 0), 0);
    CHECK_EQ(csock_watch_set(w, CSOCK_READ), 0);
    s.events = 0;
    CHECK_EQ(csock_loop_run_once(loop, 5), 1);
    CHECK_EQ(s.events, CSOCK_READ);
    csock_watch_remove(w);
    CHECK_EQ(csock_loop_run_once(loop, 0), 0);
    csock_free(a);
    csock_free(b);
    csock_loop_free(loop);
}

static void record_nothing(csock_loop *loop, csock_timer *t, void *data)
{
    (void)loop, (void)t, (void)data;
}

static void bad_arguments(void)
{
    csock_loop *loop = csock_loop_new();
    int p[2];
    CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
    struct seen s = {.close_fd = -1};
    CHECK(csock_loop_add(loop, p[0], CSOCK_READ, count, &s) != NULL);
    /* Watched twice: one code and one message, whichever the backend. */
    CHECK(csock_loop_add(loop, p[0], CSOCK_READ, count, &s) == NULL);
    char twice[64];
    snprintf(twice, sizeof twice, "loop: watch fd %d: already watched by this loop", p[0]);
    CHECK_EQ(csock_lastcode(), CSOCK_EEXIST);
    CHECK_STR(csock_lasterror(), twice);
    CHECK(csock_loop_add(loop, -1, CSOCK_READ, count, &s) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "bad descriptor");
    CHECK(csock_loop_add(loop, p[1], 4, count, &s) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "unknown event bits");
    CHECK(csock_loop_add(loop, p[1], CSOCK_READ, NULL, &s) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "NULL callback");
    CHECK(csock_loop_add(NULL, p[1], CSOCK_READ, count, &s) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "NULL loop");
    CHECK(csock_loop_call_later(loop, -1, NULL, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "NULL callback");
    CHECK_EQ(csock_loop_on_signal(loop, SIGKILL, NULL, NULL), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "signal 9: cannot be caught");
    CHECK_EQ(csock_loop_on_signal(loop, 0, NULL, NULL), CSOCK_EINVAL);
    CHECK_EQ(csock_loop_post(loop, NULL, NULL), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "loop: post: NULL callback");
    csock_watch *w = csock_loop_add(loop, p[1], CSOCK_WRITE, count, &s);
    CHECK_EQ(csock_watch_set(w, 8), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "unknown event bits");
    CHECK_EQ(csock_watch_events(w), CSOCK_WRITE);
    csock_timer *t = csock_loop_call_later(loop, 100, record_nothing, NULL);
    CHECK_EQ(csock_timer_restart(t, -1), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "loop: timer restart -1: a delay is 0 or positive up to 2^31 s");
    CHECK_EQ(csock_timer_restart(t, 1e10), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "loop: timer restart 1e+10: a delay is 0 or positive up to 2^31 s");
    CHECK(csock_loop_call_later(loop, 3e9, record_nothing, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "loop: call_later 3e+09: a delay is 0 or positive up to 2^31 s");
    CHECK(csock_loop_call_at(loop, 0.0 / 0.0, record_nothing, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "loop: call_at nan s from now: a time is finite and at most 2^31 s");
    CHECK_EQ(csock_loop_run_once(loop, 0.0 / 0.0), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL,
                "loop: run_once nan: a timeout is CSOCK_NO_TIMEOUT, 0, or positive up to 2^31 s");
    CHECK_EQ(csock_loop_run_once(loop, -0.5), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "loop: run_once -0.5: a timeout is CSOCK_NO_TIMEOUT, 0, or positive");
    csock_loop_free(loop); /* frees the watch still there; the descriptors stay open */
    CHECK_EQ(fcntl(p[0], F_GETFD) >= 0, 1);
    close(p[0]);
    close(p[1]);
}

/* Two ready watches fetched in one batch: whichever runs first removes the other, which must
 * then not run, though its event was already fetched. */
static void removal_of_a_fetched_event(void)
{
    csock_loop *loop = csock_loop_new();
    int p[2], q[2];
    CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
    CHECK_EQ(pipe2(q, O_CLOEXEC), 0);
    CHECK_EQ(write(p[1], "x", 1), 1);
    CHECK_EQ(write(q[1], "x", 1), 1);
    struct seen sp = {.close_fd = -1}, sq = {.close_fd = -1};
    csock_watch *wp = csock_loop_add(loop, p[0], CSOCK_READ, count, &sp);
    csock_watch *wq = csock_loop_add(loop, q[0], CSOCK_READ, count, &sq);
    sp.remove = wq;
    sq.remove = wp;
    CHECK_EQ(csock_loop_run_once(loop, 5), 1);
    CHECK_EQ(sp.calls + sq.calls, 1);
    /* The survivor removes itself inside its own callback. */
    csock_watch *survivor = sp.calls ? wp : wq;
    struct seen *ss = sp.calls ? &sp : &sq;
    ss->remove = survivor;
    CHECK_EQ(csock_loop_run_once(loop, 5), 1);
    CHECK_EQ(csock_loop_run_once(loop, 0), 0);
    csock_loop_free(loop);
    for (int i = 0; i < 2; i++)
        close(p[i]), close(q[i]);
}

/* The descriptor of a fetched event is closed and its number reused by a new watch within the
 * same pass: the stale event reaches neither the old watch nor the new one. */
static void reused_descriptor_number(void)
{
    for (int round = 0; round < 20; round++) {
        csock_loop *loop = csock_loop_new();
        int p[2], q[2], reopened_fd = -1;
        CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
        CHECK_EQ(pipe2(q, O_CLOEXEC), 0);
        CHECK_EQ(write(p[1], "x", 1), 1);
        CHECK_EQ(write(q[1], "x", 1), 1);
        close(q[1]);
        close(p[1]);
        csock_watch *reopened = NULL;
        struct seen sp = {.close_fd = -1}, sq = {.close_fd = -1}, snew = {.close_fd = -1};
        csock_watch *wp = csock_loop_add(loop, p[0], CSOCK_READ, count, &sp);
        csock_watch *wq = csock_loop_add(loop, q[0], CSOCK_READ, count, &sq);
        /* Whichever runs first removes and closes the other and reopens its number. */
        sp = (struct seen){.remove = wq,
                           .close_fd = q[0],
                           .reopen_fd = &reopened_fd,
                           .reopened = &reopened,
                           .reopened_seen = &snew};
        sq = (struct seen){.remove = wp,
                           .close_fd = p[0],
                           .reopen_fd = &reopened_fd,
                           .reopened = &reopened,
                           .reopened_seen = &snew};
        CHECK_EQ(csock_loop_run_once(loop, 5), 1);
        CHECK_EQ(sp.calls + sq.calls, 1);
        CHECK_EQ(snew.calls, 0);
        /* The new watch works from the next pass on. */
        CHECK(csock_loop_run_once(loop, 5) >= 1);
        CHECK(snew.calls >= 1);
        csock_loop_free(loop);
        close(sp.calls ? p[0] : q[0]);
        close(reopened_fd);
    }
}

/* ---- timers ---- */

struct order {
    int got[16], n;
    double at[16];
    csock_timer *cancel_me;
};

static void record(csock_loop *loop, csock_timer *t, void *data)
{
    struct order *o = data;
    (void)t;
    if (o->n < 16) o->at[o->n] = csock_loop_time(loop);
    o->got[o->n] = o->n + 1;
    o->n++;
}

struct tagged {
    struct order *order;
    int tag;
};

static void record_tag(csock_loop *loop, csock_timer *t, void *data)
{
    (void)t;
    struct tagged *tg = data;
    if (tg->order->n < 16) tg->order->at[tg->order->n] = csock_loop_time(loop);
    tg->order->got[tg->order->n++] = tg->tag;
}

static void run_until(csock_loop *loop, int *n, int want)
{
    for (int i = 0; i < 1000 && *n < want; i++)
        CHECK(csock_loop_run_once(loop, 5) >= 0);
}

static void timers_run_in_due_order(void)
{
    csock_loop *loop = csock_loop_new();
    struct order o = {0};
    struct tagged t1 = {&o, 1}, t2 = {&o, 2}, t3 = {&o, 3}, t4 = {&o, 4}, t5 = {&o, 5};
    double start = check_now(), set = csock_loop_time(loop);
    CHECK(csock_loop_call_later(loop, 0.06, record_tag, &t1) != NULL);
    CHECK(csock_loop_call_later(loop, 0.02, record_tag, &t2) != NULL);
    CHECK(csock_loop_call_later(loop, 0.04, record_tag, &t3) != NULL);
    CHECK(csock_loop_call_at(loop, csock_loop_time(loop) + 0.04, record_tag, &t4) != NULL);
    csock_timer *never = csock_loop_call_later(loop, 0.01, record_tag, &t5);
    csock_timer_cancel(never);
    run_until(loop, &o.n, 4);
    CHECK_EQ(o.n, 4);
    CHECK_EQ(o.got[0], 2);
    CHECK_EQ(o.got[1], 3); /* due together: in the order set */
    CHECK_EQ(o.got[2], 4);
    CHECK_EQ(o.got[3], 1);
    /* None ran early: each pass's time is at least the due time of the timers it ran. */
    CHECK(check_now() - start >= 0.06);
    CHECK(o.at[0] - set >= 0.0199 && o.at[1] - set >= 0.0399 && o.at[3] - set >= 0.0599);
    CHECK_EQ(csock_loop_run_once(loop, 0), 0);
    csock_loop_free(loop);
}

static void count_runs(csock_loop *loop, csock_timer *t, void *data)
{
    (void)loop, (void)t;
    ++*(int *)data;
}

/* Times in the past, however far back, run on the next pass, in the order of their times; a
 * delay of up to 2^31 s (68 years) is a timer like any other; an interval too short to count in
 * nanoseconds is one of 1 ns, which runs once per pass. */
static void past_times_huge_delays_and_tiny_intervals(void)
{
    csock_loop *loop = csock_loop_new();
    struct order o = {0};
    struct tagged t1 = {&o, 1}, t2 = {&o, 2}, t3 = {&o, 3}, t4 = {&o, 4};
    double now = csock_loop_time(loop);
    CHECK(csock_loop_call_at(loop, now - 1, record_tag, &t3) != NULL);
    CHECK(csock_loop_call_at(loop, -1, record_tag, &t2) != NULL);
    CHECK(csock_loop_call_at(loop, -1e300, record_tag, &t1) != NULL);
    csock_timer *far = csock_loop_call_later(loop, 2147483647.0, record_tag, &t4);
    CHECK(far != NULL);
    CHECK_EQ(csock_timer_restart(far, 2147483648.0), 0);
    CHECK_EQ(csock_loop_run_once(loop, 5), 3);
    CHECK_EQ(o.n, 3);
    CHECK_EQ(o.got[0], 1);
    CHECK_EQ(o.got[1], 2);
    CHECK_EQ(o.got[2], 3);
    csock_timer_cancel(far);
    int runs = 0;
    csock_timer *tiny = csock_loop_call_every(loop, 1e-300, count_runs, &runs);
    CHECK(tiny != NULL);
    for (int i = 1; i <= 3; i++) {
        CHECK_EQ(csock_loop_run_once(loop, 5), 1);
        CHECK_EQ(runs, i);
    }
    csock_timer_cancel(tiny);
    CHECK_EQ(csock_loop_run_once(loop, 0), 0);
    csock_loop_free(loop);
}

struct repeat {
    int runs, stop_after;
    csock_timer *self;
};

static void repeat_then_cancel(csock_loop *loop, csock_timer *t, void *data)
{
    (void)loop;
    struct repeat *r = data;
    CHECK(t == r->self);
    if (++r->runs == r->stop_after) csock_timer_cancel(t);
}

static void rearm_at_zero(csock_loop *loop, csock_timer *t, void *data)
{
    (void)loop;
    int *runs = data;
    if (++*runs < 5) CHECK_EQ(csock_timer_restart(t, 0), 0);
}

static void repeating_and_restarted_timers(void)
{
    csock_loop *loop = csock_loop_new();
    struct repeat r = {.stop_after = 5};
    r.self = csock_loop_call_every(loop, 0.005, repeat_then_cancel, &r);
    CHECK(r.self != NULL);
    run_until(loop, &r.runs, 5);
    CHECK_EQ(r.runs, 5);
    CHECK_EQ(csock_loop_run_once(loop, 0.02), 0); /* cancelled inside its callback */
    CHECK(csock_loop_call_every(loop, 0, repeat_then_cancel, &r) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "loop: call_every 0: an interval is positive up to 2^31 s");
    /* A timer that restarts itself at 0 runs once per pass, not in a loop within one. */
    int runs = 0;
    CHECK(csock_loop_call_later(loop, 0, rearm_at_zero, &runs) != NULL);
    for (int i = 1; i <= 5; i++) {
        CHECK_EQ(csock_loop_run_once(loop, 5), 1);
        CHECK_EQ(runs, i);
    }
    CHECK_EQ(csock_loop_run_once(loop, 0), 0);
    /* Restarting pushes a timer later. */
    struct order o = {0};
    csock_timer *t = csock_loop_call_later(loop, 0.01, record, &o);
    double start = csock_loop_time(loop);
    CHECK_EQ(csock_timer_restart(t, 0.05), 0);
    run_until(loop, &o.n, 1);
    CHECK(o.at[0] - start >= 0.049);
    /* Freed with timers pending: nothing runs, nothing leaks. */
    CHECK(csock_loop_call_later(loop, 100, record, &o) != NULL);
    CHECK(csock_loop_call_every(loop, 100, record, &o) != NULL);
    csock_loop_free(loop);
    CHECK_EQ(o.n, 1);
}

/* ---- the loop's clock ---- */

static void note_time(csock_loop *loop, csock_watch *w, int events, void *data)
{
    (void)w, (void)events;
    double *at = data;
    *at = csock_loop_time(loop);
    /* Time passes inside the callback; the pass's clock does not move with it. */
    struct timespec pause = {0, 2000000};
    nanosleep(&pause, NULL);
}

static void clock_per_pass(void)
{
    csock_loop *loop = csock_loop_new();
    int p1[2], p2[2];
    CHECK_EQ(pipe2(p1, O_CLOEXEC), 0);
    CHECK_EQ(pipe2(p2, O_CLOEXEC), 0);
    CHECK_EQ(write(p1[1], "x", 1), 1);
    CHECK_EQ(write(p2[1], "x", 1), 1);
    double first = -1, second = -1;
    CHECK(csock_loop_add(loop, p1[0], CSOCK_READ, note_time, &first) != NULL);
    CHECK(csock_loop_add(loop, p2[0], CSOCK_READ, note_time, &second) != NULL);
    double before = csock_loop_time(loop);
    CHECK_EQ(csock_loop_run_once(loop, 0), 2);
    /* Both callbacks of one pass see one reading, taken during the pass. */
    CHECK(first >= before && first == second);
    /* Outside a pass it is now: after the callbacks' 4 ms. */
    CHECK(csock_loop_time(loop) - first >= 0.0039);
    /* The next pass reads the clock again. */
    double previous = first;
    CHECK_EQ(csock_loop_run_once(loop, 0), 2);
    CHECK(first == second && first - previous >= 0.0039);
    csock_loop_free(loop);
    close(p1[0]), close(p1[1]), close(p2[0]), close(p2[1]);
}

/* ---- other threads ---- */

static void *stop_later(void *arg)
{
    /* Stops the loop once it is inside csock_loop_run; run's own first pass cannot miss it. */
    csock_loop_stop(arg);
    return NULL;
}

struct poster {
    csock_loop *loop;
    int id, count;
    int *seen; /* per poster: the last number run, to check order */
};

struct post {
    struct poster *from;
    int number;
};

static struct post posts[4][250];

static void posted(csock_loop *loop, void *data)
{
    (void)loop;
    struct post *p = data;
    CHECK_EQ(p->from->seen[p->from->id] + 1, p->number);
    p->from->seen[p->from->id] = p->number;
}

static void *post_many(void *arg)
{
    struct poster *p = arg;
    for (int i = 0; i < p->count; i++) {
        posts[p->id][i] = (struct post){p, i + 1};
        CHECK_EQ(csock_loop_post(p->loop, posted, &posts[p->id][i]), 0);
    }
    return NULL;
}

/* A loop made and set up on one thread (a watch added, another added and removed) and run on
 * another while the first waits for it, as a server's loops are: readiness that comes after the
 * hand-over wakes it. (io_uring posts a poll's completions on the thread that submitted it.) */
struct handed_over {
    csock_loop *loop;
    csock *sender;
    int ran;
};

static void *run_handed_over(void *arg)
{
    struct handed_over *h = arg;
    CHECK_EQ(csock_send(h->sender, "x", 1), 1);
    h->ran = csock_loop_run_once(h->loop, 5);
    return NULL;
}

static void run_on_another_thread(void)
{
    csock_loop *loop = csock_loop_new();
    csock *a, *b;
    check_tcp_pair("127.0.0.1", &a, &b);
    int p[2];
    CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
    struct seen s = {.close_fd = -1}, other = {.close_fd = -1};
    CHECK(csock_loop_add(loop, csock_fileno(b), CSOCK_READ, count, &s) != NULL);
    csock_watch *x = csock_loop_add(loop, p[0], CSOCK_READ, count, &other);
    CHECK(x != NULL);
    csock_watch_remove(x);
    struct handed_over h = {loop, a, -1};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, run_handed_over, &h), 0);
    pthread_join(t, NULL);
    CHECK_EQ(h.ran, 1);
    CHECK_EQ(s.events, CSOCK_READ);
    CHECK_EQ(other.calls, 0);
    csock_loop_free(loop);
    close(p[0]);
    close(p[1]);
    csock_free(a);
    csock_free(b);
}

static void threads_stop_wake_and_post(void)
{
    csock_loop *loop = csock_loop_new();
    /* A loop with nothing to watch blocks in run until another thread stops it. */
    pthread_t t = check_thread(stop_later, loop);
    CHECK_EQ(csock_loop_run(loop), 0);
    check_join(t);
    /* Posts from four threads all run, each thread's in its order. */
    int seen[4] = {0};
    struct poster p[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        p[i] = (struct poster){loop, i, 250, seen};
        th[i] = check_thread(post_many, &p[i]);
    }
    for (int i = 0; i < 4; i++)
        check_join(th[i]);
    int ran = 0;
    for (int i = 0; i < 10 && ran < 1000; i++) {
        int n = csock_loop_run_once(loop, 5);
        CHECK(n >= 0);
        ran += n;
    }
    CHECK_EQ(ran, 1000);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(seen[i], 250);
    /* A wake-up ends a wait early and runs nothing. */
    csock_loop_wakeup(loop);
    double start = check_now();
    CHECK_EQ(csock_loop_run_once(loop, 10), 0);
    CHECK(check_now() - start < 5);
    /* Stop before run: one pass, then run returns. */
    csock_loop_stop(loop);
    CHECK_EQ(csock_loop_run(loop), 0);
    /* Posted but never run: freed with the loop. */
    CHECK_EQ(csock_loop_post(loop, posted, &posts[0][0]), 0);
    csock_loop_free(loop);
}

/* A storm of wake-ups (or posts) from one thread, then csock_loop_stop from another, round after
 * round: every stop must end csock_loop_run. A loop that misses one is woken through a pipe of
 * the test's own after 10 s, so a lost wake-up fails the test instead of hanging it. */
struct storm {
    csock_loop *loop;
    int posts; /* post rather than wake */
    pthread_t storming;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int returned;  /* csock_loop_run returned this round */
    int rescue_fd; /* the write end of a pipe the loop watches */
    int rescued;
    atomic_int ran; /* posted functions run */
};

#define STORM_ROUNDS  300
#define STORM_WAKEUPS 1000

static void storm_posted(csock_loop *loop, void *data)
{
    (void)loop;
    atomic_fetch_add(&((struct storm *)data)->ran, 1);
}

static void *storm_wakeups(void *arg)
{
    struct storm *s = arg;
    for (int i = 0; i < STORM_WAKEUPS; i++) {
        if (s->posts)
            CHECK_EQ(csock_loop_post(s->loop, storm_posted, s), 0);
        else
            csock_loop_wakeup(s->loop);
    }
    return NULL;
}

static void *stop_after_storm(void *arg)
{
    struct storm *s = arg;
    check_join(s->storming);
    csock_loop_stop(s->loop);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&s->lock);
    int rc = 0;
    while (!s->returned && rc == 0)
        rc = pthread_cond_timedwait(&s->cond, &s->lock, &until);
    if (!s->returned) {
        s->rescued = 1;
        CHECK_EQ(write(s->rescue_fd, "x", 1), 1);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void rescue(csock_loop *loop, csock_watch *w, int events, void *data)
{
    (void)events, (void)data;
    char c;
    CHECK_EQ(read(csock_watch_fd(w), &c, 1), 1);
    csock_loop_stop(loop);
}

/* Level-triggered means ready now: a readiness the callback has used up is not reported again.
 * The callback writes a byte (waking the poll) and then reads everything; a report after that,
 * with the pipe empty, would make a blocking read block (io_uring posted such wake-ups late,
 * as they were when they happened). */
struct used_up {
    int fds[2];
    int consumed, stale;
};

static void use_up(csock_loop *loop, csock_watch *w, int events, void *data)
{
    (void)loop, (void)w, (void)events;
    struct used_up *u = data;
    struct pollfd now = {.fd = u->fds[0], .events = POLLIN};
    if (poll(&now, 1, 0) == 0) {
        u->stale++;
        return;
    }
    CHECK_EQ(write(u->fds[1], "y", 1), 1);
    char buf[16];
    if (read(u->fds[0], buf, sizeof buf) > 0) u->consumed++;
}

static void used_up_readiness_is_not_reported(void)
{
    csock_loop *loop = csock_loop_new();
    struct used_up u = {0};
    CHECK_EQ(pipe2(u.fds, O_CLOEXEC), 0);
    CHECK(csock_loop_add(loop, u.fds[0], CSOCK_READ, use_up, &u) != NULL);
    for (int round = 0; round < 50; round++) {
        CHECK_EQ(write(u.fds[1], "x", 1), 1);
        for (int i = 0; i < 100 && u.consumed == round; i++)
            CHECK(csock_loop_run_once(loop, 1) >= 0);
        for (int i = 0; i < 3; i++) /* the pipe is empty: nothing to report */
            CHECK(csock_loop_run_once(loop, 0.001) >= 0);
    }
    CHECK_EQ(u.consumed, 50);
    CHECK_EQ(u.stale, 0);
    csock_loop_free(loop);
    close(u.fds[0]);
    close(u.fds[1]);
}

static void no_wakeup_is_lost(void)
{
    csock_loop *loop = csock_loop_new();
    int p[2];
    CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
    CHECK(csock_loop_add(loop, p[0], CSOCK_READ, rescue, NULL) != NULL);
    struct storm s = {.loop = loop, .rescue_fd = p[1]};
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);
    int round;
    for (round = 0; round < STORM_ROUNDS && !s.rescued; round++) {
        s.posts = round % 2;
        s.returned = 0;
        s.storming = check_thread(storm_wakeups, &s);
        pthread_t stopper = check_thread(stop_after_storm, &s);
        CHECK_EQ(csock_loop_run(loop), 0);
        pthread_mutex_lock(&s.lock);
        s.returned = 1;
        pthread_cond_signal(&s.cond);
        pthread_mutex_unlock(&s.lock);
        check_join(stopper);
    }
    if (s.rescued)
        fprintf(stderr, "  round %d of %d: csock_loop_stop did not wake the loop\n", round,
                STORM_ROUNDS);
    CHECK(!s.rescued);
    /* Every function posted ran, or runs now. */
    int total = STORM_WAKEUPS * (round / 2);
    for (int i = 0; i < 100 && atomic_load(&s.ran) < total; i++)
        CHECK(csock_loop_run_once(loop, 0) >= 0);
    CHECK_EQ(atomic_load(&s.ran), total);
    csock_loop_free(loop);
    close(p[0]);
    close(p[1]);
    pthread_mutex_destroy(&s.lock);
    pthread_cond_destroy(&s.cond);
}

static void nested_run_is_refused(csock_loop *loop, csock_timer *t, void *data)
{
    (void)t, (void)data;
    CHECK_EQ(csock_loop_run_once(loop, 0), CSOCK_EBUSY);
}

static void no_nested_runs(void)
{
    csock_loop *loop = csock_loop_new();
    CHECK(csock_loop_call_later(loop, 0, nested_run_is_refused, NULL) != NULL);
    CHECK_EQ(csock_loop_run_once(loop, 5), 1);
    csock_loop_free(loop);
}

/* ---- waiting through signals ---- */

static atomic_int storm_signals;

static void count_signal(int signo)
{
    (void)signo;
    atomic_fetch_add(&storm_signals, 1);
}

struct signal_storm {
    pthread_t target;
    atomic_int stop;
};

static void *signal_every_ms(void *arg)
{
    struct signal_storm *st = arg;
    while (!atomic_load(&st->stop)) {
        pthread_kill(st->target, SIGUSR2);
        struct timespec ms = {0, 1000000}; /* the storm's rate, not synchronisation */
        nanosleep(&ms, NULL);
    }
    return NULL;
}

/* A signal every millisecond, with a handler that does not restart calls: each interrupts the
 * wait, and none may end it early. One run_once(0.2) waits out its 0.2 s and runs nothing. */
static void run_once_waits_out_signals(void)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = count_signal; /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(SIGUSR2, &sa, &old), 0);
    csock_loop *loop = csock_loop_new();
    atomic_store(&storm_signals, 0);
    struct signal_storm st = {.target = pthread_self()};
    pthread_t t = check_thread(signal_every_ms, &st);
    double t0 = check_now();
    int ran = csock_loop_run_once(loop, 0.2);
    double took = check_now() - t0;
    atomic_store(&st.stop, 1);
    check_join(t);
    CHECK_EQ(ran, 0);
    if (took < 0.2)
        fprintf(stderr, "  returned after %.4f s and %d signals\n", took,
                atomic_load(&storm_signals));
    CHECK(took >= 0.2 && took < 10);
    /* Any one interruption was enough to end the wait before; the storm is there to make many. */
    if (atomic_load(&storm_signals) < 3)
        fprintf(stderr, "  only %d signals came\n", atomic_load(&storm_signals));
    CHECK(atomic_load(&storm_signals) >= 3);
    /* A signal the loop catches still ends the wait at once. */
    CHECK_EQ(csock_loop_on_signal(loop, SIGUSR1, NULL, NULL), 0);
    raise(SIGUSR1);
    t0 = check_now();
    CHECK_EQ(csock_loop_run_once(loop, 10), 1);
    CHECK(check_now() - t0 < 5);
    csock_loop_free(loop);
    CHECK_EQ(sigaction(SIGUSR2, &old, NULL), 0);
}

/* ---- signals ---- */

static void on_usr1(csock_loop *loop, void *data)
{
    (void)loop;
    ++*(int *)data;
}

static void signals(void)
{
    csock_loop *loop = csock_loop_new();
    int usr1 = 0;
    CHECK_EQ(csock_loop_on_signal(loop, SIGUSR1, on_usr1, &usr1), 0);
    CHECK_EQ(csock_loop_on_signal(loop, SIGTERM, NULL, NULL), 0);
    raise(SIGUSR1);
    raise(SIGUSR1);
    CHECK_EQ(csock_loop_run_once(loop, 5), 1);
    CHECK_EQ(usr1, 1); /* two before the pass: one call */
    CHECK_EQ(csock_loop_last_signal(loop), SIGUSR1);
    /* SIGTERM stops run: the graceful end of a server. */
    CHECK_EQ(kill(getpid(), SIGTERM), 0);
    CHECK_EQ(csock_loop_run(loop), 0);
    CHECK_EQ(csock_loop_last_signal(loop), SIGTERM);
    csock_loop_free(loop);
    /* The previous dispositions are back. */
    struct sigaction sa;
    sigaction(SIGTERM, NULL, &sa);
    CHECK(sa.sa_handler == SIG_DFL);
    sigaction(SIGUSR1, NULL, &sa);
    CHECK(sa.sa_handler == SIG_DFL);
}

/* A signal the loop does not handle interrupts its wait; the pass waits again for what is left
 * of its timeout instead of returning early with nothing run. A timer interrupts the wait every
 * millisecond until the loop's own 50 ms timer is due. */
static void ignored_signal_handler(int signo)
{
    (void)signo;
}

static void count_firing(csock_loop *loop, csock_timer *t, void *data)
{
    (void)loop;
    (void)t;
    ++*(int *)data;
}

static void interrupted_wait_goes_on(void)
{
    struct sigaction sa = {.sa_handler = ignored_signal_handler}, old;
    CHECK_EQ(sigaction(SIGUSR2, &sa, &old), 0);
    timer_t ticker;
    struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2};
    CHECK_EQ(timer_create(CLOCK_MONOTONIC, &ev, &ticker), 0);
    struct itimerspec every_ms = {{0, 1000000}, {0, 1000000}};
    CHECK_EQ(timer_settime(ticker, 0, &every_ms, NULL), 0);
    csock_loop *loop = csock_loop_new();
    int fired = 0;
    CHECK(csock_loop_call_later(loop, 0.05, count_firing, &fired) != NULL);
    CHECK_EQ(csock_loop_run_once(loop, 5), 1);
    CHECK_EQ(fired, 1);
    /* A pass with a timeout and nothing to do still lasts its whole timeout. */
    double start = check_now();
    CHECK_EQ(csock_loop_run_once(loop, 0.05), 0);
    CHECK(check_now() - start >= 0.045);
    timer_delete(ticker);
    sigaction(SIGUSR2, &old, NULL);
    csock_loop_free(loop);
}

/* ---- end-of-pass hooks (src/loop_internal.h) ---- */

struct self_marking {
    csock__hook hook;
    int runs, marks; /* runs so far; how many times it marks itself due again */
};

static int mark_again(csock_loop *loop, csock__hook *hook)
{
    struct self_marking *m = (struct self_marking *)hook;
    if (m->runs++ < m->marks) csock__loop_hook_due(loop, hook);
    return 0;
}

/* A hook that marks itself due while it runs (work left for the next pass) runs again in the
 * next pass, which does not wait for it. */
static void hook_marked_while_running_runs_again(void)
{
    csock_loop *loop = csock_loop_new();
    CHECK(loop != NULL);
    struct self_marking m = {.hook.run = mark_again, .marks = 2};
    csock__loop_add_hook(loop, &m.hook);
    csock__loop_hook_due(loop, &m.hook);
    double start = check_now();
    for (int i = 0; i < 5; i++)
        CHECK(csock_loop_run_once(loop, i < 3 ? 5.0 : 0) >= 0);
    CHECK_EQ(m.runs, 3);              /* the first mark, and the two it made itself */
    CHECK(check_now() - start < 4.0); /* no pass waited while the hook was due */
    csock_loop_free(loop);
}

int main(void)
{
    check_watchdog(60);
    RUN(readiness);
    RUN(used_up_readiness_is_not_reported);
    RUN(bad_arguments);
    RUN(removal_of_a_fetched_event);
    RUN(reused_descriptor_number);
    RUN(timers_run_in_due_order);
    RUN(past_times_huge_delays_and_tiny_intervals);
    RUN(repeating_and_restarted_timers);
    RUN(clock_per_pass);
    RUN(threads_stop_wake_and_post);
    RUN(run_on_another_thread);
    RUN(no_wakeup_is_lost);
    RUN(no_nested_runs);
    RUN(signals);
    RUN(run_once_waits_out_signals);
    RUN(interrupted_wait_goes_on);
    RUN(hook_marked_while_running_runs_again);
    return check_done();
}
