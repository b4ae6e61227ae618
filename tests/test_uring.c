/* SPDX-License-Identifier: MIT */
/* The io_uring backend's completions: streams receiving by multishot receives into the loop's
 * ring of provided buffers, and servers accepting by multishot accept. A small ring flooded by a
 * hundred connections loses and reorders nothing (receives that run out of buffers start again);
 * input that comes while a stream is paused waits its turn; a stream closed with a receive in
 * flight hears nothing more, even when its descriptor number is taken again before the kernel
 * has let go of the receive; a graceful close still sends everything queued; and with
 * CSOCK_URING_COMPLETIONS=0 the same streams run on readiness. TLS streams read by readiness,
 * and STARTTLS refuses a stream that receives by completions. Skipped where io_uring is
 * refused. */
#include "check_stream.h"

#include <csock/loop.h>
#include <csock/server.h>
#include <csock/tls.h>

#include <errno.h>
#include <stdint.h>

/* Internal: the provided buffers a new loop gets, and whether a stream receives by completions. */
extern unsigned csock__uring_buffers;
int csock__stream_completes(const csock_stream *st);
int csock__server_completes(const csock_server *srv);

/* A loop on io_uring, or NULL where io_uring is refused (the test is then skipped). */
static csock_loop *uring_loop(void)
{
    setenv("CSOCK_LOOP_BACKEND", "uring", 1);
    csock_loop *loop = csock_loop_new();
    CHECK(loop != NULL);
    if (loop && strcmp(csock_loop_backend(loop), "uring") != 0) {
        csock_loop_free(loop);
        return NULL;
    }
    return loop;
}

/* The byte at offset i of connection c's stream: a pattern that differs per connection and that
 * a lost, repeated or reordered piece breaks. */
static unsigned char pattern(int c, size_t i)
{
    uint32_t x = (uint32_t)(c + 1) * 2654435761u ^ (uint32_t)(i / 251) * 40503u;
    return (unsigned char)(x >> 13 ^ i);
}

/* ---- a flood through a small ring ---- */

#define CONNS     100
#define PER_CONN  (160 * 1024)
#define SEND_SIZE 3000
#define SINK_MAX  8192 /* max_buffer: less than what comes while a stream is paused */

struct sink {
    csock_loop *loop;
    size_t got; /* bytes checked so far */
    int bad;    /* a byte out of place */
    int ended;  /* on_end ran */
    int index;  /* which connection */
    int paused; /* paused by on_data, resumed by a post */
    int completes;
    csock_stream *st;
};

static int ended_count;

static void sink_resume(csock_loop *loop, void *data)
{
    (void)loop;
    struct sink *k = data;
    if (k->paused && k->st && !k->ended) {
        k->paused = 0;
        CHECK_EQ(csock_stream_pause(k->st, 0), 0);
    }
}

/* Checks what arrived against the pattern. Odd connections take half of it and pause until a
 * post resumes them, so that input comes while they are paused and must wait its turn. */
static void sink_data(csock_stream *st, void *data)
{
    struct sink *k = data;
    const char *p;
    size_t n = csock_stream_peek(st, &p);
    CHECK(n <= SINK_MAX); /* held input too comes at most max_buffer at a time */
    size_t take = k->index % 2 && n > 1 ? n / 2 : n;
    for (size_t i = 0; i < take; i++)
        if ((unsigned char)p[i] != pattern(k->index, k->got + i)) k->bad = 1;
    k->got += take;
    csock_stream_consume(st, take);
    if (k->index % 2 && !k->paused) {
        k->paused = 1;
        CHECK_EQ(csock_stream_pause(st, 1), 0);
        CHECK_EQ(csock_loop_post(k->loop, sink_resume, k), 0);
    }
}

static void sink_end(csock_stream *st, void *data)
{
    struct sink *k = data;
    /* What a paused odd connection left is still held: it comes again with the end. */
    const char *p;
    size_t n = csock_stream_peek(st, &p);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] != pattern(k->index, k->got + i)) k->bad = 1;
    k->got += n;
    csock_stream_consume(st, n);
    k->ended = 1;
    ended_count++;
    csock_stream_close(st);
}

static void sink_close(csock_stream *st, int error, void *data)
{
    (void)st;
    struct sink *k = data;
    CHECK_EQ(error, 0);
    k->st = NULL;
}

static const csock_stream_handler sink_handler = {
    .on_data = sink_data, .on_end = sink_end, .on_close = sink_close, .max_buffer = SINK_MAX};

struct flood {
    csock *clients[CONNS];
};

