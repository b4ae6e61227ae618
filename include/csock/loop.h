/* SPDX-License-Identifier: MIT */
/* csock event loop: many sockets in one thread, in the spirit of Python's selectors.
 *
 * A loop watches descriptors for readiness and runs a callback when one is ready; it also runs
 * timers, functions posted from other threads, and signal handlers. Every callback runs on the
 * thread that runs the loop. Functions here are for that thread only, unless their comment says
 * "thread-safe".
 *
 * Lifetimes: a watch or timer handle stays valid until it is removed or cancelled (a one-shot
 * timer: until its callback returns). Removing anything from inside any callback is safe: no
 * callback runs for a watch after csock_watch_remove, even if its event was already fetched in
 * the same batch, or its descriptor number was closed and reused meanwhile.
 *
 * Errors follow csock.h: a negative CSOCK_E* code and a message from csock_lasterror(). A function
 * that takes a callback and fails never calls that callback. */
#ifndef CSOCK_LOOP_H
#define CSOCK_LOOP_H

#include <csock.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct csock_loop csock_loop;
typedef struct csock_watch csock_watch;
typedef struct csock_timer csock_timer;

/* Readiness a watch asks for and a callback is told about. An error or hang-up on the descriptor
 * is reported as whichever of the two the watch asked for, so the next call reports it. */
enum { CSOCK_READ = 1, CSOCK_WRITE = 2 };

/* Called when w's descriptor is ready; events is the CSOCK_READ/CSOCK_WRITE readiness that was
 * asked for and is there (never 0). */
typedef void (*csock_io_cb)(csock_loop *loop, csock_watch *w, int events, void *data);
/* Called when t is due. */
typedef void (*csock_timer_cb)(csock_loop *loop, csock_timer *t, void *data);
/* Called on the loop's thread for csock_loop_post and csock_loop_on_signal. */
typedef void (*csock_loop_cb)(csock_loop *loop, void *data);

/* Creates a loop on the kernel poller CSOCK_LOOP_BACKEND names in the environment ("epoll",
 * "poll" or "uring"), or else the build's default (epoll, unless configured with
 * -DCSOCK_LOOP_BACKEND); csock_loop_backend says which it got. Where io_uring is missing (an
 * older kernel than Linux 5.17), disabled (sysctl kernel.io_uring_disabled) or refused (a seccomp
 * filter, as in Docker's default profile), a loop that asked for it gets epoll, with a trace line
 * saying why ("csock: loop: io_uring unavailable (io_uring_setup: Operation not permitted): using
 * epoll", under CSOCK_TRACE=1), and works the same. On io_uring, streams receive and servers
 * accept by readiness; with CSOCK_URING_COMPLETIONS=1 in the environment, by completions where
 * the kernel has them (Linux 6.0 and 5.19), an experimental mode (docs/design.md: not yet faster
 * here, and not yet trusted); handlers see no difference. Returns NULL with CSOCK_EINVAL for
 * another name ("loop: CSOCK_LOOP_BACKEND=kqueue: not epoll, poll or uring"), CSOCK_ENOMEM or the
 * poller's error (e.g. CSOCK_EMFILE: "loop: epoll_create1: Too many open files") in
 * csock_lastcode(). */
csock_loop *csock_loop_new(void);

/* Frees the loop with every watch, timer and posted function it still holds (none of their
 * callbacks run) and restores signal dispositions it changed. Watched descriptors are not
 * closed: they belong to the caller. Must not be called while the loop runs. NULL is ignored. */
void csock_loop_free(csock_loop *loop);

/* The kernel poller loop runs on: "epoll", "poll" or "uring" (a string that lives as long as the
 * program), fixed when the loop was made; "epoll" where "uring" was asked for and refused. NULL
 * for a NULL loop. Every backend gives the same semantics; they differ only in system calls. */
const char *csock_loop_backend(const csock_loop *loop);

/* Watches fd for the readiness in events (CSOCK_READ, CSOCK_WRITE, both, or 0 for paused); cb runs
 * with data each time some of it is there (level-triggered: again and again while it lasts).
 * Returns the watch, or NULL with CSOCK_EINVAL (NULL loop or cb, negative fd, unknown event bits),
 * CSOCK_EEXIST (fd already watched by this loop: "loop: watch fd 5: already watched by this
 * loop", whichever the backend), CSOCK_ENOMEM or the poller's error. */
csock_watch *csock_loop_add(csock_loop *loop, int fd, int events, csock_io_cb cb, void *data);

/* Changes what w waits for (0 pauses it without forgetting it). Returns 0, or CSOCK_EINVAL for
 * unknown bits, or the poller's error. */
int csock_watch_set(csock_watch *w, int events);

/* What w waits for now. */
int csock_watch_events(const csock_watch *w);

/* The descriptor w watches. */
int csock_watch_fd(const csock_watch *w);

/* Stops watching and frees w (the descriptor stays open: close it after, or not at all). Safe
 * inside any callback, including w's own; w must not be used afterwards. NULL is ignored. */
void csock_watch_remove(csock_watch *w);

