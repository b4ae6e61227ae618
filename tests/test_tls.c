/* SPDX-License-Identifier: MIT */
/* TLS: contexts and their defaults, the handshake and data through csock's calls, each kind of
 * certificate refused with its reason, client certificates, ends with and without close_notify,
 * plaintext peers, timeouts, EINTR, SIGPIPE, unwrapping. Both ends are csock on loopback; the
 * certificates are made at run time by tests/tls_certs.sh (tls_interop.py tests against OpenSSL's
 * tools and Python's ssl module). */
#include "check.h"

#include <csock/tls.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/time.h>

static char certs[256]; /* the directory tls_certs.sh filled */

static const char *cert(const char *name)
{
    static char paths[8][320];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", certs, name);
    return p;
}

static csock_tls_context *client_ctx(void)
{
    csock_tls_context *ctx = csock_tls_context_new(CSOCK_TLS_CLIENT);
    CHECK(ctx != NULL);
    CHECK_EQ(csock_tls_context_load_ca(ctx, cert("ca.pem"), NULL), 0);
    return ctx;
}

/* A server context with certificate NAME.pem and key NAME.key. */
static csock_tls_context *server_ctx(const char *name)
{
    char pem[64], key[64];
    snprintf(pem, sizeof pem, "%s.pem", name);
    snprintf(key, sizeof key, "%s.key", name);
    csock_tls_context *ctx = csock_tls_context_new(CSOCK_TLS_SERVER);
    CHECK(ctx != NULL);
    CHECK_EQ(csock_tls_context_load_cert_chain(ctx, cert(pem), cert(key)), 0);
    return ctx;
}

/* A peer on a thread: accepts one connection, wraps it as a server of ctx (unless ctx is NULL:
 * then it stays plain), and runs act on it. */
typedef struct peer peer;
struct peer {
    csock *listener;
    int port;
    csock_tls_context *ctx;
    void (*act)(peer *p, csock *conn);
    int rc;         /* the server wrap's result */
    char err[512];  /* and its message */
    char text[256]; /* what act found, for the test to check */
    ssize_t n;
    int count; /* connections to serve */
    pthread_t thread;
};

static void *serve(void *arg)
{
    peer *p = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGALRM); /* the tests' signals interrupt the main thread only */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    for (int i = 0; i < p->count; i++) {
        csock *conn = csock_accept(p->listener, NULL);
        if (!conn) {
            fprintf(stderr, "accept: %s\n", csock_lasterror());
            return NULL;
        }
        csock_settimeout(conn, 10);
        p->rc = p->ctx ? csock_tls_wrap_server(conn, p->ctx) : 0;
        snprintf(p->err, sizeof p->err, "%s", p->rc < 0 ? csock_lasterror() : "");
        if (p->rc == 0 && p->act) p->act(p, conn);
        /* A server that refused a client reads what is on its way before closing, so that the
         * client gets its alert rather than a reset. */
        if (p->rc < 0) csock_close_gracefully(conn, 5);
        csock_free(conn);
    }
    return NULL;
}

/* Starts a peer for count connections, one after the other. */
static void start_for(peer *p, csock_tls_context *ctx, void (*act)(peer *, csock *), int count)
{
    memset(p, 0, sizeof *p);
    p->listener = check_listener("127.0.0.1", &p->port);
    p->ctx = ctx;
    p->act = act;
    p->count = count;
    p->thread = check_thread(serve, p);
}

static void start(peer *p, csock_tls_context *ctx, void (*act)(peer *, csock *))
{
    start_for(p, ctx, act, 1);
}

static void finish(peer *p)
{
    check_join(p->thread);
    csock_free(p->listener);
    csock_tls_context_free(p->ctx);
}

/* The server's wrap failed with a message that has both texts. */
static void check_server_said(const peer *p, const char *a, const char *b)
{
    if (!strstr(p->err, a) || !strstr(p->err, b)) {
        fprintf(stderr, "the server's message \"%s\" lacks \"%s\" or \"%s\"\n", p->err, a, b);
        check_test_failed = 1;
    }
}

/* A TCP client of p, with a timeout, not wrapped yet. */
static csock *dial(peer *p)
{
    csock *c = csock_create_connection("127.0.0.1", p->port, 10, NULL);
    CHECK(c != NULL);
    return c;
}

/* A TLS client of p by ctx, for the server name given, its handshake done. */
static csock *tls_client(peer *p, csock_tls_context *ctx, const char *name)
{
    csock *c = dial(p);
    CHECK_EQ(csock_tls_wrap_client(c, ctx, name), 0);
    return c;
}

/* ---- acts of the server ---- */

/* Echoes until the end of stream (recv 0), then records how it ended. */
static void echo(peer *p, csock *conn)
{
    char buf[16384];
    ssize_t n;
    while ((n = csock_recv(conn, buf, sizeof buf)) > 0)
        if (csock_sendall(conn, buf, (size_t)n, NULL) < 0) break;
    p->n = n;
    snprintf(p->text, sizeof p->text, "%s",
             csock_tls_server_name(conn) ? csock_tls_server_name(conn) : "(none)");
}

