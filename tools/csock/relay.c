/* SPDX-License-Identifier: MIT */
/* The stream relay: standard input to the peer, the peer's data to standard output, both at
 * once, on one event loop. Every connection is a csock stream; its bounded write queue is what
 * makes standard input wait for a peer that reads slowly, and standard output being slow makes
 * the peer wait (the kernel's window), so memory stays bounded and nothing is dropped.
 *
 * End-of-file rules (csock.1): at the end of standard input the connection is shut down for
 * writing (not with --no-shutdown; -q 0 ends the session once the queue has drained; -q T quits
 * T later). A single session that ends well hands its socket to finish_session, which waits
 * until the peer has taken everything.
 * The peer's end closes the connection, which ends a single session, once standard input has
 * ended too, or at once if it is a terminal: a pipe or a file goes on being sent, since a peer
 * that only shut down its side still reads it. With -k, the end of standard input ends nothing,
 * and a client's end closes its connection. */
#define _POSIX_C_SOURCE 200809L /* F_DUPFD_CLOEXEC */
#include "listener.h"
#include "local.h"
#include "progress.h"
#include "session.h"
#include "tls.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (64 * 1024) /* read from standard input at once: more falls out of cache */
/* Standard input waits as soon as anything is queued for a peer: the socket is full then, and
 * what more it read would only be copied into the queue and out again. The queue holds at most
 * what one send left over. */
#define HIGH_WATER 1
/* The most read from a peer at once. Smaller reads than the 64 KiB default measured faster for
 * bulk transfers (bench/README.md): a reader that empties the socket in one large read sleeps,
 * and is woken, more often. */
#define READ_SIZE (16 * 1024)
#define MAX_QUEUE (2 * CHUNK)

/* A stream's data is its relay until on_open makes it its conn: a TLS handshake that fails
 * closes the stream before that. The tag tells which on_close got. */
enum { RELAY_TAG = 1, CONN_TAG };

struct conn {
    int tag; /* CONN_TAG */
    struct relay *r;
    csock_stream *st;
    struct conn *prev, *next;
    int full;       /* its queue reached high water: standard input waits for its on_drain */
    int peer_ended; /* it sent end of file while standard input went on */
    int shut;       /* it was shut down for writing at the end of standard input */
    uint64_t received, sent; /* bytes from the peer, and of standard input to it */
    char peer[CSOCK_ADDRSTRLEN];
};

struct relay {
    int tag; /* RELAY_TAG */
    const struct config *c;
    csock_tls_context *tls; /* --tls */
    csock_loop *loop;
    const struct destination *to; /* connect: where, and until connected, the operation */
    csock_connecting *connecting;
    csock_server *srv; /* with -k */
    csock_stream_handler handler;
    struct input in;
    struct conn *conns;
    int full;   /* connections whose queue is full */
    int status; /* the exit status so far */
    csock_timer *quit;
    uint64_t sent; /* bytes of standard input */
    struct progress progress;
    int input_tty; /* standard input is a terminal: nothing typed later can be lost */
    /* A single session's end: with -q 0 the stream hands its socket over to finish_session as
     * soon as its queue has drained, and otherwise when it closes; -q T ran out at quit_at. */
    int hand_over, quit_fired;
    double quit_at;
    struct ending end; /* end.fd >= 0: finish_session is due */
    char peer[CSOCK_ADDRSTRLEN];
};

static void stop(struct relay *r)
{
    input_stop(&r->in);
    if (r->srv)
        csock_server_shutdown(r->srv);
    else
        csock_loop_stop(r->loop);
}

static int start_input(struct relay *r);

