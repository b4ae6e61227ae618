/* SPDX-License-Identifier: MIT */
/* csock's client side on the loop: resolving a name and connecting without blocking the loop.
 *
 * A header of its own because it builds on both <csock/loop.h> and <csock/stream.h> (the stream
 * variant), as asyncio's open_connection sits above its loop and streams; the loop's own header
 * stays about the loop.
 *
 * One rule for every call here, as for the loop's: a call that returns NULL never calls its
 * callback. A call that returns a handle calls its callback exactly once, on the loop's thread,
 * from a later pass (never from inside the call itself, even when the answer is known at once),
 * unless the handle is cancelled first: after csock_resolve_cancel or csock_connect_cancel
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
 * need them and kept for the process's life (a thread that has asked DNS keeps the C library's
 * socket for it open, one descriptor, as any thread that resolves does). A lookup that hangs holds
 * one thread (threads are never cancelled: getaddrinfo is not safe to cancel); while every thread
 * is held, further lookups wait in a queue, first come first served, and are answered once a thread
 * comes free. A waiting lookup that is cancelled leaves the queue at once. The loop is never
 * blocked. A child process made by fork has none of its parent's threads: its first lookup starts
 * its own (as with any threads, a fork while a lookup is under way may leave the C library's
 * resolver locked in the child: fork when no lookup is under way, or exec). */
csock_resolve *csock_loop_resolve(csock_loop *loop, const char *host, int port, int family,
                                  csock_resolve_cb cb, void *data);

/* Cancels r: its callback will not run. A lookup under way goes on in its thread and its answer
 * is dropped. NULL is ignored. */
void csock_resolve_cancel(csock_resolve *r);

/* Sets the most threads the process's resolver pool runs (1 to 64); threads over a lowered limit
 * end once they are idle. Returns 0, or CSOCK_EINVAL ("resolver: 0 threads: 1 to 64"). */
int csock_set_resolver_threads(int n);

/* ---- connecting (src/loop_connect.c) ---- */

typedef struct csock_connecting csock_connecting;

/* Options of csock_loop_connect; all zeros means the defaults. */
typedef struct csock_connect_options {
    double timeout;         /* seconds for the whole operation, resolving and every attempt (one
                               deadline, as csock_create_connection's), then CSOCK_ETIMEOUT; 0:
                               none of csock's own (the kernel gives up on a TCP attempt after
                               about two minutes) */
    csock_addr source;      /* bound before each attempt; len 0: none. Only addresses of its
                               family are tried (none: CSOCK_EADDRNOTAVAIL, "no address of the
                               source address's family") */
    int family;             /* AF_INET or AF_INET6: only that family is looked up and tried; 0:
                               both */
    int sequential;         /* nonzero: no Happy Eyeballs: one lookup, the addresses in the order it
                               gives, one attempt at a time, the next when one fails; 0: Happy
                               Eyeballs (RFC 8305): IPv6 and IPv4 looked up in parallel, families
                               interleaved, attempts started attempt_delay apart */
    double attempt_delay;   /* seconds before the next attempt starts while one is under way; 0:
                               0.25 s. Clamped to 0.1..2 s (RFC 8305, section 5) */
    csock_tls_context *tls; /* csock_stream_connect only: a client context (<csock/tls.h>):
                               the stream speaks TLS, its handshake within what is left of
                               timeout (and the context's handshake timeout); NULL: plain */
    const char *server_name; /* with tls: the name sent (SNI) and checked against the
                                certificate; NULL: host (an IP literal is checked against the
                                certificate's addresses, and no SNI is sent) */
} csock_connect_options;

/* The answer to csock_loop_connect: s (the caller's, connected and non-blocking: timeout 0) and
 * error 0, or s NULL and error the last attempt's code (CSOCK_ETIMEOUT when the timeout ran
 * out) with csock_lasterror() listing every address tried, as csock_create_connection's does
 * ("connect csock-dual:9: [::1]:9: Connection refused; 127.0.0.1:9: Connection refused"). */
