/* SPDX-License-Identifier: MIT */
/* csock servers: Python's socketserver for C. One call makes a listening server from an address
 * and a handler; another serves until shutdown.
 *
 *   static const csock_stream_handler echo = {.on_data = echo_data};
 *   csock_server *srv = csock_server_new("127.0.0.1:9000", &(csock_server_config){
 *                                            .handler = &echo, .stop_on_signals = 1});
 *   csock_server_run(srv);   (until SIGINT, SIGTERM or csock_server_shutdown)
 *   csock_server_free(srv);
 *
 * Three ways to serve: every connection a stream on one event loop (the default); on N loops on
 * N threads; or a blocking function on a thread per connection, for code written like the
 * tutorial's server. */
#ifndef CSOCK_SERVER_H
#define CSOCK_SERVER_H

#include <csock/stream.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct csock_server csock_server;

enum {
    CSOCK_SERVE_LOOP = 0,    /* one event loop, on the thread that calls csock_server_run */
    CSOCK_SERVE_LOOPS = 1,   /* several loops on as many threads, connections spread among them */
    CSOCK_SERVE_THREADS = 2, /* a thread per connection running config.serve */
};

/* How to serve; all zeros (with a handler) is one loop, no limits beyond the system's. (The
 * listening socket's own options, for csock_create_server, are csock_listen_options.) A field
 * whose comment names modes (LOOP and LOOPS, LOOPS, THREADS) is for those only: set in another
 * mode, csock_server_new refuses it rather than ignore it. The others apply in every mode. */
typedef struct csock_server_config {
    const csock_stream_handler *handler; /* LOOP and LOOPS: each connection is a stream with this
                                            handler (its on_open runs first); must stay valid
                                            while the server lives */
    void (*serve)(csock *client, void *data); /* THREADS: runs on the connection's own thread with
                                                 the connected, blocking socket, which is closed
                                                 and freed when serve returns: gracefully, so
                                                 that a reset loses no reply (if the client may
                                                 still be sending, the socket is shut down for
                                                 writing and what comes is dropped until the
                                                 client's end of file, at most 5 s, less if the
                                                 server shuts down) */
    void *data;             /* given to serve, and as each stream's first user data */
    int mode;               /* CSOCK_SERVE_LOOP (0), CSOCK_SERVE_LOOPS or CSOCK_SERVE_THREADS */
    int loops;              /* LOOPS: how many (0: one per online core) */
    int reuse_port;         /* LOOPS: nonzero gives each loop its own listening socket on the port
                               (SO_REUSEPORT: the kernel spreads connections); 0 shares one */
    int max_connections;    /* connections at once; more are accepted and closed at once, so their
                               clients learn promptly; 0: no limit but the descriptor limit */
    int backlog;            /* 0: 511 (capped by the system's somaxconn) */
    int stop_on_signals;    /* nonzero: SIGINT and SIGTERM shut the server down gracefully */
    double timeout;         /* THREADS: the client socket's timeout in seconds, up to 2^31 s
                               (0: none; NaN, negative, infinite or larger: CSOCK_EINVAL) */
    csock_tls_context *tls; /* a server TLS context (<csock/tls.h>): each connection's handshake
                               runs first, within the context's handshake timeout (LOOP and
                               LOOPS: on the loop, then on_open; THREADS: on the connection's
                               thread, then serve gets the TLS socket); a client that fails it is
                               closed unseen by serve, while a handler's on_close still runs
                               (with no on_open before it). The server holds a reference until
                               it is freed. NULL: plain */
} csock_server_config;

/* Creates a server listening on address ("127.0.0.1:9000", "[::1]:0", ":8080" for every IPv4
 * interface; a Unix address, "unix:relative.sock", "/path/to.sock" or "@name"; numeric, no name
 * lookup: the text is read by csock_addr_parse, once) so that errors come now: an address in use, a
 * bad address, a bad config. Nothing is accepted before csock_server_run. Returns the server, or
 * NULL with CSOCK_EINVAL (NULL or unparsable address, an unknown mode, a mode without its handler
 * or serve function, a field set that the mode does not use: "server: serve is for THREADS mode,
 * not LOOP (which takes a handler)", "server: loops is for LOOPS mode, not THREADS"; negative
 * counts, a timeout out of range: "server: timeout nan: a timeout is 0 (none) or positive up to
 * 2^31 s"), CSOCK_EADDRINUSE, CSOCK_EACCES and the like from bind and listen, or
 * CSOCK_ENOMEM; the message names the step and address. */
csock_server *csock_server_new(const char *address, const csock_server_config *config);

/* csock_server_new on a ready-made address (from csock_addr_parse, csock_addr_resolve,
 * csock_addr_unix, ...), bound as it is: an abstract name with any bytes, a resolved name.
 * Returns as csock_server_new; an empty address is CSOCK_EINVAL. */
csock_server *csock_server_new_addr(const csock_addr *addr, const csock_server_config *config);

/* The address the server listens on, with the real port when it was given port 0. Returns 0 or
 * a negative code. */
int csock_server_address(const csock_server *srv, csock_addr *addr);

/* Serves until csock_server_shutdown (or a signal, with stop_on_signals), then closes every
 * connection and returns 0. Streams close gracefully, as csock_stream_close does: what is queued
 * is still sent, then on_close gets CSOCK_ESHUTDOWN (CSOCK_ETIMEOUT if the handler's
 * close_timeout passed first), and the stream lingers if its peer may still be sending; run
 * returns once every stream is gone, at most close_timeout later (a second shutdown or signal
 * meanwhile closes what is left at once). THREADS: each client socket is shut down so blocked
 * calls return, and every thread is joined. Returns a negative
 * code if the server could not start (e.g. CSOCK_EAGAIN: no more threads). Runs once per
 * server. Running out of descriptors does not stop it: it sheds the connection it cannot take,
 * waits a moment (5 ms, doubling up to 50 ms, so that it takes clients again soon after
 * descriptors are free) and accepts again. */
int csock_server_run(csock_server *srv);

/* Asks csock_server_run to stop and return. Thread-safe and async-signal-safe; callable from a
 * handler or serve function; returns at once. */
void csock_server_shutdown(csock_server *srv);

/* Loop i (0 to loops - 1; CSOCK_SERVE_LOOP has one) of a LOOP or LOOPS server, so that the caller
 * can watch descriptors and run timers of its own beside the connections: a pipe, a terminal, a
 * periodic report, streams of its own. Add them before csock_server_run or from that loop's own
 * callbacks; they run on the thread that runs the loop, and csock_server_free frees what is left
 * of them. The caller's own streams are not the server's connections: they do not count in
 * csock_server_connections or max_connections, and csock_server_run's ending leaves them to the
 * caller. Returns
 * NULL for THREADS mode, an index out of range, or a NULL server. */
csock_loop *csock_server_loop(const csock_server *srv, int i);

/* Connections open now. Thread-safe. */
int csock_server_connections(const csock_server *srv);

/* Closes the listening sockets and frees the server; call after csock_server_run returned (or
 * without running it). NULL is ignored. */
void csock_server_free(csock_server *srv);

#ifdef __cplusplus
}
#endif

#endif /* CSOCK_SERVER_H */