static void conn_open(csock_stream *st, void *data)
{
    struct relay *r = data;
    struct conn *k = calloc(1, sizeof *k);
    csock_stream_set_data(st, k);
    if (!k) {
        say("out of memory for a connection");
        csock_stream_abort(st);
        return;
    }
    k->tag = CONN_TAG;
    k->r = r;
    k->st = st;
    /* A server that has already ended (refusing the client's certificate) has no name any
     * more: a connection made here is named as it was asked for. */
    if (stream_peer_text(st, k->peer, sizeof k->peer) < 0 && r->to)
        snprintf(k->peer, sizeof k->peer, "%s", r->to->text);
    k->next = r->conns;
    if (r->conns) r->conns->prev = k;
    r->conns = k;
    if (r->srv && r->c->verbose) say("connection from %s", k->peer);
    r->connecting = NULL;
    if (r->to && r->c->verbose) {
        char connected[700];
        connected_text(r->to, k->peer, connected, sizeof connected);
        say("%s", connected);
    }
    if (r->tls && r->c->verbose) tool_tls_say(st, k->peer);
    if (r->srv) descriptors_taken(r->c, r->srv);
    /* A connection made here, and a single TLS session, read standard input once connected (the
     * handshake done): its end must not shut the connection down before it is under way. */
    if ((r->to || r->tls) && !r->srv && start_input(r) < 0) {
        r->status = EXIT_FAILED;
        csock_stream_abort(st);
    }
}

static void conn_data(csock_stream *st, void *data)
{
    struct conn *k = data;
    const char *p;
    size_t n = csock_stream_peek(st, &p);
    if (k->r->c->hex)
        hexdump('<', &k->received, p, n);
    else
        k->received += n;
    k->r->progress.received += n;
    int rc = output_write(p, n);
    csock_stream_consume(st, n);
    if (rc < 0) {
        k->r->status = EXIT_FAILED;
        stop(k->r);
        csock_stream_abort(st);
    }
}

/* The peer ended its side: what was queued for it still goes, then the connection closes; but
 * input still coming from a pipe or a file is sent first, to its end. */
static void conn_end(csock_stream *st, void *data)
{
    struct conn *k = data;
    struct relay *r = k->r;
    if (r->srv || r->in.done || r->input_tty)
        csock_stream_close(st);
    else
        k->peer_ended = 1;
}

static void resume_input(struct relay *r)
{
    if (r->full == 0) input_pause(&r->in, 0);
}

static void conn_drain(csock_stream *st, void *data)
{
    struct conn *k = data;
    if (k->r->hand_over && csock_stream_queued(st) == 0) csock_stream_close(st);
    if (!k->full) return;
    k->full = 0;
    k->r->full--;
    resume_input(k->r);
}

/* Keeps the socket of a single session that ended well for finish_session, which waits until the
 * peer has taken everything. Returns 0, or -1 if it cannot. */
static int hand_over(struct relay *r, struct conn *k)
{
    if (r->tls) return -1; /* TLS: the stream's own close delivers it (close_notify, linger) */
    int fd = fcntl(csock_stream_fileno(k->st), F_DUPFD_CLOEXEC, 3);
    if (fd < 0) return -1;
    memcpy(r->peer, k->peer, sizeof r->peer);
    r->end = (struct ending){
        .fd = fd,
        .reading = !csock_stream_at_eof(k->st),
        .peer_ended = k->peer_ended,
        .hex = r->c->hex,
        .verbose = r->c->verbose,
        .received = k->received,
        .sent = k->sent,
        .deadline = r->quit_at,
        .quit_after = r->c->quit_after,
        .idle = r->c->idle,
        .peer = r->peer,
    };
    return 0;
}

/* The connection could not be made (every address tried, within -w): said, and the end. */
static void connect_failed(int error, struct relay *r)
{
    if (!say_family_not_found(r->c, r->to->family)) say("%s", csock_lasterror());
    r->status = failure_status(error);
    stop(r);
}

/* A TLS handshake failed: a single session ends with it; with -k it is said with -v. */
static void handshake_failed(csock_stream *st, int error, struct relay *r)
{
    char peer[CSOCK_ADDRSTRLEN];
    const char *why = csock_lasterror();
    if (r->to) { /* connect: the message names where ("verify localhost:443: ...") */
        say("%s", why[0] ? why : csock_strerror(error));
    } else if (!r->srv || r->c->verbose) {
        stream_peer_text(st, peer, sizeof peer);
        say("%s: %s", peer, why[0] ? why : csock_strerror(error));
    }
    if (r->srv) return;
    r->status = failure_status(error ? error : CSOCK_ETLS);
    stop(r);
}

