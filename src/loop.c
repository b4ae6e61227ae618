/* SPDX-License-Identifier: MIT */
/* The event loop: watches, passes, stopping, waking and posting from other threads. Timers are
 * in loop_timer.c, signals in loop_signal.c, the kernel's poller behind loop_internal.h. */
#include "loop_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct csock__posted {
    csock_loop_cb cb;
    void *data;
    csock__posted *next;
};

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t csock__loop_now_ns(csock_loop *loop)
{
    if (!loop->dispatching || loop->now_stale) {
        loop->now_ns = monotonic_ns();
        loop->now_stale = 0;
    }
    return loop->now_ns;
}

double csock_loop_time(const csock_loop *loop)
{
    /* The clock is cached in the loop, which csock_loop_new allocated writable. */
    return loop ? (double)csock__loop_now_ns((csock_loop *)loop) / 1e9 : 0;
}

const char *csock_loop_backend(const csock_loop *loop)
{
    return loop ? loop->backend->name : NULL;
}

/* Empties the wake-up pipe, then clears the flag, in that order. The flag is set from the moment
 * a waker decides to write until the pipe has been read empty, so a byte is never in the pipe
 * with the flag clear. A waker that finds the flag set writes nothing: its wake-up comes either
 * before the read, which that byte answers, or between the read and the clearing, while this
 * pass is still under way; the pass looks at stop, posted functions and caught signals after
 * this (wait_ms, csock_loop_run), so what the waker asked for is seen before the loop waits.
 * Clearing first would lose a wake-up for good: a waker could then write a byte that this read
 * takes, leaving the flag set and the pipe empty, and no later wake-up would write again. */
static void drain_wakeups(csock_loop *loop, csock_watch *w, int events, void *data)
{
    (void)w, (void)events, (void)data;
    char buf[64];
    while (read(loop->wake_fd[0], buf, sizeof buf) > 0) {
    }
    atomic_store(&loop->wake_pending, 0);
}

csock_loop *csock_loop_new(void)
{
    csock_loop *loop = calloc(1, sizeof *loop);
    if (!loop) {
        csock__failf(CSOCK_ENOMEM, "loop: out of memory");
        return NULL;
    }
    loop->wake_fd[0] = loop->wake_fd[1] = -1;
    loop->signal_slot = -1;
    loop->now_ns = monotonic_ns();
    pthread_mutex_init(&loop->post_lock, NULL);
    if (csock__poller_open(loop) < 0) goto fail;
    if (pipe2(loop->wake_fd, O_CLOEXEC | O_NONBLOCK) < 0) {
        csock__failf(-errno, "loop: pipe: %s", csock_strerror(-errno));
        goto fail;
    }
    if (csock__loop_attach(loop, &loop->wake_watch, loop->wake_fd[0], CSOCK_READ, drain_wakeups,
                           NULL, NULL) < 0)
        goto fail;
    return loop;
fail:
    if (loop->poller) loop->backend->free(loop->poller);
    if (loop->wake_fd[0] >= 0) close(loop->wake_fd[0]), close(loop->wake_fd[1]);
    pthread_mutex_destroy(&loop->post_lock);
    free(loop);
    return NULL;
}

static void release(csock_watch *w)
{
    if (w->release) w->release(w);
}

/* The release of a watch csock_loop_add allocated. */
static void free_watch(csock_watch *w)
{
    free(w);
}

/* Takes w off the live watches: no callback of it runs again. */
static void unlink_watch(csock_loop *loop, csock_watch *w)
{
    w->removed = 1;
    if (w->prev)
        w->prev->next = w->next;
    else
        loop->live = w->next;
    if (w->next) w->next->prev = w->prev;
}

/* Frees w, removed, once no event fetched can name it. */
static void retire(csock_loop *loop, csock_watch *w)
{
    if (loop->dispatching) {
        /* Events fetched in this pass may still name w: it is freed when the pass ends. */
        w->next = loop->removed;
        loop->removed = w;
    } else {
        release(w);
    }
}

static void free_removed(csock_loop *loop)
{
    while (loop->removed) {
        csock_watch *w = loop->removed;
        loop->removed = w->next;
        release(w);
    }
}

