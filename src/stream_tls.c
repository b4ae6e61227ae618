/* SPDX-License-Identifier: MIT */
/* The TLS transport: a stream's bytes go through OpenSSL, over a BIO of its own that reads and
 * writes the non-blocking socket directly (recv, and send with MSG_NOSIGNAL: OpenSSL never
 * reaches the descriptor any other way, so nothing raises SIGPIPE). The handshake is the
 * transport's open, bounded by the context's handshake timeout; on_open runs once it is done.
 * Here too are the calls that make TLS streams (a client's, a server's connection, STARTTLS)
 * and what a TLS stream tells. */
#include "stream_internal.h"
#include "tls_internal.h"

#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A TLS stream's state (st->tls). */
struct stream_tls {
    /* First: what OpenSSL's callbacks of the context find as the SSL's app data (a refused
     * host name's names, a client's server name and peer for its session cache), and the state
     * csock__tls_why reads (the transport's last failure, end of file, a fatal error). Its
     * socket is NULL: a stream has none. */
    csock__tls t;
    int fd;
    size_t plain_left;  /* STARTTLS: queued bytes from before the upgrade, sent plain first */
    int notify_pending; /* close_notify waits for room in the socket */
    int opened;         /* the handshake is done: what it agreed on is told until the end */
    int code;           /* the code of the last failure, and its reason: */
    char why[320];
};

/* ---- the BIO: the socket, non-blocking ---- */

static int bio_write(BIO *b, const char *data, size_t len, size_t *written)
{
    struct stream_tls *x = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n;
    do
        n = send(x->fd, data, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n >= 0) {
        *written = (size_t)n;
        return 1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        x->t.err = CSOCK_EAGAIN;
        BIO_set_retry_write(b);
    } else {
        x->t.err = csock__errno();
    }
    return 0;
}

static int bio_read(BIO *b, char *data, size_t len, size_t *got)
{
    struct stream_tls *x = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n;
    do
        n = recv(x->fd, data, len, 0);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        *got = (size_t)n;
        return 1;
    }
    if (n == 0) {
        x->t.eof = 1; /* OpenSSL asks BIO_CTRL_EOF to tell an end from an error */
        return 0;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        x->t.err = CSOCK_EAGAIN;
        BIO_set_retry_read(b);
    } else {
        x->t.err = csock__errno();
    }
    return 0;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num, (void)ptr;
    struct stream_tls *x = BIO_get_data(b);
    /* Nothing is held back: every write goes straight to the kernel. */
    return cmd == BIO_CTRL_FLUSH ? 1 : cmd == BIO_CTRL_EOF ? x->t.eof : 0;
}

static BIO_METHOD *method;
static pthread_once_t method_once = PTHREAD_ONCE_INIT;

static void make_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "csock stream");
    if (m && BIO_meth_set_write_ex(m, bio_write) && BIO_meth_set_read_ex(m, bio_read) &&
        BIO_meth_set_ctrl(m, bio_ctrl))
        method = m;
    else
        BIO_meth_free(m);
}

/* ---- the state ---- */

static struct stream_tls *tls_of(const csock_stream *st)
{
    return (struct stream_tls *)st->tls;
}

static void free_state(struct stream_tls *x)
{
    if (!x) return;
    SSL_free(x->t.ssl); /* and the BIO with it */
    csock_tls_context_free(x->t.ctx);
    free(x->t.server_name);
    free(x);
}

static const char *peer_text(const struct stream_tls *x, char buf[CSOCK_ADDRSTRLEN])
{
    return csock__tls_where(&x->t, buf);
}

/* Checks that ctx fits side (and a client's server_name); op names the call. Returns 0 or a
 * recorded CSOCK_EINVAL. */
static int check_context(csock_tls_context *ctx, int side, const char *server_name, const char *op)
{
    if (!ctx) return csock__failf(CSOCK_EINVAL, "%s: NULL context", op);
    if (side == CSOCK_TLS_SERVER && !SSL_CTX_get0_certificate(ctx->ssl))
        return csock__failf(CSOCK_EINVAL,
                            "%s: the server context has no certificate (load one with "
                            "csock_tls_context_load_cert_chain)",
                            op);
    int checks_name = ctx->verify != CSOCK_TLS_VERIFY_NONE && ctx->check_hostname;
    if (side == CSOCK_TLS_CLIENT && checks_name && (!server_name || !*server_name))
        return csock__failf(CSOCK_EINVAL,
                            "%s: no server name to check the certificate against (give one, or "
                            "turn the host name check off)",
                            op);
    return csock__tls_freeze(ctx);
}

