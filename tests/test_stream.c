/* SPDX-License-Identifier: MIT */
/* Streams: lines, exact reads and frames arriving in pieces; limits (a line too long, a handler
 * that never reads, a full write queue); watermarks and on_drain; a slow reader that never
 * reads; half-close; closing another stream whose event was already fetched; deadlines; bad
 * input. The peer is a plain blocking csock socket. */
#include "check.h"

#include <csock/stream.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

/* How far the monotonic clocks are put ahead: the library's calls to clock_gettime come here
 * (the test's definition wins over the C library's at link time), so a test can pass 50 days
 * without waiting for them. 0 but in deadlines_past_49_days. */
static _Atomic int64_t clock_ahead_ns;

int clock_gettime(clockid_t id, struct timespec *ts)
{
    static int (*real)(clockid_t, struct timespec *);
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "clock_gettime");
    int rc = real(id, ts);
    int64_t ahead = atomic_load(&clock_ahead_ns);
    if (rc == 0 && ahead && (id == CLOCK_MONOTONIC || id == CLOCK_MONOTONIC_COARSE)) {
        int64_t ns = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec + ahead;
        ts->tv_sec = (time_t)(ns / 1000000000);
        ts->tv_nsec = (long)(ns % 1000000000);
    }
    return rc;
}

/* What a test's handler saw. */
struct log {
    char lines[8][80];
    int nlines;
    int opened, ends, drains, closes, close_error;
    int read_error;
    size_t peak_queued;
    int write_results[64], nwrites;
    csock_stream *other; /* a stream to abort from on_data */
    int datas;
    char close_message[256]; /* csock_lasterror() in on_close */
};

static void on_close(csock_stream *st, int error, void *data)
{
    (void)st;
    struct log *l = data;
    l->closes++;
    l->close_error = error;
    snprintf(l->close_message, sizeof l->close_message, "%s", error ? csock_lasterror() : "");
}

static void run_until(csock_loop *loop, const int *flag, int want)
{
    for (int i = 0; i < 2000 && *flag < want; i++)
        CHECK(csock_loop_run_once(loop, 5) >= 0);
    CHECK(*flag >= want);
}

/* Receives want bytes on the plain socket c while loop runs: a stream's write may have queued
 * part of its bytes, which go out only when the loop finds the socket writable. */
static size_t recv_while_running(csock_loop *loop, csock *c, char *buf, size_t want)
{
    size_t got = 0;
    for (int i = 0; i < 2000 && got < want; i++) {
        ssize_t n = csock_recv_flags(c, buf + got, want - got, MSG_DONTWAIT);
        if (n > 0)
            got += (size_t)n;
        else if (n == CSOCK_EAGAIN)
            CHECK(csock_loop_run_once(loop, 0.01) >= 0);
        else
            break;
    }
    return got;
}

/* A stream on loop for the server side of a fresh TCP pair; *client is the peer. */
static int small_buffers; /* give the pair 16 KiB kernel buffers, so queues fill soon (2: only
                             the client's receive buffer, so the server's holds much unsent) */

static csock_stream *stream_pair(csock_loop *loop, const csock_stream_handler *h, struct log *l,
                                 csock **client)
{
    csock *server;
    check_tcp_pair("127.0.0.1", client, &server);
    csock_settimeout(*client, 5);
    if (small_buffers == 1) CHECK_EQ(csock_setsndbuf(server, 16384), 0);
    if (small_buffers) CHECK_EQ(csock_setrcvbuf(*client, 16384), 0);
    csock_stream *st = csock_stream_new(loop, server, h, l);
    CHECK(st != NULL);
    return st;
}

/* ---- framing ---- */

static void take_lines(csock_stream *st, void *data)
{
    struct log *l = data;
    const char *line;
    size_t len;
    int rc;
    while ((rc = csock_stream_read_line(st, &line, &len)) == 1 && l->nlines < 8) {
        snprintf(l->lines[l->nlines++], sizeof l->lines[0], "%.*s", (int)len, line);
    }
    if (rc < 0) {
        l->read_error = rc;
        csock_stream_close(st);
    }
}

/* Sends text, then runs the loop until the stream has taken *lines lines in all: the bytes are
 * on loopback at once, though a pass may read only part of them. */
static void send_and_pass(csock_loop *loop, csock *c, const char *text, struct log *l, int lines)
{
    CHECK_EQ(csock_sendall(c, text, strlen(text), NULL), 0);
    run_until(loop, &l->nlines, lines);
}

static void lines_in_pieces(void)
{
    csock_loop *loop = csock_loop_new();
    static const csock_stream_handler h = {
        .on_data = take_lines, .on_close = on_close, .max_buffer = 64};
    struct log l = {0};
    csock *c;
    stream_pair(loop, &h, &l, &c);
    send_and_pass(loop, c, "one\ntw", &l, 1);
    CHECK_EQ(l.nlines, 1);
    send_and_pass(loop, c, "o\n", &l, 2);
    send_and_pass(loop, c, "thr", &l, 2);
    CHECK(csock_loop_run_once(loop, 0.01) >= 0);
    CHECK_EQ(l.nlines, 2);
    CHECK_EQ(csock_shutdown(c, SHUT_WR), 0);
    run_until(loop, &l.closes, 1); /* end of file: the rest is the last line, then a close */
    CHECK_EQ(l.nlines, 3);
    CHECK_STR(l.lines[0], "one\n");
    CHECK_STR(l.lines[1], "two\n");
    CHECK_STR(l.lines[2], "thr");
    CHECK_EQ(l.close_error, 0);
    char b;
    CHECK_EQ(csock_recv(c, &b, 1), 0); /* the server side closed too */
    csock_free(c);

    /* A line longer than max_buffer: read_line says so. */
    l = (struct log){0};
    stream_pair(loop, &h, &l, &c);
    char big[100];
    memset(big, 'x', sizeof big);
    CHECK_EQ(csock_sendall(c, big, sizeof big, NULL), 0);
    run_until(loop, &l.closes, 1);
    CHECK_EQ(l.read_error, CSOCK_EMSGSIZE);
    CHECK_EQ(l.nlines, 0);
    csock_free(c);
    csock_loop_free(loop);
}

static void ignore_data(csock_stream *st, void *data)
{
    (void)st;
    ((struct log *)data)->datas++;
}

/* A handler that never takes its bytes: at max_buffer the stream closes with CSOCK_EMSGSIZE
 * instead of holding more. */
static void unread_bytes_are_bounded(void)
{
    csock_loop *loop = csock_loop_new();
    static const csock_stream_handler h = {
        .on_data = ignore_data, .on_close = on_close, .max_buffer = 1000};
    struct log l = {0};
    csock *c;
    stream_pair(loop, &h, &l, &c);
    char buf[300] = {0};
    for (int i = 0; i < 4 && l.closes == 0; i++) {
        CHECK_EQ(csock_sendall(c, memset(buf, 'y', 299), 299, NULL), 0);
        CHECK(csock_loop_run_once(loop, 5) >= 0);
    }
    run_until(loop, &l.closes, 1);
    CHECK_EQ(l.close_error, CSOCK_EMSGSIZE);
    CHECK_ERROR(CSOCK_EMSGSIZE, "1000 bytes unread");
    csock_free(c);
    csock_loop_free(loop);
}

