/* SPDX-License-Identifier: MIT */
/* An echo server on libuv, written the way its documentation teaches, with the fast path a
 * careful programmer adds: reads go into one shared buffer and out with uv_try_write; only what
 * the socket does not take is copied and queued with uv_write. Usage: echo-libuv HOST PORT;
 * SIGTERM ends it. */
#define _POSIX_C_SOURCE 200809L /* uv.h needs pthread_rwlock_t */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static char shared[65536];

struct queued {
    uv_write_t req;
    char data[];
};

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(shared, sizeof shared);
}

static void on_closed(uv_handle_t *h)
{
    free(h);
}

static void on_written(uv_write_t *req, int status)
{
    (void)status;
    free(req);
}

static void on_read(uv_stream_t *client, ssize_t n, const uv_buf_t *buf)
{
    if (n < 0) {
        uv_close((uv_handle_t *)client, on_closed);
        return;
    }
    if (n == 0) return;
    uv_buf_t out = uv_buf_init(buf->base, (unsigned)n);
    int w = uv_try_write(client, &out, 1);
    if (w == UV_EAGAIN) w = 0;
    if (w < 0) {
        uv_close((uv_handle_t *)client, on_closed);
        return;
    }
    if (w < n) {
        struct queued *q = malloc(sizeof *q + (size_t)(n - w));
        memcpy(q->data, buf->base + w, (size_t)(n - w));
        uv_buf_t rest = uv_buf_init(q->data, (unsigned)(n - w));
        uv_write(&q->req, client, &rest, 1, on_written);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0) return;
    uv_tcp_t *client = malloc(sizeof *client);
    uv_tcp_init(server->loop, client);
    if (uv_accept(server, (uv_stream_t *)client) == 0)
        uv_read_start((uv_stream_t *)client, on_alloc, on_read);
    else
        uv_close((uv_handle_t *)client, on_closed);
}

static void on_term(uv_signal_t *s, int sig)
{
    (void)sig;
    uv_stop(s->loop);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: echo-libuv HOST PORT\n");
        return 2;
    }
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in a;
    uv_ip4_addr(argv[1], atoi(argv[2]), &a);
    uv_tcp_init(loop, &server);
    if (uv_tcp_bind(&server, (const struct sockaddr *)&a, 0) != 0 ||
        uv_listen((uv_stream_t *)&server, 511, on_connection) != 0) {
        fprintf(stderr, "echo-libuv: cannot listen\n");
        return 1;
    }
    int len = sizeof a;
    uv_tcp_getsockname(&server, (struct sockaddr *)&a, &len);
    printf("listening on %s:%d\n", argv[1], ntohs(a.sin_port));
    fflush(stdout);
    uv_signal_t term;
    uv_signal_init(loop, &term);
    uv_signal_start(&term, on_term, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