/* A new TLS state on fd for ctx's side (checked), or NULL with a recorded failure. */
static struct stream_tls *new_state(int fd, csock_tls_context *ctx, const char *server_name,
                                    const csock_addr *peer, const char *op)
{
    struct stream_tls *x = calloc(1, sizeof *x);
    if (!x) {
        csock__failf(CSOCK_ENOMEM, "%s: out of memory", op);
        return NULL;
    }
    x->fd = fd;
    x->t.ctx = ctx;
    atomic_fetch_add(&ctx->refs, 1);
    if (peer && peer->len > 0) {
        x->t.where = *peer;
    } else {
        socklen_t len = sizeof x->t.where.ss;
        if (getpeername(fd, (struct sockaddr *)&x->t.where.ss, &len) == 0) x->t.where.len = len;
    }
    csock__tls_no_delay(fd, &x->t.where);
    int client = ctx->side == CSOCK_TLS_CLIENT;
    ERR_clear_error();
    pthread_once(&method_once, make_method);
    x->t.ssl = SSL_new(ctx->ssl);
    BIO *bio = x->t.ssl && method ? BIO_new(method) : NULL;
    if (client && server_name) x->t.server_name = strdup(server_name);
    if (!x->t.ssl || !bio || (client && server_name && !x->t.server_name)) {
        if (x->t.ssl)
            csock__failf(CSOCK_ENOMEM, "%s: out of memory", op);
        else
            csock__tls_fail_setup(op);
        BIO_free(bio);
        free_state(x);
        return NULL;
    }
    BIO_set_data(bio, x);
    BIO_set_init(bio, 1);
    SSL_set_bio(x->t.ssl, bio, bio);
    SSL_set_app_data(x->t.ssl, &x->t);
    if (client) {
        SSL_set_connect_state(x->t.ssl);
        if (server_name && csock__tls_name_server(&x->t, server_name, op) < 0) {
            free_state(x);
            return NULL;
        }
        csock__tls_cache_offer(&x->t);
    } else {
        SSL_set_accept_state(x->t.ssl);
    }
    return x;
}

/* ---- the transport ---- */

/* Before each SSL call: no failure of the transport yet. */
static void begin(struct stream_tls *x)
{
    x->t.err = 0;
    ERR_clear_error();
}

/* What an SSL call that returned ret left: CSOCK_EAGAIN with *wants for what it waits for, or
 * the failure's code, its reason kept for the stream's message. */
static int failed(struct stream_tls *x, int ret, int *wants)
{
    int e = SSL_get_error(x->t.ssl, ret);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        *wants = e == SSL_ERROR_WANT_READ ? CSOCK_READ : CSOCK_WRITE;
        return CSOCK_EAGAIN;
    }
    x->code = csock__tls_why(&x->t, ret, x->why, sizeof x->why);
    return x->code;
}

static ssize_t tls_read(csock_stream *st, void *buf, size_t len, int *wants)
{
    struct stream_tls *x = tls_of(st);
    size_t n = 0;
    if (x->t.failed) { /* only a lingering close reads now, to drop what comes: the records */
        ssize_t got = recv(x->fd, buf, len, 0);
        if (got >= 0) return got;
        if (errno == EAGAIN || errno == EWOULDBLOCK) *wants = CSOCK_READ;
        return errno == EAGAIN || errno == EWOULDBLOCK ? CSOCK_EAGAIN : -errno;
    }
    begin(x);
    if (SSL_read_ex(x->t.ssl, buf, len, &n)) return (ssize_t)n;
    if (SSL_get_error(x->t.ssl, 0) == SSL_ERROR_ZERO_RETURN) return 0; /* close_notify */
    return failed(x, 0, wants);
}