static void take_exact_and_frames(csock_stream *st, void *data)
{
    struct log *l = data;
    const char *p;
    size_t len;
    if (l->nlines == 0 && csock_stream_read_exactly(st, 5, &p) == 1)
        snprintf(l->lines[l->nlines++], sizeof l->lines[0], "%.5s", p);
    int rc;
    while (l->nlines > 0 && (rc = csock_stream_read_frame(st, &p, &len)) == 1 && l->nlines < 8)
        snprintf(l->lines[l->nlines++], sizeof l->lines[0], "%.*s", (int)len, p);
    if (l->nlines > 0 && rc < 0) {
        l->read_error = rc;
        snprintf(l->lines[7], sizeof l->lines[0], "%zu", len);
        csock_stream_abort(st);
    }
}

static void exact_reads_and_frames_byte_by_byte(void)
{
    csock_loop *loop = csock_loop_new();
    static const csock_stream_handler h = {
        .on_data = take_exact_and_frames, .on_close = on_close, .max_buffer = 100};
    struct log l = {0};
    csock *c;
    stream_pair(loop, &h, &l, &c);
    const char wire[] = "HELLO\0\0\0\x05world\0\0\0\0";
    for (size_t i = 0; i < sizeof wire - 1; i++) {
        CHECK_EQ(csock_send(c, wire + i, 1), 1);
        CHECK(csock_loop_run_once(loop, 5) >= 0);
    }
    run_until(loop, &l.nlines, 3); /* a pass may have read nothing (a wake-up for nothing) */
    CHECK_EQ(l.nlines, 3);
    CHECK_STR(l.lines[0], "HELLO");
    CHECK_STR(l.lines[1], "world");
    CHECK_STR(l.lines[2], ""); /* an empty frame */
    /* A frame announcing more than max_buffer can hold is refused with its length. */
    CHECK_EQ(csock_sendall(c, "\0\x01\0\0", 4, NULL), 0);
    run_until(loop, &l.closes, 1);
    CHECK_EQ(l.read_error, CSOCK_EMSGSIZE);
    CHECK_STR(l.lines[7], "65536");
    csock_free(c);
    csock_loop_free(loop);
}

/* ---- writing ---- */

static char chunk[8192];

static void fill_queue(csock_stream *st, void *data)
{
    struct log *l = data;
    int rc = 0;
    while (rc == 0 && l->nwrites < 64) {
        rc = csock_stream_write(st, chunk, sizeof chunk);
        l->write_results[l->nwrites++] = rc;
        size_t q = csock_stream_queued(st);
        if (q > l->peak_queued) l->peak_queued = q;
    }
    /* Past max_queue: refused, nothing queued. */
    size_t before = csock_stream_queued(st);
    char *huge = calloc(1, 200000);
    l->read_error = csock_stream_write(st, huge, 200000);
    free(huge);
    CHECK_EQ(csock_stream_queued(st), before);
}

static void count_drain(csock_stream *st, void *data)
{
    (void)st;
    ((struct log *)data)->drains++;
}

static void watermarks_and_drain(void)
{
    csock_loop *loop = csock_loop_new();
    static const csock_stream_handler h = {.on_open = fill_queue,
                                           .on_data = ignore_data,
                                           .on_drain = count_drain,
                                           .on_close = on_close,
                                           .high_water = 16384,
                                           .max_queue = 65536};
    struct log l = {0};
    csock *c;
    small_buffers = 1;
    stream_pair(loop, &h, &l, &c);
    small_buffers = 0;
    CHECK(l.nwrites >= 2);
    CHECK_EQ(l.write_results[l.nwrites - 1], 1); /* reached high water */
    for (int i = 0; i < l.nwrites - 1; i++)
        CHECK_EQ(l.write_results[i], 0);
    CHECK_EQ(l.read_error, CSOCK_ENOBUFS);
    CHECK_ERROR(CSOCK_ENOBUFS, "queue limit");
    CHECK(l.peak_queued >= 16384 && l.peak_queued <= 65536);
    /* The peer reads everything: the queue drains, on_drain runs once, no byte is lost. */
    size_t want = (size_t)l.nwrites * sizeof chunk, got = 0;
    char buf[65536];
    while (got < want) {
        CHECK(csock_loop_run_once(loop, 0) >= 0);
        ssize_t n = csock_recv(c, buf, sizeof buf);
        CHECK(n > 0);
        if (n <= 0) break;
        got += (size_t)n;
    }
    CHECK_EQ(got, want);
    run_until(loop, &l.drains, 1);
    CHECK_EQ(l.drains, 1);
    csock_free(c);
    csock_loop_free(loop);
}

/* ---- two streams sending to each other at once ---- */

#define BULK (2 * 1024 * 1024)

struct bulk {
    size_t sent, got;
};

static void bulk_send(csock_stream *st, void *data)
{
    struct bulk *b = data;
    while (b->sent < BULK) {
        int rc = csock_stream_write(st, chunk, sizeof chunk);
        CHECK(rc >= 0);
        if (rc < 0) return;
        b->sent += sizeof chunk;
        if (rc == 1) return; /* on_drain comes back */
    }
}

static void bulk_take(csock_stream *st, void *data)
{
    const char *p;
    size_t n = csock_stream_peek(st, &p);
    ((struct bulk *)data)->got += n;
    csock_stream_consume(st, n);
}

/* A relay's two directions are independent: with keep_reading, both ends read while their own
 * queues are full, so neither waits for the other forever. */
static void both_directions_at_once(void)
{
    static const csock_stream_handler h = {.on_open = bulk_send,
                                           .on_data = bulk_take,
                                           .on_drain = bulk_send,
                                           .high_water = 16384,
                                           .max_queue = 65536,
                                           .keep_reading = 1};
    csock_loop *loop = csock_loop_new();
    csock *a, *b;
    check_tcp_pair("127.0.0.1", &a, &b);
    for (csock **s = (csock *[]){a, b, NULL}; *s; s++) {
        CHECK_EQ(csock_setsndbuf(*s, 16384), 0);
        CHECK_EQ(csock_setrcvbuf(*s, 16384), 0);
    }
    struct bulk x = {0}, y = {0};
    CHECK(csock_stream_new(loop, a, &h, &x) != NULL);
    CHECK(csock_stream_new(loop, b, &h, &y) != NULL);
    for (int i = 0; i < 200000 && (x.got < BULK || y.got < BULK); i++)
        if (csock_loop_run_once(loop, 5) <= 0) break; /* nothing ran: both are stuck */
    CHECK_EQ(x.got, (size_t)BULK);
    CHECK_EQ(y.got, (size_t)BULK);
    csock_loop_free(loop);
}

/* ---- a peer that sends but never reads ---- */

static void echo_and_watch(csock_stream *st, void *data)
{
    struct log *l = data;
    const char *p;
    size_t n = csock_stream_peek(st, &p);
    int rc = csock_stream_write(st, p, n);
    CHECK(rc >= 0);
    csock_stream_consume(st, n);
    if (csock_stream_queued(st) > l->peak_queued) l->peak_queued = csock_stream_queued(st);
    l->datas++;
}

