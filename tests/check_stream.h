/* SPDX-License-Identifier: MIT */
/* What stream and server tests share: an echo that writes back every byte it is given, and a
 * server of the framework run on a thread. */
#ifndef CSOCK_CHECK_STREAM_H
#define CSOCK_CHECK_STREAM_H

#include "check.h"

#include <csock/server.h>
#include <csock/stream.h>

/* on_data for an echo: writes back what arrived (a failed write closes the stream with the
 * error, which its on_close sees). */
static inline void check_echo(csock_stream *st, void *data)
{
    (void)data;
    const char *p;
    size_t n = csock_stream_peek(st, &p);
    CHECK(csock_stream_write(st, p, n) >= 0);
    csock_stream_consume(st, n);
}

/* A server of the framework on a thread, on 127.0.0.1 port 0. */
struct check_server {
    csock_server *srv;
    int port;
    pthread_t thread;
};

static inline void *check_server_run(void *arg)
{
    struct check_server *r = arg;
    CHECK_EQ(csock_server_run(r->srv), 0);
    return NULL;
}

/* Starts a server of config (exits if it cannot be made). */
static inline void check_server_start(struct check_server *r, const csock_server_config *config)
{
    r->srv = csock_server_new("127.0.0.1:0", config);
    CHECK(r->srv != NULL);
    if (!r->srv) exit(1);
    csock_addr a;
    CHECK_EQ(csock_server_address(r->srv, &a), 0);
    r->port = csock_addr_port(&a);
    r->thread = check_thread(check_server_run, r);
}

/* Shuts the server down, waits for its thread and frees it. */
static inline void check_server_stop(struct check_server *r)
{
    csock_server_shutdown(r->srv);
    check_join(r->thread);
    csock_server_free(r->srv);
}

#endif
