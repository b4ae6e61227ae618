/* SPDX-License-Identifier: MIT */
/* Resolving names for a loop: a small pool of threads, shared by the process, runs getaddrinfo
 * and hands each answer to its loop with csock_loop_post. Numeric and Unix addresses need no
 * thread: they are answered at the end of the loop's pass (its hook), which costs no system
 * call, where a post would wake the loop. One mutex (the pool's) guards every request's state,
 * the queue and each loop's lists of requests, so a request is always in exactly one place:
 * queued, running in a thread, posted to its loop, or ready on its loop. */
#include "loop_internal.h"

#include "csock/connect.h"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { QUEUED, RUNNING, POSTED, READY };

enum { DEFAULT_THREADS = 4, MAX_THREADS = 64 };

struct csock_resolve {
    csock_loop *loop; /* NULL once cancelled or the loop is gone: the thread drops the answer */
    csock_resolve_cb cb;
    void *data;
    int state;
    int cancelled;
    int port, family;
    csock_resolve *queue_next;            /* the pool's queue, while QUEUED; the loop's, READY */
    unsigned ready_round;                 /* READY: the loop's round of deliveries when queued */
    csock_resolve *loop_prev, *loop_next; /* the loop's list, while its loop holds it */
    csock_addrlist *list;                 /* the answer, or NULL with code and message */
    int code;
    char message[512];
    char host[]; /* a copy of the caller's */
};

/* The loop's requests, so that csock_loop_free can drop them, and those answered without a
 * thread, in order, for the hook to deliver at the end of the pass. */
struct loop_resolves {
    csock__extension ext;
    csock_resolve *first;
    csock__hook hook;
    csock_resolve *ready, *ready_tail;
    unsigned round; /* how many times the hook has run */
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t work;
    csock_resolve *head, *tail;
    int queued, threads, idle, max;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0, 0, 0};

/* The lookup a pool thread runs. */
static csock_addrlist *system_lookup(const char *host, int port, int family)
{
    return csock_getaddrinfo(host, port, family, SOCK_STREAM, 0, 0);
}

csock_addrlist *(*csock__resolver_lookup)(const char *host, int port, int family) = system_lookup;

static int pool_max(void)
{
    if (pool.max == 0) {
        const char *env = getenv("CSOCK_RESOLVER_THREADS");
        int n = env ? atoi(env) : 0;
        pool.max = n >= 1 && n <= MAX_THREADS ? n : DEFAULT_THREADS;
    }
    return pool.max;
}

int csock_set_resolver_threads(int n)
{
    if (n < 1 || n > MAX_THREADS)
        return csock__failf(CSOCK_EINVAL, "resolver: %d threads: 1 to %d", n, MAX_THREADS);
    pthread_mutex_lock(&pool.lock);
    pool.max = n;
    pthread_cond_broadcast(&pool.work); /* threads over the limit end */
    pthread_mutex_unlock(&pool.lock);
    return 0;
}

static void unlink_from_loop(csock_resolve *r)
{
    if (!r->loop) return;
    struct loop_resolves *lr =
        (struct loop_resolves *)csock__loop_find_extension(r->loop, csock_loop_resolve);
    if (r->loop_prev)
        r->loop_prev->loop_next = r->loop_next;
    else
        lr->first = r->loop_next;
    if (r->loop_next) r->loop_next->loop_prev = r->loop_prev;
    r->loop_prev = r->loop_next = NULL;
}

static void free_request(csock_resolve *r)
{
    csock_freeaddrinfo(r->list);
    free(r);
}

/* Takes r out of its loop's ready requests; with the pool's lock held. */
static void unready(struct loop_resolves *lr, csock_resolve *r)
{
    csock_resolve **at = &lr->ready, *before = NULL;
    while (*at != r) {
        before = *at;
        at = &(*at)->queue_next;
    }
    *at = r->queue_next;
    if (lr->ready_tail == r) lr->ready_tail = before;
}

/* Runs on the loop's thread, posted by a pool thread or by csock_loop_resolve. */
static void deliver(csock_loop *loop, void *data)
{
    csock_resolve *r = data;
    pthread_mutex_lock(&pool.lock);
    unlink_from_loop(r);
    int cancelled = r->cancelled;
    pthread_mutex_unlock(&pool.lock);
    if (!cancelled) {
        if (!r->list) csock__failf(r->code, "%s", r->message);
        r->cb(loop, r->list, r->list ? 0 : r->code, r->data);
        r->list = NULL; /* the callback's */
    }
    free_request(r);
}