typedef void (*csock_connect_cb)(csock_loop *loop, csock *s, int error, void *data);

/* Connects to host and port (a name, a numeric address, or a Unix address as csock_unix_path
 * says, with port 0) without blocking the loop, and gives cb the first socket to connect.
 *
 * With Happy Eyeballs (the default) the IPv6 (AAAA) and IPv4 (A) lookups run in parallel; when
 * the IPv4 answer comes first, attempts wait 50 ms for the IPv6 one (the resolution delay).
 * Attempts alternate between the families, IPv6 first; the next starts attempt_delay after the
 * last, or at once when one fails; the first to connect wins and every other is closed at once.
 * A TCP connection that reached itself is refused as csock_connect refuses it ("... Connection
 * refused (the connection reached itself: nothing listens there)"). A Unix socket whose
 * listener's backlog is full fails at once with CSOCK_EAGAIN ("Resource temporarily
 * unavailable"), a failed attempt, not retried: a full backlog says the server is behind.
 *
 * Returns the handle, or NULL with cb not called: CSOCK_EINVAL (NULL loop or cb, no host, a
 * port out of range, a timeout or attempt_delay that is negative, NaN, infinite or over 2^31 s:
 * "connect: timeout nan: a timeout is 0 (none) or positive up to 2^31 s", a family other than 0,
 * AF_INET, AF_INET6, a bad source, a Unix address with a port: "connect /run/a.sock: a Unix
 * address has no port (got 80)"), CSOCK_EAFNOSUPPORT (a Unix address with family AF_INET or
 * AF_INET6: "connect /run/a.sock: an AF_UNIX address for an AF_INET socket"), CSOCK_ENOMEM, or an
 * error of csock_loop_resolve. Errors of the lookups and attempts come to cb. */
csock_connecting *csock_loop_connect(csock_loop *loop, const char *host, int port,
                                     const csock_connect_options *opts, csock_connect_cb cb,
                                     void *data);

/* Like csock_loop_connect, but makes a stream of the socket: handler->on_open runs once it is
 * connected (csock_stream_new's rules), or handler->on_close(NULL, error, data) when it could
 * not connect (the stream is NULL then: there is none), with csock_lasterror() as for
 * csock_loop_connect. handler must have on_data and stay valid as long as the stream.
 *
 * With opts->tls the stream is a TLS client's (csock_stream_new_tls): on_open runs once the
 * handshake is done too, which must end within what is left of opts->timeout and the context's
 * handshake timeout; a handshake that fails or runs out of time is on_close(st, error, data)
 * with the stream (on_open never ran), as csock_stream_new_tls's: CSOCK_ETLSVERIFY ("verify
 * localhost:4433: certificate has expired"), CSOCK_ETLS, CSOCK_ETIMEOUT. The operation holds a
 * reference to the context: it may be freed once this returns.
 *
 * Returns the handle, or NULL as csock_loop_connect (CSOCK_EINVAL also for a NULL handler or one
 * that csock_stream_new would refuse: no on_data, water marks out of order, a timeout that is
 * not a number of seconds; and for a tls context that is a server's or one that checks names with
 * no name to check: a Unix address without server_name; CSOCK_EOPNOTSUPP for tls where csock was
 * built without OpenSSL). csock_loop_connect refuses tls (CSOCK_EINVAL: a socket it gives is
 * plain; wrap it with csock_tls_wrap_client). */
csock_connecting *csock_stream_connect(csock_loop *loop, const char *host, int port,
                                       const csock_connect_options *opts,
                                       const csock_stream_handler *handler, void *data);

/* Cancels c: every attempt is closed, the lookups are dropped, and no callback runs. NULL is
 * ignored. */
void csock_connect_cancel(csock_connecting *c);

#ifdef __cplusplus
}
#endif

#endif /* CSOCK_CONNECT_H */
