/* SPDX-License-Identifier: MIT */
/* csock forward LISTEN TARGET: a port forwarder, as socat's TCP-LISTEN,fork TCP:target. Each
 * client accepted on LISTEN is connected to TARGET on the loop (csock_stream_connect: a target
 * slow to answer holds up no other client), then bytes go both ways.
 *
 * Back-pressure: what one side sends is written to the other side's stream; when that stream's
 * queue reaches high water, reading from the first side pauses until the queue drains (its
 * on_drain). Each direction waits for its own reader only: the streams keep reading on their
 * own (keep_reading), and this file pauses them. Memory stays bounded per client.
 *
 * Half-close: a side's end of file shuts the other side down for writing once what was queued
 * for it is sent; the pair closes when both sides have ended, after both queues have drained.
 * A side that fails (reset, -i) takes the other down with it at once. */
#include "commands.h"
#include "listener.h"
#include "progress.h"
#include "session.h"
#include "tls.h"

#include <csock/connect.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Queued for a side before the other side's reading pauses; it resumes at a quarter of it. A
 * read is at most READ_SIZE, so the queue holds at most HIGH_WATER + READ_SIZE. */
#define HIGH_WATER (256 * 1024)
#define READ_SIZE  (64 * 1024)

struct pair;

struct forward {
    const struct config *c;
    struct config target; /* c with the target as its address, for source_address */
    csock_server *srv;
    struct destination to; /* the target, as csock_stream_connect takes it */
    csock_stream_handler client_handler, target_handler;
    struct pair *pairs; /* every client's, freed at the end if the loop went first */
    struct progress progress;
};

struct pair {
    struct forward *f;
    struct pair *prev, *next;
    csock_stream *client, *target;
    csock_connecting *connecting; /* until the target answers */
    int client_ended, target_ended;
    int error;         /* the first failure of either side */
    int failed_side;   /* which side it was: 1 the client, 2 the target */
    int unreached;     /* the target could not be connected to */
    uint64_t up, down; /* bytes client to target, target to client */
    char peer[CSOCK_ADDRSTRLEN];
};

static csock_stream *other_side(const struct pair *p, const csock_stream *st)
{
    return st == p->client ? p->target : p->client;
}

/* How the pair ended, for -v: "closed by both sides", "reset by the client", ... */
static void ending_text(const struct pair *p, char *buf, size_t size)
{
    const char *who = p->failed_side == 1 ? "the client" : "the target";
    if (p->unreached)
        snprintf(buf, size, "the target was not reached (%s)", csock_strerror(p->error));
    else if (p->error == 0)
        snprintf(buf, size, "closed by both sides");
    else if (p->error == CSOCK_ECONNRESET || p->error == CSOCK_EPIPE)
        snprintf(buf, size, "reset by %s", who);
    else if (p->error == CSOCK_ETIMEOUT)
        snprintf(buf, size, "idle for %gs", p->f->c->idle);
    else if (p->error == CSOCK_ESHUTDOWN)
        snprintf(buf, size, "closed by a signal");
    else
        snprintf(buf, size, "%s failed: %s", who, csock_strerror(p->error));
}

static void pair_free(struct pair *p)
{
    if (p->prev) p->prev->next = p->next;
    if (p->next) p->next->prev = p->prev;
    if (p->f->pairs == p) p->f->pairs = p->next;
    free(p);
}

/* Once both streams are gone, the pair is done: said with -v, then freed. */
static void pair_done(struct pair *p)
{
    if (p->client || p->target || p->connecting) return;
    struct forward *f = p->f;
    if (f->c->verbose) {
        char how[200], up[32], down[32];
        ending_text(p, how, sizeof how);
        say("%s: %s after %s to %s, %s back", p->peer, how, bytes_text(p->up, up, sizeof up),
            f->to.text, bytes_text(p->down, down, sizeof down));
    }
    pair_free(p);
    descriptors_freed(f->c, f->srv);
}

static void on_data(csock_stream *st, void *data)
{
    struct pair *p = data;
    csock_stream *to = other_side(p, st);
    if (!to) return; /* the other side is gone, and this one is closing */
    const char *buf;
    size_t n = csock_stream_peek(st, &buf);
    int rc = csock_stream_write(to, buf, n);
    csock_stream_consume(st, n);
    *(st == p->client ? &p->up : &p->down) += n;
    *(st == p->client ? &p->f->progress.sent : &p->f->progress.received) += n;
    if (rc == 1) csock_stream_pause(st, 1); /* until to's on_drain */
    /* rc < 0: to is closing (its on_close closes st), or its queue would overflow, which the
     * pause at high water rules out. */
    if (rc < 0) csock_stream_abort(to);
}

static void on_drain(csock_stream *st, void *data)
{
    csock_stream *from = other_side(data, st);
    if (from) csock_stream_pause(from, 0);
}

/* A side ended: the other is shut down for writing once its queue is sent; both ended, the pair
 * closes (each stream sends what is still queued first). */
static void on_end(csock_stream *st, void *data)
{
    struct pair *p = data;
    csock_stream *to = other_side(p, st);
    *(st == p->client ? &p->client_ended : &p->target_ended) = 1;
    if (to) csock_stream_shutdown(to);
    if (!to || (p->client_ended && p->target_ended)) {
        csock_stream_close(st);
        if (to) csock_stream_close(to);
    }
}