/* Sends every connection its pattern, a piece to each in turn, then ends each. */
static void *flood_all(void *arg)
{
    struct flood *f = arg;
    static char buf[CONNS][SEND_SIZE];
    for (size_t off = 0; off < PER_CONN; off += SEND_SIZE) {
        size_t len = PER_CONN - off < SEND_SIZE ? PER_CONN - off : SEND_SIZE;
        for (int c = 0; c < CONNS; c++) {
            for (size_t i = 0; i < len; i++)
                buf[c][i] = (char)pattern(c, off + i);
            CHECK_EQ(csock_sendall(f->clients[c], buf[c], len, NULL), 0);
        }
    }
    for (int c = 0; c < CONNS; c++)
        CHECK_EQ(csock_shutdown(f->clients[c], SHUT_WR), 0);
    return NULL;
}

/* A hundred connections flood a loop whose ring has few buffers: every byte arrives, once and in
 * order, with receives ending for want of buffers and starting again. want_completes says whether
 * the streams should be receiving by completions. */
static void flood(unsigned buffers, int want_completes)
{
    csock__uring_buffers = buffers;
    csock_loop *loop = uring_loop();
    csock__uring_buffers = 256;
    if (!loop) return;
    int port;
    csock *l = check_listener("127.0.0.1", &port);
    static struct sink sinks[CONNS];
    struct flood f;
    for (int c = 0; c < CONNS; c++) {
        f.clients[c] = csock_create_connection("127.0.0.1", port, 5, NULL);
        CHECK(f.clients[c] != NULL);
        csock_settimeout(f.clients[c], 30);
        csock *s = csock_accept(l, NULL);
        CHECK(s != NULL);
        sinks[c] = (struct sink){.loop = loop, .index = c};
        sinks[c].st = csock_stream_new(loop, s, &sink_handler, &sinks[c]);
        CHECK(sinks[c].st != NULL);
        sinks[c].completes = csock__stream_completes(sinks[c].st);
        CHECK_EQ(sinks[c].completes, want_completes);
    }
    ended_count = 0;
    pthread_t t = check_thread(flood_all, &f);
    double until = check_now() + 60;
    while (ended_count < CONNS && check_now() < until)
        CHECK(csock_loop_run_once(loop, 1) >= 0);
    check_join(t);
    for (int c = 0; c < CONNS; c++) {
        CHECK(sinks[c].ended);
        CHECK_EQ(sinks[c].got, PER_CONN);
        CHECK(!sinks[c].bad);
        csock_free(f.clients[c]);
    }
    while (csock_loop_run_once(loop, 0) > 0) {
    }
    csock_free(l);
    csock_loop_free(loop);
}

static void small_ring_flood_loses_nothing(void)
{
    flood(4, 1);
}

static void flood_with_the_default_ring(void)
{
    flood(256, 1);
}

static void readiness_when_completions_are_off(void)
{
    setenv("CSOCK_URING_COMPLETIONS", "0", 1);
    flood(4, 0);
    setenv("CSOCK_URING_COMPLETIONS", "1", 1);
}

/* ---- closing with a receive in flight; a descriptor number taken again ---- */

struct victim {
    int calls, after_close, closed;
};

static void victim_data(csock_stream *st, void *data)
{
    struct victim *v = data;
    v->calls++;
    if (v->closed) v->after_close++;
    csock_stream_consume(st, csock_stream_peek(st, NULL));
    csock_stream_abort(st); /* with its receive in flight, and its peer still sending */
}

static void victim_close(csock_stream *st, int error, void *data)
{
    (void)st, (void)error;
    ((struct victim *)data)->closed = 1;
}

static const csock_stream_handler victim_handler = {.on_data = victim_data,
                                                    .on_close = victim_close};

struct heir {
    size_t got;
    int wrong;
};

static void heir_data(csock_stream *st, void *data)
{
    struct heir *h = data;
    const char *p;
    size_t n = csock_stream_peek(st, &p);
    for (size_t i = 0; i < n; i++)
        h->wrong += p[i] != 'B';
    h->got += n;
    csock_stream_consume(st, n);
}

static const csock_stream_handler heir_handler = {.on_data = heir_data};

static void *keep_sending(void *arg)
{
    csock *c = arg;
    char buf[16384];
    memset(buf, 'A', sizeof buf);
    /* Until the stream's close resets the connection. */
    for (int i = 0; i < 100000; i++)
        if (csock_send(c, buf, sizeof buf) < 0) break;
    return NULL;
}