/* Records the answer in r (under no lock: r is the caller's alone while it runs). */
static void answer(csock_resolve *r, csock_addrlist *list)
{
    r->list = list;
    if (!list) {
        r->code = csock_lastcode();
        snprintf(r->message, sizeof r->message, "%s", csock_lasterror());
    }
}

/* Posts r to its loop; with the pool's lock held, so that the loop cannot be freed meanwhile. A
 * post fails only when memory is short: the thread tries again after a millisecond, dropping the
 * lock in between, until it succeeds or r is cancelled. */
static void post_answer(csock_resolve *r)
{
    while (r->loop && csock_loop_post(r->loop, deliver, r) < 0) {
        pthread_mutex_unlock(&pool.lock);
        nanosleep(&(struct timespec){0, 1000000}, NULL);
        pthread_mutex_lock(&pool.lock);
    }
}

static void *pool_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        while (!pool.head && pool.threads <= pool.max)
            pthread_cond_wait(&pool.work, &pool.lock);
        if (pool.threads > pool.max) break;
        csock_resolve *r = pool.head;
        pool.head = r->queue_next;
        if (!pool.head) pool.tail = NULL;
        pool.queued--;
        r->state = RUNNING;
        pool.idle--;
        pthread_mutex_unlock(&pool.lock);
        answer(r, csock__resolver_lookup(r->host, r->port, r->family));
        pthread_mutex_lock(&pool.lock);
        pool.idle++;
        r->state = POSTED;
        post_answer(r);
        if (!r->loop) free_request(r); /* cancelled, or its loop freed, while it ran */
    }
    pool.threads--;
    pool.idle--;
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

/* fork keeps only the thread that called it: the child's pool has no threads, whatever the
 * parent's had, so its first lookup starts one (and answers what was queued too). The lock is
 * held across the fork so that the child's copy is not taken. */
static void before_fork(void)
{
    pthread_mutex_lock(&pool.lock);
}

static void after_fork_parent(void)
{
    pthread_mutex_unlock(&pool.lock);
}

static void after_fork_child(void)
{
    pool.threads = pool.idle = 0;
    /* The condition still counts the parent's waiting threads, which the child does not have:
     * signalling it would wait for them forever. */
    pthread_cond_init(&pool.work, NULL);
    pthread_mutex_unlock(&pool.lock);
}

