/* SPDX-License-Identifier: MIT */
/* Streams across the fault proxy (faultproxy.h): lines, exact reads and frames echoed through a
 * proxy that cuts writes into pieces down to one byte and holds pieces back; the write queue's
 * watermarks with a slow reader; the idle deadline while bytes trickle and once they stop;
 * half-close and graceful close carried across; a direction shut down and a connection reset in
 * the middle; and the server framework's echo. Every byte is checked against what was sent. */
#include "check_stream.h"
#include "check_proxy.h"

#include <csock/server.h>

#include <stdatomic.h>

/* The bytes a test sends: position i of stream `seed`, never "\n". */
static char pattern(unsigned seed, size_t i)
{
    char c = (char)(i * 131 + (i >> 7) * 7 + seed * 29);
    return c == '\n' ? 'n' : c;
}

/* A small deterministic generator for sizes. */
static unsigned next_size(unsigned long long *state, unsigned max)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return 1 + (unsigned)((*state >> 33) % max);
}

/* Runs loop until *done, for 60 s at most. */
static void run_until(csock_loop *loop, const int *done)
{
    double end = check_now() + 20;
    while (!*done && check_now() < end)
        CHECK(csock_loop_run_once(loop, 0.5) >= 0);
    CHECK(*done);
}

/* ---- one side of a transfer: sends data in pieces as the queue allows, checks what arrives */

struct side {
    const char *out; /* what this side sends */
    size_t out_len, sent;
    const char *in; /* what this side should receive, in order */
    size_t in_len, got;
    int mode;              /* the server's reader: 0 line, 1 exactly, 2 frame, 3 everything */
    unsigned long long rs; /* sizes for read_exactly */
    size_t max_queued;
    int shut_when_sent; /* shut down for writing once everything is queued */
    int shut;
    int closed, error, wrong;
    size_t at_eof; /* bytes received when end of file was seen */
};

/* Queues what the queue takes (stopping at high water, until on_drain). */
static void pump(csock_stream *st, struct side *s)
{
    while (s->sent < s->out_len) {
        size_t n = s->out_len - s->sent < 4096 ? s->out_len - s->sent : 4096;
        int rc = csock_stream_write(st, s->out + s->sent, n);
        if (rc < 0) return; /* the stream closes with the error, which on_close records */
        s->sent += n;
        if (csock_stream_queued(st) > s->max_queued) s->max_queued = csock_stream_queued(st);
        if (rc == 1) return;
    }
    if (s->shut_when_sent && !s->shut) {
        CHECK_EQ(csock_stream_shutdown(st), 0);
        s->shut = 1;
    }
}

static void side_open(csock_stream *st, void *data)
{
    pump(st, data);
}

static void side_drain(csock_stream *st, void *data)
{
    pump(st, data);
}

/* n bytes arrived at p: they must be the next ones expected. */
static void arrived(struct side *s, const char *p, size_t n)
{
    if (n > s->in_len - s->got || memcmp(p, s->in + s->got, n) != 0) s->wrong = 1;
    s->got += n;
}

static void take_everything(csock_stream *st, void *data)
{
    struct side *s = data;
    const char *p;
    size_t n = csock_stream_peek(st, &p);
    arrived(s, p, n);
    csock_stream_consume(st, n);
}

static void side_end(csock_stream *st, void *data)
{
    struct side *s = data;
    s->at_eof = s->got;
    csock_stream_close(st);
}

static void side_close(csock_stream *st, int error, void *data)
{
    (void)st;
    struct side *s = data;
    s->closed = 1;
    s->error = error;
}

