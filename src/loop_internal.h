/* SPDX-License-Identifier: MIT */
/* What the loop's files share: the loop and watch structures, and the small interface every
 * poller backend (poller_epoll.c, poller_poll.c, poller_uring.c) implements. */
#ifndef CSOCK_LOOP_INTERNAL_H
#define CSOCK_LOOP_INTERNAL_H

#include "internal.h"

#include "csock/loop.h"

#include <pthread.h>
#include <signal.h>

struct csock_watch {
    csock_loop *loop;
    csock_io_cb cb;
    void *data;
    /* The loop's list of live watches; after removal, next chains the watches to free at the end
     * of the pass. */
    csock_watch *prev, *next;
    /* Frees the watch, or the object it is part of, once it is removed and no fetched event can
     * refer to it any more (at the end of the pass, or at once outside one; for every watch
     * still live when the loop is freed). NULL: nothing to free. */
    void (*release)(csock_watch *w);
    int fd;
    int slot;              /* the backend's: poll, the index in its array */
    unsigned char events;  /* what the owner asked for */
    unsigned char removed; /* no callback may run any more */
};

/* ---- the poller backends: one file each, all built in, chosen when a loop is made ---- */

typedef struct csock__poller csock__poller; /* each backend's own state */

/* A ready watch, or a completion, as the backend fetched it. */
typedef struct {
    csock_watch *watch; /* NULL: a completion of the operation token names */
    int events;         /* CSOCK_READ | CSOCK_WRITE, errors and hang-ups folded in; a result */
    unsigned flags;     /* a completion's: the backend's own */
    uint64_t token;     /* a completion's: which operation, under which generation */
} csock__ready;

/* ---- completions: operations the backend carries out itself (io_uring) ----
 *
 * Where the backend can (io_uring with the features each kind needs), a layer above starts an
 * operation on a descriptor instead of watching it for readiness: a multishot receive into the
 * loop's ring of provided buffers, or a multishot accept. Each completion calls done in a pass,
 * as a watch's callback is called. An operation in flight is named to the kernel by a token (a
 * slot in the backend's table and a generation), never by a descriptor or an address: a
 * completion that comes after its operation was detached, or for a descriptor number reused since,
 * is recognised as stale and dropped (its buffer, if any, goes back to the ring). */
typedef struct csock__op csock__op;
struct csock__op {
    /* One completion: res is the kernel's (a byte count, 0 at end of file, a descriptor, or a
     * negative CSOCK_E* code); data holds a receive's res bytes, valid until done returns; more
     * is 0 for the operation's last completion (busy is 0 by then, and done may start it again). */
    void (*done)(csock_loop *loop, csock__op *op, int res, const char *data, int more);
    uint64_t token;         /* the backend's: the operation in flight, 0 when none */
    unsigned char busy;     /* started and its last completion not yet delivered */
    unsigned char stopping; /* a stop is on its way: the last completion is coming */
};

/* The kinds of operation. */
enum { CSOCK__OP_RECV, CSOCK__OP_ACCEPT };