static ssize_t tls_writev(csock_stream *st, const struct iovec *iov, int iovcnt, int *wants)
{
    struct stream_tls *x = tls_of(st);
    size_t total = 0;
    /* OpenSSL writes one buffer a call. A write that cannot go on may have part of a record
     * out: what is reported taken ends just before it, so the stream offers the same bytes
     * again (from its queue: SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER), as OpenSSL requires. */
    for (int i = 0; i < iovcnt; i++) {
        const char *p = iov[i].iov_base;
        size_t off = 0;
        while (off < iov[i].iov_len) {
            size_t n = 0;
            begin(x);
            if (!SSL_write_ex(x->t.ssl, p + off, iov[i].iov_len - off, &n)) {
                int rc = failed(x, 0, wants);
                return total > 0 ? (ssize_t)total : rc;
            }
            off += n;
            total += n;
        }
    }
    return (ssize_t)total;
}

/* Sends close_notify if it may and has not gone yet. Returns 1 once it is out (or never will
 * be), 0 while it waits for room in the socket. */
static int send_notify(struct stream_tls *x)
{
    SSL *ssl = x->t.ssl;
    if (!SSL_is_init_finished(ssl) || x->t.failed) return 1;
    if ((SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN) && !x->notify_pending) return 1;
    begin(x);
    int ret = SSL_shutdown(ssl), wants;
    /* A retry that sent only part of the alert returns 0, its rest still to go. */
    x->notify_pending =
        ret < 0 ? failed(x, ret, &wants) == CSOCK_EAGAIN : ret == 0 && SSL_want_write(ssl);
    ERR_clear_error();
    return !x->notify_pending;
}

static int tls_shutdown(csock_stream *st)
{
    struct stream_tls *x = tls_of(st);
    /* close_notify, so that the peer tells the end from a cut; then end of file after it. If
     * the socket has no room for it now, the stream calls again once it has. */
    if (!send_notify(x)) return CSOCK_EAGAIN;
    return shutdown(x->fd, SHUT_WR) == 0 ? 0 : csock__errno();
}

static int tls_notify(csock_stream *st)
{
    return send_notify(tls_of(st)) ? 0 : CSOCK_EAGAIN;
}

static int tls_unsettled(csock_stream *st)
{
    struct stream_tls *x = tls_of(st);
    return x->notify_pending || SSL_pending(x->t.ssl) > 0 ||
           csock__linger_needed(x->fd, (st->state & CSOCK__STREAM_TCP) != 0);
}

static void tls_close(csock_stream *st)
{
    struct stream_tls *x = tls_of(st);
    /* A graceful close has sent close_notify (csock__stream_finish_drained); this is the last
     * try for one that still waits for room. */
    if ((st->state & CSOCK__STREAM_DRAINED) || x->notify_pending) send_notify(x);
    close(x->fd);
    free_state(x);
    st->tls = NULL;
}

static int tls_open(csock_stream *st, int *wants)
{
    struct stream_tls *x = tls_of(st);
    /* STARTTLS: what was queued before the upgrade goes first, as it was written: plain. */
    struct csock__buffer *out = st->bufs ? &st->bufs->out : NULL;
    while (x->plain_left > 0) {
        ssize_t n = send(x->fd, out->data + out->start, x->plain_left, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                *wants = CSOCK_WRITE;
                return CSOCK_EAGAIN;
            }
            int code = csock__errno();
            char at[CSOCK_ADDRSTRLEN];
            return csock__failf(code, "stream start_tls %s: %s", peer_text(x, at),
                                csock_strerror(code));
        }
        out->start += (size_t)n;
        out->len -= (size_t)n;
        x->plain_left -= (size_t)n;
    }
    begin(x);
    int ret = SSL_do_handshake(x->t.ssl);
    if (ret == 1) {
        x->opened = 1;
        if (csock__tracing()) {
            char at[CSOCK_ADDRSTRLEN];
            csock__trace("stream tls handshake %s -> %s %s", peer_text(x, at),
                         SSL_get_version(x->t.ssl), SSL_get_cipher_name(x->t.ssl));
        }
        return 0;
    }
    int rc = failed(x, ret, wants);
    if (rc == CSOCK_EAGAIN) return rc;
    char at[CSOCK_ADDRSTRLEN];
    if (rc == CSOCK_ETLSVERIFY) return csock__failf(rc, "verify %s: %s", peer_text(x, at), x->why);
    return csock__failf(rc, "tls handshake %s: %s", peer_text(x, at), x->why);
}

static int tls_pending(const csock_stream *st)
{
    return SSL_pending(tls_of(st)->t.ssl) > 0;
}

static const char *tls_reason(const csock_stream *st, int code)
{
    const struct stream_tls *x = tls_of(st);
    return x && x->code == code && x->why[0] ? x->why : NULL;
}