void csock_loop_free(csock_loop *loop)
{
    if (!loop) return;
    csock__loop_end_hand_over(loop);
    csock__drop_signals(loop);
    if (loop->extension) loop->extension->free(loop, loop->extension);
    loop->extension = NULL;
    while (loop->extensions) {
        csock__extension *ext = loop->extensions;
        loop->extensions = ext->next;
        ext->free(loop, ext);
    }
    free_removed(loop);
    while (loop->live) {
        csock_watch *w = loop->live;
        loop->live = w->next;
        release(w);
    }
    csock__free_timers(loop);
    while (loop->posted) {
        csock__posted *p = loop->posted;
        loop->posted = p->next;
        free(p);
    }
    loop->backend->free(loop->poller);
    close(loop->wake_fd[0]);
    close(loop->wake_fd[1]);
    pthread_mutex_destroy(&loop->post_lock);
    csock__loop_free_caches(loop);
    free(loop);
}

static int valid_events(int events)
{
    return (events & ~(CSOCK_READ | CSOCK_WRITE)) == 0;
}

int csock__loop_attach(csock_loop *loop, csock_watch *w, int fd, int events, csock_io_cb cb,
                       void *data, void (*release)(csock_watch *w))
{
    *w = (csock_watch){.loop = loop,
                       .cb = cb,
                       .data = data,
                       .release = release,
                       .fd = fd,
                       .events = (unsigned char)events};
    csock_watch *from = loop->handed;
    int rc;
    if (from && from->fd == fd) {
        loop->handed = NULL;
        w->slot = from->slot;
        w->events = from->events;
        rc = loop->backend->set(loop->poller, w, events);
        if (rc < 0) loop->backend->remove(loop->poller, w);
        retire(loop, from);
        w->events = (unsigned char)events;
    } else {
        rc = loop->backend->add(loop->poller, w, events);
    }
    if (rc == CSOCK_EEXIST)
        return csock__failf(rc, "loop: watch fd %d: already watched by this loop", fd);
    if (rc < 0) return rc;
    w->next = loop->live;
    if (loop->live) loop->live->prev = w;
    loop->live = w;
    return 0;
}

csock_watch *csock_loop_add(csock_loop *loop, int fd, int events, csock_io_cb cb, void *data)
{
    if (!loop || !cb || fd < 0 || !valid_events(events)) {
        csock__failf(CSOCK_EINVAL, "loop: watch fd %d: %s", fd,
                     !loop    ? "NULL loop"
                     : !cb    ? "NULL callback"
                     : fd < 0 ? "bad descriptor"
                              : "unknown event bits");
        return NULL;
    }
    csock_watch *w = malloc(sizeof *w);
    if (!w) {
        csock__failf(CSOCK_ENOMEM, "loop: watch fd %d: out of memory", fd);
        return NULL;
    }
    if (csock__loop_attach(loop, w, fd, events, cb, data, free_watch) < 0) {
        free(w);
        return NULL;
    }
    return w;
}

int csock_watch_set(csock_watch *w, int events)
{
    if (!w || w->removed || !valid_events(events))
        return csock__failf(CSOCK_EINVAL, "loop: change watch: %s",
                            !w || w->removed ? "no such watch" : "unknown event bits");
    if (w->events == events) return 0;
    int rc = w->loop->backend->set(w->loop->poller, w, events);
    if (rc == 0) w->events = (unsigned char)events;
    return rc;
}

int csock_watch_events(const csock_watch *w)
{
    return w ? w->events : 0;
}

int csock_watch_fd(const csock_watch *w)
{
    return w ? w->fd : -1;
}

void csock_watch_remove(csock_watch *w)
{
    if (!w || w->removed) return;
    csock_loop *loop = w->loop;
    loop->backend->remove(loop->poller, w);
    unlink_watch(loop, w);
    retire(loop, w);
}

void csock__watch_hand_over(csock_watch *w)
{
    if (!w || w->removed) return;
    csock_loop *loop = w->loop;
    csock__loop_end_hand_over(loop);
    unlink_watch(loop, w);
    loop->handed = w;
}

void csock__loop_end_hand_over(csock_loop *loop)
{
    csock_watch *w = loop->handed;
    if (!w) return;
    loop->handed = NULL;
    loop->backend->remove(loop->poller, w);
    retire(loop, w);
}