/* What a backend does, behind one table each (poller_epoll.c, poller_poll.c, poller_uring.c). */
typedef struct {
    const char *name; /* what csock_loop_backend says: "epoll", "poll", "uring" */
    /* Creates the backend's state in *out. Returns 0, or a negative code with the reason in why
     * (size bytes, e.g. "epoll_create1: Too many open files") and nothing recorded: poller.c
     * records it, or falls back to epoll and traces it. */
    int (*create)(csock__poller **out, char *why, size_t size);
    void (*free)(csock__poller *p);
    /* Starts watching w->fd for events (may be 0: known but silent). Returns 0, CSOCK_EEXIST
     * with nothing recorded when the descriptor is watched already (the loop says so, in the
     * same words for every backend), or a recorded failure. */
    int (*add)(csock__poller *p, csock_watch *w, int events);
    /* Changes the events of a watch added before, from w->events to events. w may be a watch
     * taking over another's registration (csock__watch_hand_over), with its slot and events: the
     * registration is w's from then on. */
    int (*set)(csock__poller *p, csock_watch *w, int events);
    /* Forgets w; its descriptor must still be open (epoll needs it to find the registration,
     * io_uring's poll holds the open file until the removal reaches the kernel). */
    void (*remove)(csock__poller *p, csock_watch *w);
    /* Waits up to timeout_ms (-1: forever) and fills at most max entries of ready. Returns how
     * many (0 when the time ran out), CSOCK_EINTR with nothing recorded when a signal
     * interrupted the wait (or the wait may have been cut short: the loop waits again for what is
     * left), or a recorded failure. */
    int (*wait)(csock__poller *p, csock__ready *ready, int max, int timeout_ms);
    /* Completions (NULL where the backend has none). Whether kind can be started at all. */
    int (*completes)(const csock__poller *p, int kind);
    /* Starts op, of kind, on fd: queued for the next wait. Returns 0 or a recorded failure. */
    int (*start)(csock__poller *p, csock__op *op, int kind, int fd);
    /* Stops op. With detach 0, its last completion is still delivered (a receive stopped may
     * still deliver bytes taken before the stop reached the kernel); with detach 1 nothing more
     * is, and op's memory may go at once: its slot stays taken until its last completion. */
    void (*stop)(csock__poller *p, csock__op *op, int detach);
    /* The operation a fetched completion belongs to, or NULL when it is stale; *data and *more
     * as done takes them. */
    csock__op *(*claim)(csock__poller *p, const csock__ready *r, const char **data, int *more);
} csock__poller_ops;

extern const csock__poller_ops csock__poller_epoll, csock__poller_poll, csock__poller_uring;

/* Gives loop its poller (poller.c): the backend CSOCK_LOOP_BACKEND names in the environment
 * ("epoll", "poll" or "uring"), else the one the build chose (epoll unless configured with
 * -DCSOCK_LOOP_BACKEND); where io_uring is missing, disabled or refused, epoll, with a trace line
 * saying why. Returns 0, or a recorded failure (CSOCK_EINVAL for an unknown name). */
int csock__poller_open(csock_loop *loop);

/* ---- the loop ---- */

typedef struct csock__posted csock__posted;

/* Work a layer built on the loop does at the end of a pass, in the spirit of Redis's
 * before-sleep hook: run is called at the end of every pass (after the events, timers, signals
 * and posted functions) for which the hook was marked due (csock__loop_hook_due), before or
 * during the pass, or by the run of another hook (a stream's on_close that starts a connect). A
 * hook runs at most once a pass: a mark made while run itself runs, or after it ran, holds for
 * the next pass, which then does not wait (run may leave work for it). While a hook is due, a
 * pass does not wait. An idle loop costs one flag per pass. run returns how many of the user's
 * callbacks it ran that csock_loop_run_once should count (0 for work of its own). */
typedef struct csock__hook csock__hook;
struct csock__hook {
    int (*run)(csock_loop *loop, csock__hook *hook);
    csock__hook *next; /* the loop's: the hooks in the order added */
    int due;           /* the loop's */
    int ran;           /* the loop's: it ran in the pass under way */
};

/* State a layer built on the loop keeps per loop, in the loop's one extension slot (found with
 * one load: the layer embeds this as its state's first member). csock_loop_free calls free
 * first, before it releases the watches still live, so the watches' release must not use it. */
typedef struct csock__extension csock__extension;
struct csock__extension {
    void (*free)(csock_loop *loop, csock__extension *ext);
    /* For the layers beside the one in the slot (csock__loop_add_extension): what finds the
     * state (any address the layer owns, such as its own function's), and the loop's list. */
    const void *key;
    csock__extension *next;
};

/* Signals a loop asked for, and what to do for each (loop_signal.c). */
#define CSOCK__SIGNALS 65

