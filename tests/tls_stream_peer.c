/* SPDX-License-Identifier: MIT */
/* A TLS peer on csock's loop for tls_stream_interop.py: TLS streams and a TLS server.
 *
 *   tls_stream_peer server CERT KEY [--max 1.2|1.3] [--mode loop|threads]
 *       says "listening on 127.0.0.1:PORT", then serves (csock_server_run with a TLS context)
 *       until SIGTERM: each connection echoes what it reads; each stream's end is said on
 *       stdout, "closed 0" or "closed CODE MESSAGE".
 *   tls_stream_peer client HOST PORT CAFILE MESSAGE [--max 1.2|1.3]
 *       a client stream (csock_stream_new_tls): says "tls VERSION" on stderr once open, sends
 *       MESSAGE, shuts down for writing (close_notify), and copies what comes back to stdout
 *       until the server's end. Any failure: its message on stderr, exit 1. */
#include <csock/server.h>
#include <csock/tls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *opt(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return NULL;
}

static int fail(const char *what)
{
    fprintf(stderr, "%s: %s\n", what, csock_lasterror());
    return 1;
}

static int max_version(csock_tls_context *ctx, int argc, char **argv)
{
    const char *max = opt(argc, argv, "--max");
    if (!max) return 0;
    return csock_tls_context_set_versions(
        ctx, 0, strcmp(max, "1.2") == 0 ? CSOCK_TLS_V1_2 : CSOCK_TLS_V1_3);
}

/* ---- server ---- */

static void echo(csock_stream *st, void *data)
{
    (void)data;
    const char *p;
    size_t n = csock_stream_peek(st, &p);
    if (csock_stream_write(st, p, n) < 0) return;
    csock_stream_consume(st, n);
}

static void said_close(csock_stream *st, int error, void *data)
{
    (void)st, (void)data;
    if (error)
        printf("closed %d %s\n", error, csock_lasterror());
    else
        printf("closed 0\n");
    fflush(stdout);
}

static void serve_echo(csock *client, void *data)
{
    (void)data;
    char buf[16384];
    ssize_t n;
    while ((n = csock_recv(client, buf, sizeof buf)) > 0)
        if (csock_sendall(client, buf, (size_t)n, NULL) < 0) break;
    printf("closed %d%s%s\n", n < 0 ? (int)n : 0, n < 0 ? " " : "", n < 0 ? csock_lasterror() : "");
    fflush(stdout);
}

static int server(int argc, char **argv)
{
    csock_tls_context *ctx = csock_tls_context_new(CSOCK_TLS_SERVER);
    if (!ctx || csock_tls_context_load_cert_chain(ctx, argv[2], argv[3]) < 0 ||
        max_version(ctx, argc, argv) < 0)
        return fail("context");
    static const csock_stream_handler h = {.on_data = echo, .on_close = said_close};
    const char *mode = opt(argc, argv, "--mode");
    int threads = mode && strcmp(mode, "threads") == 0;
    csock_server_config config = {.stop_on_signals = 1, .tls = ctx};
    if (threads) {
        config.mode = CSOCK_SERVE_THREADS;
        config.serve = serve_echo;
    } else {
        config.handler = &h;
    }
    csock_server *srv = csock_server_new("127.0.0.1:0", &config);
    csock_tls_context_free(ctx); /* the server holds its own reference */
    csock_addr a;
    if (!srv || csock_server_address(srv, &a) < 0) return fail("server");
    printf("listening on 127.0.0.1:%d\n", csock_addr_port(&a));
    fflush(stdout);
    int rc = csock_server_run(srv);
    csock_server_free(srv);
    return rc < 0 ? fail("run") : 0;
}

/* ---- client ---- */

static const char *message;
static int status = 1;

static void client_open(csock_stream *st, void *data)
{
    (void)data;
    fprintf(stderr, "tls %s\n", csock_stream_tls_version(st));
    if (csock_stream_write(st, message, strlen(message)) < 0 || csock_stream_shutdown(st) < 0)
        fail("send");
}

static void client_data(csock_stream *st, void *data)
{
    (void)data;
    const char *p;
    size_t n = csock_stream_peek(st, &p);
    fwrite(p, 1, n, stdout);
    csock_stream_consume(st, n);
}

static void client_close(csock_stream *st, int error, void *data)
{
    (void)data;
    if (error)
        fprintf(stderr, "closed: %s\n", csock_lasterror());
    else
        status = 0;
    csock_loop_stop(csock_stream_loop(st));
}

static int client(int argc, char **argv)
{
    message = argv[5];
    csock_tls_context *ctx = csock_tls_context_new(CSOCK_TLS_CLIENT);
    if (!ctx || csock_tls_context_load_ca(ctx, argv[4], NULL) < 0 ||
        max_version(ctx, argc, argv) < 0)
        return fail("context");
    csock_loop *loop = csock_loop_new();
    csock *s = loop ? csock_create_connection(argv[2], atoi(argv[3]), 20, NULL) : NULL;
    if (!s) return fail("connect");
    static const csock_stream_handler h = {.on_open = client_open,
                                           .on_data = client_data,
                                           .on_close = client_close,
                                           .total_timeout = 20};
    if (!csock_stream_new_tls(loop, s, ctx, argv[2], &h, NULL)) return fail("stream");
    csock_tls_context_free(ctx);
    if (csock_loop_run(loop) < 0) return fail("loop");
    csock_loop_free(loop);
    fflush(stdout);
    return status;
}

int main(int argc, char **argv)
{
    if (argc >= 6 && strcmp(argv[1], "client") == 0) return client(argc, argv);
    if (argc >= 4 && strcmp(argv[1], "server") == 0) return server(argc, argv);
    fprintf(stderr, "usage: tls_stream_peer client HOST PORT CAFILE MESSAGE [--max V]\n"
                    "       tls_stream_peer server CERT KEY [--max V] [--mode loop|threads]\n");
    return 2;
}