/* Why a connection failed, into buf: for TLS's codes the reason its message gives (the part after
 * the operation and the address: "tlsv13 alert certificate required"), which the code's own
 * words ("TLS error") do not; otherwise the code's words. Called first in on_close, while the
 * message is the stream's. */
static const char *reason_of(int error, char *buf, size_t size)
{
    const char *why = csock_lasterror(), *cut = strrchr(why, ':');
    int tls = error == CSOCK_ETLS || error == CSOCK_ETLSVERIFY || error == CSOCK_ETLSEOF;
    if (!tls || csock_lastcode() != error || !cut || cut[1] != ' ' || !cut[2])
        return csock_strerror(error);
    snprintf(buf, size, "%s", cut + 2);
    return buf;
}

static void conn_close(csock_stream *st, int error, void *data)
{
    if (data && *(const int *)data == RELAY_TAG) {
        ((struct relay *)data)->connecting = NULL; /* it has ended, and is freed */
        if (st)
            handshake_failed(st, error, data);
        else
            connect_failed(error, data);
        return;
    }
    struct conn *k = data;
    if (!k) return;
    struct relay *r = k->r;
    char sent[32], received[32], reason_buf[256];
    const char *reason = reason_of(error, reason_buf, sizeof reason_buf);
    if (r->quit) csock_timer_cancel(r->quit);
    r->quit = NULL;
    if (r->srv || error || r->status != EXIT_OK || r->quit_fired || hand_over(r, k) < 0) {
        /* What the peer did not take: what is queued and, when the connection failed or was
         * given up, what its system never acknowledged (a close still delivers that). */
        size_t queued = csock_stream_queued(st), left = queued;
        const char *bound = ""; /* "at most " where records were counted */
        if (error || r->quit_fired) {
            size_t unacked = unacked_bytes(csock_stream_fileno(st), k->shut && !queued);
            /* Over TLS the system holds records, not input: its close_notify too. The peer
             * lacks at most the bytes of input among them, which are no more than were sent. */
            uint64_t out = k->sent > queued ? k->sent - queued : 0;
            if (r->tls && unacked > out) unacked = (size_t)out;
            if (r->tls && unacked) bound = "at most ";
            left += unacked;
        }
        if (left && r->quit_fired) {
            say("%s: %s%zu bytes were not taken by the peer when -q %gs ran out", k->peer, bound,
                left, r->c->quit_after);
            r->status = EXIT_FAILED;
        } else if (left) {
            say("%s: %s%zu bytes were not taken by the peer", k->peer, bound, left);
        } else if (r->quit_fired && r->c->verbose) {
            say("-q %gs after the end of input: closing the connection to %s after %s sent, %s "
                "received",
                r->c->quit_after, k->peer, bytes_text(k->sent, sent, sizeof sent),
                bytes_text(k->received, received, sizeof received));
        }
    }
    if (error == CSOCK_ETIMEOUT)
        say("%s: idle for %gs", k->peer, r->c->idle);
    else if (error && k->peer_ended)
        say("%s: the peer closed the connection before the end of input (%s)", k->peer, reason);
    else if (error && error != CSOCK_ESHUTDOWN)
        say("%s: %s", k->peer, reason);
    else if (r->srv && r->c->verbose)
        say("%s closed the connection after %s sent, %s received", k->peer,
            bytes_text(k->sent, sent, sizeof sent),
            bytes_text(k->received, received, sizeof received));
    else if (r->tls && r->c->verbose && r->status == EXIT_OK && !r->quit_fired)
        /* A single TLS session ends here, not in finish_session: said as a plain one is. */
        say(k->peer_ended ? "%s closed the connection after %s sent, %s received"
                          : "%s: closing the connection after %s sent, %s received",
            k->peer, bytes_text(k->sent, sent, sizeof sent),
            bytes_text(k->received, received, sizeof received));
    /* -v: how the session ended, unless finish_session says it or it ended well (-k). */
    if (r->c->verbose && (r->srv ? error != 0 : r->end.fd < 0) &&
        !(r->quit_fired && !error && r->status == EXIT_OK) &&
        !(r->tls && !error && r->status == EXIT_OK)) { /* TLS: the stream's close finished it */
        char how[300];
        if (error == CSOCK_ETLS || error == CSOCK_ETLSVERIFY || error == CSOCK_ETLSEOF)
            snprintf(how, sizeof how, "failed: %s", reason);
        else if (error)
            ending_reason(error, r->c->idle, how, sizeof how);
        else if (r->quit_fired)
            snprintf(how, sizeof how, "-q %gs ran out", r->c->quit_after);
        else
            snprintf(how, sizeof how, "standard input or output failed");
        say_ended(k->peer, how, k->sent, k->received);
    }
    if (!r->srv && error && error != CSOCK_ESHUTDOWN) r->status = failure_status(error);
    if (k->full) {
        r->full--;
        resume_input(r);
    }
    if (k->prev) k->prev->next = k->next;
    if (k->next) k->next->prev = k->prev;
    if (r->conns == k) r->conns = k->next;
    free(k);
    if (r->srv) descriptors_freed(r->c, r->srv);
    if (!r->srv) stop(r); /* a single session ends with its connection */
}