/* Records the client's certificate subject, then echoes. */
static void who(peer *p, csock *conn)
{
    char subject[256];
    int n = csock_tls_peer_subject(conn, subject, sizeof subject);
    snprintf(p->text, sizeof p->text, "%s", n >= 0 ? subject : csock_lasterror());
    char buf[64];
    p->n = csock_recv(conn, buf, sizeof buf);
    if (p->n > 0) csock_sendall(conn, buf, (size_t)p->n, NULL);
    if (p->n < 0) snprintf(p->text, sizeof p->text, "%s", csock_lasterror());
}

/* Sends "bye" and drops the connection without close_notify. */
static void cut(peer *p, csock *conn)
{
    (void)p;
    csock_sendall(conn, "bye", 3, NULL);
    close(csock_detach(conn));
}

/* Sends "bye" and ends with close_notify (csock_close). */
static void bye(peer *p, csock *conn)
{
    (void)p;
    csock_sendall(conn, "bye", 3, NULL);
    csock_close(conn);
}

/* Waits for the client's end (recv 0), then closes. */
static void wait_end(peer *p, csock *conn)
{
    char buf[64];
    while ((p->n = csock_recv(conn, buf, sizeof buf)) > 0) {
    }
}

/* ---- tests ---- */

static void context_setters_check_and_freeze(void)
{
    CHECK(csock_tls_context_new(3) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "side 3 is neither");
    csock_tls_context *ctx = csock_tls_context_new(CSOCK_TLS_CLIENT);
    CHECK_EQ(csock_tls_context_load_ca(ctx, "/nonexistent/x.pem", NULL), CSOCK_ENOENT);
    CHECK_ERROR(CSOCK_ENOENT, "tls ca file /nonexistent/x.pem: No such file or directory");
    CHECK_EQ(csock_tls_context_load_ca(ctx, NULL, "/nonexistent"), CSOCK_ENOENT);
    CHECK_ERROR(CSOCK_ENOENT, "tls ca directory /nonexistent: No such file or directory");
    CHECK_EQ(csock_tls_context_load_ca(ctx, NULL, cert("ca.pem")), CSOCK_ENOTDIR);
    CHECK_EQ(csock_tls_context_load_ca(ctx, cert("ca.key"), NULL), CSOCK_ETLS);
    CHECK_ERROR(CSOCK_ETLS, "ca.key: no certificate or crl found");
    CHECK_EQ(csock_tls_context_load_cert_chain(ctx, cert("client.pem"), cert("server.key")),
             CSOCK_ETLS);
    CHECK_ERROR(CSOCK_ETLS, "server.key: key values mismatch");
    CHECK_EQ(csock_tls_context_set_versions(ctx, 0x0301, 0), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "tls versions: 0x0301 is not CSOCK_TLS_V1_2 or CSOCK_TLS_V1_3");
    CHECK_EQ(csock_tls_context_set_versions(ctx, CSOCK_TLS_V1_3, CSOCK_TLS_V1_2), CSOCK_EINVAL);
    CHECK_EQ(csock_tls_context_set_verify(ctx, 7), CSOCK_EINVAL);
    CHECK_EQ(csock_tls_context_set_security_level(ctx, 6), CSOCK_EINVAL);
    const char *empty[] = {""};
    CHECK_EQ(csock_tls_context_set_alpn(ctx, empty, 1), CSOCK_EINVAL);
    CHECK_EQ(csock_tls_context_set_keylog(ctx, "/nonexistent/keys"), CSOCK_ENOENT);
    CHECK_ERROR(CSOCK_ENOENT, "tls key log /nonexistent/keys: No such file or directory");
    CHECK_EQ(csock_tls_context_load_ca(ctx, cert("ca.pem"), NULL), 0);
    CHECK_EQ(csock_tls_context_set_check_hostname(ctx, 1), 0);

    /* A client that checks host names needs one. */
    peer p;
    start(&p, server_ctx("server"), echo);
    csock *c = dial(&p);
    CHECK_EQ(csock_tls_wrap_client(c, ctx, NULL), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "no server name to check the certificate against");
    CHECK_EQ(csock_tls_wrap_client(c, ctx, "localhost"), 0);
    /* Used, so frozen. */
    CHECK_EQ(csock_tls_context_set_verify(ctx, CSOCK_TLS_VERIFY_NONE), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "tls verify: the context is in use (a socket was wrapped with it)");
    CHECK_EQ(csock_tls_context_load_ca(ctx, cert("ca.pem"), NULL), CSOCK_EINVAL);
    csock_tls_context_free(ctx); /* the socket keeps its own reference */
    CHECK_EQ(csock_sendall(c, "x", 1, NULL), 0);
    char buf[4];
    CHECK_EQ(csock_recv(c, buf, sizeof buf), 1);
    csock_free(c);
    finish(&p);
    CHECK_EQ(p.n, 0); /* csock_close ended with close_notify: a clean end */

    /* A server needs a certificate; a socket is wrapped once, by a context of its side. */
    csock_tls_context *bare = csock_tls_context_new(CSOCK_TLS_SERVER);
    csock *a, *b;
    check_tcp_pair("127.0.0.1", &a, &b);
    CHECK_EQ(csock_tls_wrap_server(b, bare), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "the server context has no certificate");
    CHECK_EQ(csock_tls_wrap_client(a, bare, "localhost"), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "tls wrap client: the context is a server's");
    csock_tls_context_free(bare);
    csock_free(a);
    csock_free(b);
}