static void closed_receive_reaches_no_one_else(void)
{
    csock_loop *loop = uring_loop();
    if (!loop) return;
    int port;
    csock *l = check_listener("127.0.0.1", &port);
    csock *a_peer = csock_create_connection("127.0.0.1", port, 5, NULL);
    csock *a = csock_accept(l, NULL);
    CHECK(a_peer && a);
    csock_settimeout(a_peer, 10);
    int a_fd = csock_fileno(a);
    csock *b_peer = csock_create_connection("127.0.0.1", port, 5, NULL); /* accepted later */
    struct victim v = {0};
    csock_stream *sa = csock_stream_new(loop, a, &victim_handler, &v);
    CHECK(sa != NULL && csock__stream_completes(sa));
    pthread_t t = check_thread(keep_sending, a_peer);
    double until = check_now() + 10;
    while (!v.closed && check_now() < until)
        CHECK(csock_loop_run_once(loop, 1) >= 0);
    CHECK(v.closed);
    /* Straight after the pass that closed it, its descriptor number goes to a new connection,
     * while the old one's receive may still complete with the bytes its peer keeps sending. */
    csock *b = csock_accept(l, NULL);
    CHECK(b_peer && b);
    CHECK_EQ(csock_fileno(b), a_fd);
    struct heir h = {0};
    csock_stream *sb = csock_stream_new(loop, b, &heir_handler, &h);
    CHECK(sb != NULL);
    char bs[5000];
    memset(bs, 'B', sizeof bs);
    CHECK_EQ(csock_sendall(b_peer, bs, sizeof bs, NULL), 0);
    until = check_now() + 10;
    while (h.got < sizeof bs && check_now() < until)
        CHECK(csock_loop_run_once(loop, 1) >= 0);
    check_join(t);
    CHECK_EQ(h.got, sizeof bs);
    CHECK_EQ(h.wrong, 0);
    CHECK_EQ(v.calls, 1);
    CHECK_EQ(v.after_close, 0);
    csock_free(a_peer);
    csock_free(b_peer);
    csock_free(l);
    csock_loop_free(loop);
}

/* ---- a graceful close sends everything queued ---- */

#define REPLY (1024 * 1024)

static void reply_and_close(csock_stream *st, void *data)
{
    (void)data;
    csock_stream_consume(st, csock_stream_peek(st, NULL));
    static char big[REPLY];
    for (size_t i = 0; i < REPLY; i++)
        big[i] = (char)pattern(7, i);
    CHECK(csock_stream_write(st, big, REPLY) >= 0);
    csock_stream_close(st);
}

static const csock_stream_handler replier = {
    .on_data = reply_and_close, .max_queue = 2 * REPLY, .high_water = REPLY};

struct reader {
    csock *c;
    size_t got;
    int bad, eof;
};

/* Reads the whole reply while still sending (input the closing stream must drop without
 * resetting the connection), then waits for the end of file. */
static void *read_reply(void *arg)
{
    struct reader *r = arg;
    char buf[65536];
    CHECK_EQ(csock_sendall(r->c, "go", 2, NULL), 0);
    for (;;) {
        if (r->got < REPLY / 2) csock_send(r->c, "more", 4);
        ssize_t n = csock_recv(r->c, buf, sizeof buf);
        if (n <= 0) {
            r->eof = n == 0;
            break;
        }
        for (ssize_t i = 0; i < n; i++)
            if ((unsigned char)buf[i] != pattern(7, r->got + (size_t)i)) r->bad = 1;
        r->got += (size_t)n;
    }
    return NULL;
}

static void graceful_close_sends_the_queue(void)
{
    csock_loop *loop = uring_loop();
    if (!loop) return;
    csock *a, *b;
    check_tcp_pair("127.0.0.1", &a, &b);
    csock_settimeout(a, 10);
    csock_stream *st = csock_stream_new(loop, b, &replier, NULL);
    CHECK(st != NULL && csock__stream_completes(st));
    struct reader r = {.c = a};
    pthread_t t = check_thread(read_reply, &r);
    double until = check_now() + 20;
    while (!r.eof && r.got < REPLY && check_now() < until)
        CHECK(csock_loop_run_once(loop, 0.05) >= 0);
    /* The lingering close ends at the peer's end of file. */
    csock_shutdown(a, SHUT_WR);
    while (csock_loop_run_once(loop, 0.05) > 0 && check_now() < until) {
    }
    check_join(t);
    CHECK_EQ(r.got, REPLY);
    CHECK(!r.bad);
    CHECK(r.eof);
    csock_free(a);
    csock_loop_free(loop);
}

/* ---- TLS ---- */

/* A stream receiving by completions may hold bytes past the upgrade point in its receive: start_tls
 * refuses it, changing nothing (it still echoes, plain). A TLS stream reads by readiness. */