/* Events handled per pass; more wait for the next one (level-triggered). */
#define CSOCK__READY_MAX 256

/* ---- blocks kept for reuse ---- */

/* The objects a loop makes and frees by the thousand, a stream per connection and a connect and
 * its attempts per connect, each of one size: a freed one waits on its kind's list in the loop
 * for the next of its kind, rather than going back to malloc, whose per-thread cache keeps only a
 * few blocks of a size (a busy loop's churn goes past them, into malloc's slower bins). At most
 * CSOCK__CACHE_MAX blocks wait per kind; the rest are freed. Every block is malloc's. */
enum { CSOCK__CACHE_STREAM, CSOCK__CACHE_CONNECT, CSOCK__CACHE_ATTEMPT, CSOCK__CACHES };
#define CSOCK__CACHE_MAX 64

typedef struct {
    void *first; /* each waiting block's first bytes point to the next */
    unsigned count;
    size_t size; /* the kind's */
} csock__cache;

struct csock_loop {
    /* What every pass reads, together at the start: after a wait, each cache line the loop
     * touches again costs more than the instructions that use it. */
    const csock__poller_ops *backend;
    csock__poller *poller;
    int64_t now_ns;         /* monotonic, read at most once per pass (csock__loop_now_ns) */
    int now_stale;          /* a pass began and nothing has read the clock in it yet */
    int dispatching;        /* inside a pass: removals are deferred */
    csock_watch *removed;   /* watches removed during this pass, to free at its end */
    csock_watch *handed;    /* removed, its registration kept for the next watch of its fd */
    _Atomic int stop;       /* csock_loop_stop was called */
    _Atomic int has_posted; /* posted is not empty: a pass looks here instead of locking */
    _Atomic unsigned long long signals_caught; /* bit signo-1, set by the handler */
    size_t timers;                             /* how many are in the heap */
    int hooks_due;                             /* a hook is marked due: the pass ends with it */
    csock__hook *hooks;                        /* run at the end of a pass when due */
    csock__extension *extension;               /* the layer above's state, or NULL */
    csock__extension *extensions;              /* further layers' (csock__loop_add_extension) */

    csock_watch *live;        /* every watch not removed */
    csock_watch wake_watch;   /* the loop's own, on wake_fd[0] */
    int wake_fd[2];           /* a non-blocking pipe: the loop watches [0], wake-ups write [1] */
    _Atomic int wake_pending; /* a wake-up is written and not yet read: no need for another */
    /* Timers: a binary min-heap by (due, sequence), so equal due times run in order added. */
    csock_timer **heap;
    size_t heap_cap;
    uint64_t timer_seq;
    /* Functions posted from any thread. */
    pthread_mutex_t post_lock;
    csock__posted *posted, *posted_tail;
    /* Signals (loop_signal.c). */
    _Atomic unsigned long long signals_wanted; /* read by the handler */
    csock_loop_cb signal_cb[CSOCK__SIGNALS];
    void *signal_data[CSOCK__SIGNALS];
    int last_signal;
    int signal_slot; /* index in the handler's table, or -1 */
    csock__cache caches[CSOCK__CACHES];
    /* The events of the pass under way (a pass cannot run inside another). */
    csock__ready ready[CSOCK__READY_MAX];
};

/* A zeroed block of size bytes for an object of kind (a CSOCK__CACHE_*; every object of a kind
 * has the same size), or NULL when memory ran out (nothing recorded). */
void *csock__loop_take(csock_loop *loop, unsigned kind, size_t size);

/* Gives back block, taken for kind (NULL: nothing): to its list, or to free() when that is full. */
void csock__loop_give(csock_loop *loop, unsigned kind, void *block);

/* Frees every block waiting (csock_loop_free's, at its end). */
void csock__loop_free_caches(csock_loop *loop);

