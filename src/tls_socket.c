/* SPDX-License-Identifier: MIT */
/* TLS sockets: wrapping a connected socket, the handshake, and the layer through which its data
 * calls go (internal.h's csock__layer_ops), unwrapping, and what a TLS socket tells. */
#include "tls_internal.h"

#include <openssl/err.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const csock__layer_ops tls_ops;

static csock__tls *tls_of(const csock *s)
{
    return s && s->layer && s->layer->ops == &tls_ops ? (csock__tls *)s->layer : NULL;
}

/* s's TLS state once its handshake is done (by csock_tls_handshake, or by a read or write on a
 * non-blocking socket that went on with it), else NULL. */
static csock__tls *handshaken(const csock *s)
{
    csock__tls *t = tls_of(s);
    if (t && !t->established) t->established = SSL_is_init_finished(t->ssl);
    return t && t->established ? t : NULL;
}

/* The peer, for messages: the name a client was given, with the port ("localhost:4433"), or
 * the address. */
static const char *where(const csock__tls *t, char buf[CSOCK_ADDRSTRLEN])
{
    if (!t->server_name) return csock__addr_text(&t->where, buf);
    int port = csock_addr_port(&t->where);
    return csock__hostport_text(t->server_name, port < 0 ? 0 : port, buf, CSOCK_ADDRSTRLEN);
}

static const char eof_text[] = "the peer ended without close_notify (what it sent may be cut "
                               "short)";

/* OpenSSL's reasons when what came is no TLS at all: a plaintext peer. */
static int plaintext_reason(unsigned long e)
{
    if (ERR_GET_LIB(e) != ERR_LIB_SSL) return 0;
    switch (ERR_GET_REASON(e)) {
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_UNKNOWN_PROTOCOL:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
        return 1;
    default:
        return 0;
    }
}

/* Why an SSL call failed with SSL_get_error's e: a csock code, and the reason written into
 * why. */
static int diagnose(csock__tls *t, int e, char *why, size_t size)
{
    int code;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        t->want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        code = t->err ? t->err : CSOCK_EAGAIN;
        snprintf(why, size, "%s", csock_strerror(code));
        return code;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
        snprintf(why, size, "the peer has ended TLS (close_notify)");
        return CSOCK_EPIPE;
    }
    unsigned long first = ERR_peek_error();
    int lib = ERR_GET_LIB(first), reason = ERR_GET_REASON(first);
    int cut = lib == ERR_LIB_SSL && reason == SSL_R_UNEXPECTED_EOF_WHILE_READING;
    if (e == SSL_ERROR_SYSCALL || cut) {
        ERR_clear_error();
        /* At an end of stream OpenSSL sends an alert to a peer that may be gone: the end is
         * the news, not the failure of that send. */
        code = cut || (t->eof && !t->err) ? CSOCK_ETLSEOF : t->err ? t->err : CSOCK_EIO;
        snprintf(why, size, "%s", code == CSOCK_ETLSEOF ? eof_text : csock_strerror(code));
        return code;
    }
    long verified = SSL_get_verify_result(t->ssl);
    if (lib == ERR_LIB_SSL && reason == SSL_R_CERTIFICATE_VERIFY_FAILED && verified != X509_V_OK) {
        ERR_clear_error();
        snprintf(why, size, "%s%s", X509_verify_cert_error_string(verified), t->names);
        return CSOCK_ETLSVERIFY;
    }
    int plaintext = plaintext_reason(first);
    code = csock__tls_reason(CSOCK_ETLS, why, size);
    if (lib == ERR_LIB_SSL && reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
        code = CSOCK_ETLSVERIFY;
    if (plaintext) {
        size_t n = strlen(why);
        snprintf(why + n, size - n, " (the peer does not seem to speak TLS)");
    }
    return code;
}

/* Why the SSL call that returned ret failed: a csock code, and the reason written into why. A
 * fatal failure is kept: OpenSSL forbids a close_notify after it, and its queue would have
 * nothing to say of the calls after it, which give the same code and reason. */
static int why_failed(csock__tls *t, int ret, char *why, size_t size)
{
    int e = SSL_get_error(t->ssl, ret);
    int code = diagnose(t, e, why, size);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_ZERO_RETURN &&
        !t->failed) {
        t->failed = code;
        snprintf(t->failure, sizeof t->failure, "%s", why);
    }
    return code;
}