static void register_fork_handlers(void)
{
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

/* Queues r for the pool, starting a thread when more wait than threads are idle and the limit
 * allows; with the
 * pool's lock held. Returns 0, or a recorded failure when no thread runs at all. */
static int submit(csock_resolve *r)
{
    r->state = QUEUED;
    r->queue_next = NULL;
    if (pool.tail)
        pool.tail->queue_next = r;
    else
        pool.head = r;
    pool.tail = r;
    pool.queued++;
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_fork_handlers);
    if (pool.queued > pool.idle && pool.threads < pool_max()) {
        /* The thread takes no signals: they are for the loops' threads. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_t t;
        int err = pthread_create(&t, &attr, pool_thread, NULL);
        pthread_attr_destroy(&attr);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (err == 0) {
            pool.threads++;
            pool.idle++;
        } else if (pool.threads == 0) {
            pool.head = pool.tail = NULL;
            pool.queued = 0;
            return csock__failf(-err, "resolve %.300s: cannot start a resolver thread: %s", r->host,
                                csock_strerror(-err));
        }
    }
    pthread_cond_signal(&pool.work);
    return 0;
}

/* Takes a request that waits for a thread out of the queue; with the pool's lock held. */
static void dequeue(csock_resolve *r)
{
    csock_resolve **at = &pool.head, *before = NULL;
    while (*at != r) {
        before = *at;
        at = &(*at)->queue_next;
    }
    *at = r->queue_next;
    if (pool.tail == r) pool.tail = before;
    pool.queued--;
}

/* Drops the loop's requests without calling back: csock_loop_free's. */
static void free_resolves(csock_loop *loop, csock__extension *ext)
{
    struct loop_resolves *lr = (struct loop_resolves *)ext;
    (void)loop;
    pthread_mutex_lock(&pool.lock);
    while (lr->first) {
        csock_resolve *r = lr->first;
        lr->first = r->loop_next;
        r->loop = NULL;
        if (r->state == QUEUED) {
            dequeue(r);
            free_request(r);
        } else if (r->state == POSTED || r->state == READY) {
            free_request(r); /* its post is freed with the loop, not run */
        }                    /* RUNNING: the thread frees it */
    }
    pthread_mutex_unlock(&pool.lock);
    free(lr);
}

/* The hook: delivers the requests that were ready when it began, in order (one made by a
 * callback waits for the next pass). */
static int deliver_ready(csock_loop *loop, csock__hook *hook)
{
    struct loop_resolves *lr =
        (struct loop_resolves *)((char *)hook - offsetof(struct loop_resolves, hook));
    pthread_mutex_lock(&pool.lock);
    unsigned round = ++lr->round;
    pthread_mutex_unlock(&pool.lock);
    int ran = 0;
    for (;;) {
        pthread_mutex_lock(&pool.lock);
        /* Taken off as delivered: a callback may cancel those after it, or make new ones. */
        csock_resolve *r = lr->ready;
        if (r && r->ready_round != round) {
            lr->ready = r->queue_next;
            if (!lr->ready) lr->ready_tail = NULL;
            unlink_from_loop(r);
        } else {
            r = NULL;
        }
        pthread_mutex_unlock(&pool.lock);
        if (!r) break;
        if (!r->list) csock__failf(r->code, "%s", r->message);
        r->cb(loop, r->list, r->list ? 0 : r->code, r->data);
        r->list = NULL; /* the callback's */
        ran++;
        free_request(r);
    }
    pthread_mutex_lock(&pool.lock);
    if (lr->ready) csock__loop_hook_due(loop, hook); /* made by the callbacks: the next pass */
    pthread_mutex_unlock(&pool.lock);
    return ran;
}

static struct loop_resolves *resolves_of(csock_loop *loop)
{
    struct loop_resolves *lr =
        (struct loop_resolves *)csock__loop_find_extension(loop, csock_loop_resolve);
    if (lr) return lr;
    if (!(lr = calloc(1, sizeof *lr))) return NULL;
    lr->ext.free = free_resolves;
    lr->ext.key = csock_loop_resolve;
    csock__loop_add_extension(loop, &lr->ext);
    lr->hook.run = deliver_ready;
    csock__loop_add_hook(loop, &lr->hook);
    return lr;
}

/* Whether host is answered without a lookup: a Unix address or a numeric one. */
static int needs_no_thread(const char *host, int port)
{
    csock_addr addr;
    return csock_unix_path(host) || csock__numeric_host(&addr, host, port) == 0;
}

csock_resolve *csock_loop_resolve(csock_loop *loop, const char *host, int port, int family,
                                  csock_resolve_cb cb, void *data)
{
    if (!loop || !host || !cb) {
        csock__failf(CSOCK_EINVAL, "resolve: NULL %s",
                     !loop   ? "loop"
                     : !host ? "host"
                             : "callback");
        return NULL;
    }
    size_t n = strlen(host);
    csock_resolve *r = calloc(1, sizeof *r + n + 1);
    struct loop_resolves *lr = r ? resolves_of(loop) : NULL;
    if (!lr) {
        free(r);
        csock__failf(CSOCK_ENOMEM, "resolve: out of memory");
        return NULL;
    }
    *r = (csock_resolve){.loop = loop, .cb = cb, .data = data, .port = port, .family = family};
    memcpy(r->host, host, n + 1);
    int rc = 0;
    if (needs_no_thread(host, port)) {
        answer(r, csock_getaddrinfo(host, port, family, SOCK_STREAM, 0, 0));
        r->state = READY;
        pthread_mutex_lock(&pool.lock);
        r->ready_round = lr->round;
        if (lr->ready_tail)
            lr->ready_tail->queue_next = r;
        else
            lr->ready = r;
        lr->ready_tail = r;
        csock__loop_hook_due(loop, &lr->hook);
    } else {
        pthread_mutex_lock(&pool.lock);
        rc = submit(r);
    }
    if (rc == 0) {
        r->loop_next = lr->first;
        if (lr->first) lr->first->loop_prev = r;
        lr->first = r;
    }
    pthread_mutex_unlock(&pool.lock);
    if (rc < 0) {
        free_request(r);
        return NULL;
    }
    return r;
}

void csock_resolve_cancel(csock_resolve *r)
{
    if (!r) return;
    pthread_mutex_lock(&pool.lock);
    if (r->state == QUEUED) {
        unlink_from_loop(r);
        dequeue(r);
        free_request(r);
    } else if (r->state == RUNNING) {
        unlink_from_loop(r);
        r->loop = NULL; /* the thread frees it */
    } else if (r->state == READY) {
        unready((struct loop_resolves *)csock__loop_find_extension(r->loop, csock_loop_resolve), r);
        unlink_from_loop(r);
        free_request(r);
    } else {
        r->cancelled = 1; /* posted: deliver frees it */
    }
    pthread_mutex_unlock(&pool.lock);
}