/* Runs the timers due at the pass's time (loop_timer.c); returns how many ran. */
int csock__run_timers(csock_loop *loop);
/* Milliseconds until the next timer is due (0 if one is), or -1 with none. */
int csock__next_timer_ms(csock_loop *loop);
/* Frees every timer without running it. */
void csock__free_timers(csock_loop *loop);

/* Runs the callbacks of signals caught since the last pass (loop_signal.c); returns how many. */
int csock__run_signals(csock_loop *loop);
/* Forgets every signal the loop asked for, restoring dispositions no loop wants any more. */
void csock__drop_signals(csock_loop *loop);

/* Adds a watch whose memory is part of a larger object: release (which may be NULL) frees that
 * object after csock_watch_remove, once no fetched event can refer to it, or when the loop is
 * freed. Returns 0 or a recorded failure (nothing is added then). */
int csock__loop_attach(csock_loop *loop, csock_watch *w, int fd, int events, csock_io_cb cb,
                       void *data, void (*release)(csock_watch *w));

/* Removes w as csock_watch_remove does (no callback of it runs again), but keeps its descriptor's
 * registration for the next watch attached on the same descriptor, which takes it over with one
 * change of events rather than a removal and an addition (a connect attempt's socket becoming a
 * stream: what epoll code written by hand does). csock__loop_end_hand_over removes the
 * registration if nothing took it; the descriptor must stay open until then. One at a time: a
 * second hand-over ends the first. */
void csock__watch_hand_over(csock_watch *w);
void csock__loop_end_hand_over(csock_loop *loop);

/* Registers hook (owned by the caller, and valid until the loop is freed): see csock__hook. */
void csock__loop_add_hook(csock_loop *loop, csock__hook *hook);

/* Marks hook due: it runs at the end of the pass under way, or of the next one, which then does
 * not wait (outside a pass the loop is also woken, as by csock_loop_wakeup). */
void csock__loop_hook_due(csock_loop *loop, csock__hook *hook);

/* Puts ext in the loop's extension slot (empty before; NULL empties it). */
void csock__loop_set_extension(csock_loop *loop, csock__extension *ext);

/* Adds ext to the loop's further extensions, for a layer that is not the one in the slot (the
 * loop's client side, beside its streams). csock_loop_free calls each one's free after the
 * slot's, in the order added, before it releases the watches still live: a free may remove its
 * watches and cancel its timers, but must not use another layer's state. */
void csock__loop_add_extension(csock_loop *loop, csock__extension *ext);

/* The further extension added with key, or NULL (a walk of a list of a few). */
csock__extension *csock__loop_find_extension(const csock_loop *loop, const void *key);

/* What the extension slot holds, or NULL. */
static inline csock__extension *csock__loop_extension(const csock_loop *loop)
{
    return loop->extension;
}

/* The loop's clock in nanoseconds: inside a pass, the time its first caller read (a pass that
 * needs no time reads no clock); outside one, now. */
int64_t csock__loop_now_ns(csock_loop *loop);

/* Completions (see csock__op): whether loop can start operations of kind (0 on epoll and poll,
 * on io_uring without the features, or unless CSOCK_URING_COMPLETIONS=1 in the environment asks
 * for readiness only); starting one (0 or a recorded failure), stopping one as the backend's
 * stop does. Each is a no-op on an op that is not busy. */
int csock__loop_completes(const csock_loop *loop, int kind);
int csock__op_start(csock_loop *loop, csock__op *op, int kind, int fd);
void csock__op_stop(csock_loop *loop, csock__op *op, int detach);

/* ---- the client side (loop_resolve.c, loop_connect.c) ---- */

/* The lookup the resolver pool's threads run: csock_getaddrinfo for stream sockets of family.
 * Returns the list, or NULL with the failure recorded (on the calling thread). A variable only
 * so that tests can put a lookup that never answers in its place. */
extern csock_addrlist *(*csock__resolver_lookup)(const char *host, int port, int family);

#endif /* CSOCK_LOOP_INTERNAL_H */