/* The echoing server: takes a line, exactly n bytes or a frame, checks it, writes it back. */
static void echo_framed(csock_stream *st, void *data)
{
    struct side *s = data;
    for (;;) {
        const char *p;
        size_t len = 0;
        int rc;
        if (s->mode == 0) {
            rc = csock_stream_read_line(st, &p, &len);
            if (rc == 1 && p[len - 1] != '\n' && !csock_stream_at_eof(st)) s->wrong = 1;
        } else if (s->mode == 1) {
            unsigned long long before = s->rs;
            len = next_size(&s->rs, 700);
            if (len > s->in_len - s->got) len = s->in_len - s->got;
            rc = len ? csock_stream_read_exactly(st, len, &p) : 0;
            if (rc != 1) s->rs = before; /* ask for the same size next time */
        } else {
            rc = csock_stream_read_frame(st, &p, &len);
            if (rc == 1) { /* the header, as it was sent */
                const char h[4] = {0, 0, (char)(len >> 8), (char)len};
                arrived(s, h, 4);
            }
        }
        CHECK(rc >= 0);
        if (rc != 1) return;
        arrived(s, p, len);
        if (s->mode == 2)
            CHECK(csock_stream_write_frame(st, p, len) >= 0);
        else
            CHECK(csock_stream_write(st, p, len) >= 0);
    }
}

static const csock_stream_handler sender = {.on_open = side_open,
                                            .on_data = take_everything,
                                            .on_drain = side_drain,
                                            .on_end = side_end,
                                            .on_close = side_close};
static const csock_stream_handler echoer = {
    .on_data = echo_framed, .on_close = side_close, .max_buffer = 4096};

/* Text of len bytes for a reader mode: lines of 1 to 300 bytes, or frames of 0 to 1,000 bytes,
 * or plain bytes. */
static char *make_text(int mode, size_t len, unsigned seed)
{
    char *t = malloc(len);
    unsigned long long rs = seed;
    for (size_t i = 0; i < len; i++)
        t[i] = pattern(seed, i);
    for (size_t i = 0; mode == 0 && i < len;) {
        i += next_size(&rs, 300);
        t[(i < len ? i : len) - 1] = '\n';
    }
    for (size_t i = 0; mode == 2 && i + 4 <= len;) {
        size_t n = next_size(&rs, 1001) - 1;
        if (n > len - i - 4) n = len - i - 4;
        t[i] = 0, t[i + 1] = 0, t[i + 2] = (char)(n >> 8), t[i + 3] = (char)n;
        i += 4 + n;
        if (len - i < 4) len = i; /* no room for another header: the text ends here */
    }
    return t;
}

/* The client sends len bytes for a reader mode through a proxy of cfg, shuts down; the server
 * checks and echoes each piece and closes at end of file; the client checks every byte back. */
static void echo_through(int mode, const faultproxy_config *cfg, size_t len)
{
    char *text = make_text(mode, len, (unsigned)cfg->seed);
    if (mode == 2) { /* make_text may have ended the frames early */
        size_t i = 0;
        while (i + 4 <= len) {
            size_t n = (size_t)(unsigned char)text[i + 2] << 8 | (unsigned char)text[i + 3];
            if (i + 4 + n > len) break;
            i += 4 + n;
        }
        len = i;
    }
    struct check_link l = check_through_proxy(cfg);
    csock_loop *loop = csock_loop_new();
    struct side client = {
        .out = text, .out_len = len, .in = text, .in_len = len, .shut_when_sent = 1};
    struct side server = {.in = text, .in_len = len, .mode = mode, .rs = cfg->seed};
    CHECK(csock_stream_new(loop, l.server, &echoer, &server) != NULL);
    CHECK(csock_stream_new(loop, l.client, &sender, &client) != NULL);
    run_until(loop, &client.closed);
    run_until(loop, &server.closed);
    CHECK_EQ(server.got, len);
    CHECK_EQ(client.got, len);
    CHECK_EQ(client.at_eof, len);
    CHECK(!server.wrong && !client.wrong);
    CHECK_EQ(client.error, 0);
    CHECK_EQ(server.error, 0);
    if (check_test_failed)
        fprintf(stderr,
                "mode %d, seed %llu (FAULTPROXY_SEED %s), pieces of 1..%zu bytes: client sent %zu, "
                "got %zu; server got "
                "%zu; proxy relayed %lld up, %lld down\n",
                mode, cfg->seed, getenv("FAULTPROXY_SEED") ? getenv("FAULTPROXY_SEED") : "unset",
                cfg->max_piece, client.sent, client.got, server.got,
                faultproxy_bytes(l.proxy, FP_UP), faultproxy_bytes(l.proxy, FP_DOWN));
    csock_loop_free(loop);
    faultproxy_stop(l.proxy);
    free(text);
}

