/* SPDX-License-Identifier: MIT */
/* A TLS peer for tls_interop.py, on csock's TLS API:
 *
 *   tls_peer client HOST PORT CAFILE MESSAGE [options]
 *       connects (csock_tls_connect), sends MESSAGE, ends its side (close_notify), and copies
 *       what comes back to stdout until the server's end; says "tls VERSION CIPHER alpn=X" on
 *       stderr first.
 *   tls_peer server CERT KEY [options]
 *       says "listening on 127.0.0.1:PORT", then for each of --count connections (1): wraps it,
 *       says "tls VERSION CIPHER reused=N sni=X alpn=X subject=S" on stdout, echoes one line and
 *       ends with close_notify. A failed handshake says "error MESSAGE" and goes on.
 *
 * options: --cert FILE --key FILE (the client's own), --ca FILE --require (a server asks for
 * client certificates and requires one), --max 1.2|1.3, --alpn NAME. Any failure of a client:
 * its message on stderr, exit 1. */
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

static int flag(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0) return 1;
    return 0;
}

static int fail(const char *what)
{
    fprintf(stderr, "%s: %s\n", what, csock_lasterror());
    return 1;
}

/* The options both sides share. Returns 0 or a code. */
static int configure(csock_tls_context *ctx, int argc, char **argv)
{
    const char *max = opt(argc, argv, "--max"), *alpn = opt(argc, argv, "--alpn");
    const char *ca = opt(argc, argv, "--ca");
    int rc = 0;
    if (max)
        rc = csock_tls_context_set_versions(
            ctx, 0, strcmp(max, "1.2") == 0 ? CSOCK_TLS_V1_2 : CSOCK_TLS_V1_3);
    if (rc == 0 && alpn) rc = csock_tls_context_set_alpn(ctx, &alpn, 1);
    if (rc == 0 && ca) rc = csock_tls_context_load_ca(ctx, ca, NULL);
    if (rc == 0 && flag(argc, argv, "--require"))
        rc = csock_tls_context_set_verify(ctx, CSOCK_TLS_VERIFY_REQUIRED);
    const char *cert = opt(argc, argv, "--cert"), *key = opt(argc, argv, "--key");
    if (rc == 0 && cert) rc = csock_tls_context_load_cert_chain(ctx, cert, key);
    return rc;
}

/* --bulk N: sends N bytes of 'x' and closes at once, reading nothing. */
static int send_and_close(csock *s, size_t n)
{
    char *data = malloc(n ? n : 1);
    if (!data) return fail("malloc");
    memset(data, 'x', n);
    int rc = csock_sendall(s, data, n, NULL);
    free(data);
    if (rc < 0) return fail("send");
    rc = csock_close(s);
    csock_free(s);
    return rc < 0 ? fail("close") : 0;
}

static int client(int argc, char **argv)
{
    const char *host = argv[2], *msg = argv[5];
    csock_tls_context *ctx = csock_tls_context_new(CSOCK_TLS_CLIENT);
    if (!ctx || csock_tls_context_load_ca(ctx, argv[4], NULL) < 0 || configure(ctx, argc, argv))
        return fail("context");
    csock *s = csock_tls_connect(host, atoi(argv[3]), ctx, 20);
    csock_tls_context_free(ctx);
    if (!s) return fail("connect");
    const char *alpn = csock_tls_alpn(s);
    fprintf(stderr, "tls %s %s alpn=%s\n", csock_tls_version(s), csock_tls_cipher(s),
            alpn ? alpn : "-");
    const char *bulk = opt(argc, argv, "--bulk");
    if (bulk) return send_and_close(s, strtoull(bulk, NULL, 10));
    if (csock_sendall(s, msg, strlen(msg), NULL) < 0 || csock_shutdown(s, SHUT_WR) < 0)
        return fail("send");
    char buf[4096];
    ssize_t n;
    while ((n = csock_recv(s, buf, sizeof buf)) > 0)
        fwrite(buf, 1, (size_t)n, stdout);
    if (n < 0) return fail("recv");
    csock_free(s);
    return 0;
}

/* Echoes what comes up to and with the first newline (or the end), then closes. */
static void echo_line(csock *conn)
{
    char buf[4096];
    ssize_t n;
    while ((n = csock_recv(conn, buf, sizeof buf)) > 0) {
        if (csock_sendall(conn, buf, (size_t)n, NULL) < 0 || memchr(buf, '\n', (size_t)n)) break;
    }
    if (n < 0) printf("error %s\n", csock_lasterror());
}

static int server(int argc, char **argv)
{
    csock_tls_context *ctx = csock_tls_context_new(CSOCK_TLS_SERVER);
    if (!ctx || csock_tls_context_load_cert_chain(ctx, argv[2], argv[3]) < 0 ||
        configure(ctx, argc, argv))
        return fail("context");
    const char *count = opt(argc, argv, "--count");
    csock *l = csock_create_server("127.0.0.1", 0, NULL);
    csock_addr a;
    if (!l || csock_getsockname(l, &a) < 0) return fail("listen");
    printf("listening on 127.0.0.1:%d\n", csock_addr_port(&a));
    fflush(stdout);
    for (int i = 0; i < (count ? atoi(count) : 1); i++) {
        csock *conn = csock_accept(l, NULL);
        if (!conn) return fail("accept");
        csock_settimeout(conn, 20);
        if (csock_tls_wrap_server(conn, ctx) < 0) {
            printf("error %s\n", csock_lasterror());
        } else {
            char subject[256];
            if (csock_tls_peer_subject(conn, subject, sizeof subject) < 0) strcpy(subject, "-");
            const char *sni = csock_tls_server_name(conn), *alpn = csock_tls_alpn(conn);
            printf("tls %s %s reused=%d sni=%s alpn=%s subject=%s\n", csock_tls_version(conn),
                   csock_tls_cipher(conn), csock_tls_session_reused(conn), sni ? sni : "-",
                   alpn ? alpn : "-", subject);
            echo_line(conn);
        }
        fflush(stdout);
        csock_free(conn);
    }
    csock_tls_context_free(ctx);
    csock_free(l);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 6 && strcmp(argv[1], "client") == 0) return client(argc, argv);
    if (argc >= 4 && strcmp(argv[1], "server") == 0) return server(argc, argv);
    fprintf(stderr, "usage: tls_peer client HOST PORT CAFILE MESSAGE [options]\n"
                    "       tls_peer server CERT KEY [options]\n");
    return 2;
}