static const struct csock__transport tls_transport = {
    .name = "tls",
    .read = tls_read,
    .writev = tls_writev,
    .shutdown = tls_shutdown,
    .unsettled = tls_unsettled,
    .close = tls_close,
    .open = tls_open,
    .pending = tls_pending,
    .reason = tls_reason,
    .notify = tls_notify,
};

/* ---- making TLS streams ---- */

csock_stream *csock_stream_new_tls(csock_loop *loop, csock *s, csock_tls_context *ctx,
                                   const char *server_name, const csock_stream_handler *handler,
                                   void *data)
{
    return csock__stream_new_tls_within(loop, s, ctx, server_name, handler, data, 0);
}

csock_stream *csock__stream_new_tls_within(csock_loop *loop, csock *s, csock_tls_context *ctx,
                                           const char *server_name,
                                           const csock_stream_handler *handler, void *data,
                                           double limit)
{
    const char *op = "stream tls";
    if (!loop || !s || !handler || !ctx) {
        csock__failf(CSOCK_EINVAL, "%s: NULL %s", op,
                     !loop      ? "loop"
                     : !s       ? "socket"
                     : !handler ? "handler"
                                : "context");
        return NULL;
    }
    if (csock_fileno(s) < 0) {
        csock__failf(CSOCK_EBADF, "%s: socket is closed", op);
        return NULL;
    }
    if (check_context(ctx, ctx->side, server_name, op) < 0) return NULL;
    if (s->layer) {
        csock__failf(CSOCK_EINVAL, "%s: the socket speaks TLS already (a stream makes its own)",
                     op);
        return NULL;
    }
    struct stream_tls *x = new_state(csock_fileno(s), ctx, server_name, &s->peer, op);
    if (!x) return NULL;
    double timeout = csock__tls_handshake_timeout(ctx);
    if (limit > 0 && limit < timeout) timeout = limit;
    csock_stream *st = csock__stream_new_with(loop, s, handler, data, &tls_transport, x, timeout);
    if (!st) free_state(x);
    return st;
}

csock_stream *csock__stream_adopt_tls(csock_loop *loop, int fd, csock_tls_context *ctx,
                                      const csock_stream_handler *handler, void *data,
                                      unsigned kind)
{
    struct stream_tls *x = new_state(fd, ctx, NULL, NULL, "server tls");
    if (!x) return NULL;
    csock_stream *st = csock__stream_adopt_with(loop, fd, handler, data, &tls_transport, x,
                                                csock__tls_handshake_timeout(ctx), kind);
    if (!st) free_state(x);
    return st;
}

int csock_stream_start_tls(csock_stream *st, csock_tls_context *ctx, const char *server_name,
                           const csock_stream_handler *handler)
{
    const char *op = "stream start_tls";
    if (!st) return csock__failf(CSOCK_EINVAL, "%s: NULL stream", op);
    if (st->state &
        (CSOCK__STREAM_CLOSING | CSOCK__STREAM_CLOSED | CSOCK__STREAM_SHUT | CSOCK__STREAM_EOF))
        return csock__failf(CSOCK_EPIPE, "%s: the stream is closing, shut down or at its end", op);
    if (st->transport != &csock__plain)
        return csock__failf(CSOCK_EINVAL, "%s: the stream speaks TLS already", op);
    if (st->state & CSOCK__STREAM_COMPLETES)
        return csock__failf(
            CSOCK_EINVAL,
            "%s: the stream receives by io_uring completions, which may have taken "
            "bytes past the upgrade point (leave CSOCK_URING_COMPLETIONS=1 unset, or use "
            "another loop backend)",
            op);
    const char *p;
    size_t unread = csock__stream_unread(st, &p);
    if (unread > 0)
        return csock__failf(CSOCK_EINVAL,
                            "%s: %zu bytes were read past the upgrade point (the peer sent them "
                            "before the handshake; they are not TLS and would be lost or taken "
                            "for it)",
                            op, unread);
    if (!ctx) return csock__failf(CSOCK_EINVAL, "%s: NULL context", op);
    int rc = check_context(ctx, ctx->side, server_name, op);
    if (rc == 0 && handler) rc = csock__stream_check_handler(handler);
    if (rc < 0) return rc;
    struct stream_tls *x = new_state(st->watch.fd, ctx, server_name, NULL, op);
    if (!x) return csock_lastcode();
    rc = csock__stream_begin_open(st, csock__tls_handshake_timeout(ctx));
    if (rc < 0) {
        free_state(x);
        return rc;
    }
    x->plain_left = st->bufs ? st->bufs->out.len : 0;
    st->transport = &tls_transport;
    st->tls = x;
    if (handler) st->handler = handler;
    return 0;
}

