/* SPDX-License-Identifier: MIT */
/* Where csock is built without OpenSSL 3: the calls that make TLS streams and servers fail
 * with CSOCK_EOPNOTSUPP, saying why; the rest of the library never depends on OpenSSL. */
#include "stream_internal.h"

static int no_tls(const char *op)
{
    return csock__failf(CSOCK_EOPNOTSUPP,
                        "%s: csock was built without OpenSSL 3: TLS is not "
                        "available",
                        op);
}

csock_stream *csock_stream_new_tls(csock_loop *loop, csock *s, csock_tls_context *ctx,
                                   const char *server_name, const csock_stream_handler *handler,
                                   void *data)
{
    (void)loop, (void)s, (void)ctx, (void)server_name, (void)handler, (void)data;
    no_tls("stream tls");
    return NULL;
}

int csock_stream_start_tls(csock_stream *st, csock_tls_context *ctx, const char *server_name,
                           const csock_stream_handler *handler)
{
    (void)st, (void)ctx, (void)server_name, (void)handler;
    return no_tls("stream start_tls");
}

const char *csock_stream_tls_version(const csock_stream *st)
{
    (void)st;
    return NULL;
}

const char *csock_stream_tls_server_name(const csock_stream *st)
{
    (void)st;
    return NULL;
}

csock_stream *csock__stream_adopt_tls(csock_loop *loop, int fd, csock_tls_context *ctx,
                                      const csock_stream_handler *handler, void *data,
                                      unsigned kind)
{
    (void)loop, (void)fd, (void)ctx, (void)handler, (void)data, (void)kind;
    no_tls("server tls");
    return NULL;
}

int csock__client_tls_hold(csock_tls_context *ctx, const char *server_name, const char *op)
{
    (void)ctx, (void)server_name;
    return no_tls(op);
}

void csock__client_tls_release(csock_tls_context *ctx)
{
    (void)ctx;
}

csock_stream *csock__stream_new_tls_within(csock_loop *loop, csock *s, csock_tls_context *ctx,
                                           const char *server_name,
                                           const csock_stream_handler *handler, void *data,
                                           double limit)
{
    (void)loop, (void)s, (void)ctx, (void)server_name, (void)handler, (void)data, (void)limit;
    no_tls("stream tls");
    return NULL;
}

int csock__server_tls_check(csock_tls_context *ctx)
{
    (void)ctx;
    return no_tls("server: tls");
}

void csock__server_tls_release(csock_tls_context *ctx)
{
    (void)ctx;
}

int csock__server_tls_handshake(csock *s, csock_tls_context *ctx)
{
    (void)s, (void)ctx;
    return no_tls("server tls");
}

const char *csock_stream_tls_cipher(const csock_stream *st)
{
    (void)st;
    return NULL;
}

const char *csock_stream_tls_alpn(const csock_stream *st)
{
    (void)st;
    return NULL;
}

int csock_stream_tls_session_reused(const csock_stream *st)
{
    (void)st;
    return 0;
}

int csock_stream_tls_peer_subject(const csock_stream *st, char *buf, size_t size)
{
    (void)st, (void)buf, (void)size;
    return no_tls("stream tls peer subject");
}

int csock_stream_tls_peer_certificate(const csock_stream *st, unsigned char *buf, size_t size)
{
    (void)st, (void)buf, (void)size;
    return no_tls("stream tls peer certificate");
}
