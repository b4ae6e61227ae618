/* SPDX-License-Identifier: MIT */
/* The datagram relay (UDP, Unix datagram sockets): each chunk of standard input leaves as one
 * datagram, each datagram that arrives goes to standard output. Datagrams have no end of file:
 * the session ends with -q after the end of input, with -i, or with SIGINT or SIGTERM (status 0,
 * a listener's socket file removed), also while a listener waits for its first peer. A listener
 * with -k talks to every peer that has sent it something: input goes to each of them. A chunk of
 * input is one datagram up to the largest UDP payload; a longer one is split, and said.
 *
 * Nothing is dropped without a word: a datagram over the receive buffer, input with no peer to
 * go to, a peer that is gone, each is said on standard error. */
#include "listener.h"
#include "local.h"
#include "session.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PEERS  1024         /* remembered at once with -k; the longest silent is forgotten */
#define RECV_SIZE  (256 * 1024) /* above any UDP datagram and Unix's default largest */
#define CHUNK      65507        /* the largest UDP payload over IPv4 */
#define RECV_BATCH 64           /* datagrams taken in one pass before others get their turn */

struct peer {
    csock_addr addr;
    double heard; /* loop time of its last datagram */
};

struct dgrams {
    const struct config *c;
    enum peers mode;
    csock *s;
    csock_loop *loop;
    csock_watch *watch;
    struct input in;
    char one_peer[CSOCK_ADDRSTRLEN]; /* ONE_PEER and FIRST_PEER: whom it talks to */
    int first_due;                   /* FIRST_PEER: no datagram has come yet */
    int run_exec;                    /* --exec takes the socket once the first peer is known */
    struct peer *peers;              /* EVERY_PEER */
    size_t npeers;
    char *buf;
    const char *pending; /* a chunk of input the socket could not take yet */
    size_t pending_len, next_peer;
    csock_timer *idle, *quit, *wait;
    int input_over, status, split_said;
    int heard_any; /* EVERY_PEER: some peer was known once */
    uint64_t sent, received;
};

static void stop(struct dgrams *d, int status)
{
    if (status != EXIT_OK && d->status == EXIT_OK) d->status = status;
    input_stop(&d->in);
    csock_loop_stop(d->loop);
}

static void idle_due(csock_loop *loop, csock_timer *t, void *data)
{
    (void)loop, (void)t;
    struct dgrams *d = data;
    say("%s: idle for %gs", d->one_peer, d->c->idle);
    d->idle = NULL;
    stop(d, EXIT_TIMEOUT);
}

static void active(struct dgrams *d)
{
    if (d->idle) csock_timer_restart(d->idle, d->c->idle);
}

/* ---- peers (EVERY_PEER) ---- */