static void data_goes_both_ways(void)
{
    peer p;
    start(&p, server_ctx("server"), echo);
    csock_tls_context *ctx = client_ctx();
    csock *c = tls_client(&p, ctx, "localhost");
    CHECK_STR(csock_tls_version(c), "TLSv1.3");
    CHECK(csock_tls_cipher(c) != NULL);
    CHECK(csock_tls_alpn(c) == NULL);
    CHECK_STR(csock_tls_server_name(c), "localhost");
    CHECK_EQ(csock_tls_session_reused(c), 0);
    char subject[128];
    CHECK(csock_tls_peer_subject(c, subject, sizeof subject) > 0);
    CHECK_STR(subject, "O=csock test,CN=localhost");
    CHECK_EQ(csock_tls_peer_subject(c, subject, 4), CSOCK_ENOSPC);
    CHECK_STR(subject, "");

    /* A megabyte each way: sendall goes on across records and partial sends. */
    size_t len = 1 << 20;
    char *out = malloc(len), *in = malloc(len);
    for (size_t i = 0; i < len; i++)
        out[i] = (char)(i * 7 + 3);
    size_t sent = 0;
    CHECK_EQ(csock_sendall(c, out, len, &sent), 0);
    CHECK_EQ(sent, len);
    CHECK_EQ(check_recv_exactly(c, in, len), (ssize_t)len);
    CHECK(memcmp(in, out, len) == 0);

    /* A record read in part leaves the rest pending: no poll would see it. */
    CHECK_EQ(csock_send(c, "hello", 5), 5);
    char buf[8];
    CHECK_EQ(csock_recv_flags(c, buf, 2, MSG_PEEK), 2);
    CHECK_EQ(csock_recv(c, buf, 2), 2);
    CHECK_EQ(csock_tls_pending(c), 3);
    CHECK_EQ(csock_recv(c, buf, sizeof buf), 3);
    CHECK(memcmp(buf, "llo", 3) == 0);

    /* Calls that would bypass TLS are refused. */
    struct iovec iov = {"x", 1};
    csock_msg msg = {.iov = &iov, .iovcnt = 1};
    CHECK_EQ(csock_sendmsg(c, &msg, 0), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "sendmsg 127.0.0.1:");
    CHECK_ERROR(CSOCK_EINVAL, ": not on a TLS socket (it would bypass TLS)");
    CHECK(csock_dup(c) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "dup: a TLS socket cannot be duplicated");
    CHECK_EQ(csock_send_flags(c, "x", 1, MSG_OOB), CSOCK_EINVAL);

    /* Reading shut down: csock_recv says the end, while writing goes on. */
    CHECK_EQ(csock_shutdown(c, SHUT_RD), 0);
    CHECK_EQ(csock_recv(c, buf, sizeof buf), 0);
    CHECK_EQ(csock_send(c, "w", 1), 1);

    csock_free(c);
    finish(&p);
    CHECK_EQ(p.n, 0);
    CHECK_STR(p.text, "localhost"); /* SNI */
    csock_tls_context_free(ctx);
    free(out);
    free(in);
}

/* An IP literal is checked against the certificate's IP addresses, and sent as no SNI. */
static void ip_literal_is_checked_and_no_sni_sent(void)
{
    peer p;
    start(&p, server_ctx("server"), echo);
    csock_tls_context *ctx = client_ctx();
    csock *c = tls_client(&p, ctx, "127.0.0.1");
    CHECK_EQ(csock_sendall(c, "ip", 2, NULL), 0);
    char buf[4];
    CHECK_EQ(csock_recv(c, buf, sizeof buf), 2);
    csock_free(c);
    finish(&p);
    CHECK_STR(p.text, "(none)");

    /* The wrong address is refused as a wrong name is. */
    start(&p, server_ctx("server"), echo);
    c = dial(&p);
    CHECK_EQ(csock_tls_wrap_client(c, ctx, "127.0.0.2"), CSOCK_ETLSVERIFY);
    CHECK_ERROR(CSOCK_ETLSVERIFY, "verify 127.0.0.2:");
    CHECK_ERROR(CSOCK_ETLSVERIFY,
                ": IP address mismatch (the certificate is for localhost, 127.0.0.1, ::1)");
    csock_free(c);
    finish(&p);
    csock_tls_context_free(ctx);
}