static const faultproxy_config one_byte = {.seed = 1, .max_piece = 1};
static const faultproxy_config small_slow = {.seed = 2, .max_piece = 7, .max_delay_us = 300};
static const faultproxy_config mixed = {.seed = 3, .max_piece = 1500, .max_delay_us = 100};

static void lines_echoed(void)
{
    echo_through(0, &one_byte, 20000);
    echo_through(0, &small_slow, 30000);
    echo_through(0, &mixed, 300000);
}

static void exact_reads_echoed(void)
{
    echo_through(1, &one_byte, 20000);
    echo_through(1, &small_slow, 30000);
    echo_through(1, &mixed, 300000);
}

static void frames_echoed(void)
{
    echo_through(2, &one_byte, 20000);
    echo_through(2, &small_slow, 30000);
    echo_through(2, &mixed, 300000);
}

/* ---- the write queue's watermarks, the server writing 2 MB to a client behind the proxy ---- */

static const csock_stream_handler bounded_sender = {.on_open = side_open,
                                                    .on_data = take_everything,
                                                    .on_drain = side_drain,
                                                    .on_close = side_close,
                                                    .high_water = 8192,
                                                    .low_water = 1024,
                                                    .max_queue = 8192 + 4096};

static void watermarks_bound_the_queue_and_close_is_graceful(void)
{
    size_t len = 2 << 20;
    char *text = make_text(3, len, 7);
    faultproxy_config cfg = {.seed = 4, .max_piece = 3000, .max_delay_us = 200};
    struct check_link l = check_through_proxy(&cfg);
    /* A small socket buffer, so that the stream's own queue is what fills. */
    CHECK_EQ(csock_setsndbuf(l.server, 8192), 0);
    csock_loop *loop = csock_loop_new();
    /* The server sends everything, then shuts down: the client reads it all, then end of file. */
    struct side server = {.out = text, .out_len = len, .shut_when_sent = 1};
    struct side client = {.in = text, .in_len = len};
    CHECK(csock_stream_new(loop, l.server, &bounded_sender, &server) != NULL);
    CHECK(csock_stream_new(loop, l.client, &sender, &client) != NULL);
    run_until(loop, &client.closed);
    CHECK_EQ(client.got, len);
    CHECK_EQ(client.at_eof, len);
    CHECK(!client.wrong);
    CHECK_EQ(client.error, 0);
    CHECK_EQ(server.sent, len);
    /* A write may add up to one piece (4 KiB) past high water, never past max_queue. */
    CHECK(server.max_queued <= 8192 + 4096);
    CHECK(server.max_queued >= 8192); /* the proxy was slow enough to fill it */
    /* The client closed after end of file; the server then reads end of file too. */
    run_until(loop, &server.closed);
    CHECK_EQ(server.error, 0);
    csock_loop_free(loop);
    faultproxy_stop(l.proxy);
    free(text);
}

/* ---- deadlines: trickling bytes keep a stream alive; silence ends it ---- */

static void idle_timeout_counts_trickled_bytes(void)
{
    faultproxy_config cfg = {.seed = 5, .max_piece = 1, .max_delay_us = 20000};
    struct check_link l = check_through_proxy(&cfg);
    csock_loop *loop = csock_loop_new();
    size_t len = 120; /* a byte every 10 ms on average: over a second in all */
    char *text = make_text(3, len, 5);
    const csock_stream_handler idle = {
        .on_data = take_everything, .on_close = side_close, .idle_timeout = 0.4};
    struct side server = {.in = text, .in_len = len};
    CHECK(csock_stream_new(loop, l.server, &idle, &server) != NULL);
    CHECK_EQ(csock_sendall(l.client, text, len, NULL), 0);
    double start = check_now();
    run_until(loop, &server.closed);
    double took = check_now() - start;
    CHECK_EQ(server.got, len); /* every byte arrived before the deadline ended the stream */
    CHECK(!server.wrong);
    CHECK_EQ(server.error, CSOCK_ETIMEOUT);
    CHECK(took >= 0.4 + 0.4); /* pieces 0 to 20 ms apart never let 0.4 s pass in silence */
    char b;
    CHECK_EQ(csock_recv(l.client, &b, 1), 0); /* the client reads end of file */
    csock_free(l.client);
    csock_loop_free(loop);
    faultproxy_stop(l.proxy);
    free(text);
}

