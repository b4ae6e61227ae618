/* SPDX-License-Identifier: MIT */
/* csock's TLS echo server for the comparison: examples/echo/echo-server with a TLS context in
 * its server's configuration, and nothing else changed. Usage: echo-csock-tls HOST:PORT CERT
 * KEY; SIGINT or SIGTERM ends it. */
#include <csock/server.h>
#include <csock/tls.h>

#include <stdio.h>

static void echo(csock_stream *st, void *data)
{
    (void)data;
    const char *bytes;
    size_t n = csock_stream_peek(st, &bytes);
    if (csock_stream_write(st, bytes, n) < 0) {
        csock_stream_abort(st);
        return;
    }
    csock_stream_consume(st, n);
}

static const csock_stream_handler echo_handler = {.on_data = echo};

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: echo-csock-tls HOST:PORT CERT KEY\n");
        return 2;
    }
    csock_tls_context *ctx = csock_tls_context_new(CSOCK_TLS_SERVER);
    if (!ctx || csock_tls_context_load_cert_chain(ctx, argv[2], argv[3]) < 0) {
        fprintf(stderr, "echo-csock-tls: %s\n", csock_lasterror());
        return 1;
    }
    csock_server_config config = {.handler = &echo_handler, .tls = ctx, .stop_on_signals = 1};
    csock_server *srv = csock_server_new(argv[1], &config);
    csock_tls_context_free(ctx); /* the server holds it while it serves */
    csock_addr where;
    char text[CSOCK_ADDRSTRLEN];
    if (!srv || csock_server_address(srv, &where) < 0) {
        fprintf(stderr, "echo-csock-tls: %s\n", csock_lasterror());
        return 1;
    }
    csock_addr_format(&where, text, sizeof text);
    printf("listening on %s\n", text);
    fflush(stdout);
    int rc = csock_server_run(srv);
    if (rc < 0) fprintf(stderr, "echo-csock-tls: %s\n", csock_lasterror());
    csock_server_free(srv);
    return rc < 0 ? 1 : 0;
}