static void side_closed(struct pair *p, csock_stream *st, int error)
{
    int client = st == p->client;
    csock_stream *to = other_side(p, st);
    *(client ? &p->client : &p->target) = NULL;
    if (error && !p->error) {
        p->error = error;
        p->failed_side = client ? 1 : 2;
        if (error == CSOCK_ETIMEOUT)
            say("%s: idle for %gs", p->peer, p->f->c->idle);
        else if (error != CSOCK_ESHUTDOWN && error != CSOCK_ECONNRESET && error != CSOCK_EPIPE)
            say("%s: %s: %s", p->peer, client ? "client" : p->f->to.text, csock_strerror(error));
    }
    if (client && p->connecting) {
        csock_connect_cancel(p->connecting);
        p->connecting = NULL;
    }
    /* A failure is passed on at once; a clean close happens only when both sides are done. */
    if (to && error)
        csock_stream_abort(to);
    else if (to)
        csock_stream_close(to);
    pair_done(p);
}

static struct forward the_forward; /* static: the streams refer to its handlers until the end */

/* A client whose TLS handshake failed never opened: its data is still the forward's. */
static void client_close(csock_stream *st, int error, void *data)
{
    if (data == &the_forward)
        say("%s", csock_lasterror());
    else if (data)
        side_closed(data, st, error);
}

static void client_open(csock_stream *st, void *data)
{
    struct forward *f = data;
    struct pair *p = calloc(1, sizeof *p);
    csock_stream_set_data(st, p);
    if (!p) {
        say("out of memory for a connection");
        csock_stream_abort(st);
        return;
    }
    *p = (struct pair){.f = f, .client = st, .next = f->pairs};
    if (f->pairs) f->pairs->prev = p;
    f->pairs = p;
    stream_peer_text(st, p->peer, sizeof p->peer);
    if (f->c->verbose) say("connection from %s", p->peer);
    if (f->c->verbose && f->c->tls) tool_tls_say(st, p->peer);
    descriptors_taken(f->c, f->srv);
    csock_stream_pause(st, 1); /* until the target answers */
    p->connecting = csock_stream_connect(csock_stream_loop(st), f->to.host, f->to.port,
                                         &f->to.options, &f->target_handler, p);
    if (!p->connecting) {
        say("%s: %s", p->peer, csock_lasterror());
        csock_stream_close(st);
    }
}

static void target_open(csock_stream *st, void *data)
{
    struct pair *p = data;
    p->connecting = NULL;
    p->target = st;
    if (p->f->c->verbose) {
        char where[CSOCK_ADDRSTRLEN], connected[700];
        stream_peer_text(st, where, sizeof where);
        connected_text(&p->f->to, where, connected, sizeof connected);
        say("%s: %s", p->peer, connected);
        if (p->f->c->target_tls) tool_tls_say(st, p->f->to.text);
    }
    if (p->client) csock_stream_pause(p->client, 0);
}

/* The target could not be reached (st NULL), or its TLS handshake failed (st is not the pair's
 * target: it never opened): said, and the client closed. */
static void target_close(csock_stream *st, int error, void *data)
{
    struct pair *p = data;
    if (st && st == p->target) {
        side_closed(p, st, error);
        return;
    }
    p->connecting = NULL;
    p->error = error;
    p->failed_side = 2;
    p->unreached = 1;
    say("%s: %s", p->peer, csock_lasterror());
    if (p->client) csock_stream_close(p->client);
    pair_done(p);
}

static int forward_init(struct forward *f, const struct config *c)
{
    f->c = c;
    f->target = *c;
    f->target.address = c->target;
    f->target.has_source = c->has_source;
    if (destination_of(&f->target, &f->to) < 0) return -1;
    if (c->target_tls) {
        if (!(f->to.options.tls = tool_tls_target_context(c))) return -1;
        f->to.options.server_name = tool_tls_server_name(&f->target);
    }
    csock_stream_handler base = {
        .on_data = on_data,
        .on_end = on_end,
        .on_drain = on_drain,
        .max_buffer = READ_SIZE,
        .high_water = HIGH_WATER,
        .max_queue = HIGH_WATER + READ_SIZE,
        .idle_timeout = c->idle > 0 ? c->idle : 0,
        .keep_reading = 1, /* each side is paused by hand, for the other's queue */
    };
    f->client_handler = base;
    f->client_handler.on_open = client_open;
    f->client_handler.on_close = client_close;
    f->target_handler = base;
    f->target_handler.on_open = target_open;
    f->target_handler.on_close = target_close;
    return 0;
}

int run_forward(const struct config *c)
{
    struct forward *f = &the_forward;
    if (forward_init(f, c) < 0) return EXIT_FAILED;
    csock_server_config sc = {.handler = &f->client_handler,
                              .data = f,
                              .max_connections = c->max_conns,
                              .stop_on_signals = 1};
    if (c->tls && !(sc.tls = tool_tls_context(c))) {
        tool_tls_free(f->to.options.tls);
        return EXIT_FAILED;
    }
    csock_addr where;
    f->srv = make_server(c, &sc, &where);
    tool_tls_free(sc.tls); /* the server holds its own reference */
    if (!f->srv) {
        tool_tls_free(f->to.options.tls);
        return failure_status(csock_lastcode());
    }
    remember_socket_file(c);
    announce(c, &where);
    int status = EXIT_FAILED;
    if (progress_start(&f->progress, csock_server_loop(f->srv, 0), c->progress) == 0) {
        if (csock_server_run(f->srv) == 0)
            status = EXIT_OK;
        else
            say("%s", csock_lasterror());
    }
    progress_end(&f->progress);
    csock_server_free(f->srv); /* frees what streams are left, without calling back */
    while (f->pairs)
        pair_free(f->pairs);
    tool_tls_free(f->to.options.tls);
    remove_socket_file();
    return status;
}