/* ---- half-close carried across the proxy, and faults in the middle ---- */

struct counter {
    size_t got;
    int closed, error, wrong;
    const char *expect;
};

static void count_bytes(csock_stream *st, void *data)
{
    struct counter *c = data;
    const char *p;
    size_t n = csock_stream_peek(st, &p);
    if (memcmp(p, c->expect + c->got, n) != 0) c->wrong = 1;
    c->got += n;
    csock_stream_consume(st, n);
}

/* At end of file: answers how many bytes came, then closes. */
static void answer_count(csock_stream *st, void *data)
{
    char text[32];
    int n = snprintf(text, sizeof text, "got %zu\n", ((struct counter *)data)->got);
    CHECK_EQ(csock_stream_write(st, text, (size_t)n), 0);
    csock_stream_close(st);
}

static void count_close(csock_stream *st, int error, void *data)
{
    (void)st;
    struct counter *c = data;
    c->closed = 1;
    c->error = error;
}

static const csock_stream_handler counting = {
    .on_data = count_bytes, .on_end = answer_count, .on_close = count_close};

/* The client sends len bytes and shuts down; the server answers the count once it reads end of
 * file; the client reads the answer, then end of file. */
static void half_close(const faultproxy_config *cfg, size_t len, size_t expect)
{
    char *text = make_text(3, len, 9);
    struct check_link l = check_through_proxy(cfg);
    csock_loop *loop = csock_loop_new();
    struct counter server = {.expect = text};
    CHECK(csock_stream_new(loop, l.server, &counting, &server) != NULL);
    CHECK_EQ(csock_sendall(l.client, text, len, NULL), 0);
    CHECK_EQ(csock_shutdown(l.client, SHUT_WR), 0);
    run_until(loop, &server.closed);
    CHECK_EQ(server.got, expect);
    CHECK(!server.wrong);
    CHECK_EQ(server.error, 0);
    char answer[64], want[64];
    snprintf(want, sizeof want, "got %zu\n", expect);
    size_t n = 0;
    for (ssize_t r; (r = csock_recv(l.client, answer + n, sizeof answer - 1 - n)) > 0;)
        n += (size_t)r;
    answer[n] = '\0';
    CHECK_STR(answer, want);
    csock_free(l.client);
    csock_loop_free(loop);
    faultproxy_stop(l.proxy);
    free(text);
}

static void half_close_is_carried(void)
{
    half_close(&one_byte, 5000, 5000);
    half_close(&small_slow, 20000, 20000);
}

static void proxy_shuts_a_direction_down_midway(void)
{
    /* The server reads end of file after exactly 3,333 bytes; its answer still gets back. */
    faultproxy_config cfg = {.seed = 6, .max_piece = 100, .shut_after = {3333, 0}};
    half_close(&cfg, 10000, 3333);
}

static void reset_midway_is_an_error_on_both_sides(void)
{
    size_t len = 1 << 20, cut = 100000;
    char *text = make_text(3, len, 11);
    faultproxy_config cfg = {.seed = 7, .max_piece = 2000, .reset_after = {0, (long long)cut}};
    struct check_link l = check_through_proxy(&cfg);
    csock_loop *loop = csock_loop_new();
    struct side server = {.out = text, .out_len = len};
    struct side client = {.in = text, .in_len = len};
    CHECK(csock_stream_new(loop, l.server, &sender, &server) != NULL);
    CHECK(csock_stream_new(loop, l.client, &sender, &client) != NULL);
    run_until(loop, &client.closed);
    CHECK(client.got <= cut); /* what arrived before the reset is what was sent, in order */
    CHECK(!client.wrong);
    CHECK_EQ(client.error, CSOCK_ECONNRESET);
    /* The server learns when it next writes, or when it reads the reset. */
    run_until(loop, &server.closed);
    CHECK(server.error == CSOCK_ECONNRESET || server.error == CSOCK_EPIPE);
    csock_loop_free(loop);
    faultproxy_stop(l.proxy);
    free(text);
}