/* Refuses op on a connection TLS gave up on (t->failed), with the reason it gave up. */
static int failed_earlier(csock__tls *t, const char *op)
{
    char at[CSOCK_ADDRSTRLEN];
    return csock__failf(t->failed, "%s %s: %s (TLS failed earlier on this connection)", op,
                        where(t, at), t->failure);
}

/* Refuses op, a write after close_notify, as a write after SHUT_WR is refused on a plain
 * socket. */
static int ended_for_writing(csock__tls *t, const char *op)
{
    char at[CSOCK_ADDRSTRLEN];
    return csock__failf(CSOCK_EPIPE, "%s %s: %s (TLS was ended for writing: close_notify was sent)",
                        op, where(t, at), csock_strerror(CSOCK_EPIPE));
}

/* Records the failure of an SSL call of op that returned ret ("verify HOST:PORT: reason" for a
 * refused certificate) and returns its code. A timeout or "would block" is recorded cheaply, as
 * on plain sockets. */
static int fail_op(csock__tls *t, int ret, const char *op)
{
    char why[320], at[CSOCK_ADDRSTRLEN];
    int code = why_failed(t, ret, why, sizeof why);
    if (code == CSOCK_EAGAIN || code == CSOCK_ETIMEOUT) {
        if (!t->server_name) return csock__fail(code, op, &t->where);
        return csock__failf(code, "%s %s: %s", op, where(t, at), why);
    }
    if (code == CSOCK_ETLSVERIFY) return csock__failf(code, "verify %s: %s", where(t, at), why);
    return csock__failf(code, "%s %s: %s", op, where(t, at), why);
}

static void trace_result(const char *op, csock__tls *t, int rc)
{
    char at[CSOCK_ADDRSTRLEN];
    if (rc < 0)
        csock__trace("%s %s -> %s", op, where(t, at), csock_strerror(rc));
    else
        csock__trace("%s %s -> %s %s", op, where(t, at), SSL_get_version(t->ssl),
                     SSL_get_cipher_name(t->ssl));
}

/* Runs (or goes on with) the handshake by deadline; fresh as for csock__tls_begin. */
static int handshake(csock__tls *t, int64_t deadline, int fresh)
{
    csock__tls_begin(t, 0, deadline, fresh);
    ERR_clear_error();
    int ret = SSL_do_handshake(t->ssl);
    int rc = ret == 1 ? 0 : fail_op(t, ret, "tls handshake");
    csock__tls_end(t);
    t->established = rc == 0;
    if (csock__tracing()) trace_result("tls handshake", t, rc);
    return rc;
}

/* One SSL_write_ex of up to len bytes. A record it leaves half written (the socket could take
 * no more in time) is noted: OpenSSL writes the rest of it only for a write that offers as many
 * bytes again, and nothing else (close_notify) may go out before it. */
static int write_some(csock__tls *t, const void *buf, size_t len, size_t *n)
{
    ERR_clear_error();
    int ok = SSL_write_ex(t->ssl, buf, len, n);
    if (ok)
        t->pending = 0;
    else if (!t->pending && SSL_get_error(t->ssl, 0) == SSL_ERROR_WANT_WRITE)
        t->pending = len < SSL3_RT_MAX_PLAIN_LENGTH ? len : SSL3_RT_MAX_PLAIN_LENGTH;
    return ok;
}

/* How long a close may take at most to send close_notify and linger, when the socket's timeout
 * does not bound it sooner (Go's tls.Conn.Close waits 5 s for room to send close_notify). */
#define CLOSE_NS ((int64_t)(CSOCK__CLOSE_TIMEOUT_DEFAULT * 1e9))

/* Writes the rest of a record a send left half written, within the operation under way, so
 * that close_notify may follow it. Returns 1 when no record is left half written. The bytes
 * offered are not read: OpenSSL sends the record it encrypted before, and asks only that a
 * retry offer as many. */
static int finish_record(csock__tls *t)
{
    static const char filler[SSL3_RT_MAX_PLAIN_LENGTH];
    size_t n;
    return !t->pending || write_some(t, filler, t->pending, &n);
}

/* Reads and drops what the peer sends until its close_notify or end of stream, an error, or at
 * (flags: MSG_DONTWAIT for only what is there now), so that the close that follows leaves no
 * input unread: closing with input unread resets the connection (Linux), and a reset throws
 * away what the peer has not read yet, however much was sent. Writing is shut down first, for
 * peers that wait for the end of stream rather than close_notify. */