struct flood {
    csock *c;
    size_t sent;
    atomic_int done;
};

static void *flood(void *arg)
{
    struct flood *f = arg;
    static char buf[65536];
    csock_settimeout(f->c, 0.5);
    for (int i = 0; i < 4000; i++) { /* at most 256 MiB: ends with a timeout long before */
        size_t sent = 0;
        int rc = csock_sendall(f->c, buf, sizeof buf, &sent);
        f->sent += sent;
        if (rc < 0) break;
    }
    atomic_store(&f->done, 1);
    return NULL;
}

static void slow_reader_stays_bounded(void)
{
    csock_loop *loop = csock_loop_new();
    static const csock_stream_handler h = {
        .on_data = echo_and_watch, .on_close = on_close, .high_water = 32768};
    struct log l = {0};
    struct flood f = {0};
    stream_pair(loop, &h, &l, &f.c);
    pthread_t t = check_thread(flood, &f);
    for (int i = 0; i < 100000 && !atomic_load(&f.done); i++)
        CHECK(csock_loop_run_once(loop, 0.01) >= 0);
    check_join(t);
    CHECK(atomic_load(&f.done));
    /* The writer was stopped by the kernel's buffers, not by an unbounded queue. */
    CHECK(l.peak_queued <= 4 * 32768);
    CHECK(f.sent < 64u << 20);
    CHECK_EQ(l.closes, 0);
    csock_free(f.c);
    run_until(loop, &l.closes, 1);
    csock_loop_free(loop);
}

/* ---- half-close ---- */

static void say_bye(csock_stream *st, void *data)
{
    struct log *l = data;
    l->ends++;
    CHECK(csock_stream_at_eof(st));
    CHECK_EQ(csock_stream_write(st, "bye", 3), 0);
    CHECK_EQ(csock_stream_shutdown(st), 0);
}

static void half_close(void)
{
    csock_loop *loop = csock_loop_new();
    static const csock_stream_handler h = {
        .on_data = ignore_data, .on_end = say_bye, .on_close = on_close};
    struct log l = {0};
    csock *c;
    stream_pair(loop, &h, &l, &c);
    CHECK_EQ(csock_shutdown(c, SHUT_WR), 0);
    run_until(loop, &l.closes, 1); /* both directions over: closed */
    CHECK_EQ(l.ends, 1);
    char buf[8] = {0};
    CHECK_EQ(check_recv_exactly(c, buf, 3), 3);
    CHECK_STR(buf, "bye");
    CHECK_EQ(csock_recv(c, buf, sizeof buf), 0);
    csock_free(c);
    csock_loop_free(loop);
}

/* ---- closing another stream whose event is already fetched ---- */

static void abort_other(csock_stream *st, void *data)
{
    struct log *l = data;
    l->datas++;
    if (l->other) csock_stream_abort(l->other);
    const char *p;
    csock_stream_consume(st, csock_stream_peek(st, &p));
}

static void close_another_stream_in_the_same_pass(void)
{
    csock_loop *loop = csock_loop_new();
    static const csock_stream_handler h = {.on_data = abort_other, .on_close = on_close};
    struct log la = {0}, lb = {0};
    csock *ca, *cb;
    csock_stream *a = stream_pair(loop, &h, &la, &ca);
    csock_stream *b = stream_pair(loop, &h, &lb, &cb);
    la.other = b;
    lb.other = a;
    CHECK_EQ(csock_send(ca, "x", 1), 1);
    CHECK_EQ(csock_send(cb, "x", 1), 1);
    /* Both readable before the pass: whichever runs first closes the other, whose on_data must
     * then never run, in this pass or a later one. */
    CHECK(csock_loop_run_once(loop, 5) >= 1);
    if (la.datas + lb.datas < 2) CHECK(csock_loop_run_once(loop, 0) >= 0);
    CHECK_EQ(la.datas + lb.datas, 1);
    CHECK_EQ(la.closes + lb.closes, 1);
    csock_free(ca);
    csock_free(cb);
    csock_loop_free(loop); /* frees the survivor, closing its socket */
}

/* ---- deadlines ---- */

static void deadlines(void)
{
    csock_loop *loop = csock_loop_new();
    static const csock_stream_handler idle = {
        .on_data = ignore_data, .on_close = on_close, .idle_timeout = 0.05};
    static const csock_stream_handler total = {
        .on_data = ignore_data, .on_close = on_close, .total_timeout = 0.1};
    struct log li = {0}, lt = {0};
    csock *ci, *ct;
    double start = check_now();
    stream_pair(loop, &idle, &li, &ci);
    stream_pair(loop, &total, &lt, &ct);
    /* The second keeps talking: only its total deadline can end it. */
    while (lt.closes == 0 && check_now() - start < 10) {
        CHECK_EQ(csock_send(ct, "k", 1), 1);
        CHECK(csock_loop_run_once(loop, 0.01) >= 0);
    }
    CHECK_EQ(lt.close_error, CSOCK_ETIMEOUT);
    /* The loop's clock is the coarse one, up to a tick (a few ms) behind this precise one. */
    CHECK(check_now() - start >= 0.09);
    run_until(loop, &li.closes, 1);
    CHECK_EQ(li.close_error, CSOCK_ETIMEOUT);
    char b;
    CHECK_EQ(csock_recv(ci, &b, 1), 0);
    csock_free(ci);
    csock_free(ct);
    csock_loop_free(loop);
}

/* Once the stream with the shortest deadline has gone, the sweep that checks deadlines slows
 * down again: a stream with a 4 s idle deadline, left alone, wakes the loop a few times a
 * second, not every 5 ms as the 1 ms deadline before it needed. */
static void the_sweep_slows_once_short_deadlines_go(void)
{
    csock_loop *loop = csock_loop_new();
    static const csock_stream_handler quick = {
        .on_data = ignore_data, .on_close = on_close, .idle_timeout = 0.001};
    static const csock_stream_handler slow = {
        .on_data = ignore_data, .on_close = on_close, .idle_timeout = 4};
    struct log lq = {0}, ls = {0};
    csock *cq, *cs;
    stream_pair(loop, &quick, &lq, &cq);
    stream_pair(loop, &slow, &ls, &cs);
    run_until(loop, &lq.closes, 1);
    CHECK_EQ(lq.close_error, CSOCK_ETIMEOUT);
    double start = check_now();
    int passes = 0;
    while (check_now() - start < 1.2 && passes < 1000) {
        CHECK(csock_loop_run_once(loop, 2) >= 0);
        passes++;
    }
    CHECK(passes <= 20); /* every 0.5 s, with the first few at the old pace: about 10 at most */
    printf("     %d passes in 1.2 s\n", passes);
    CHECK_EQ(ls.closes, 0);
    csock_free(cq);
    csock_free(cs);
    csock_loop_free(loop);
}

/* Deadlines past 2^32 ms (49.7 days) still come: the loop's clock is kept in 64-bit nanoseconds,
 * not a 32-bit count of milliseconds that wraps. */