/* ---- the server framework's echo, clients on threads going through the proxy ---- */

static const csock_stream_handler echo_handler = {.on_data = check_echo};

static void *serve(void *arg)
{
    CHECK_EQ(csock_server_run(arg), 0);
    return NULL;
}

struct echo_client {
    int port;
    unsigned seed;
    atomic_int ok;
};

#define ECHO_BYTES 60000

/* Sends ECHO_BYTES in pieces, reading the echo as it comes; every byte must come back. */
static void *echo_client(void *arg)
{
    struct echo_client *c = arg;
    csock *s = csock_create_connection("127.0.0.1", c->port, 20, NULL);
    if (!s) return NULL;
    char out[1024], in[4096];
    size_t sent = 0, got = 0;
    int ok = 1;
    while (got < ECHO_BYTES && ok) {
        if (sent < ECHO_BYTES) {
            size_t n = ECHO_BYTES - sent < sizeof out ? ECHO_BYTES - sent : sizeof out;
            for (size_t i = 0; i < n; i++)
                out[i] = pattern(c->seed, sent + i);
            csock_settimeout(s, 20); /* sendall on a non-blocking socket may stop at EAGAIN */
            ok = csock_sendall(s, out, n, NULL) == 0;
            sent += n;
        }
        /* Read what is there; block only when everything is sent. */
        csock_settimeout(s, sent < ECHO_BYTES ? 0 : 20);
        ssize_t r = csock_recv(s, in, sizeof in);
        if (r == CSOCK_EAGAIN) continue;
        if (r <= 0) break;
        for (ssize_t i = 0; i < r; i++)
            if (in[i] != pattern(c->seed, got + (size_t)i)) ok = 0;
        got += (size_t)r;
    }
    csock_settimeout(s, 20);
    csock_shutdown(s, SHUT_WR);
    char b;
    if (ok && got == ECHO_BYTES && csock_recv(s, &b, 1) == 0) atomic_store(&c->ok, 1);
    csock_free(s);
    return NULL;
}

static void server_echo_through_proxy(void)
{
    int fds = check_open_fds();
    csock_server *srv = csock_server_new("127.0.0.1:0", &(csock_server_config){
                                                            .handler = &echo_handler,
                                                            .mode = CSOCK_SERVE_LOOPS,
                                                            .loops = 2,
                                                        });
    CHECK(srv != NULL);
    csock_addr a;
    csock_server_address(srv, &a);
    faultproxy_config cfg = {.seed = 8, .max_piece = 333, .max_delay_us = 100};
    faultproxy *proxy = faultproxy_start("127.0.0.1", csock_addr_port(&a), &cfg);
    pthread_t server = check_thread(serve, srv);
    struct echo_client c[6];
    pthread_t t[6];
    for (int i = 0; i < 6; i++) {
        c[i] = (struct echo_client){.port = faultproxy_port(proxy), .seed = (unsigned)i};
        t[i] = check_thread(echo_client, &c[i]);
    }
    int ok = 0;
    for (int i = 0; i < 6; i++) {
        check_join(t[i]);
        ok += atomic_load(&c[i].ok);
    }
    CHECK_EQ(ok, 6);
    CHECK_EQ(faultproxy_bytes(proxy, FP_UP), 6 * ECHO_BYTES);
    CHECK_EQ(faultproxy_bytes(proxy, FP_DOWN), 6 * ECHO_BYTES);
    csock_server_shutdown(srv);
    check_join(server);
    csock_server_free(srv);
    faultproxy_stop(proxy);
    CHECK_EQ(check_open_fds(), fds);
}

int main(void)
{
    check_watchdog(110);
    RUN(lines_echoed);
    RUN(exact_reads_echoed);
    RUN(frames_echoed);
    RUN(watermarks_bound_the_queue_and_close_is_graceful);
    RUN(idle_timeout_counts_trickled_bytes);
    RUN(half_close_is_carried);
    RUN(proxy_shuts_a_direction_down_midway);
    RUN(reset_midway_is_an_error_on_both_sides);
    RUN(server_echo_through_proxy);
    return check_done();
}
