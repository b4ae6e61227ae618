/* SPDX-License-Identifier: MIT */
/* csock's client side on the loop: resolving a name without blocking the loop.
 *
 * A header of its own because it builds on both <csock/loop.h> and <csock/stream.h>, as
 * asyncio's open_connection sits above its loop and streams; the loop's own header stays about
 * the loop.
 *
 * One rule for every call here, as for the loop's: a call that returns NULL never calls its
 * callback. A call that returns a handle calls its callback exactly once, on the loop's thread,
 * from a later pass (never from inside the call itself, even when the answer is known at once),
 * unless the handle is cancelled first: after csock_resolve_cancel
 * returns, the callback never runs. A handle is valid until its callback starts or it is
 * cancelled; cancelling it from inside its own callback, or twice, is not allowed.
 * csock_loop_free frees whatever is still pending without calling back. All functions are for
 * the loop's thread, except csock_set_resolver_threads, which any thread may call. */
#ifndef CSOCK_CONNECT_H
#define CSOCK_CONNECT_H

#include <csock/stream.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- resolving names (src/loop_resolve.c) ---- */

typedef struct csock_resolve csock_resolve;

/* The answer to csock_loop_resolve: list (the caller's: free it with csock_freeaddrinfo) and
 * error 0, or list NULL and error a negative code with csock_lasterror() saying why ("getaddrinfo
 * nosuch.invalid:80: Name or service not known"). */
typedef void (*csock_resolve_cb)(csock_loop *loop, csock_addrlist *list, int error, void *data);

/* Resolves host and port for stream sockets of family (0: any, AF_INET, AF_INET6) as
 * csock_getaddrinfo does, without blocking the loop: a name is looked up by a thread of the
 * process's resolver pool, and the answer is handed to the loop (csock_loop_post) and given to
 * cb on its thread. A numeric address and a Unix address (csock_unix_path) are answered without
 * a thread, still by cb from a later pass. Returns the handle, or NULL with CSOCK_EINVAL (NULL
 * loop, host or cb: "resolve: NULL host"), CSOCK_ENOMEM, or the error of starting the pool's
 * first thread; cb is not called then.
 *
 * The pool has csock_set_resolver_threads threads at most (4 unless set, or
 * CSOCK_RESOLVER_THREADS in the environment when the pool first starts), started as lookups
 * need them and kept for the process's life. A lookup that hangs holds one thread (threads are
 * never cancelled: getaddrinfo is not safe to cancel); while every thread is held, further
 * lookups wait in a queue, first come first served, and are answered once a thread comes free.
 * A waiting lookup that is cancelled leaves the queue at once. The loop is never blocked. */
csock_resolve *csock_loop_resolve(csock_loop *loop, const char *host, int port, int family,
                                  csock_resolve_cb cb, void *data);

/* Cancels r: its callback will not run. A lookup under way goes on in its thread and its answer
 * is dropped. NULL is ignored. */
void csock_resolve_cancel(csock_resolve *r);

/* Sets the most threads the process's resolver pool runs (1 to 64); threads over a lowered limit
 * end once they are idle. Returns 0, or CSOCK_EINVAL ("resolver: 0 threads: 1 to 64"). */
int csock_set_resolver_threads(int n);

#ifdef __cplusplus
}
#endif

#endif /* CSOCK_CONNECT_H */