static void quit_due(csock_loop *loop, csock_timer *t, void *data)
{
    (void)loop, (void)t;
    struct relay *r = data;
    r->quit = NULL;
    r->quit_fired = 1;
    if (r->conns) csock_stream_abort(r->conns->st);
}

static void end_of_input(struct relay *r)
{
    if (r->srv || !r->conns) return; /* with -k it ends nothing */
    struct conn *k = r->conns;
    if (r->c->quit_after > 0) {
        r->quit_at = monotonic_time() + r->c->quit_after;
        r->quit = csock_loop_call_later(r->loop, r->c->quit_after, quit_due, r);
    }
    if (k->peer_ended) {
        csock_stream_close(k->st);
        return;
    }
    if (!r->c->no_shutdown) {
        csock_stream_shutdown(k->st);
        k->shut = 1;
    }
    /* -q 0: the rest is finish_session's once the queue has drained. The stream goes on reading
     * meanwhile: closing it would stop that, and a peer that waits to send before it reads would
     * wait for ever. */
    if (r->c->quit_after == 0) {
        r->hand_over = 1;
        if (csock_stream_queued(k->st) == 0) csock_stream_close(k->st);
    }
}

static void input_chunk(const char *chunk, size_t len, void *data)
{
    struct relay *r = data;
    if (len == 0 && r->in.failed) { /* the session ends: what was sent may be incomplete */
        r->status = EXIT_FAILED;
        if (!r->srv && r->conns) csock_stream_abort(r->conns->st);
        stop(r);
        return;
    }
    if (len == 0) {
        end_of_input(r);
        return;
    }
    if (r->c->hex)
        hexdump('>', &r->sent, chunk, len);
    else
        r->sent += len;
    for (struct conn *k = r->conns, *next; k; k = next) {
        next = k->next;
        int rc = csock_stream_write(k->st, chunk, len);
        if (rc >= 0) {
            k->sent += len;
            r->progress.sent += len;
        }
        if (rc == 1 && !k->full) {
            k->full = 1;
            r->full++;
        }
        /* rc < 0: the stream is closing (conn_close says why). The queue never passes
         * max_queue: input waits as soon as anything is queued, and a chunk is at most half. */
    }
    if (r->full > 0) input_pause(&r->in, 1);
}

static struct relay *relay_new(const struct config *c)
{
    struct relay *r = calloc(1, sizeof *r);
    if (!r) {
        say("out of memory");
        return NULL;
    }
    r->tag = RELAY_TAG;
    r->c = c;
    r->quit_at = NO_LIMIT;
    r->end.fd = -1;
    r->handler = (csock_stream_handler){
        .on_open = conn_open,
        .on_data = conn_data,
        .on_end = conn_end,
        .on_drain = conn_drain,
        .on_close = conn_close,
        .max_buffer = READ_SIZE,
        .high_water = HIGH_WATER,
        .max_queue = MAX_QUEUE,
        .idle_timeout = c->idle > 0 ? c->idle : 0,
        /* The two directions are independent: the peer's data is read whatever is queued for
         * it (standard input, which alone fills the queue, waits at high water instead). */
        .keep_reading = 1,
    };
    return r;
}

