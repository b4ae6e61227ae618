/* SPDX-License-Identifier: MIT */
/* What server.c (listening, accepting, loops, shutdown) and server_threads.c (a thread per
 * connection) share. */
#ifndef CSOCK_SERVER_INTERNAL_H
#define CSOCK_SERVER_INTERNAL_H

#include "stream_internal.h"

#include "csock/server.h"

/* One event loop of a server, and the listening socket it accepts from. */
struct csock__worker {
    csock_server *server;
    csock_loop *loop;
    int listen_fd;
    unsigned kind; /* what its connections are (CSOCK__ADOPT_*) */
    csock_watch *accepting;
    /* Where the loop completes accepts (io_uring): a multishot accept instead of the watch's
     * readiness (the watch stays, silent). */
    csock__op accept_op;
    int completes; /* the loop has multishot accepts */
    int multishot; /* accepting by one now (readiness after an error, until the backlog is empty) */
    csock_timer *backoff; /* accepting is paused until it runs */
    double backoff_s;     /* the last pause: 5 ms, doubling up to 50 ms; 0 after an accept */
    pthread_t thread;
    int has_thread;
};

struct csock__client; /* THREADS mode: one connection's thread */

struct csock_server {
    csock_server_config config;
    csock_addr addr;
    csock **listeners;
    int listener_count;
    struct csock__worker *workers;
    int worker_count;
    _Atomic int shutting;
    _Atomic int connections;
    int ran;
    /* A descriptor held in reserve: closed to accept-and-close one connection when the process
     * is out of descriptors, so the client learns at once instead of waiting in the backlog. */
    int reserve_fd;
    pthread_mutex_t reserve_lock;
    /* THREADS mode (server_threads.c). */
    pthread_mutex_t clients_lock;
    pthread_cond_t clients_done;
    struct csock__client *clients, *finished;
    int running_clients;
};

/* THREADS mode: starts a thread serving fd (non-blocking, accepted). On failure fd is closed and
 * the connection count given back. */
void csock__serve_on_thread(csock_server *srv, int fd);

/* THREADS mode: joins the threads that have finished. */
void csock__reap_clients(csock_server *srv);

/* THREADS mode: shuts down every client's socket, so that blocked calls return, and waits for
 * every thread. */
void csock__stop_clients(csock_server *srv);

/* Whether the server's first loop accepts by multishot accepts (for tests). */
int csock__server_completes(const csock_server *srv);

#endif /* CSOCK_SERVER_INTERNAL_H */