static void deadlines_past_49_days(void)
{
    csock_loop *loop = csock_loop_new();
    static const csock_stream_handler idle = {
        .on_data = ignore_data, .on_close = on_close, .idle_timeout = 60 * 86400.0};
    static const csock_stream_handler total = {
        .on_data = ignore_data, .on_close = on_close, .total_timeout = 50 * 86400.0};
    struct log li = {0}, lt = {0};
    csock *ci, *ct;
    stream_pair(loop, &idle, &li, &ci);
    stream_pair(loop, &total, &lt, &ct);
    CHECK(csock_loop_run_once(loop, 0) >= 0);
    CHECK_EQ(li.closes + lt.closes, 0);
    atomic_store(&clock_ahead_ns, (int64_t)(60 * 86400 + 1) * 1000000000);
    /* The check of the deadlines is overdue now: the next passes run it. */
    for (int i = 0; i < 10 && li.closes + lt.closes < 2; i++)
        CHECK(csock_loop_run_once(loop, 0.01) >= 0);
    CHECK_EQ(li.closes, 1);
    CHECK_EQ(lt.closes, 1);
    CHECK_EQ(li.close_error, CSOCK_ETIMEOUT);
    CHECK_EQ(lt.close_error, CSOCK_ETIMEOUT);
    csock_free(ci);
    csock_free(ct);
    csock_loop_free(loop);
    atomic_store(&clock_ahead_ns, 0);
}

/* Timeouts are read by the library's one rule for seconds: NaN and infinity are refused, and
 * each says what it is. */
