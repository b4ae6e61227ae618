/* SPDX-License-Identifier: MIT */
/* A tiny HTTP/1.1 server: answers every request with "Hello, world", keeps connections alive
 * (and answers pipelined requests in order), closes when the client asks or speaks HTTP/1.0
 * without keep-alive. Serves until SIGINT or SIGTERM.
 *
 * Usage: hello-server [--tls CERT KEY] ADDRESS   (127.0.0.1:8080, [::1]:0, ...; port 0 prints
 * the real one). With --tls it speaks HTTPS, with the certificate chain in CERT and its key in
 * KEY (PEM files), offering ALPN's http/1.1. */
#include "../serve.h"
#include "request.h"

#ifdef HELLO_TLS
#include <csock/tls.h>
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char hello[] = "HTTP/1.1 200 OK\r\n"
                            "Content-Type: text/plain\r\n"
                            "Content-Length: 13\r\n"
                            "\r\n"
                            "Hello, world\n";
static const char hello_close[] = "HTTP/1.1 200 OK\r\n"
                                  "Content-Type: text/plain\r\n"
                                  "Content-Length: 13\r\n"
                                  "Connection: close\r\n"
                                  "\r\n"
                                  "Hello, world\n";

/* Answers the request just read; the last one on the connection says so. */
static void answer(csock_stream *st, const struct request *r)
{
    if (r->close) {
        csock_stream_write(st, hello_close, sizeof hello_close - 1);
        csock_stream_close(st);
    } else if (csock_stream_write(st, hello, sizeof hello - 1) < 0) {
        csock_stream_abort(st);
    }
}

/* Answers an error and ends the connection the way HTTP servers do: shut down for writing, then
 * read and drop whatever the client still sends until it closes, so that closing with its bytes
 * unread does not reset the connection before the answer is read. */
static void reply(csock_stream *st, struct request *r, const char *status)
{
    char text[128];
    int n = snprintf(text, sizeof text,
                     "HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status);
    csock_stream_write(st, text, (size_t)n);
    csock_stream_shutdown(st);
    r->discard = 1;
}

static void on_data(csock_stream *st, void *data)
{
    struct request *r = data;
    for (;;) {
        if (r->discard) {
            const char *p;
            csock_stream_consume(st, csock_stream_peek(st, &p));
            return;
        }
        if (r->body_left > 0) { /* skip a request body, as far as it has arrived */
            const char *p;
            size_t have = csock_stream_peek(st, &p);
            size_t n = have < r->body_left ? have : r->body_left;
            csock_stream_consume(st, n);
            r->body_left -= n;
            if (r->body_left > 0) return;
            answer(st, r);
            if (r->close) return;
            continue;
        }
        const char *line;
        size_t len;
        int rc = csock_stream_read_line(st, &line, &len);
        if (rc == 0) return;
        if (rc < 0) {
            reply(st, r, "431 Request Header Fields Too Large");
            continue;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (!r->in_head) {
            if (len == 0) continue; /* blank lines between requests are allowed */
            if (request_line(r, line, len) < 0) {
                reply(st, r, "400 Bad Request");
                continue;
            }
        } else if (len > 0) {
            if (request_header(r, line, len) < 0) reply(st, r, "400 Bad Request");
        } else { /* the end of the head */
            r->in_head = 0;
            if (r->body_left > 0) continue;
            answer(st, r);
            if (r->close) return;
        }
    }
}

static void on_open(csock_stream *st, void *data)
{
    (void)data;
    struct request *r = calloc(1, sizeof *r);
    if (r)
        csock_stream_set_data(st, r);
    else
        csock_stream_abort(st);
}

static void on_close(csock_stream *st, int error, void *data)
{
    (void)st, (void)error;
    free(data);
}

static const csock_stream_handler http = {
    .on_open = on_open,
    .on_data = on_data,
    .on_close = on_close,
    .max_buffer = HEAD_MAX,
    .idle_timeout = 60, /* a keep-alive connection nobody uses is closed after a minute */
};

int main(int argc, char **argv)
{
    csock_server_config config = {.handler = &http};
    if (argc == 5 && strcmp(argv[1], "--tls") == 0) {
#ifdef HELLO_TLS
        static const char *const alpn[] = {"http/1.1"};
        csock_tls_context *ctx = csock_tls_context_new(CSOCK_TLS_SERVER);
        if (!ctx || csock_tls_context_load_cert_chain(ctx, argv[2], argv[3]) < 0 ||
            csock_tls_context_set_alpn(ctx, alpn, 1) < 0) {
            fprintf(stderr, "hello-server: %s\n", csock_lasterror());
            csock_tls_context_free(ctx);
            return 1;
        }
        config.tls = ctx; /* the server holds it while it serves */
        int rc = serve("hello-server", argv[4], config);
        csock_tls_context_free(ctx);
        return rc;
#else
        fprintf(stderr, "hello-server: --tls: csock was built without TLS (apt-get install "
                        "libssl-dev, then build again)\n");
        return 1;
#endif
    }
    if (argc != 2) {
        fprintf(stderr, "usage: hello-server [--tls CERT KEY] ADDRESS\n");
        return 2;
    }
    return serve("hello-server", argv[1], config);
}