/* A client refuses the server's certificate: which one, and the reason wanted. */
static void refused(const char *name, const char *reason)
{
    peer p;
    start(&p, server_ctx(name), echo);
    csock_tls_context *ctx = client_ctx();
    csock *c = dial(&p);
    CHECK_EQ(csock_tls_wrap_client(c, ctx, "localhost"), CSOCK_ETLSVERIFY);
    char want[128];
    snprintf(want, sizeof want, "verify localhost:%d: %s", p.port, reason);
    CHECK_ERROR(CSOCK_ETLSVERIFY, want);
    CHECK(csock_tls_version(c) == NULL); /* plain again */
    csock_free(c);
    finish(&p);
    CHECK(p.rc < 0); /* the server saw the client's alert */
    csock_tls_context_free(ctx);
}

static void bad_certificates_are_refused_with_their_reason(void)
{
    refused("other", "unable to get local issuer certificate");
    refused("wronghost", "hostname mismatch (the certificate is for example.com)");
    refused("expired", "certificate has expired");
    refused("self", "self-signed certificate");
}

/* Verification off takes any certificate, by the caller's choice. */
static void verify_none_is_an_explicit_choice(void)
{
    peer p;
    start(&p, server_ctx("self"), echo);
    csock_tls_context *ctx = csock_tls_context_new(CSOCK_TLS_CLIENT);
    CHECK_EQ(csock_tls_context_set_verify(ctx, CSOCK_TLS_VERIFY_NONE), 0);
    csock *c = tls_client(&p, ctx, NULL);
    csock_free(c);
    finish(&p);
    csock_tls_context_free(ctx);
}

static csock_tls_context *asking_server(void)
{
    csock_tls_context *ctx = server_ctx("server");
    CHECK_EQ(csock_tls_context_load_ca(ctx, cert("ca.pem"), NULL), 0);
    CHECK_EQ(csock_tls_context_set_verify(ctx, CSOCK_TLS_VERIFY_REQUIRED), 0);
    return ctx;
}

static void client_certificates(void)
{
    /* Required and given. */
    peer p;
    start(&p, asking_server(), who);
    csock_tls_context *ctx = client_ctx();
    CHECK_EQ(csock_tls_context_load_cert_chain(ctx, cert("client.pem"), cert("client.key")), 0);
    csock *c = tls_client(&p, ctx, "localhost");
    CHECK_EQ(csock_sendall(c, "me", 2, NULL), 0);
    char buf[8];
    CHECK_EQ(csock_recv(c, buf, sizeof buf), 2);
    csock_free(c);
    finish(&p);
    CHECK_STR(p.text, "O=csock test,CN=client");
    csock_tls_context_free(ctx);

    /* Required and missing: the server refuses; a TLS 1.3 client learns it at its next read. */
    start(&p, asking_server(), who);
    ctx = client_ctx();
    c = dial(&p);
    int rc = csock_tls_wrap_client(c, ctx, "localhost");
    if (rc == 0) {
        csock_sendall(c, "me", 2, NULL);
        rc = (int)csock_recv(c, buf, sizeof buf);
    }
    CHECK_EQ(rc, CSOCK_ETLS);
    CHECK_ERROR(CSOCK_ETLS, "certificate required");
    csock_free(c);
    finish(&p);
    CHECK_EQ(p.rc, CSOCK_ETLSVERIFY);
    check_server_said(&p, "verify 127.0.0.1:", ": peer did not return a certificate");
    csock_tls_context_free(ctx);
}

static void ends_with_and_without_close_notify(void)
{
    /* close_notify: a clean end, recv 0. */
    peer p;
    start(&p, server_ctx("server"), bye);
    csock_tls_context *ctx = client_ctx();
    csock *c = tls_client(&p, ctx, "localhost");
    char buf[8];
    CHECK_EQ(check_recv_exactly(c, buf, 3), 3);
    CHECK_EQ(csock_recv(c, buf, sizeof buf), 0);
    CHECK_EQ(csock_recv(c, buf, sizeof buf), 0);
    csock_free(c);
    finish(&p);

    /* Without: an error of its own. */
    start(&p, server_ctx("server"), cut);
    c = tls_client(&p, ctx, "localhost");
    CHECK_EQ(check_recv_exactly(c, buf, 3), 3);
    CHECK_EQ(csock_recv(c, buf, sizeof buf), CSOCK_ETLSEOF);
    CHECK_ERROR(CSOCK_ETLSEOF, "recv localhost:");
    CHECK_ERROR(CSOCK_ETLSEOF, ": the peer ended without close_notify");
    csock_free(c);
    finish(&p);

    /* Also when the alert OpenSSL sends at that end cannot go (here: writing is shut down). */
    start(&p, server_ctx("server"), cut);
    c = tls_client(&p, ctx, "localhost");
    CHECK_EQ(shutdown(csock_fileno(c), SHUT_WR), 0);
    CHECK_EQ(check_recv_exactly(c, buf, 3), 3);
    CHECK_EQ(csock_recv(c, buf, sizeof buf), CSOCK_ETLSEOF);
    CHECK_ERROR(CSOCK_ETLSEOF, ": the peer ended without close_notify");
    csock_free(c);
    finish(&p);
    csock_tls_context_free(ctx);

    /* ... unless the context accepts it. */
    ctx = client_ctx();
    CHECK_EQ(csock_tls_context_set_ragged_eof(ctx, 1), 0);
    start(&p, server_ctx("server"), cut);
    c = tls_client(&p, ctx, "localhost");
    CHECK_EQ(check_recv_exactly(c, buf, 3), 3);
    CHECK_EQ(csock_recv(c, buf, sizeof buf), 0);
    csock_free(c);
    finish(&p);
    csock_tls_context_free(ctx);
}