static void linger(csock__tls *t, int64_t at, int flags)
{
    if (shutdown(t->s->fd, SHUT_WR) < 0) return;
    csock__tls_begin(t, flags, at, 0);
    char buf[4096];
    size_t n;
    int more;
    do {
        ERR_clear_error();
        more = SSL_read_ex(t->ssl, buf, sizeof buf, &n);
    } while (more && csock__now() < at);
    ERR_clear_error();
    csock__tls_end(t);
}

/* Ends TLS on s (internal.h's end). With notify, close_notify goes first (after the rest of a
 * record a send left half written), if it may be sent, waiting for room to send it; with
 * CSOCK__END_LINGER, if input is unread or ours not yet taken, the peer's records are then read
 * and dropped until its close_notify or end of stream (linger). Both together wait no longer
 * than the socket's timeout, and CSOCK__CLOSE_TIMEOUT_DEFAULT at most (a non-blocking socket:
 * not at all). */
static void end_tls(csock *s, int notify)
{
    csock__tls *t = (csock__tls *)s->layer;
    if (notify && SSL_is_init_finished(t->ssl) && !t->failed) {
        int64_t wait = s->timeout_ns > 0 && s->timeout_ns < CLOSE_NS ? s->timeout_ns : CLOSE_NS;
        int64_t at = csock__now() + wait;
        int flags = s->timeout_ns == 0 ? MSG_DONTWAIT : 0;
        if (!(SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN)) {
            /* Not fresh: the kernel's timeout (if any) is not this bound, so a wait lowers it. */
            csock__tls_begin(t, flags, at, 0);
            if (finish_record(t)) {
                ERR_clear_error();
                SSL_shutdown(t->ssl);
            }
            ERR_clear_error();
            csock__tls_end(t);
        }
        if (notify == CSOCK__END_LINGER && !t->failed &&
            csock__linger_needed(s->fd, csock__is_tcp(s)))
            linger(t, at, flags);
    }
    SSL_free(t->ssl); /* and the BIO with it */
    csock_tls_context_free(t->ctx);
    free(t->server_name);
    free(t);
    s->layer = NULL;
}

/* What must hold before s is wrapped for side. Returns 0 or a recorded CSOCK_EINVAL. */
static int check_wrap(csock *s, csock_tls_context *ctx, const char *server_name, int side,
                      const char *op)
{
    int rc = csock__check(s, op);
    if (rc < 0) return rc;
    if (!ctx) return csock__failf(CSOCK_EINVAL, "%s: NULL context", op);
    if (s->layer) return csock__failf(CSOCK_EINVAL, "%s: the socket speaks TLS already", op);
    if (s->type != SOCK_STREAM)
        return csock__failf(CSOCK_EINVAL, "%s: TLS needs a stream socket (SOCK_STREAM)", op);
    if (ctx->side != side)
        return csock__failf(CSOCK_EINVAL, "%s: the context is a %s's", op,
                            ctx->side == CSOCK_TLS_CLIENT ? "client" : "server");
    if (side == CSOCK_TLS_SERVER && !SSL_CTX_get0_certificate(ctx->ssl))
        return csock__failf(CSOCK_EINVAL,
                            "%s: the server context has no certificate (load one "
                            "with csock_tls_context_load_cert_chain)",
                            op);
    int checks_name = ctx->verify != CSOCK_TLS_VERIFY_NONE && ctx->check_hostname;
    if (side == CSOCK_TLS_CLIENT && checks_name && (!server_name || !*server_name))
        return csock__failf(CSOCK_EINVAL,
                            "%s: no server name to check the certificate against "
                            "(give one, or turn the host name check off)",
                            op);
    return 0;
}

/* Names the server a client means: SNI for a host name (never for an IP literal, RFC 6066),
 * and what the certificate must name when the context checks it. Returns 0 or a recorded
 * failure. */
static int name_server(csock__tls *t, const char *name, const char *op)
{
    csock_addr numeric;
    int is_ip = csock__numeric_host(&numeric, name, 0) == 0;
    int checks = t->ctx->verify != CSOCK_TLS_VERIFY_NONE && t->ctx->check_hostname;
    int ok = is_ip || SSL_set_tlsext_host_name(t->ssl, name);
    if (ok && checks && is_ip) ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name);
    if (ok && checks && !is_ip) {
        SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        ok = SSL_set1_host(t->ssl, name);
    }
    if (ok) return 0;
    ERR_clear_error();
    return csock__failf(CSOCK_EINVAL, "%s: server name \"%s\" cannot be used", op, name);
}