/* Runs cb(data) once, delay seconds from now (0: on the next pass, after pending I/O; at most
 * 2^31 s, about 68 years, as every number of seconds csock takes). Returns the timer, valid
 * until cb returns or csock_timer_cancel; NULL with CSOCK_EINVAL (NULL loop or cb; a NaN,
 * infinite, negative or larger delay: "loop: call_later 3e+09: a delay is 0 or positive up to
 * 2^31 s") or CSOCK_ENOMEM. */
csock_timer *csock_loop_call_later(csock_loop *loop, double delay, csock_timer_cb cb, void *data);

/* Runs cb(data) once at when, a time on csock_loop_time's clock: a time in the past, however
 * far back, runs on the next pass (several in the order of their times); one in the future is
 * at most 2^31 s ahead. Returns as csock_loop_call_later; NULL with CSOCK_EINVAL for a NaN or
 * infinite time or one further ahead ("loop: call_at 3e+09 s from now: a time is finite and at
 * most 2^31 s from now"), NULL loop or cb, or CSOCK_ENOMEM. */
csock_timer *csock_loop_call_at(csock_loop *loop, double when, csock_timer_cb cb, void *data);

/* Runs cb(data) every interval seconds (> 0, up to 2^31 s; one under a nanosecond is 1 ns, which
 * runs once per pass), the first time one interval from now; a late pass does not cause a burst
 * of catch-up calls. Valid until csock_timer_cancel. Fails as csock_loop_call_later, and with
 * CSOCK_EINVAL for an interval of 0 ("loop: call_every 0: an interval is positive up to
 * 2^31 s"). */
csock_timer *csock_loop_call_every(csock_loop *loop, double interval, csock_timer_cb cb,
                                   void *data);

/* Moves t's next run to delay seconds from now; a repeating timer keeps its interval after
 * that. Returns 0, or CSOCK_EINVAL for a NULL or cancelled timer ("loop: timer restart: no such
 * timer") or a delay csock_loop_call_later refuses ("loop: timer restart 1e+10: a delay is 0 or
 * positive up to 2^31 s"); t is then unchanged. */
int csock_timer_restart(csock_timer *t, double delay);

/* Cancels and frees t; its callback will not run again. Safe inside any callback, including t's
 * own. NULL is ignored. */
void csock_timer_cancel(csock_timer *t);

/* The loop's clock in seconds (monotonic): inside a callback, one reading for the whole pass
 * (taken when first needed, so a pass that needs no time reads no clock); outside one, now. */
double csock_loop_time(const csock_loop *loop);

/* Runs one pass: waits up to timeout seconds (CSOCK_NO_TIMEOUT: as long as it takes; 0: not at
 * all; positive up to 2^31 s) for readiness, then runs the callbacks of ready watches, due timers,
 * caught signals and posted functions. The wait ends sooner when a watch is ready, a timer is due,
 * or csock_loop_stop, csock_loop_wakeup, csock_loop_post or a signal caught with
 * csock_loop_on_signal asks. Any other signal that interrupts the wait does not end it (as in
 * Python since 3.5): the wait goes on for what is left of timeout, so a handler that wants the pass
 * to end calls csock_loop_wakeup. Returns how many callbacks ran (0 when the time ran out or only a
 * wake-up came), or a negative code: CSOCK_EINVAL for any other timeout (NaN, infinite, another
 * negative, over 2^31 s: "loop: run_once nan: a timeout is CSOCK_NO_TIMEOUT, 0, or positive up to
 * 2^31 s"), before any wait; or the poller's error (the message says which call). */
int csock_loop_run_once(csock_loop *loop, double timeout);

/* Runs passes until csock_loop_stop is called (from a callback or another thread), then returns 0
 * (and is ready to run again); a negative code if a pass failed. A loop with nothing to watch
 * still waits for timers, posted functions and signals. */
int csock_loop_run(csock_loop *loop);

/* Asks csock_loop_run to return after the current pass. Thread-safe and async-signal-safe. */
void csock_loop_stop(csock_loop *loop);

/* Wakes the loop if it is waiting, so that its current pass ends early. Thread-safe and
 * async-signal-safe. */
void csock_loop_wakeup(csock_loop *loop);

/* Has cb(data) run on the loop's thread in its next pass, and wakes the loop. Thread-safe: the
 * way for other threads to hand the loop work. Functions run in the order posted. Returns 0, or
 * CSOCK_EINVAL (NULL cb) or CSOCK_ENOMEM. */
int csock_loop_post(csock_loop *loop, csock_loop_cb cb, void *data);

/* On signal signo, runs cb(data) on the loop's thread in its next pass (NULL cb: stops the loop,
 * the graceful way to end a server on SIGINT or SIGTERM). Several signals arriving before the
 * pass run cb once. The process's previous disposition comes back when no loop wants signo any
 * more (csock_loop_free). Returns 0, or CSOCK_EINVAL for a signal that cannot be caught
 * (SIGKILL, SIGSTOP, out of range) or CSOCK_ENOSPC when too many loops watch signals. */
int csock_loop_on_signal(csock_loop *loop, int signo, csock_loop_cb cb, void *data);

/* The last signal that stopped or woke the loop through csock_loop_on_signal, or 0. */
int csock_loop_last_signal(const csock_loop *loop);

#ifdef __cplusplus
}
#endif

#endif /* CSOCK_LOOP_H */