/* Shutting down writing sends close_notify; reading goes on. */
static void shutdown_sends_close_notify(void)
{
    peer p;
    start(&p, server_ctx("server"), echo);
    csock_tls_context *ctx = client_ctx();
    csock *c = tls_client(&p, ctx, "localhost");
    CHECK_EQ(csock_sendall(c, "last", 4, NULL), 0);
    CHECK_EQ(csock_shutdown(c, SHUT_WR), 0);
    char buf[8];
    CHECK_EQ(check_recv_exactly(c, buf, 4), 4);
    CHECK_EQ(csock_send(c, "more", 4), CSOCK_ETLS); /* nothing may follow close_notify */
    csock_free(c);
    finish(&p);
    CHECK_EQ(p.n, 0);
    csock_tls_context_free(ctx);
}

/* Sends a plaintext line and waits for the end. */
static void plain_talk(peer *p, csock *conn)
{
    (void)p;
    csock_sendall(conn, "HTTP/1.0 400 Bad Request\r\n\r\n", 28, NULL);
    char buf[512];
    while (csock_recv(conn, buf, sizeof buf) > 0) {
    }
}

static void a_plaintext_peer_is_named(void)
{
    peer p;
    start(&p, NULL, plain_talk);
    csock_tls_context *ctx = client_ctx();
    csock *c = dial(&p);
    CHECK_EQ(csock_tls_wrap_client(c, ctx, "localhost"), CSOCK_ETLS);
    CHECK_ERROR(CSOCK_ETLS, "tls handshake localhost:");
    CHECK_ERROR(CSOCK_ETLS, "(the peer does not seem to speak TLS)");
    csock_free(c);
    finish(&p);
    csock_tls_context_free(ctx);

    /* A server that meets a plaintext client. */
    start(&p, server_ctx("server"), NULL);
    c = dial(&p);
    CHECK_EQ(csock_sendall(c, "GET / HTTP/1.0\r\n\r\n", 18, NULL), 0);
    csock_shutdown(c, SHUT_WR);
    finish(&p);
    CHECK_EQ(p.rc, CSOCK_ETLS);
    check_server_said(&p, "tls handshake 127.0.0.1:", "(the peer does not seem to speak TLS)");
    csock_free(c);
}

/* A listener that never answers: its backlog completes the TCP handshake, nobody speaks TLS. */
static void timeouts_bound_the_handshake_and_reads(void)
{
    int port;
    csock *l = check_listener("127.0.0.1", &port);
    csock_tls_context *ctx = client_ctx();
    csock *c = csock_create_connection("127.0.0.1", port, 0.3, NULL);
    double t0 = check_now();
    CHECK_EQ(csock_tls_wrap_client(c, ctx, "localhost"), CSOCK_ETIMEOUT);
    double took = check_now() - t0;
    CHECK(took > 0.25 && took < 2);
    CHECK_ERROR(CSOCK_ETIMEOUT, "tls handshake localhost:");
    CHECK_ERROR(CSOCK_ETIMEOUT, ": timed out");
    csock_free(c);

    /* One deadline over connecting and the handshake. */
    t0 = check_now();
    CHECK(csock_tls_connect("localhost", port, ctx, 0.3) == NULL);
    took = check_now() - t0;
    CHECK_ERROR(CSOCK_ETIMEOUT, ": timed out");
    CHECK(took > 0.25 && took < 2);
    CHECK(csock_tls_connect("localhost", port, ctx, 0) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "tls_connect: timeout 0 never waits");
    csock_free(l);

    /* A read times out, and the socket goes on working. */
    peer p;
    start(&p, server_ctx("server"), echo);
    c = csock_tls_connect("localhost", p.port, ctx, 5);
    CHECK(c != NULL);
    CHECK_EQ(csock_gettimeout(c), 5);
    CHECK_EQ(csock_settimeout(c, 0.2), 0);
    char buf[8];
    t0 = check_now();
    CHECK_EQ(csock_recv(c, buf, sizeof buf), CSOCK_ETIMEOUT);
    took = check_now() - t0;
    CHECK(took > 0.15 && took < 2);
    CHECK_EQ(csock_sendall(c, "again", 5, NULL), 0);
    CHECK_EQ(check_recv_exactly(c, buf, 5), 5);
    csock_free(c);
    finish(&p);
    csock_tls_context_free(ctx);
}

/* Answers a ClientHello with the start of a record, then one byte every 20 ms, so that every
 * read finds something and none would wait out a timeout of its own. */