static void timeouts_out_of_range(void)
{
    csock_loop *loop = csock_loop_new();
    csock *c, *s;
    check_tcp_pair("127.0.0.1", &c, &s);
    static const csock_stream_handler nan_idle = {.on_data = ignore_data, .idle_timeout = NAN};
    static const csock_stream_handler inf_total = {.on_data = ignore_data,
                                                   .total_timeout = INFINITY};
    static const csock_stream_handler inf_close = {.on_data = ignore_data,
                                                   .close_timeout = INFINITY};
    static const csock_stream_handler negative = {.on_data = ignore_data, .idle_timeout = -1};
    CHECK(csock_stream_new(loop, s, &nan_idle, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL,
                "stream: idle_timeout nan: a timeout is 0 (none) or positive up to 2^31 s");
    CHECK(csock_stream_new(loop, s, &inf_total, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "stream: total_timeout inf: a timeout is 0 (none)");
    CHECK(csock_stream_new(loop, s, &inf_close, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "stream: close_timeout inf: a timeout is 0 (none)");
    CHECK(csock_stream_new(loop, s, &negative, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "stream: idle_timeout -1: a timeout is 0 (none)");
    csock_free(c);
    csock_free(s);
    csock_loop_free(loop);
}

/* ---- pausing, gathered writes, frames out, accessors ---- */

static void pausing_and_writing_frames(void)
{
    csock_loop *loop = csock_loop_new();
    static const csock_stream_handler h = {.on_data = ignore_data, .on_close = on_close};
    struct log l = {0}, other = {0};
    csock *c;
    csock_stream *st = stream_pair(loop, &h, &l, &c);
    CHECK(csock_stream_loop(st) == loop);
    csock_addr mine, peer;
    CHECK_EQ(getsockname(csock_stream_fileno(st), (struct sockaddr *)&mine.ss,
                         &(socklen_t){sizeof mine.ss}),
             0);
    CHECK_EQ(csock_getpeername(c, &peer), 0);
    mine.len = peer.len;
    CHECK_EQ(csock_addr_port(&mine), csock_addr_port(&peer));
    csock_stream_set_data(st, &other);
    CHECK(csock_stream_data(st) == &other);
    csock_stream_set_data(st, &l);

    /* Paused: bytes wait in the kernel, no on_data; resumed: they arrive. */
    CHECK_EQ(csock_stream_pause(st, 1), 0);
    CHECK_EQ(csock_send(c, "p", 1), 1);
    CHECK_EQ(csock_loop_run_once(loop, 0.05), 0);
    CHECK_EQ(l.datas, 0);
    CHECK_EQ(csock_stream_pause(st, 0), 0);
    run_until(loop, &l.datas, 1);

    /* A frame and a gathered write reach the peer as the bytes they stand for. */
    CHECK_EQ(csock_stream_write_frame(st, "hello", 5), 0);
    struct iovec parts[3] = {{"ab", 2}, {"", 0}, {"cde", 3}};
    CHECK_EQ(csock_stream_writev(st, parts, 3), 0);
    char buf[16] = {0};
    CHECK_EQ(recv_while_running(loop, c, buf, 14), 14);
    CHECK(memcmp(buf, "\0\0\0\x05helloabcde", 14) == 0);
    struct iovec bad = {NULL, 3};
    CHECK_EQ(csock_stream_writev(st, &bad, 1), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "buffer 0 is NULL");
    csock_stream_abort(st);
    CHECK_EQ(csock_stream_pause(st, 1), CSOCK_EPIPE);
    run_until(loop, &l.closes, 1);
    csock_free(c);
    csock_loop_free(loop);
}

/* ---- bad buffer lists ---- */

/* Reads exactly want bytes from c while running loop, checking each against pattern_at. */
static char pattern_at(size_t i)
{
    return (char)(i * 13 + 1);
}

static size_t receive_pattern(csock_loop *loop, csock *c, size_t want, size_t *offset)
{
    static char buf[65536];
    size_t got = 0;
    for (int waits = 0; got < want && waits < 20000;) {
        /* Without blocking: what the stream still queues goes out only while the loop runs. */
        ssize_t n = csock_recv_flags(c, buf, want - got < sizeof buf ? want - got : sizeof buf,
                                     MSG_DONTWAIT);
        if (n == CSOCK_EAGAIN) {
            CHECK(csock_loop_run_once(loop, 0.01) >= 0);
            waits++;
            continue;
        }
        CHECK(n > 0);
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != pattern_at(*offset + (size_t)i)) {
                CHECK(!"a byte differs from what was written");
                return got;
            }
        got += (size_t)n;
        *offset += (size_t)n;
    }
    return got;
}

/* Writes pattern bytes from *offset until the stream queues some (the peer does not read). */
static size_t fill_kernel_then_queue(csock_stream *st, size_t *offset)
{
    static char buf[8192];
    size_t written = 0;
    for (int i = 0; i < 10000 && csock_stream_queued(st) == 0; i++) {
        for (size_t k = 0; k < sizeof buf; k++)
            buf[k] = pattern_at(*offset + k);
        CHECK(csock_stream_write(st, buf, sizeof buf) >= 0);
        *offset += sizeof buf;
        written += sizeof buf;
    }
    CHECK(csock_stream_queued(st) > 0);
    return written;
}

/* Lengths that add up past SIZE_MAX, NULL buffers, bad counts: CSOCK_EINVAL naming the call,
 * nothing queued or sent, and the stream goes on, with bytes queued before and with none. */
static void bad_buffer_lists_change_nothing(void)
{
    static const csock_stream_handler h = {.on_data = ignore_data, .on_close = on_close};
    csock_loop *loop = csock_loop_new();
    char x[4] = "xyz";
    struct iovec wraps[2] = {{x, SIZE_MAX}, {x, 2}}; /* 1 byte once the sum wraps */
    struct iovec null_base[2] = {{x, 1}, {NULL, 3}};
    for (int with_queue = 0; with_queue <= 1; with_queue++) {
        struct log l = {0};
        csock *c;
        small_buffers = with_queue;
        csock_stream *st = stream_pair(loop, &h, &l, &c);
        small_buffers = 0;
        size_t written = 0, offset = 0;
        if (with_queue) written = fill_kernel_then_queue(st, &offset);
        size_t queued = csock_stream_queued(st);
        CHECK_EQ(csock_stream_writev(st, wraps, 2), CSOCK_EINVAL);
        CHECK_ERROR(CSOCK_EINVAL, "stream writev: buffers add up to more than");
        CHECK_EQ(csock_stream_writev(st, null_base, 2), CSOCK_EINVAL);
        CHECK_ERROR(CSOCK_EINVAL, "stream writev: buffer 1 is NULL");
        CHECK_EQ(csock_stream_write(st, NULL, 5), CSOCK_EINVAL);
        CHECK_ERROR(CSOCK_EINVAL, "stream write: buffer 0 is NULL");
        CHECK_EQ(csock_stream_writev(st, wraps, -1), CSOCK_EINVAL);
        CHECK_ERROR(CSOCK_EINVAL, "stream writev: -1 buffers");
        CHECK_EQ(csock_stream_writev(st, wraps, IOV_MAX + 1), CSOCK_EINVAL);
        CHECK_ERROR(CSOCK_EINVAL, "stream writev: ");
        CHECK_EQ(csock_stream_writev(st, NULL, 1), CSOCK_EINVAL);
        CHECK_ERROR(CSOCK_EINVAL, "stream writev: NULL buffer list");
        CHECK_EQ(csock_stream_queued(st), queued);
        /* Still usable: one more write, and the peer reads every byte in order, then nothing. */
        char more[100];
        for (size_t k = 0; k < sizeof more; k++)
            more[k] = pattern_at(offset + k);
        CHECK(csock_stream_write(st, more, sizeof more) >= 0);
        written += sizeof more;
        size_t at = 0;
        CHECK_EQ(receive_pattern(loop, c, written, &at), written);
        CHECK_EQ(csock_loop_run_once(loop, 0), 0);
        CHECK_EQ(l.closes, 0);
        CHECK_EQ(csock_recv_flags(c, x, 1, MSG_DONTWAIT), CSOCK_EAGAIN);
        csock_stream_close(st);
        run_until(loop, &l.closes, 1);
        CHECK_EQ(l.close_error, 0);
        csock_free(c);
    }
    csock_loop_free(loop);
}

/* With no queue limit, a write far larger than memory is CSOCK_ENOMEM, nothing is lost, and the
 * stream goes on (the queue's growth once doubled past SIZE_MAX to 0 and spun forever). */
static void huge_write_without_a_queue_limit(void)
{
    static const csock_stream_handler h = {
        .on_data = ignore_data, .on_close = on_close, .max_queue = SIZE_MAX};
    csock_loop *loop = csock_loop_new();
    struct log l = {0};
    csock *c;
    small_buffers = 1;
    csock_stream *st = stream_pair(loop, &h, &l, &c);
    small_buffers = 0;
    size_t offset = 0, written = fill_kernel_then_queue(st, &offset);
    size_t queued = csock_stream_queued(st);
    char x = 0;
    /* Never read: the queue is not empty, so nothing is sent from it at once. */
    struct iovec huge = {&x, SSIZE_MAX};
    CHECK_EQ(csock_stream_writev(st, &huge, 1), CSOCK_ENOMEM);
    CHECK_ERROR(CSOCK_ENOMEM, "stream writev: out of memory");
    CHECK_EQ(csock_stream_queued(st), queued);
    size_t at = 0;
    CHECK_EQ(receive_pattern(loop, c, written, &at), written);
    CHECK_EQ(l.closes, 0);
    csock_stream_close(st);
    run_until(loop, &l.closes, 1);
    CHECK_EQ(l.close_error, 0);
    csock_free(c);
    csock_loop_free(loop);
}

static void frame_reader(csock_stream *st, void *data)
{
    struct log *l = data;
    const char *p;
    size_t len = 0;
    l->datas++;
    l->read_error = csock_stream_read_frame(st, &p, &len);
    if (l->read_error != 0) csock_stream_abort(st);
}

/* Limits at the edges of size_t: a high water mark whose default queue limit (4 times it) would
 * wrap is taken as "no limit" rather than refused or shrunk; a max_buffer too small for any
 * frame's 4-byte prefix makes read_frame say so instead of waiting forever. */
static void limits_at_the_edges(void)
{
    csock_loop *loop = csock_loop_new();
    static const csock_stream_handler high = {
        .on_data = ignore_data, .on_close = on_close, .high_water = SIZE_MAX / 4 + 1};
    static const csock_stream_handler tiny = {
        .on_data = frame_reader, .on_close = on_close, .max_buffer = 3};
    struct log l = {0};
    csock *c;
    csock_stream *st = stream_pair(loop, &high, &l, &c);
    if (st) {
        CHECK_EQ(csock_stream_write(st, "abc", 3), 0);
        char buf[4] = {0};
        CHECK_EQ(recv_while_running(loop, c, buf, 3), 3);
        CHECK_STR(buf, "abc");
        csock_stream_close(st);
        run_until(loop, &l.closes, 1);
    }
    csock_free(c);

    l = (struct log){0};
    stream_pair(loop, &tiny, &l, &c);
    CHECK_EQ(csock_sendall(c, "\0\0", 2, NULL), 0);
    run_until(loop, &l.datas, 1);
    CHECK_EQ(l.read_error, CSOCK_EMSGSIZE);
    CHECK_ERROR(CSOCK_EMSGSIZE, "stream: a frame of 4 bytes or more, over max_buffer (3)");
    run_until(loop, &l.closes, 1);
    csock_free(c);
    csock_loop_free(loop);
}

/* ---- closing while the peer still sends ---- */

#define REPLY (200 * 1000)

/* A client that uploads without pause on one thread while another reads everything the server
 * sends, checking each byte, until end of file or an error. */
struct uploader {
    csock *c;
    atomic_int stop_at_eof; /* stop uploading (and shut down) once the reply has ended */
    atomic_int reading_done, uploading_done;
    size_t got;
    int ok, end; /* the reply's bytes were right; how it ended: 0 end of file, or a code */
};

/* Runs loop until descriptor fd is closed (no other thread opens one meanwhile), at most
 * seconds. */
static void run_until_closed(csock_loop *loop, int fd, double seconds)
{
    double start = check_now();
    while (fcntl(fd, F_GETFD) >= 0 && check_now() - start < seconds)
        CHECK(csock_loop_run_once(loop, 0.01) >= 0);
    CHECK(fcntl(fd, F_GETFD) < 0);
}

static void *upload(void *arg)
{
    struct uploader *u = arg;
    static char buf[16384];
    while (!(atomic_load(&u->stop_at_eof) && atomic_load(&u->reading_done)))
        if (csock_sendall(u->c, buf, sizeof buf, NULL) < 0) break; /* the server closed */
    if (atomic_load(&u->stop_at_eof)) csock_shutdown(u->c, SHUT_WR);
    atomic_store(&u->uploading_done, 1);
    return NULL;
}

static void *download(void *arg)
{
    struct uploader *u = arg;
    static char buf[65536];
    ssize_t n;
    u->ok = 1;
    while ((n = csock_recv(u->c, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != pattern_at(u->got + (size_t)i)) u->ok = 0;
        u->got += (size_t)n;
    }
    u->end = (int)n;
    atomic_store(&u->reading_done, 1);
    return NULL;
}

static void take_all(csock_stream *st, void *data)
{
    const char *p;
    ((struct log *)data)->datas++;
    csock_stream_consume(st, csock_stream_peek(st, &p));
}

/* Writes the reply, optionally half-closes, then closes, while the client uploads. */
static void reply_and_close(csock_stream *st, int half_close)
{
    static char reply[REPLY];
    for (size_t i = 0; i < REPLY; i++)
        reply[i] = pattern_at(i);
    CHECK(csock_stream_write(st, reply, REPLY) >= 0);
    if (half_close) CHECK_EQ(csock_stream_shutdown(st), 0);
    csock_stream_close(st);
}

/* A stream whose client has begun uploading (and reading) on two threads. */
static csock_stream *uploading_pair(csock_loop *loop, const csock_stream_handler *h, struct log *l,
                                    struct uploader *u, pthread_t threads[2])
{
    small_buffers = 2; /* so that most of the reply is still on the server's side at close */
    csock_stream *st = stream_pair(loop, h, l, &u->c);
    small_buffers = 0;
    threads[0] = check_thread(upload, u);
    threads[1] = check_thread(download, u);
    run_until(loop, &l->datas, 1);
    return st;
}

/* The client read the whole reply, then end of file; its threads are done. */
static void check_whole_reply(struct uploader *u, pthread_t threads[2])
{
    check_join(threads[1]);
    check_join(threads[0]); /* it stopped, or its next bytes met a closed socket */
    CHECK_EQ(u->got, REPLY);
    CHECK(u->ok);
    CHECK_EQ(u->end, 0);
    csock_free(u->c);
}

/* A server writes 200 KB and closes while its client is still uploading: the client reads every
 * byte, then a clean end of file, not a reset; the stream is never seen again after on_close,
 * and its socket is closed once the client ends too. With a half-close first, the same. */
static void close_delivers_everything_to_an_uploading_peer(void)
{
    static const csock_stream_handler h = {.on_data = take_all, .on_close = on_close};
    for (int half_close = 0; half_close <= 1; half_close++) {
        csock_loop *loop = csock_loop_new();
        struct log l = {0};
        struct uploader u = {.stop_at_eof = 1};
        pthread_t threads[2];
        csock_stream *st = uploading_pair(loop, &h, &l, &u, threads);
        int fd = csock_stream_fileno(st);
        reply_and_close(st, half_close);
        run_until(loop, &l.closes, 1);
        CHECK_EQ(l.close_error, 0);
        int datas = l.datas;
        /* Lingering: the stream drops the upload until the client's end of file. */
        run_until_closed(loop, fd, 10);
        check_whole_reply(&u, threads);
        CHECK_EQ(l.datas, datas); /* no callback after on_close */
        CHECK_EQ(l.closes, 1);
        csock_loop_free(loop);
    }
}

/* A client that uploads forever, even after the reply's end: the server still reads the whole
 * reply out, and closes its socket close_timeout after csock_stream_close. The client must have
 * read the reply by then (what it has not is lost at the close, as documented): close_timeout is
 * long enough for that on a loaded machine (at 0.3 s, a busy build starved the reading thread). */
static void lingering_is_bounded(void)
{
    static const csock_stream_handler h = {
        .on_data = take_all, .on_close = on_close, .close_timeout = 1.5};
    csock_loop *loop = csock_loop_new();
    struct log l = {0};
    struct uploader u = {0};
    pthread_t threads[2];
    csock_stream *st = uploading_pair(loop, &h, &l, &u, threads);
    double start = check_now();
    int fd = csock_stream_fileno(st);
    reply_and_close(st, 0);
    run_until_closed(loop, fd, 10);
    double took = check_now() - start;
    if (!(took >= 1.45 && took < 4.5)) fprintf(stderr, "  took %.3f s\n", took);
    CHECK(took >= 1.45 && took < 4.5);
    CHECK_EQ(l.closes, 1);
    CHECK_EQ(l.close_error, 0);
    check_whole_reply(&u, threads);
    csock_loop_free(loop);
}

/* A peer that stops reading cannot hold a closing stream forever: after close_timeout it closes
 * with CSOCK_ETIMEOUT, the rest of the queue dropped. */
static void close_with_a_full_queue_is_bounded(void)
{
    static const csock_stream_handler h = {
        .on_data = take_all, .on_close = on_close, .close_timeout = 0.2};
    csock_loop *loop = csock_loop_new();
    struct log l = {0};
    csock *c;
    small_buffers = 1;
    csock_stream *st = stream_pair(loop, &h, &l, &c);
    small_buffers = 0;
    double start = check_now();
    reply_and_close(st, 0);
    CHECK(csock_stream_queued(st) > 0);
    run_until(loop, &l.closes, 1);
    double took = check_now() - start;
    CHECK_EQ(l.close_error, CSOCK_ETIMEOUT);
    CHECK_ERROR(CSOCK_ETIMEOUT, "stream: close_timeout of 0.2s passed with ");
    CHECK(took >= 0.15 && took < 3);
    csock_free(c);
    csock_loop_free(loop);
}

/* Closes without taking the bytes: they are dropped, so the peer was sending, and the stream
 * lingers. */
static void close_unread(csock_stream *st, void *data)
{
    ((struct log *)data)->datas++;
    csock_stream_close(st);
}

/* A loop freed while a stream lingers closes its socket and frees it. */
static void loop_freed_while_lingering(void)
{
    static const csock_stream_handler h = {
        .on_data = close_unread, .on_close = on_close, .close_timeout = 60};
    int fds = check_open_fds();
    csock_loop *loop = csock_loop_new();
    struct log l = {0};
    struct uploader u = {0};
    csock_stream *st = stream_pair(loop, &h, &l, &u.c);
    pthread_t up = check_thread(upload, &u);
    int fd = csock_stream_fileno(st);
    run_until(loop, &l.closes, 1);
    CHECK_EQ(l.datas, 1);
    CHECK(fcntl(fd, F_GETFD) >= 0); /* lingering */
    csock_loop_free(loop);
    CHECK_EQ(check_open_fds(), fds + 1); /* the client's socket alone */
    CHECK(fcntl(fd, F_GETFD) < 0);
    check_join(up); /* the client's upload met the closed socket */
    csock_free(u.c);
}

/* ---- closing with input unread ---- */

/* A graceful close delivers every queued byte even though the peer's last bytes were never
 * read: close(2) with unread input would reset the connection and drop what the kernel had
 * not sent yet (here, what the peer's full window held back). */
static void close_with_input_unread(void)
{
    csock_loop *loop = csock_loop_new();
    static const csock_stream_handler h = {
        .on_data = ignore_data, .on_close = on_close, .high_water = 1 << 20, .max_queue = 1 << 20};
    static char big[256 * 1024], got[sizeof big];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7 + i / 251);
    struct log l = {0};
    csock *c;
    small_buffers = 1;
    csock_stream *st = stream_pair(loop, &h, &l, &c);
    small_buffers = 0;
    CHECK(csock_stream_write(st, big, sizeof big) >= 0);
    CHECK_EQ(csock_sendall(c, "never read", 10, NULL), 0);
    csock_stream_close(st);
    CHECK_EQ(recv_while_running(loop, c, got, sizeof got), sizeof got);
    CHECK(memcmp(got, big, sizeof big) == 0);
    run_until(loop, &l.closes, 1);
    CHECK_EQ(l.close_error, 0);
    char b;
    CHECK_EQ(csock_recv(c, &b, 1), 0); /* end of file, not a reset */
    csock_free(c);
    csock_loop_free(loop);
}

/* A handler that refuses an over-long line with a message, then closes. */
static void refuse_long_line(csock_stream *st, void *data)
{
    (void)data;
    const char *line;
    size_t len;
    int rc;
    while ((rc = csock_stream_read_line(st, &line, &len)) == 1) {
    }
    if (rc < 0) {
        CHECK(csock_stream_write(st, "too long\n", 9) >= 0);
        csock_stream_close(st);
    }
}

/* A handler's close in on_data is graceful even when the input is over max_buffer: the queued
 * reply still goes out, and the stream does not close with the buffer's error instead. */
static void close_over_the_input_limit(void)
{
    csock_loop *loop = csock_loop_new();
    static const csock_stream_handler h = {.on_data = refuse_long_line,
                                           .on_close = on_close,
                                           .high_water = 1 << 20,
                                           .max_queue = 1 << 20,
                                           .max_buffer = 100};
    static char big[128 * 1024], got[sizeof big + 9];
    memset(big, 'b', sizeof big);
    struct log l = {0};
    csock *c;
    small_buffers = 1;
    csock_stream *st = stream_pair(loop, &h, &l, &c);
    small_buffers = 0;
    CHECK(csock_stream_write(st, big, sizeof big) >= 0); /* the reply will wait behind this */
    char line[200];
    memset(line, 'x', sizeof line);
    CHECK_EQ(csock_sendall(c, line, sizeof line, NULL), 0);
    CHECK_EQ(recv_while_running(loop, c, got, sizeof got), sizeof got);
    CHECK(memcmp(got, big, sizeof big) == 0 && memcmp(got + sizeof big, "too long\n", 9) == 0);
    run_until(loop, &l.closes, 1);
    CHECK_EQ(l.close_error, 0);
    csock_free(c);
    csock_loop_free(loop);
}

/* ---- a peer that resets ---- */

static void write_after_reset(csock_stream *st, void *data)
{
    struct log *l = data;
    l->datas++;
    const char *p;
    csock_stream_consume(st, csock_stream_peek(st, &p));
    /* The peer is gone: writing fails with a socket error and names the stream. A write the
     * socket took only part of queues the rest, and the error comes when the queue is sent
     * (the stream then closes with it), so writing stops at high water. */
    int rc = 0;
    for (int i = 0; i < 100 && rc == 0; i++)
        rc = csock_stream_write(st, chunk, sizeof chunk);
    l->read_error = rc;
    if (rc != 1) {
        CHECK(rc == CSOCK_ECONNRESET || rc == CSOCK_EPIPE);
        CHECK_ERROR(rc, "stream write ");
    }
}

static void peer_reset(void)
{
    csock_loop *loop = csock_loop_new();
    static const csock_stream_handler h = {.on_data = write_after_reset, .on_close = on_close};
    struct log l = {0};
    csock *c;
    stream_pair(loop, &h, &l, &c);
    /* A reset: unread bytes on the peer's side, and no lingering on close. */
    CHECK_EQ(
        csock_setsockopt(c, SOL_SOCKET, SO_LINGER, &(struct linger){1, 0}, sizeof(struct linger)),
        0);
    CHECK_EQ(csock_send(c, "x", 1), 1);
    csock_free(c);
    run_until(loop, &l.closes, 1);
    CHECK_EQ(l.datas, 1); /* the byte sent before the reset is read first */
    CHECK(l.close_error == CSOCK_ECONNRESET || l.close_error == CSOCK_EPIPE);
    csock_loop_free(loop);
}

/* A write to a socket pair's closed peer: the peer has no name, so the descriptor names the
 * stream ("stream write fd 7: Broken pipe", never "stream write : Broken pipe"). */
static void write_error_on_an_unnamed_peer(void)
{
    csock_loop *loop = csock_loop_new();
    static const csock_stream_handler h = {.on_data = ignore_data, .on_close = on_close};
    csock *pair[2];
    CHECK_EQ(csock_socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    struct log l = {0};
    csock_stream *st = csock_stream_new(loop, pair[0], &h, &l);
    CHECK(st != NULL);
    csock_free(pair[1]);
    int fd = csock_stream_fileno(st);
    int rc = csock_stream_write(st, "x", 1);
    const char *op = "write";
    if (rc == 0) { /* the socket said "try again" (fault injection): the queue's send fails */
        run_until(loop, &l.closes, 1);
        rc = l.close_error;
        op = "send";
    }
    CHECK(rc == CSOCK_EPIPE || rc == CSOCK_ECONNRESET);
    char want[64];
    snprintf(want, sizeof want, "stream %s fd %d: %s", op, fd, csock_strerror(rc));
    CHECK_ERROR(rc, want);
    run_until(loop, &l.closes, 1);
    CHECK_EQ(l.close_error, rc);
    csock_loop_free(loop);
}

/* on_close reads the stream's own failure in csock_lasterror, also after the program's calls
 * failed meanwhile (here a write to the closing stream, as a relay's input may bring). */
static void close_message_survives_other_failures(void)
{
    csock_loop *loop = csock_loop_new();
    static const csock_stream_handler h = {.on_data = ignore_data, .on_close = on_close};
    csock *pair[2];
    CHECK_EQ(csock_socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    struct log l = {0};
    csock_stream *st = csock_stream_new(loop, pair[0], &h, &l);
    CHECK(st != NULL);
    csock_free(pair[1]);
    int rc = csock_stream_write(st, "x", 1);
    if (rc == 0) { /* the socket said "try again" (fault injection): nothing to check here */
        run_until(loop, &l.closes, 1);
        csock_loop_free(loop);
        return;
    }
    CHECK(rc == CSOCK_EPIPE || rc == CSOCK_ECONNRESET);
    char want[256];
    snprintf(want, sizeof want, "%s", csock_lasterror());
    CHECK(csock_stream_write(st, "y", 1) < 0); /* closing now: its own failure */
    CHECK(strcmp(csock_lasterror(), want) != 0);
    CHECK_EQ(csock_parse_port("junk"), CSOCK_EINVAL);
    run_until(loop, &l.closes, 1);
    CHECK_EQ(l.close_error, rc);
    CHECK_STR(l.close_message, want);
    csock_loop_free(loop);
}

/* A write larger than max_queue with nothing queued: the message says so, and does not blame a
 * peer that is not reading. */
static void write_over_the_queue_limit_alone(void)
{
    csock_loop *loop = csock_loop_new();
    static const csock_stream_handler h = {.on_data = ignore_data,
                                           .on_close = on_close,
                                           .high_water = 50,
                                           .low_water = 10,
                                           .max_queue = 100};
    struct log l = {0};
    csock *c;
    csock_stream *st = stream_pair(loop, &h, &l, &c);
    static char big[200];
    CHECK_EQ(csock_stream_write(st, big, sizeof big), CSOCK_ENOBUFS);
    CHECK_ERROR(CSOCK_ENOBUFS, "stream write: 200 bytes are more than the 100-byte queue limit "
                               "(max_queue) allows, with nothing queued");
    CHECK(strstr(csock_lasterror(), "not reading") == NULL);
    CHECK_EQ(csock_stream_queued(st), 0);
    CHECK_EQ(csock_stream_write(st, "ok", 2), 0); /* the stream goes on */
    char got[2];
    CHECK_EQ(recv_while_running(loop, c, got, 2), 2);
    csock_free(c);
    csock_loop_free(loop);
}

/* A listening socket and one never connected are refused, and left as they were. */
static void refuse_listening_and_unconnected_sockets(void)
{
    csock_loop *loop = csock_loop_new();
    static const csock_stream_handler h = {.on_data = ignore_data};
    int port;
    csock *l = check_listener("127.0.0.1", &port);
    CHECK(csock_stream_new(loop, l, &h, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "stream: a listening socket");
    csock *u = csock_socket(AF_INET, SOCK_STREAM, 0);
    CHECK(csock_stream_new(loop, u, &h, NULL) == NULL);
    CHECK_ERROR(CSOCK_ENOTCONN, "stream: socket is not connected");
    /* Both are untouched: the listener still accepts, blocking as before. */
    CHECK(csock_getblocking(l));
    csock *c = csock_create_connection("127.0.0.1", port, 5, NULL);
    CHECK(c != NULL);
    csock *s = csock_accept(l, NULL);
    CHECK(s != NULL);
    CHECK(csock_fileno(u) >= 0);
    csock_free(s);
    csock_free(c);
    csock_free(u);
    csock_free(l);
    csock_loop_free(loop);
}

/* ---- bad input ---- */

static void bad_input(void)
{
    csock_loop *loop = csock_loop_new();
    static const csock_stream_handler none = {0};
    static const csock_stream_handler marks = {
        .on_data = ignore_data, .high_water = 100, .low_water = 200};
    static const csock_stream_handler h = {.on_data = ignore_data, .on_close = on_close};
    csock *c, *s;
    check_tcp_pair("127.0.0.1", &c, &s);
    CHECK(csock_stream_new(loop, s, &none, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "the handler has no on_data");
    CHECK(csock_stream_new(loop, s, &marks, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "low_water is above high_water");
    CHECK(csock_stream_new(NULL, s, &h, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "NULL loop");
    csock *u = csock_socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(csock_stream_new(loop, u, &h, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "not a stream socket");
    csock_free(u);
    csock *closed = csock_socket(AF_INET, SOCK_STREAM, 0);
    csock_close(closed);
    CHECK(csock_stream_new(loop, closed, &h, NULL) == NULL);
    CHECK_ERROR(CSOCK_EBADF, "stream: socket is closed");
    csock_free(closed);
    CHECK(csock_stream_new(loop, s, NULL, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "NULL handler");
    /* The socket is untouched by the failures and works as a stream afterwards. */
    struct log l = {0};
    csock_stream *st = csock_stream_new(loop, s, &h, &l);
    CHECK(st != NULL);
    CHECK_EQ(csock_stream_data(st), &l);
    csock_addr peer, mine;
    CHECK_EQ(csock_stream_peername(st, &peer), 0);
    CHECK_EQ(csock_getsockname(c, &mine), 0);
    CHECK_EQ(csock_addr_port(&peer), csock_addr_port(&mine));
    csock_stream_close(st);
    CHECK_EQ(csock_stream_write(st, "x", 1), CSOCK_EPIPE);
    CHECK_ERROR(CSOCK_EPIPE, "stream write");
    CHECK_EQ(csock_stream_shutdown(st), CSOCK_EPIPE);
    run_until(loop, &l.closes, 1);
    csock_free(c);
    csock_loop_free(loop);
}

/* Built without OpenSSL, the TLS calls say so (tests/test_tls_stream.c has the rest). */
static void tls_without_openssl(void)
{
#ifdef CSOCK_TESTS_NO_TLS
    csock_loop *loop = csock_loop_new();
    csock *a, *b;
    check_tcp_pair("127.0.0.1", &a, &b);
    static const csock_stream_handler h = {.on_data = ignore_data};
    CHECK(csock_stream_new_tls(loop, a, NULL, NULL, &h, NULL) == NULL);
    CHECK_ERROR(CSOCK_EOPNOTSUPP, "csock was built without OpenSSL 3: TLS is not available");
    csock_stream *st = csock_stream_new(loop, a, &h, NULL);
    CHECK(st != NULL);
    CHECK_EQ(csock_stream_start_tls(st, NULL, NULL, NULL), CSOCK_EOPNOTSUPP);
    CHECK(csock_stream_tls_version(st) == NULL);
    char subject[64];
    CHECK_EQ(csock_stream_tls_peer_subject(st, subject, sizeof subject), CSOCK_EOPNOTSUPP);
    CHECK_EQ(csock_stream_tls_peer_certificate(st, NULL, 0), CSOCK_EOPNOTSUPP);
    csock_free(b);
    csock_loop_free(loop);
#endif
}

int main(void)
{
    check_watchdog(60);
    int fds = check_open_fds();
    RUN(lines_in_pieces);
    RUN(tls_without_openssl);
    RUN(unread_bytes_are_bounded);
    RUN(exact_reads_and_frames_byte_by_byte);
    RUN(watermarks_and_drain);
    RUN(both_directions_at_once);
    RUN(slow_reader_stays_bounded);
    RUN(half_close);
    RUN(close_another_stream_in_the_same_pass);
    RUN(deadlines);
    RUN(deadlines_past_49_days);
    RUN(the_sweep_slows_once_short_deadlines_go);
    RUN(timeouts_out_of_range);
    RUN(pausing_and_writing_frames);
    RUN(bad_buffer_lists_change_nothing);
    RUN(huge_write_without_a_queue_limit);
    RUN(limits_at_the_edges);
    RUN(close_delivers_everything_to_an_uploading_peer);
    RUN(lingering_is_bounded);
    RUN(close_with_a_full_queue_is_bounded);
    RUN(loop_freed_while_lingering);
    RUN(close_with_input_unread);
    RUN(close_over_the_input_limit);
    RUN(peer_reset);
    RUN(write_error_on_an_unnamed_peer);
    RUN(close_message_survives_other_failures);
    RUN(write_over_the_queue_limit_alone);
    RUN(refuse_listening_and_unconnected_sockets);
    RUN(bad_input);
    CHECK_EQ(check_open_fds(), fds);
    return check_done();
}