void csock__loop_add_hook(csock_loop *loop, csock__hook *hook)
{
    hook->due = 0;
    hook->next = NULL;
    csock__hook **end = &loop->hooks;
    while (*end)
        end = &(*end)->next;
    *end = hook;
}

void csock__loop_hook_due(csock_loop *loop, csock__hook *hook)
{
    hook->due = 1;
    loop->hooks_due = 1;
    if (!loop->dispatching) csock_loop_wakeup(loop);
}

/* Runs the hooks marked due, in the order added, each at most once: one that a later hook marks
 * due runs in this pass too (a round more: at most one per hook), unless it ran already. */
static int run_hooks(csock_loop *loop)
{
    int ran = 0, again = 1;
    while (again) {
        again = 0;
        for (csock__hook *h = loop->hooks; h; h = h->next) {
            if (!h->due || h->ran) continue;
            /* Cleared first: a hook that marks itself due while it runs (work left for the next
             * pass) keeps the mark. */
            h->due = 0;
            h->ran = 1;
            ran += h->run(loop, h);
        }
        for (csock__hook *h = loop->hooks; h; h = h->next)
            again |= h->due && !h->ran;
    }
    loop->hooks_due = 0;
    for (csock__hook *h = loop->hooks; h; h = h->next) {
        h->ran = 0;
        loop->hooks_due |= h->due;
    }
    return ran;
}

void csock__loop_set_extension(csock_loop *loop, csock__extension *ext)
{
    loop->extension = ext;
}

void csock__loop_add_extension(csock_loop *loop, csock__extension *ext)
{
    csock__extension **at = &loop->extensions;
    while (*at)
        at = &(*at)->next;
    ext->next = NULL;
    *at = ext;
}

csock__extension *csock__loop_find_extension(const csock_loop *loop, const void *key)
{
    for (csock__extension *ext = loop->extensions; ext; ext = ext->next)
        if (ext->key == key) return ext;
    return NULL;
}

/* The posted functions, in order; each removed before it runs. */
static int run_posted(csock_loop *loop)
{
    if (!atomic_load(&loop->has_posted)) return 0;
    pthread_mutex_lock(&loop->post_lock);
    atomic_store(&loop->has_posted, 0);
    csock__posted *p = loop->posted;
    loop->posted = loop->posted_tail = NULL;
    pthread_mutex_unlock(&loop->post_lock);
    int ran = 0;
    while (p) {
        csock__posted *next = p->next;
        csock_loop_cb cb = p->cb;
        void *data = p->data;
        free(p);
        cb(loop, data);
        ran++;
        p = next;
    }
    return ran;
}

/* The wait of a pass in milliseconds: the caller's timeout_ns (-1: none), shortened to the next
 * timer; 0 when work is already waiting. Rounded up, so a pass never wakes just before a timer
 * is due. */
static int wait_ms(csock_loop *loop, int64_t timeout_ns)
{
    if (atomic_load(&loop->stop) || atomic_load(&loop->signals_caught) ||
        atomic_load(&loop->has_posted) || loop->hooks_due)
        return 0;
    int ms = -1;
    if (timeout_ns >= 0) {
        int64_t exact = (timeout_ns + 999999) / 1000000;
        ms = exact > INT32_MAX ? INT32_MAX : (int)exact;
    }
    int timer = csock__next_timer_ms(loop);
    if (timer >= 0 && (ms < 0 || timer < ms)) ms = timer;
    return ms;
}

/* The wait of a pass, into loop->ready. A signal that interrupts it does not end it, as in
 * Python since PEP 475: the wait goes on for what is left of timeout_ns, on a deadline from the
 * monotonic clock, read only when there is a limit. A signal that leaves the pass work to do (one
 * csock_loop_on_signal catches, or a handler that stops, wakes or posts) also wrote the wake-up
 * pipe, and wait_ms sees the work: the next wait then ends at once. A wait longer than the poller
 * takes (INT32_MAX ms, 24.8 days) is made of several. */