static void trickle(peer *p, csock *conn)
{
    (void)p;
    char hello[512];
    if (csock_recv(conn, hello, sizeof hello) <= 0) return;
    static const char record[] = "\x16\x03\x03\x01\x00"; /* a handshake record of 256 bytes */
    if (csock_sendall(conn, record, 5, NULL) < 0) return;
    struct timespec pace = {0, 20000000};
    for (int i = 0; i < 250 && csock_sendall(conn, "\x02", 1, NULL) == 0; i++)
        nanosleep(&pace, NULL); /* pacing the peer, not waiting for the test */
}

static void a_trickling_peer_cannot_stretch_the_deadline(void)
{
    peer p;
    start(&p, NULL, trickle);
    csock_tls_context *ctx = client_ctx();
    csock *c = dial(&p);
    CHECK_EQ(csock_settimeout(c, 0.3), 0);
    double t0 = check_now();
    CHECK_EQ(csock_tls_wrap_client(c, ctx, "localhost"), CSOCK_ETIMEOUT);
    double took = check_now() - t0;
    CHECK(took > 0.25 && took < 1.5);
    csock_free(c);
    finish(&p);
    csock_tls_context_free(ctx);
}

/* Signals that interrupt the main thread's calls; each one is a byte in a pipe, and the peer
 * sends once it has counted five. */
static volatile sig_atomic_t alarms;
static int wake_pipe[2] = {-1, -1};

static void on_alarm(int sig)
{
    (void)sig;
    int saved = errno;
    alarms++;
    if (write(wake_pipe[1], "!", 1) < 0) { /* a full pipe: enough signals have come */
    }
    errno = saved;
}

/* Waits for five signals, then sends a line. */
static void after_signals(peer *p, csock *conn)
{
    char c;
    for (int seen = 0; seen < 5;)
        if (read(wake_pipe[0], &c, 1) == 1) seen++;
    csock_sendall(conn, "late", 4, NULL);
    wait_end(p, conn);
}

static void set_alarms(int on)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on ? on_alarm : SIG_DFL; /* no SA_RESTART: each signal is an EINTR */
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, on ? 20000 : 0}, {0, on ? 20000 : 0}};
    setitimer(ITIMER_REAL, &it, NULL);
    if (!on) check_watchdog(120);
}

static void eintr_is_retried_within_the_deadline(void)
{
    csock_tls_context *ctx = client_ctx();
    CHECK_EQ(pipe(wake_pipe), 0);
    peer p;
    start(&p, server_ctx("server"), after_signals);
    csock *c = csock_tls_connect("localhost", p.port, ctx, 10);
    CHECK(c != NULL);
    alarms = 0;
    set_alarms(1);
    char buf[8];
    CHECK_EQ(csock_recv(c, buf, sizeof buf), 4); /* not EINTR: retried until the record came */
    CHECK(alarms >= 5);
    /* With a timeout, signals do not stretch it. */
    CHECK_EQ(csock_settimeout(c, 0.3), 0);
    double t0 = check_now();
    CHECK_EQ(csock_recv(c, buf, sizeof buf), CSOCK_ETIMEOUT);
    double took = check_now() - t0;
    set_alarms(0);
    CHECK(took > 0.25 && took < 2);
    csock_free(c);
    finish(&p);
    close(wake_pipe[0]);
    close(wake_pipe[1]);
    csock_tls_context_free(ctx);
}

/* A peer gone: sends fail with an error, and no SIGPIPE kills the process. */
static void no_sigpipe(void)
{
    signal(SIGPIPE, SIG_DFL);
    peer p;
    start(&p, server_ctx("server"), cut);
    csock_tls_context *ctx = client_ctx();
    csock *c = csock_tls_connect("localhost", p.port, ctx, 10);
    CHECK(c != NULL);
    char buf[8];
    CHECK_EQ(check_recv_exactly(c, buf, 3), 3);
    finish(&p); /* the server's socket is closed now */
    static char block[65536];
    ssize_t n = 0;
    for (int i = 0; i < 100 && n >= 0; i++)
        n = csock_send(c, block, sizeof block);
    CHECK(n == CSOCK_EPIPE || n == CSOCK_ECONNRESET);
    CHECK(csock_sendall(c, block, sizeof block, NULL) < 0);
    csock_free(c); /* close_notify, if it goes at all, raises nothing either */
    csock_tls_context_free(ctx);
}

/* Unwraps after an exchange, then talks plain: "plain" back for "plain". */
static void unwrap_then_plain(peer *p, csock *conn)
{
    char buf[16];
    ssize_t n = csock_recv(conn, buf, sizeof buf); /* "tls", then the client's close_notify */
    if (n > 0) n = csock_recv(conn, buf, sizeof buf);
    p->n = n;
    if (n == 0 && csock_tls_unwrap(conn) == 0 && check_recv_exactly(conn, buf, 5) == 5)
        csock_sendall(conn, buf, 5, NULL);
    snprintf(p->text, sizeof p->text, "%s", csock_tls_version(conn) ? "tls" : "plain");
}

/* Sends a line, then waits for the client's end. */
static void send_then_wait(peer *p, csock *conn)
{
    csock_sendall(conn, "data", 4, NULL);
    wait_end(p, conn);
}