static int same_addr(const csock_addr *a, const csock_addr *b)
{
    return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

static const char *addr_text(const csock_addr *a, char *buf)
{
    if (csock_addr_format(a, buf, CSOCK_ADDRSTRLEN) <= 0) strcpy(buf, "an unnamed socket");
    return buf;
}

static void forget(struct dgrams *d, size_t i, const char *why)
{
    char text[CSOCK_ADDRSTRLEN];
    if (why) say("%s: %s: forgotten", addr_text(&d->peers[i].addr, text), why);
    d->peers[i] = d->peers[--d->npeers];
}

/* With -i, forgets the peers silent for that long. */
static void forget_silent(struct dgrams *d)
{
    double now = csock_loop_time(d->loop);
    for (size_t i = 0; d->c->idle > 0 && i < d->npeers;) {
        if (now - d->peers[i].heard > d->c->idle)
            forget(d, i, d->c->verbose ? "idle" : NULL); /* the last takes its place */
        else
            i++;
    }
}

static void heard_from(struct dgrams *d, const csock_addr *from)
{
    double now = csock_loop_time(d->loop);
    char text[CSOCK_ADDRSTRLEN];
    if (from->len <= sizeof(sa_family_t)) return; /* unnamed: nothing can reach it */
    size_t oldest = 0;
    for (size_t i = 0; i < d->npeers; i++) {
        if (same_addr(&d->peers[i].addr, from)) {
            d->peers[i].heard = now;
            return;
        }
        if (d->peers[i].heard < d->peers[oldest].heard) oldest = i;
    }
    if (d->npeers == MAX_PEERS) forget(d, oldest, d->c->verbose ? "the longest silent" : NULL);
    d->peers[d->npeers++] = (struct peer){*from, now};
    d->heard_any = 1;
    if (d->c->verbose) say("datagrams from %s", addr_text(from, text));
}

/* ---- receiving ---- */

static void input_chunk(const char *chunk, size_t len, void *data);

static int start_session(struct dgrams *d)
{
    if ((d->c->idle > 0 && d->mode != EVERY_PEER &&
         !(d->idle = csock_loop_call_later(d->loop, d->c->idle, idle_due, d)))) {
        say("%s", csock_lasterror());
        return -1;
    }
    return d->c->no_stdin ? 0 : input_start(&d->in, d->loop, CHUNK + 1, input_chunk, d);
}

/* FIRST_PEER: the first datagram names the peer (it is left to be read). The socket is connected
 * to it, so that the kernel turns others away; an unnamed Unix client cannot be answered, nor
 * connected to: every peer is heard then. Returns 1 to read on, 0 to stop. */
static int first_datagram(struct dgrams *d)
{
    char one;
    csock_addr from = {0};
    struct iovec iov = {&one, 1};
    csock_msg peek = {.iov = &iov, .iovcnt = 1, .addr = &from};
    ssize_t n = csock_recvmsg(d->s, &peek, MSG_PEEK);
    if (n == CSOCK_EAGAIN) return 0;
    int named = from.len > sizeof(sa_family_t);
    if (n < 0 || (named && csock_connect_addr(d->s, &from) < 0)) {
        say("%s", csock_lasterror());
        stop(d, EXIT_FAILED);
        return 0;
    }
    d->first_due = 0;
    csock_timer_cancel(d->wait);
    d->wait = NULL;
    addr_text(&from, d->one_peer);
    if (d->c->verbose)
        say(named ? "datagrams from %s" : "datagrams from an unnamed socket: it gets no replies",
            d->one_peer);
    if (d->c->exec && named) {
        d->run_exec = 1;
        csock_loop_stop(d->loop);
        return 0;
    }
    if (!named) d->mode = EVERY_PEER;
    if (start_session(d) < 0) {
        stop(d, EXIT_FAILED);
        return 0;
    }
    return 1;
}

static void wait_due(csock_loop *loop, csock_timer *t, void *data)
{
    (void)loop, (void)t;
    struct dgrams *d = data;
    csock_addr here;
    char text[CSOCK_ADDRSTRLEN] = "";
    d->wait = NULL;
    if (csock_getsockname(d->s, &here) == 0) addr_text(&here, text);
    say("recvmsg %s: %s", text, csock_strerror(CSOCK_ETIMEOUT));
    stop(d, EXIT_TIMEOUT);
}

static int receive_one(struct dgrams *d)
{
    if (d->first_due) return first_datagram(d);
    csock_addr from = {0};
    struct iovec iov = {d->buf, RECV_SIZE};
    csock_msg msg = {.iov = &iov, .iovcnt = 1, .addr = &from};
    char text[CSOCK_ADDRSTRLEN];
    ssize_t n = csock_recvmsg(d->s, &msg, 0);
    if (n == CSOCK_EAGAIN) return 0;
    if (d->wait) { /* EVERY_PEER: the first datagram (or its error) came in time */
        csock_timer_cancel(d->wait);
        d->wait = NULL;
    }
    if (n < 0) {
        say("%s", csock_lasterror());
        /* One peer's trouble (a port unreachable, say) does not end a listener with -k. */
        if (d->mode != EVERY_PEER || n == CSOCK_ENOMEM || n == CSOCK_EBADF) stop(d, EXIT_FAILED);
        return 0;
    }
    if (msg.flags & MSG_TRUNC) {
        say("%s: a datagram of %zu bytes is over the %d-byte buffer: dropped",
            addr_text(&from, text), msg.size, RECV_SIZE);
        return 1;
    }
    if (d->mode == FIRST_PEER && strcmp(addr_text(&from, text), d->one_peer) != 0) {
        if (d->c->verbose) say("%s: not the peer: datagram dropped", text);
        return 1;
    }
    if (d->mode == EVERY_PEER) heard_from(d, &from);
    active(d);
    if (d->c->hex) hexdump('<', &d->received, d->buf, (size_t)n);
    if (output_write(d->buf, (size_t)n) < 0) {
        stop(d, EXIT_FAILED);
        return 0;
    }
    return 1;
}

/* ---- sending ---- */

static void end_of_input(struct dgrams *d);

/* Sends the first len bytes of the pending chunk to its peers as one datagram. Returns 1 when
 * they are gone, 0 when the socket is full (it waits for writability), -1 when the session
 * ended. */
static int send_datagram(struct dgrams *d, size_t len)
{
    if (d->mode != EVERY_PEER) {
        ssize_t n = csock_send(d->s, d->pending, len);
        if (n == CSOCK_EAGAIN) return 0;
        if (n < 0) {
            say("%s", csock_lasterror());
            stop(d, EXIT_FAILED);
            return -1;
        }
        return 1;
    }
    while (d->next_peer < d->npeers) {
        struct peer *p = &d->peers[d->next_peer];
        ssize_t n = csock_sendto(d->s, d->pending, len, &p->addr);
        if (n == CSOCK_EAGAIN) return 0;
        if (n < 0) {
            forget(d, d->next_peer, csock_strerror((int)n)); /* e.g. a Unix peer that is gone */
            continue;
        }
        d->next_peer++;
    }
    return 1;
}

/* Sends the pending chunk, in datagrams of CHUNK bytes at most; returns as send_datagram. */
static int send_pending(struct dgrams *d)
{
    while (d->pending_len > 0) {
        size_t len = d->pending_len < CHUNK ? d->pending_len : CHUNK;
        int rc = send_datagram(d, len);
        if (rc <= 0) return rc;
        d->pending += len;
        d->pending_len -= len;
        d->next_peer = 0;
    }
    return 1;
}

static void flush(struct dgrams *d)
{
    int rc = send_pending(d);
    if (rc < 0) return;
    if (rc == 0) {
        input_pause(&d->in, 1);
        csock_watch_set(d->watch, CSOCK_READ | CSOCK_WRITE);
        return;
    }
    d->pending = NULL;
    active(d);
    csock_watch_set(d->watch, CSOCK_READ);
    input_pause(&d->in, 0);
    if (d->input_over) end_of_input(d);
}

static void quit_due(csock_loop *loop, csock_timer *t, void *data)
{
    (void)loop, (void)t;
    struct dgrams *d = data;
    d->quit = NULL;
    if (d->c->verbose) say("-q %gs after the end of input: done", d->c->quit_after);
    stop(d, EXIT_OK);
}

static void end_of_input(struct dgrams *d)
{
    d->input_over = 1;
    if (d->pending || d->c->quit_after < 0 || d->quit) return;
    d->quit = csock_loop_call_later(d->loop, d->c->quit_after, quit_due, d);
}

static void input_chunk(const char *chunk, size_t len, void *data)
{
    struct dgrams *d = data;
    if (len == 0 && d->in.failed) {
        stop(d, EXIT_FAILED);
        return;
    }
    if (len == 0) {
        end_of_input(d);
        return;
    }
    if (d->c->hex) hexdump('>', &d->sent, chunk, len);
    if (len > CHUNK && !d->split_said) {
        say("standard input gave more than %d bytes at once, the largest UDP datagram: sent as "
            "several datagrams",
            CHUNK);
        d->split_said = 1;
    }
    if (d->mode == EVERY_PEER) forget_silent(d);
    if (d->mode == EVERY_PEER && d->npeers == 0) {
        if (d->heard_any)
            say("no peer has sent a datagram in the last %gs (-i): %zu bytes of input dropped",
                d->c->idle, len);
        else
            say("no peer has sent a datagram yet: %zu bytes of input dropped", len);
        return;
    }
    d->pending = chunk;
    d->pending_len = len;
    d->next_peer = 0;
    flush(d);
}

static void socket_ready(csock_loop *loop, csock_watch *w, int events, void *data)
{
    (void)loop, (void)w;
    struct dgrams *d = data;
    if (events & CSOCK_WRITE) flush(d);
    for (int i = 0; (events & CSOCK_READ) && i < RECV_BATCH && receive_one(d); i++)
        ;
}

/* A listener says where it listens once SIGINT and SIGTERM are handled: whoever reads the line
 * may signal it at once. */
static int announce_here(struct dgrams *d)
{
    csock_addr here;
    if (csock_getsockname(d->s, &here) < 0) return -1;
    announce(d->c, &here);
    return 0;
}

static const char *signal_name(int signo)
{
    return signo == SIGINT ? "SIGINT" : "SIGTERM";
}

int relay_datagrams(const struct config *c, csock *s, enum peers mode)
{
    struct dgrams d = {.c = c, .mode = mode, .s = s, .first_due = mode == FIRST_PEER};
    int status = EXIT_FAILED;
    if (mode == ONE_PEER) peer_text(s, d.one_peer, sizeof d.one_peer);
    d.in.done = 1;
    d.buf = malloc(RECV_SIZE);
    /* A listener may come to hear every peer: one whose first peer is an unnamed socket. */
    d.peers = mode != ONE_PEER ? malloc(MAX_PEERS * sizeof *d.peers) : NULL;
    if (!d.buf || (mode != ONE_PEER && !d.peers)) {
        say("out of memory");
    } else if (csock_settimeout(s, 0) < 0 || !(d.loop = csock_loop_new()) ||
               !(d.watch = csock_loop_add(d.loop, csock_fileno(s), CSOCK_READ, socket_ready, &d)) ||
               (mode != ONE_PEER && c->wait > 0 &&
                !(d.wait = csock_loop_call_later(d.loop, c->wait, wait_due, &d))) ||
               csock_loop_on_signal(d.loop, SIGINT, NULL, NULL) < 0 ||
               csock_loop_on_signal(d.loop, SIGTERM, NULL, NULL) < 0) {
        say("%s", csock_lasterror());
    } else if (mode != ONE_PEER && announce_here(&d) < 0) {
        say("%s", csock_lasterror());
    } else if (d.first_due || start_session(&d) == 0) {
        if (csock_loop_run(d.loop) == 0)
            status = d.status;
        else
            say("%s", csock_lasterror());
        if (c->verbose && csock_loop_last_signal(d.loop))
            say("%s: done", signal_name(csock_loop_last_signal(d.loop)));
    }
    input_stop(&d.in);
    csock_loop_free(d.loop);
    free(d.buf);
    free(d.peers);
    if (d.run_exec) return exec_session(c, s); /* the loop's signal handling is gone with it */
    csock_free(s);
    return status;
}
