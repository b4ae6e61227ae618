/* SPDX-License-Identifier: MIT */
/* csock serve: the classic test services, for streams (csock's server, one loop) and datagrams.
 * echo (RFC 862) sends back what it gets; discard (RFC 863) takes it and sends nothing; chargen
 * (RFC 864) sends lines of rotating printable characters: over a stream without end, as fast as
 * the client reads, and over datagrams one reply of 0 to 512 characters to each datagram. They
 * serve until SIGINT or SIGTERM, then exit with 0. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "commands.h"
#include "listener.h"
#include "tls.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE       72 /* characters a chargen line, then "\r\n" */
#define PRINTABLES 95 /* ' ' to '~': a line starts one further each time */
#define CYCLE      (PRINTABLES * (LINE + 2))
#define RECV_SIZE  (256 * 1024)
#define RECV_BATCH 64

static char chargen_text[CYCLE];
static const struct config *config;
static csock_server *server; /* streams */

static void make_chargen_text(void)
{
    char *p = chargen_text;
    for (int line = 0; line < PRINTABLES; line++) {
        for (int i = 0; i < LINE; i++)
            *p++ = (char)(' ' + (line + i) % PRINTABLES);
        *p++ = '\r';
        *p++ = '\n';
    }
}

/* ---- streams ---- */

static void fill(csock_stream *st)
{
    while (csock_stream_write(st, chargen_text, CYCLE) == 0)
        ; /* 1: the queue is at high water, on_drain comes back; < 0: the stream is closing */
}

/* Each stream's data is its peer's address as text, kept for the messages after it is gone. */
static void opened(csock_stream *st, void *data)
{
    (void)data;
    char peer[CSOCK_ADDRSTRLEN];
    stream_peer_text(st, peer, sizeof peer);
    csock_stream_set_data(st, strdup(peer));
    if (config->verbose) say("connection from %s", peer);
    if (config->tls && config->verbose) tool_tls_say(st, peer);
    descriptors_taken(config, server);
    if (config->service == SERVICE_CHARGEN) fill(st);
}

static void received(csock_stream *st, void *data)
{
    (void)data;
    const char *p;
    size_t n = csock_stream_peek(st, &p);
    /* Reading pauses while the echo's queue is at high water, so it stays bounded. */
    if (config->service == SERVICE_ECHO) csock_stream_write(st, p, n);
    csock_stream_consume(st, n);
}

static void drained(csock_stream *st, void *data)
{
    (void)data;
    if (config->service == SERVICE_CHARGEN) fill(st);
}

static void closed(csock_stream *st, int error, void *data)
{
    (void)st;
    const char *peer = data ? data : "a client";
    if (!data && error) /* never opened: its TLS handshake failed, said with the peer */
        say("%s", csock_lasterror());
    else if (error == CSOCK_ETIMEOUT)
        say("%s: idle for %gs", peer, config->idle);
    else if (error && error != CSOCK_ESHUTDOWN && error != CSOCK_ECONNRESET && error != CSOCK_EPIPE)
        say("%s: %s", peer, csock_strerror(error));
    else if (config->verbose)
        say("%s closed", peer);
    free(data);
    descriptors_freed(config, server);
}

static int serve_streams(const struct config *c)
{
    static csock_stream_handler handler = {
        .on_open = opened, .on_data = received, .on_drain = drained, .on_close = closed};
    handler.idle_timeout = c->idle > 0 ? c->idle : 0;
    csock_server_config sc = {
        .handler = &handler, .max_connections = c->max_conns, .stop_on_signals = 1};
    if (c->tls && !(sc.tls = tool_tls_context(c))) return EXIT_FAILED;
    csock_addr where;
    csock_server *srv = server = make_server(c, &sc, &where);
    tool_tls_free(sc.tls); /* a server holds its own reference */
    if (!srv) return EXIT_FAILED;
    remember_socket_file(c);
    announce(c, &where);
    int rc = csock_server_run(srv);
    if (rc < 0) say("%s", csock_lasterror());
    csock_server_free(srv);
    remove_socket_file();
    return rc < 0 ? EXIT_FAILED : EXIT_OK;
}

/* ---- datagrams ---- */

static char *datagram;

/* Answers one datagram; returns 0 when none is waiting. */
static int answer_one(csock *s)
{
    csock_addr from = {0};
    struct iovec iov = {datagram, RECV_SIZE};
    csock_msg msg = {.iov = &iov, .iovcnt = 1, .addr = &from};
    char text[CSOCK_ADDRSTRLEN];
    ssize_t n = csock_recvmsg(s, &msg, MSG_DONTWAIT);
    if (n == CSOCK_EAGAIN) return 0;
    if (n < 0) {
        say("%s", csock_lasterror());
        return 0;
    }
    if (csock_addr_format(&from, text, sizeof text) <= 0) strcpy(text, "an unnamed socket");
    if (msg.flags & MSG_TRUNC) {
        say("%s: a datagram of %zu bytes is over the %d-byte buffer: dropped", text, msg.size,
            RECV_SIZE);
        return 1;
    }
    if (config->verbose) say("%s: %zd bytes", text, n);
    if (config->service == SERVICE_DISCARD) return 1;
    if (from.len <= sizeof(sa_family_t)) {
        if (config->verbose) say("%s cannot be answered", text);
        return 1;
    }
    /* The socket blocks for sending: a reply waits for room rather than being dropped. */
    const char *reply = datagram;
    size_t len = (size_t)n;
    if (config->service == SERVICE_CHARGEN) {
        reply = chargen_text + rand() % PRINTABLES * (LINE + 2);
        len = (size_t)(rand() % 513);
    }
    if (csock_sendto(s, reply, len, &from) < 0) say("%s", csock_lasterror());
    return 1;
}

static void datagram_ready(csock_loop *loop, csock_watch *w, int events, void *data)
{
    (void)loop, (void)w, (void)events;
    for (int i = 0; i < RECV_BATCH && answer_one(data); i++)
        ;
}

static int serve_datagrams(const struct config *c)
{
    csock *s = make_listener(c);
    csock_loop *loop = NULL;
    csock_addr where;
    int status = EXIT_FAILED;
    datagram = malloc(RECV_SIZE);
    if (!datagram) {
        say("out of memory");
    } else if (!s) {
        /* make_listener said why */
    } else if (csock_getsockname(s, &where) < 0 || !(loop = csock_loop_new()) ||
               !csock_loop_add(loop, csock_fileno(s), CSOCK_READ, datagram_ready, s) ||
               csock_loop_on_signal(loop, SIGINT, NULL, NULL) < 0 ||
               csock_loop_on_signal(loop, SIGTERM, NULL, NULL) < 0) {
        say("%s", csock_lasterror());
    } else {
        remember_socket_file(c);
        announce(c, &where);
        if (csock_loop_run(loop) == 0)
            status = EXIT_OK;
        else
            say("%s", csock_lasterror());
        remove_socket_file();
    }
    csock_loop_free(loop);
    csock_free(s);
    free(datagram);
    return status;
}

int run_serve(const struct config *c)
{
    config = c;
    make_chargen_text();
    return c->udp ? serve_datagrams(c) : serve_streams(c);
}