static void unwrap_gives_the_plain_socket_back(void)
{
    peer p;
    start(&p, server_ctx("server"), unwrap_then_plain);
    csock_tls_context *ctx = client_ctx();
    csock *c = csock_tls_connect("localhost", p.port, ctx, 10);
    CHECK(c != NULL);
    CHECK_EQ(csock_sendall(c, "tls", 3, NULL), 0);
    CHECK_EQ(csock_tls_unwrap(c), 0);
    CHECK(csock_tls_version(c) == NULL);
    CHECK_EQ(csock_tls_unwrap(c), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "tls unwrap: not a TLS socket");
    CHECK_EQ(csock_sendall(c, "plain", 5, NULL), 0);
    char buf[8];
    CHECK_EQ(check_recv_exactly(c, buf, 5), 5);
    CHECK(memcmp(buf, "plain", 5) == 0);
    csock_free(c);
    finish(&p);
    CHECK_EQ(p.n, 0);
    CHECK_STR(p.text, "plain");

    /* Data where the peer's close_notify should be is refused, and the socket stays TLS. */
    start(&p, server_ctx("server"), send_then_wait);
    c = csock_tls_connect("localhost", p.port, ctx, 10);
    CHECK(c != NULL);
    CHECK_EQ(csock_tls_unwrap(c), CSOCK_ETLS);
    CHECK_ERROR(CSOCK_ETLS, "tls unwrap localhost:");
    CHECK_ERROR(CSOCK_ETLS, ": application data after close notify");
    CHECK(csock_tls_version(c) != NULL);
    csock_free(c);
    finish(&p);
    csock_tls_context_free(ctx);
}

/* Waits, bounded, for what a non-blocking TLS socket's last CSOCK_EAGAIN waits for. */
static void wait_want(csock *s)
{
    struct pollfd p = {csock_fileno(s), (short)csock_tls_want(s), 0};
    CHECK(p.events == POLLIN || p.events == POLLOUT);
    poll(&p, 1, 5000);
}

/* Both ends non-blocking: each call goes on as csock_tls_want says. */
static void non_blocking_handshake(void)
{
    csock *a, *b;
    check_tcp_pair("127.0.0.1", &a, &b);
    csock_settimeout(a, 0);
    csock_settimeout(b, 0);
    csock_tls_context *cctx = client_ctx(), *sctx = server_ctx("server");
    int ra = csock_tls_wrap_client(a, cctx, "localhost");
    int rb = csock_tls_wrap_server(b, sctx);
    CHECK_EQ(ra, CSOCK_EAGAIN); /* the server has not answered yet */
    for (int i = 0; i < 1000 && (ra || rb); i++) {
        struct pollfd fds[2] = {{csock_fileno(a), (short)csock_tls_want(a), 0},
                                {csock_fileno(b), (short)csock_tls_want(b), 0}};
        poll(fds, 2, 5000);
        if (ra) ra = csock_tls_handshake(a);
        if (rb) rb = csock_tls_handshake(b);
        CHECK(ra == 0 || ra == CSOCK_EAGAIN);
        CHECK(rb == 0 || rb == CSOCK_EAGAIN);
    }
    CHECK_EQ(ra, 0);
    CHECK_EQ(rb, 0);
    CHECK_STR(csock_tls_version(b), "TLSv1.3");
    char buf[8];
    CHECK_EQ(csock_recv(b, buf, sizeof buf), CSOCK_EAGAIN);
    /* After CSOCK_EAGAIN a send offers the same bytes again. */
    ssize_t n;
    for (int i = 0; i < 100 && (n = csock_send(a, "nb", 2)) == CSOCK_EAGAIN; i++)
        wait_want(a);
    CHECK_EQ(n, 2);
    for (int i = 0; i < 100 && (n = csock_recv(b, buf, sizeof buf)) == CSOCK_EAGAIN; i++)
        wait_want(b);
    CHECK_EQ(n, 2);
    csock_free(a);
    csock_free(b);
    csock_tls_context_free(cctx);
    csock_tls_context_free(sctx);
}

static void alpn_versions_and_keylog(void)
{
    const char *offered[] = {"h2", "http/1.1"}, *served[] = {"http/1.1", "x"};
    csock_tls_context *sctx = server_ctx("server");
    CHECK_EQ(csock_tls_context_set_alpn(sctx, served, 2), 0);
    csock_tls_context *ctx = client_ctx();
    CHECK_EQ(csock_tls_context_set_alpn(ctx, offered, 2), 0);
    CHECK_EQ(csock_tls_context_set_versions(ctx, 0, CSOCK_TLS_V1_2), 0);
    char keys[320];
    snprintf(keys, sizeof keys, "%s/keys.log", certs);
    CHECK_EQ(csock_tls_context_set_keylog(ctx, keys), 0);
    peer p;
    start(&p, sctx, echo);
    csock *c = csock_tls_connect("localhost", p.port, ctx, 10);
    CHECK(c != NULL);
    CHECK_STR(csock_tls_alpn(c), "http/1.1");
    CHECK_STR(csock_tls_version(c), "TLSv1.2");
    csock_free(c);
    finish(&p);
    FILE *f = fopen(keys, "r");
    char line[512] = "";
    CHECK(f && fgets(line, sizeof line, f));
    CHECK(strncmp(line, "CLIENT_RANDOM ", 14) == 0);
    if (f) fclose(f);
    csock_tls_context_free(ctx);

    /* A server of TLS 1.3 only and a client of TLS 1.2 only find no version. */
    sctx = server_ctx("server");
    CHECK_EQ(csock_tls_context_set_versions(sctx, CSOCK_TLS_V1_3, 0), 0);
    ctx = client_ctx();
    CHECK_EQ(csock_tls_context_set_versions(ctx, 0, CSOCK_TLS_V1_2), 0);
    start(&p, sctx, echo);
    CHECK(csock_tls_connect("localhost", p.port, ctx, 10) == NULL);
    CHECK_ERROR(CSOCK_ETLS, "tls handshake localhost:");
    CHECK_ERROR(CSOCK_ETLS, "protocol version");
    finish(&p);
    csock_tls_context_free(ctx);
}