void csock__tls_no_delay(int fd, const csock_addr *peer)
{
    int family = peer->len > 0 ? peer->ss.ss_family : AF_UNSPEC, one = 1;
    if (family == AF_INET || family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Makes s a TLS socket of ctx and runs the handshake by deadline (fresh as for
 * csock__tls_begin). */
static int wrap(csock *s, csock_tls_context *ctx, const char *server_name, int side,
                int64_t deadline, int fresh)
{
    const char *op = side == CSOCK_TLS_CLIENT ? "tls wrap client" : "tls wrap server";
    int rc = check_wrap(s, ctx, server_name, side, op);
    if (rc < 0 || (rc = csock__tls_freeze(ctx)) < 0) return rc;
    csock__tls *t = calloc(1, sizeof *t);
    if (!t) return csock__failf(CSOCK_ENOMEM, "%s: out of memory", op);
    t->layer.ops = &tls_ops;
    t->s = s;
    t->ctx = ctx;
    atomic_fetch_add(&ctx->refs, 1);
    t->where = s->peer;
    if (t->where.len == 0) {
        socklen_t len = sizeof t->where.ss;
        if (getpeername(s->fd, (struct sockaddr *)&t->where.ss, &len) == 0) t->where.len = len;
    }
    csock__tls_no_delay(s->fd, &t->where);
    BIO *bio = NULL;
    ERR_clear_error();
    if (side == CSOCK_TLS_CLIENT && server_name) t->server_name = strdup(server_name);
    t->ssl = SSL_new(ctx->ssl);
    if (t->ssl) bio = csock__tls_bio(t);
    if (!t->ssl || !bio || (server_name && side == CSOCK_TLS_CLIENT && !t->server_name)) {
        rc = t->ssl ? csock__failf(CSOCK_ENOMEM, "%s: out of memory", op)
                    : csock__tls_fail_setup(op);
        BIO_free(bio);
        SSL_free(t->ssl);
        t->ssl = NULL;
    } else {
        SSL_set_bio(t->ssl, bio, bio);
        SSL_set_app_data(t->ssl, t);
        if (side == CSOCK_TLS_CLIENT) {
            SSL_set_connect_state(t->ssl);
            if (server_name) rc = name_server(t, server_name, op);
            if (rc == 0) csock__tls_cache_offer(t);
        } else {
            SSL_set_accept_state(t->ssl);
        }
    }
    s->layer = &t->layer;
    if (rc == 0) rc = handshake(t, deadline, fresh);
    /* A handshake that cannot go on leaves the socket plain (and fit only to be closed). */
    if (rc < 0 && rc != CSOCK_EAGAIN) end_tls(s, 0);
    return rc;
}

int csock_tls_wrap_client(csock *s, csock_tls_context *ctx, const char *server_name)
{
    return wrap(s, ctx, server_name, CSOCK_TLS_CLIENT, s ? csock__tls_deadline(s, 0) : 0, 1);
}

int csock_tls_wrap_server(csock *s, csock_tls_context *ctx)
{
    return wrap(s, ctx, NULL, CSOCK_TLS_SERVER, s ? csock__tls_deadline(s, 0) : 0, 1);
}

int csock_tls_handshake(csock *s)
{
    csock__tls *t = tls_of(s);
    if (!t) return csock__failf(CSOCK_EINVAL, "tls handshake: not a TLS socket");
    if (SSL_is_init_finished(t->ssl)) return 0;
    int rc = handshake(t, csock__tls_deadline(s, 0), 1);
    if (rc < 0 && rc != CSOCK_EAGAIN) end_tls(s, 0);
    return rc;
}

csock *csock_tls_connect(const char *host, int port, csock_tls_context *ctx, double timeout)
{
    /* What would refuse the handshake refuses before connecting. */
    char op[CSOCK_ADDRSTRLEN + 16], at[CSOCK_ADDRSTRLEN];
    snprintf(op, sizeof op, "tls connect %s",
             csock__hostport_text(host ? host : "(null)", port, at, sizeof at));
    const char *wrong = !ctx                            ? "NULL context"
                        : ctx->side != CSOCK_TLS_CLIENT ? "the context is a server's (a client "
                                                          "context is needed)"
                                                        : NULL;
    if (wrong) {
        csock__failf(CSOCK_EINVAL, "%s: %s", op, wrong);
        return NULL;
    }
    int64_t ns = csock__default_timeout_ns();
    if (timeout != CSOCK_DEFAULT_TIMEOUT && csock__seconds_ns(timeout, CSOCK__TIMEOUT, op, &ns) < 0)
        return NULL;
    if (ns == 0) {
        csock__failf(CSOCK_EINVAL,
                     "%s: timeout 0 never waits, and a handshake must (give a positive timeout "
                     "or CSOCK_NO_TIMEOUT)",
                     op);
        return NULL;
    }
    /* One deadline for everything: the handshake gets what connecting left of it. */
    int64_t deadline = ns > 0 ? csock__now() + ns : 0;
    csock *s = csock_create_connection(host, port, timeout, NULL);
    if (!s) return NULL;
    if (wrap(s, ctx, host, CSOCK_TLS_CLIENT, deadline, 0) < 0) {
        csock_free(s); /* a plain close: the failure stays the one recorded */
        return NULL;
    }
    return s;
}

/* Refuses to unwrap t while data that came before the peer's close_notify is unread; it stays
 * readable with csock_recv. */
static int data_first(csock__tls *t)
{
    char at[CSOCK_ADDRSTRLEN];
    return csock__failf(CSOCK_ETLS,
                        "tls unwrap %s: %d bytes of data came before the peer's close_notify "
                        "(read them with csock_recv, then unwrap again)",
                        where(t, at), SSL_pending(t->ssl));
}

int csock_tls_unwrap(csock *s)
{
    csock__tls *t = tls_of(s);
    if (!t) return csock__failf(CSOCK_EINVAL, "tls unwrap: not a TLS socket");
    if (t->failed) return failed_earlier(t, "tls unwrap");
    handshaken(s); /* what it tells stays after a failure here */
    csock__tls_begin(t, 0, csock__tls_deadline(s, 0), 1);
    int rc = 0;
    /* close_notify first (or found sent already). */
    if (!(SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN)) {
        if (!finish_record(t)) {
            rc = fail_op(t, 0, "tls unwrap");
        } else {
            ERR_clear_error();
            int ret = SSL_shutdown(t->ssl);
            if (ret < 0) rc = fail_op(t, ret, "tls unwrap");
        }
    }
    /* Then the peer's, record by record (read ahead is off, so nothing after it is taken from
     * the socket): data before it is kept for csock_recv, not thrown away. */
    while (rc == 0 && !(SSL_get_shutdown(t->ssl) & SSL_RECEIVED_SHUTDOWN)) {
        if (SSL_pending(t->ssl) > 0) {
            rc = data_first(t);
            break;
        }
        char byte;
        size_t n;
        ERR_clear_error();
        if (!SSL_peek_ex(t->ssl, &byte, 1, &n) && SSL_get_error(t->ssl, 0) != SSL_ERROR_ZERO_RETURN)
            rc = fail_op(t, 0, "tls unwrap");
    }
    if (rc == 0) {
        ERR_clear_error();
        int ret = SSL_shutdown(t->ssl);
        if (ret != 1) rc = fail_op(t, ret, "tls unwrap");
    }
    csock__tls_end(t);
    if (csock__tracing()) {
        char at[CSOCK_ADDRSTRLEN];
        csock__trace("tls unwrap %s -> %s", where(t, at), csock__result_text(rc));
    }
    if (rc == 0) end_tls(s, 0);
    return rc;
}

/* ---- the layer: csock's data calls on a TLS socket ---- */

/* Why op may not write len bytes on t now (TLS failed, close_notify was sent, or fewer bytes
 * than a record under way holds, which OpenSSL would take as fatal): 0, or a recorded
 * failure. */
static int check_writable(csock__tls *t, size_t len, const char *op)
{
    if (t->failed) return failed_earlier(t, op);
    if (SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN) return ended_for_writing(t, op);
    if (len < t->pending) {
        char at[CSOCK_ADDRSTRLEN];
        return csock__failf(CSOCK_EINVAL,
                            "%s %s: %zu bytes: a send that could not finish left a record under "
                            "way: offer the same %zu bytes again (at least as many)",
                            op, where(t, at), len, t->pending);
    }
    return 0;
}

static ssize_t tls_send(csock *s, const void *buf, size_t len, int flags, const csock_addr *to,
                        const char *op)
{
    csock__tls *t = (csock__tls *)s->layer;
    if (to) return csock__failf(CSOCK_EINVAL, "%s: a TLS socket sends to its peer only", op);
    if (flags & ~(MSG_DONTWAIT | MSG_NOSIGNAL))
        return csock__failf(CSOCK_EINVAL, "%s: flags 0x%x: a TLS socket takes only MSG_DONTWAIT",
                            op, (unsigned)flags);
    if (len == 0) return 0; /* OpenSSL refuses empty writes */
    ssize_t rc = check_writable(t, len, op);
    if (rc < 0) return rc;
    csock__tls_begin(t, flags, csock__tls_deadline(s, flags), 1);
    size_t n = 0;
    rc = write_some(t, buf, len, &n) ? (ssize_t)n : fail_op(t, 0, op);
    csock__tls_end(t);
    handshaken(s);
    if (csock__tracing()) csock__trace_count(op, len, rc, "bytes");
    return rc;
}

static ssize_t tls_recv(csock *s, void *buf, size_t len, int flags, csock_addr *from,
                        const char *op)
{
    csock__tls *t = (csock__tls *)s->layer;
    if (from) return csock__failf(CSOCK_EINVAL, "%s: a TLS socket receives from its peer only", op);
    if (flags & ~(MSG_DONTWAIT | MSG_PEEK))
        return csock__failf(CSOCK_EINVAL,
                            "%s: flags 0x%x: a TLS socket takes only MSG_DONTWAIT and MSG_PEEK", op,
                            (unsigned)flags);
    if (t->shut_rd || len == 0) return 0;
    if (t->failed) return failed_earlier(t, op);
    csock__tls_begin(t, flags, csock__tls_deadline(s, flags), 1);
    size_t n = 0;
    ERR_clear_error();
    int ok =
        flags & MSG_PEEK ? SSL_peek_ex(t->ssl, buf, len, &n) : SSL_read_ex(t->ssl, buf, len, &n);
    ssize_t rc = (ssize_t)n;
    if (!ok) rc = SSL_get_error(t->ssl, 0) == SSL_ERROR_ZERO_RETURN ? 0 : fail_op(t, 0, op);
    csock__tls_end(t);
    handshaken(s);
    if (csock__tracing()) csock__trace_count(op, len, rc, "bytes");
    return rc;
}

static int sendall_by(csock *s, const void *buf, size_t len, int64_t at, int fresh, size_t *sent);

static int tls_sendall(csock *s, const void *buf, size_t len, size_t *sent)
{
    return sendall_by(s, buf, len, csock__tls_deadline(s, 0), 1, sent);
}

static int tls_sendall_by(csock *s, const void *buf, size_t len, int64_t at, size_t *sent)
{
    return sendall_by(s, buf, len, at, 0, sent);
}

/* sendall by the deadline at; fresh as for csock__tls_begin. */
static int sendall_by(csock *s, const void *buf, size_t len, int64_t at, int fresh, size_t *sent)
{
    csock__tls *t = (csock__tls *)s->layer;
    const char *p = buf;
    size_t done = 0;
    int rc = 0;
    char why[320];
    if (len > 0 && (rc = check_writable(t, len, "sendall")) < 0) {
        if (sent) *sent = 0;
        return rc;
    }
    /* One deadline for the whole call, as on a plain socket; each record after the first waits
     * only for what is left. */
    csock__tls_begin(t, 0, at, fresh);
    while (done < len) {
        size_t n = 0;
        if (!write_some(t, p + done, len - done, &n)) {
            rc = why_failed(t, 0, why, sizeof why);
            break;
        }
        done += n;
    }
    csock__tls_end(t);
    if (sent) *sent = done;
    if (csock__tracing())
        csock__trace("sendall %zu -> %s after %zu bytes", len, csock__result_text(rc), done);
    if (rc < 0) {
        char at[CSOCK_ADDRSTRLEN];
        return csock__failf(rc, "sendall %s: %s after %zu of %zu bytes", where(t, at), why, done,
                            len);
    }
    return 0;
}

static int tls_shutdown(csock *s, int how)
{
    csock__tls *t = (csock__tls *)s->layer;
    int rc = 0;
    /* Writing ends with close_notify, so that the peer can tell the end from a cut. */
    if (how != SHUT_RD && SSL_is_init_finished(t->ssl) && !t->failed &&
        !(SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN)) {
        csock__tls_begin(t, 0, csock__tls_deadline(s, 0), 1);
        int ret = 0;
        if (finish_record(t)) {
            ERR_clear_error();
            ret = SSL_shutdown(t->ssl);
        }
        if (ret < 0 || t->pending) rc = fail_op(t, ret, "shutdown");
        csock__tls_end(t);
    }
    if (rc == 0 && how != SHUT_WR) t->shut_rd = 1;
    if (rc == 0 && shutdown(s->fd, how) < 0) rc = csock__fail(csock__errno(), "shutdown", &s->peer);
    if (csock__tracing())
        csock__trace("tls shutdown %s -> %s",
                     how == SHUT_RD   ? "SHUT_RD"
                     : how == SHUT_WR ? "SHUT_WR"
                                      : "SHUT_RDWR",
                     csock__result_text(rc));
    return rc;
}

static const csock__layer_ops tls_ops = {tls_send,       tls_recv,     tls_sendall,
                                         tls_sendall_by, tls_shutdown, end_tls};

/* ---- what a TLS socket tells ---- */

const char *csock_tls_version(const csock *s)
{
    csock__tls *t = handshaken(s);
    return t ? SSL_get_version(t->ssl) : NULL;
}

const char *csock_tls_cipher(const csock *s)
{
    csock__tls *t = handshaken(s);
    return t ? SSL_get_cipher_name(t->ssl) : NULL;
}

const char *csock_tls_alpn(const csock *s)
{
    csock__tls *t = handshaken(s);
    return t ? csock__tls_alpn(t) : NULL;
}

const char *csock__tls_alpn(csock__tls *t)
{
    const unsigned char *alpn;
    unsigned int len;
    SSL_get0_alpn_selected(t->ssl, &alpn, &len);
    if (len == 0) return NULL;
    /* OpenSSL's copy has no NUL: one is made the first time, once it can no longer change. */
    if (!t->alpn[0]) {
        memcpy(t->alpn, alpn, len);
        t->alpn[len] = '\0';
    }
    return t->alpn;
}

const char *csock_tls_server_name(const csock *s)
{
    csock__tls *t = tls_of(s);
    if (!t) return NULL;
    if (t->ctx->side == CSOCK_TLS_CLIENT) return t->server_name;
    return SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
}

int csock_tls_session_reused(const csock *s)
{
    csock__tls *t = handshaken(s);
    return t ? SSL_session_reused(t->ssl) == 1 : 0;
}

int csock_tls_peer_subject(const csock *s, char *buf, size_t size)
{
    csock__tls *t = handshaken(s);
    if (!t || !buf)
        return csock__failf(CSOCK_EINVAL, "tls peer subject: %s",
                            !buf ? "NULL buffer" : "not a TLS socket past its handshake");
    return csock__tls_peer_subject(t, buf, size, "tls peer subject");
}

int csock_tls_peer_certificate(const csock *s, unsigned char *buf, size_t size)
{
    csock__tls *t = handshaken(s);
    if (!t || (!buf && size > 0))
        return csock__failf(CSOCK_EINVAL, "tls peer certificate: %s",
                            t ? "NULL buffer" : "not a TLS socket past its handshake");
    return csock__tls_peer_certificate(t, buf, size, "tls peer certificate");
}

size_t csock_tls_pending(const csock *s)
{
    csock__tls *t = tls_of(s);
    return t ? (size_t)SSL_pending(t->ssl) : 0;
}

int csock_tls_want(const csock *s)
{
    csock__tls *t = tls_of(s);
    return t ? t->want : 0;
}

/* ---- for TLS streams (stream_tls.c), which keep a csock__tls of their own ---- */

int csock__tls_why(csock__tls *t, int ret, char *why, size_t size)
{
    return why_failed(t, ret, why, size);
}

int csock__tls_name_server(csock__tls *t, const char *name, const char *op)
{
    return name_server(t, name, op);
}

const char *csock__tls_where(const csock__tls *t, char buf[CSOCK_ADDRSTRLEN])
{
    return where(t, buf);
}
