/* SPDX-License-Identifier: MIT */
/* Fuzzes the stream's framing readers: csock_stream_read_line, read_exactly and read_frame, with
 * a small max_buffer, on bytes arriving in pieces of the fuzzer's choosing. Whatever arrives,
 * every byte a reader hands out must be the next byte sent (nothing skipped, repeated or made
 * up), a line must end with "\n" (or be the rest at end of file), no piece may exceed its limit,
 * and a frame must be what its header announced. Built with -fsanitize=fuzzer when CSOCK_FUZZ
 * is on.
 *
 * Input: mode (line, exactly, frame), max_buffer, the size read_exactly asks for, a piece-size
 * byte per piece, then the bytes. */
#include <csock/stream.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
    int mode;
    size_t max_buffer, exact;
    const uint8_t *sent; /* every byte sent, in order */
    size_t fed, taken;   /* bytes sent so far, and handed out by the readers */
    int closed, stop;
};

/* The reader handed out len bytes at p: they must be the next ones sent. */
static void taken(struct run *r, const char *p, size_t len)
{
    if (len > r->fed - r->taken || memcmp(p, r->sent + r->taken, len) != 0) abort();
    r->taken += len;
}

static void on_data(csock_stream *st, void *data)
{
    struct run *r = data;
    const char *p;
    size_t len;
    for (int rc = 1; rc == 1 && !r->stop;) {
        if (r->mode == 0) {
            rc = csock_stream_read_line(st, &p, &len);
            if (rc != 1) break;
            if (len == 0 || len > r->max_buffer) abort();
            if (p[len - 1] != '\n' && !csock_stream_at_eof(st)) abort();
            if (memchr(p, '\n', len - 1)) abort(); /* one line, not two */
            taken(r, p, len);
        } else if (r->mode == 1) {
            rc = csock_stream_read_exactly(st, r->exact, &p);
            if (rc != 1) break;
            taken(r, p, r->exact);
        } else {
            size_t before = r->taken;
            rc = csock_stream_read_frame(st, &p, &len);
            if (rc != 1) break;
            if (len > r->max_buffer) abort();
            /* The header is the 4 bytes before the payload, big-endian. */
            const uint8_t *h = r->sent + before;
            if (r->fed - before < 4 + len ||
                ((size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3]) != len)
                abort();
            r->taken += 4;
            taken(r, p, len);
        }
        if (rc < 0 && rc != CSOCK_EMSGSIZE) abort();
        if (rc == CSOCK_EMSGSIZE) r->stop = 1;
    }
    if (r->stop) csock_stream_abort(st); /* a line or frame over the limit: this peer is done */
}

static void on_close(csock_stream *st, int error, void *data)
{
    (void)st, (void)error;
    ((struct run *)data)->closed = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    struct run r = {.mode = data[0] % 3,
                    .max_buffer = 1 + data[1] % 64,
                    .exact = 1 + data[2] % 80, /* sometimes over max_buffer */
                    .sent = data + 4};
    size_t piece = 1 + data[3] % 32, total = size - 4;
    const csock_stream_handler handler = {
        .on_data = on_data, .on_close = on_close, .max_buffer = r.max_buffer};
    csock_loop *loop = csock_loop_new();
    csock *pair[2];
    if (!loop || csock_socketpair(AF_UNIX, SOCK_STREAM, 0, pair) < 0) abort();
    if (!csock_stream_new(loop, pair[1], &handler, &r)) abort();
    while (r.fed < total && !r.closed) {
        size_t n = total - r.fed < piece ? total - r.fed : piece;
        if (csock_sendall(pair[0], r.sent + r.fed, n, NULL) < 0) abort();
        r.fed += n;
        for (size_t i = 0; i < n + 4 && csock_loop_run_once(loop, 0) > 0; i++)
            ;
    }
    csock_shutdown(pair[0], SHUT_WR);
    /* A stream reads at most max_buffer bytes a pass: one pass a byte at worst. */
    for (size_t i = 0; i < total + 64 && !r.closed; i++)
        if (csock_loop_run_once(loop, 0.2) < 0) abort();
    if (!r.closed) abort(); /* end of file, with nothing left to deliver, closes the stream */
    if (r.taken > r.fed) abort();
    csock_free(pair[0]);
    csock_loop_free(loop);
    return 0;
}