/* A client with a session cache resumes its session with a server it has seen. */
static void sessions_resume(void)
{
    for (int max = CSOCK_TLS_V1_2; max <= CSOCK_TLS_V1_3; max++) {
        csock_tls_context *ctx = client_ctx();
        CHECK_EQ(csock_tls_context_set_versions(ctx, 0, max), 0);
        CHECK_EQ(csock_tls_context_set_session_cache(ctx, 4), 0);
        peer p;
        start_for(&p, server_ctx("server"), echo, 2);
        for (int i = 0; i < 2; i++) {
            csock *c = tls_client(&p, ctx, "localhost");
            CHECK_EQ(csock_tls_session_reused(c), i); /* the second time */
            char buf[4];
            CHECK_EQ(csock_sendall(c, "s", 1, NULL), 0);
            CHECK_EQ(csock_recv(c, buf, sizeof buf), 1); /* and a TLS 1.3 ticket with it */
            csock_free(c);
        }
        finish(&p);
        csock_tls_context_free(ctx);
    }
    csock_tls_context *server = csock_tls_context_new(CSOCK_TLS_SERVER);
    CHECK_EQ(csock_tls_context_set_session_cache(server, 4), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "tls session cache: a server resumes sessions by itself");
    csock_tls_context_free(server);
}

/* One context, shared by clients on several threads at once. */
static csock_tls_context *shared;

static void *shared_client(void *arg)
{
    const peer *p = arg;
    csock *c = csock_tls_connect("localhost", p->port, shared, 10);
    if (!c) return "connect";
    char buf[8];
    int ok = csock_sendall(c, "abc", 3, NULL) == 0 && check_recv_exactly(c, buf, 3) == 3;
    csock_free(c);
    return ok ? NULL : "echo";
}

static void a_context_is_shared_between_threads(void)
{
    enum { CLIENTS = 4 };
    peer p[CLIENTS];
    pthread_t t[CLIENTS];
    shared = client_ctx();
    /* Fewer slots than servers: sessions are kept and replaced under the cache's lock. */
    CHECK_EQ(csock_tls_context_set_session_cache(shared, 2), 0);
    for (int i = 0; i < CLIENTS; i++) {
        start(&p[i], server_ctx("server"), echo);
        t[i] = check_thread(shared_client, &p[i]);
    }
    for (int i = 0; i < CLIENTS; i++) {
        void *bad = NULL;
        pthread_join(t[i], &bad);
        CHECK(bad == NULL);
        finish(&p[i]);
    }
    csock_tls_context_free(shared);
}

int main(void)
{
    check_watchdog(120);
    char tmpl[] = "/tmp/csock-tls-XXXXXX";
    if (!mkdtemp(tmpl)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(certs, sizeof certs, "%s", tmpl);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "sh %s/tls_certs.sh %s", CSOCK_TESTS_DIR, certs);
    if (system(cmd) != 0) {
        printf("SKIP: could not make the test certificates (apt-get install openssl)\n");
        return 77;
    }
    RUN(context_setters_check_and_freeze);
    RUN(data_goes_both_ways);
    RUN(ip_literal_is_checked_and_no_sni_sent);
    RUN(bad_certificates_are_refused_with_their_reason);
    RUN(verify_none_is_an_explicit_choice);
    RUN(client_certificates);
    RUN(ends_with_and_without_close_notify);
    RUN(shutdown_sends_close_notify);
    RUN(a_plaintext_peer_is_named);
    RUN(timeouts_bound_the_handshake_and_reads);
    RUN(a_trickling_peer_cannot_stretch_the_deadline);
    RUN(eintr_is_retried_within_the_deadline);
    RUN(no_sigpipe);
    RUN(unwrap_gives_the_plain_socket_back);
    RUN(non_blocking_handshake);
    RUN(alpn_versions_and_keylog);
    RUN(sessions_resume);
    RUN(a_context_is_shared_between_threads);
    snprintf(cmd, sizeof cmd, "rm -rf %s", certs);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", certs);
    return check_done();
}