int csock__server_tls_check(csock_tls_context *ctx)
{
    const char *op = "server: tls";
    if (ctx->side != CSOCK_TLS_SERVER)
        return csock__failf(CSOCK_EINVAL, "%s: the context is a client's", op);
    int rc = check_context(ctx, CSOCK_TLS_SERVER, NULL, op);
    if (rc == 0) atomic_fetch_add(&ctx->refs, 1); /* the server's, until it is freed */
    return rc;
}

void csock__server_tls_release(csock_tls_context *ctx)
{
    csock_tls_context_free(ctx);
}

int csock__client_tls_hold(csock_tls_context *ctx, const char *server_name, const char *op)
{
    if (ctx->side != CSOCK_TLS_CLIENT)
        return csock__failf(CSOCK_EINVAL, "%s: tls: the context is a server's", op);
    int rc = check_context(ctx, CSOCK_TLS_CLIENT, server_name, op);
    if (rc == 0) atomic_fetch_add(&ctx->refs, 1);
    return rc;
}

void csock__client_tls_release(csock_tls_context *ctx)
{
    csock_tls_context_free(ctx);
}

int csock__server_tls_handshake(csock *s, csock_tls_context *ctx)
{
    double timeout = csock_gettimeout(s);
    int rc = csock_settimeout(s, csock__tls_handshake_timeout(ctx));
    if (rc == 0) rc = csock_tls_wrap_server(s, ctx);
    if (rc == 0) rc = csock_settimeout(s, timeout);
    return rc;
}

/* ---- what a TLS stream tells ---- */

/* st's TLS state once its handshake is done (also after a failure that came later), else NULL
 * (also after a handshake that failed: what it had agreed on so far was never in force). */
static struct stream_tls *handshaken(const csock_stream *st)
{
    if (!st || st->transport != &tls_transport || (st->state & CSOCK__STREAM_OPENING)) return NULL;
    struct stream_tls *x = tls_of(st);
    return x->opened ? x : NULL;
}

const char *csock_stream_tls_version(const csock_stream *st)
{
    struct stream_tls *x = handshaken(st);
    return x ? SSL_get_version(x->t.ssl) : NULL;
}

const char *csock_stream_tls_server_name(const csock_stream *st)
{
    struct stream_tls *x = handshaken(st);
    if (!x) return NULL;
    if (x->t.ctx->side == CSOCK_TLS_CLIENT) return x->t.server_name;
    return SSL_get_servername(x->t.ssl, TLSEXT_NAMETYPE_host_name);
}

const char *csock_stream_tls_cipher(const csock_stream *st)
{
    struct stream_tls *x = handshaken(st);
    return x ? SSL_get_cipher_name(x->t.ssl) : NULL;
}

const char *csock_stream_tls_alpn(const csock_stream *st)
{
    struct stream_tls *x = handshaken(st);
    return x ? csock__tls_alpn(&x->t) : NULL;
}

int csock_stream_tls_session_reused(const csock_stream *st)
{
    struct stream_tls *x = handshaken(st);
    return x ? SSL_session_reused(x->t.ssl) == 1 : 0;
}

int csock_stream_tls_peer_subject(const csock_stream *st, char *buf, size_t size)
{
    struct stream_tls *x = handshaken(st);
    if (!x || !buf)
        return csock__failf(CSOCK_EINVAL, "stream tls peer subject: %s",
                            x ? "NULL buffer" : "not a TLS stream whose handshake is done");
    return csock__tls_peer_subject(&x->t, buf, size, "stream tls peer subject");
}

int csock_stream_tls_peer_certificate(const csock_stream *st, unsigned char *buf, size_t size)
{
    struct stream_tls *x = handshaken(st);
    if (!x || (!buf && size > 0))
        return csock__failf(CSOCK_EINVAL, "stream tls peer certificate: %s",
                            x ? "NULL buffer" : "not a TLS stream whose handshake is done");
    return csock__tls_peer_certificate(&x->t, buf, size, "stream tls peer certificate");
}