static int wait_for_events(csock_loop *loop, int64_t timeout_ns)
{
    int64_t deadline = timeout_ns > 0 ? monotonic_ns() + timeout_ns : 0;
    for (;;) {
        int ms = wait_ms(loop, timeout_ns);
        int n = loop->backend->wait(loop->poller, loop->ready, CSOCK__READY_MAX, ms);
        if (n != CSOCK_EINTR && (n != 0 || ms != INT32_MAX)) return n;
        if (deadline) {
            timeout_ns = deadline - monotonic_ns();
            if (timeout_ns <= 0) return 0;
        }
    }
}

int csock_loop_run_once(csock_loop *loop, double timeout)
{
    if (!loop) return csock__failf(CSOCK_EINVAL, "loop: NULL loop");
    if (loop->dispatching) return csock__failf(CSOCK_EBUSY, "loop: run inside a callback");
    int64_t timeout_ns;
    int rc = csock__seconds_ns(timeout, CSOCK__TIMEOUT, "loop: run_once", &timeout_ns);
    if (rc < 0) return rc;
    csock__ready *ready = loop->ready;
    int n = wait_for_events(loop, timeout_ns);
    if (n < 0) return n;
    loop->now_stale = 1;
    loop->dispatching = 1;
    int ran = 0;
    for (int i = 0; i < n; i++) {
        csock_watch *w = ready[i].watch;
        if (!w) {
            const char *data;
            int more;
            csock__op *op = loop->backend->claim(loop->poller, &ready[i], &data, &more);
            if (op) op->done(loop, op, ready[i].events, data, more), ran++;
            continue;
        }
        int events = ready[i].events & w->events;
        if (w->removed || !events) continue;
        w->cb(loop, w, events, w->data);
        ran += w != &loop->wake_watch;
    }
    if (loop->timers) ran += csock__run_timers(loop);
    if (atomic_load_explicit(&loop->signals_caught, memory_order_relaxed))
        ran += csock__run_signals(loop);
    ran += run_posted(loop);
    if (loop->hooks_due) ran += run_hooks(loop);
    loop->dispatching = 0;
    free_removed(loop);
    return ran;
}

int csock_loop_run(csock_loop *loop)
{
    if (!loop) return csock__failf(CSOCK_EINVAL, "loop: NULL loop");
    for (;;) {
        int rc = csock_loop_run_once(loop, CSOCK_NO_TIMEOUT);
        if (rc < 0) return rc;
        /* Looked at before it is cleared: a locked exchange every pass would cost more. */
        if (atomic_load_explicit(&loop->stop, memory_order_relaxed) &&
            atomic_exchange(&loop->stop, 0))
            return 0;
    }
}

int csock__loop_completes(const csock_loop *loop, int kind)
{
    return loop->backend->completes && loop->backend->completes(loop->poller, kind);
}

int csock__op_start(csock_loop *loop, csock__op *op, int kind, int fd)
{
    if (op->busy) return 0;
    return loop->backend->start(loop->poller, op, kind, fd);
}

void csock__op_stop(csock_loop *loop, csock__op *op, int detach)
{
    if (op->busy) loop->backend->stop(loop->poller, op, detach);
}

void csock_loop_wakeup(csock_loop *loop)
{
    if (!loop || atomic_exchange(&loop->wake_pending, 1)) return;
    int saved = errno; /* may run in a signal handler */
    ssize_t rc = write(loop->wake_fd[1], "", 1);
    (void)rc; /* a full pipe already holds a wake-up */
    errno = saved;
}

void csock_loop_stop(csock_loop *loop)
{
    if (!loop) return;
    atomic_store(&loop->stop, 1);
    csock_loop_wakeup(loop);
}

int csock_loop_post(csock_loop *loop, csock_loop_cb cb, void *data)
{
    if (!loop || !cb)
        return csock__failf(CSOCK_EINVAL, "loop: post: %s", !loop ? "NULL loop" : "NULL callback");
    csock__posted *p = malloc(sizeof *p);
    if (!p) return csock__failf(CSOCK_ENOMEM, "loop: post: out of memory");
    *p = (csock__posted){cb, data, NULL};
    pthread_mutex_lock(&loop->post_lock);
    if (loop->posted_tail)
        loop->posted_tail->next = p;
    else
        loop->posted = p;
    loop->posted_tail = p;
    atomic_store(&loop->has_posted, 1);
    pthread_mutex_unlock(&loop->post_lock);
    csock_loop_wakeup(loop);
    return 0;
}