static void start_tls_refuses_a_completing_stream(void)
{
#ifndef CSOCK_TESTS_NO_TLS /* built without OpenSSL: tests/test_stream.c checks what TLS says */
    csock_loop *loop = uring_loop();
    if (!loop) return;
    csock_tls_context *ctx = csock_tls_context_new(CSOCK_TLS_CLIENT);
    CHECK(ctx != NULL);
    static const csock_stream_handler echo = {.on_data = check_echo};
    csock *a, *b;
    check_tcp_pair("127.0.0.1", &a, &b);
    csock_settimeout(a, 10);
    csock_stream *st = csock_stream_new(loop, b, &echo, NULL);
    CHECK(st != NULL && csock__stream_completes(st));
    CHECK_EQ(csock_stream_start_tls(st, ctx, "localhost", NULL), CSOCK_EINVAL);
    CHECK(strstr(csock_lasterror(), "stream start_tls: the stream receives by io_uring "
                                    "completions") == csock_lasterror());
    CHECK(csock_stream_tls_version(st) == NULL);
    CHECK_EQ(csock_sendall(a, "ping", 4, NULL), 0);
    char buf[4] = "";
    size_t got = 0;
    double until = check_now() + 10;
    while (got < 4 && check_now() < until) {
        CHECK(csock_loop_run_once(loop, 0.05) >= 0);
        ssize_t n = csock_recv_flags(a, buf + got, 4 - got, MSG_DONTWAIT);
        if (n > 0) got += (size_t)n;
    }
    CHECK_EQ(got, 4);
    CHECK(memcmp(buf, "ping", 4) == 0);

    csock *c, *d;
    check_tcp_pair("127.0.0.1", &c, &d);
    csock_stream *tls = csock_stream_new_tls(loop, d, ctx, "localhost", &echo, NULL);
    CHECK(tls != NULL && !csock__stream_completes(tls));
    csock_free(a);
    csock_free(c);
    csock_loop_free(loop);
    csock_tls_context_free(ctx);
#endif
}

/* ---- a server accepting by multishot accept ---- */

static void *run_server(void *arg)
{
    CHECK_EQ(csock_server_run(arg), 0);
    return NULL;
}

/* A server's loop accepts by multishot accepts, or by readiness with completions off; either
 * way every client is served. */
static void serve_twenty(int want_completes)
{
    csock_loop *probe = uring_loop();
    if (!probe) return;
    csock_loop_free(probe);
    static const csock_stream_handler echo = {.on_data = check_echo};
    csock_server_config config = {.mode = CSOCK_SERVE_LOOP, .handler = &echo};
    csock_server *srv = csock_server_new("127.0.0.1:0", &config);
    CHECK(srv != NULL);
    if (!srv) return;
    CHECK_EQ(csock__server_completes(srv), want_completes);
    csock_addr addr;
    CHECK_EQ(csock_server_address(srv, &addr), 0);
    int port = csock_addr_port(&addr);
    pthread_t t = check_thread(run_server, srv);
    csock *c[20];
    for (int i = 0; i < 20; i++) {
        c[i] = csock_create_connection("127.0.0.1", port, 5, NULL);
        CHECK(c[i] != NULL);
        csock_settimeout(c[i], 10);
        CHECK_EQ(csock_sendall(c[i], "ping", 4, NULL), 0);
    }
    for (int i = 0; i < 20; i++) {
        char buf[4];
        CHECK_EQ(check_recv_exactly(c[i], buf, 4), 4);
        CHECK(memcmp(buf, "ping", 4) == 0);
        csock_free(c[i]);
    }
    csock_server_shutdown(srv);
    check_join(t);
    csock_server_free(srv);
}

static void server_accepts_by_completions(void)
{
    serve_twenty(1);
}

static void server_accepts_by_readiness_when_off(void)
{
    setenv("CSOCK_URING_COMPLETIONS", "0", 1);
    serve_twenty(0);
    setenv("CSOCK_URING_COMPLETIONS", "1", 1);
}

int main(void)
{
    setenv("CSOCK_URING_COMPLETIONS", "1", 1); /* the mode under test (off unless asked) */
    check_watchdog(110);
    csock_loop *probe = uring_loop();
    if (!probe) {
        printf("skipped: io_uring is refused here (%s)\n", csock_lasterror());
        return 77;
    }
    csock_loop_free(probe);
    RUN(small_ring_flood_loses_nothing);
    RUN(flood_with_the_default_ring);
    RUN(readiness_when_completions_are_off);
    RUN(closed_receive_reaches_no_one_else);
    RUN(graceful_close_sends_the_queue);
    RUN(start_tls_refuses_a_completing_stream);
    RUN(server_accepts_by_completions);
    RUN(server_accepts_by_readiness_when_off);
    return check_done();
}
