/* SPDX-License-Identifier: MIT */
/* TLS: contexts and their defaults, the handshake and data through csock's calls, each kind of
 * certificate refused with its reason, client certificates, ALPN, versions, the key log, session
 * resumption, a context shared by threads. Both ends are csock on loopback (tls_interop.py
 * tests against OpenSSL's tools and Python's ssl module; test_tls_io.c the ends, timeouts and
 * signals). */
#include "check_tls.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

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
    CHECK_ERROR(CSOCK_ENOSPC, "tls peer subject localhost:");
    CHECK_ERROR(CSOCK_ENOSPC, ": 26 bytes of text (its NUL included) do not fit in 4");
    /* The certificate itself, DER, as the file the tests made has it. */
    unsigned char want[4096], der[4096];
    long n = check_read_der(cert("server.der"), want, sizeof want);
    CHECK_EQ(csock_tls_peer_certificate(c, NULL, 0), n);
    CHECK_EQ(csock_tls_peer_certificate(c, der, sizeof der), n);
    CHECK(memcmp(der, want, (size_t)n) == 0);
    CHECK_EQ(csock_tls_peer_certificate(c, der, (size_t)n - 1), CSOCK_ENOSPC);
    char says[80];
    snprintf(says, sizeof says, ": %ld bytes of DER do not fit in %ld", n, n - 1);
    CHECK_ERROR(CSOCK_ENOSPC, says);
    CHECK_EQ(csock_tls_peer_certificate(c, NULL, 10), CSOCK_EINVAL);

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

    /* Not asked for, none given: the server's peer has no certificate to tell. */
    start(&p, server_ctx("server"), who);
    ctx = client_ctx();
    c = tls_client(&p, ctx, "localhost");
    CHECK_EQ(csock_sendall(c, "me", 2, NULL), 0);
    CHECK_EQ(check_recv_exactly(c, buf, 2), 2);
    csock_free(c);
    finish(&p);
    CHECK(strstr(p.text, "tls peer subject 127.0.0.1:") != NULL);
    CHECK(strstr(p.text, ": the peer gave no certificate") != NULL);
    csock_tls_context_free(ctx);
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

/* A client with a session cache resumes its session with a server it has seen: also one that
 * verifies its clients' certificates (OpenSSL refuses that without a session id context). */
static void sessions_resume(void)
{
    for (int k = 0; k < 6; k++) {
        int max = k % 2 ? CSOCK_TLS_V1_3 : CSOCK_TLS_V1_2, verify = k / 2;
        csock_tls_context *ctx = client_ctx();
        CHECK_EQ(csock_tls_context_set_versions(ctx, 0, max), 0);
        CHECK_EQ(csock_tls_context_set_session_cache(ctx, 4), 0);
        if (verify == CSOCK_TLS_VERIFY_REQUIRED)
            CHECK_EQ(csock_tls_context_load_cert_chain(ctx, cert("client.pem"), cert("client.key")),
                     0);
        csock_tls_context *sctx = server_ctx("server");
        if (verify) {
            CHECK_EQ(csock_tls_context_load_ca(sctx, cert("ca.pem"), NULL), 0);
            CHECK_EQ(csock_tls_context_set_verify(sctx, verify), 0);
        }
        peer p;
        start_for(&p, sctx, echo, 2);
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

static int no_delay(int fd)
{
    int on = -1;
    socklen_t len = sizeof on;
    return getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0 ? on : -1;
}

/* The server's TCP_NODELAY, then an echo. */
static void nodelay_then_echo(peer *p, csock *conn)
{
    snprintf(p->text, sizeof p->text, "%d", no_delay(csock_fileno(conn)));
    echo(p, conn);
}

/* TLS sets TCP_NODELAY on both sides (a TLS 1.3 server's first reply would otherwise wait
 * behind its session tickets for the client's delayed ACK), and leaves a Unix socket alone. */
static void tls_sets_no_delay(void)
{
    peer p;
    start(&p, server_ctx("server"), nodelay_then_echo);
    csock_tls_context *ctx = client_ctx();
    csock *c = tls_client(&p, ctx, "localhost");
    CHECK(no_delay(csock_fileno(c)) > 0);
    char buf[4];
    CHECK_EQ(csock_sendall(c, "n", 1, NULL), 0);
    CHECK_EQ(csock_recv(c, buf, sizeof buf), 1);
    csock_free(c);
    finish(&p);
    CHECK(strcmp(p.text, "0") != 0 && strcmp(p.text, "-1") != 0);
    csock_tls_context_free(ctx);
}

int main(void)
{
    check_tls_setup();
    RUN(context_setters_check_and_freeze);
    RUN(data_goes_both_ways);
    RUN(ip_literal_is_checked_and_no_sni_sent);
    RUN(bad_certificates_are_refused_with_their_reason);
    RUN(verify_none_is_an_explicit_choice);
    RUN(client_certificates);
    RUN(alpn_versions_and_keylog);
    RUN(sessions_resume);
    RUN(a_context_is_shared_between_threads);
    RUN(tls_sets_no_delay);
    return check_tls_done();
}