static int start_input(struct relay *r)
{
    if (r->c->no_stdin) return 0;
    return input_start(&r->in, r->loop, CHUNK, input_chunk, r);
}

/* A single session's relay, with its loop and --tls context; NULL having said why. */
static struct relay *relay_open(const struct config *c)
{
    struct relay *r = relay_new(c);
    if (!r) return NULL;
    r->in.done = 1; /* until started */
    r->input_tty = isatty(STDIN_FILENO);
    if (!(r->loop = csock_loop_new())) {
        say("%s", csock_lasterror());
    } else if (!(r->tls = tool_tls_context(c)) && c->tls) {
        csock_loop_free(r->loop);
    } else {
        return r;
    }
    free(r);
    return NULL;
}

/* Runs a single session's loop until the session ends (if started: its stream, or its connecting,
 * is under way), then finishes it and frees r. Returns the exit status. */
static int relay_run(struct relay *r, int started)
{
    int status = started ? EXIT_FAILED : r->status;
    /* (each says why it could not start) */
    if (started && progress_start(&r->progress, r->loop, r->c->progress) == 0 &&
        (r->tls || r->to || start_input(r) == 0)) {
        if (csock_loop_run(r->loop) == 0)
            status = r->status;
        else
            say("%s", csock_lasterror());
    }
    input_stop(&r->in);
    progress_pause(&r->progress);
    if (r->end.fd >= 0 && status == EXIT_OK) {
        status = finish_session(&r->end);
        r->progress.received = r->end.received; /* what came while it waited too */
    } else if (r->end.fd >= 0) {
        close(r->end.fd);
    }
    progress_end(&r->progress);
    csock_connect_cancel(r->connecting);
    csock_loop_free(r->loop);
    tool_tls_free(r->tls);
    free(r);
    return status;
}

int relay_stream(const struct config *c, csock *s)
{
    struct relay *r = relay_open(c);
    if (!r) {
        csock_free(s);
        return EXIT_FAILED;
    }
    int started = (r->tls ? csock_stream_new_tls(r->loop, s, r->tls, NULL, &r->handler, r)
                          : csock_stream_new(r->loop, s, &r->handler, r)) != NULL;
    if (!started) {
        say("%s", csock_lasterror());
        csock_free(s);
        r->status = EXIT_FAILED;
    }
    return relay_run(r, started);
}

int relay_connect(const struct config *c, const struct destination *to)
{
    struct relay *r = relay_open(c);
    if (!r) return EXIT_FAILED;
    r->to = to;
    csock_connect_options options = to->options;
    options.tls = r->tls;
    options.server_name = tool_tls_server_name(c);
    r->connecting = csock_stream_connect(r->loop, to->host, to->port, &options, &r->handler, r);
    if (!r->connecting) {
        say("%s", csock_lasterror());
        r->status = failure_status(csock_lastcode());
    }
    return relay_run(r, r->connecting != NULL);
}

csock_server_config relay_server_config(const struct config *c, struct relay **r)
{
    *r = relay_new(c);
    if (*r && c->tls && !((*r)->tls = tool_tls_context(c))) {
        free(*r);
        *r = NULL;
    }
    return (csock_server_config){
        .tls = *r ? (*r)->tls : NULL,
        .handler = *r ? &(*r)->handler : NULL,
        .data = *r,
        .max_connections = c->max_conns,
        .stop_on_signals = 1,
    };
}

int relay_serve(struct relay *r, csock_server *srv)
{
    r->srv = srv;
    r->loop = csock_server_loop(srv, 0);
    r->in.done = 1;
    int status = EXIT_FAILED;
    if (progress_start(&r->progress, r->loop, r->c->progress) == 0 && start_input(r) == 0) {
        if (csock_server_run(srv) == 0)
            status = r->status;
        else
            say("%s", csock_lasterror());
    }
    progress_end(&r->progress);
    relay_free(r);
    return status;
}

void relay_free(struct relay *r)
{
    if (!r) return;
    input_stop(&r->in);
    tool_tls_free(r->tls); /* a server holds its own reference */
    free(r);
}
