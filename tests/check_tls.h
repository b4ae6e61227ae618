/* SPDX-License-Identifier: MIT */
/* What the TLS tests share: certificates made at run time by tests/tls_certs.sh, contexts of
 * them, and a csock TLS server on a thread that runs an act on each connection it accepts. */
#ifndef CSOCK_CHECK_TLS_H
#define CSOCK_CHECK_TLS_H

#include "check.h"

#include <csock/tls.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>

static char certs[256]; /* the directory tls_certs.sh filled */

static inline const char *cert(const char *name)
{
    static char paths[8][320];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", certs, name);
    return p;
}

static inline csock_tls_context *client_ctx(void)
{
    csock_tls_context *ctx = csock_tls_context_new(CSOCK_TLS_CLIENT);
    CHECK(ctx != NULL);
    CHECK_EQ(csock_tls_context_load_ca(ctx, cert("ca.pem"), NULL), 0);
    return ctx;
}

/* A server context with certificate NAME.pem and key NAME.key. */
static inline csock_tls_context *server_ctx(const char *name)
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

static inline void *serve(void *arg)
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
static inline void start_for(peer *p, csock_tls_context *ctx, void (*act)(peer *, csock *),
                             int count)
{
    memset(p, 0, sizeof *p);
    p->listener = check_listener("127.0.0.1", &p->port);
    p->ctx = ctx;
    p->act = act;
    p->count = count;
    p->thread = check_thread(serve, p);
}

static inline void start(peer *p, csock_tls_context *ctx, void (*act)(peer *, csock *))
{
    start_for(p, ctx, act, 1);
}

static inline void finish(peer *p)
{
    check_join(p->thread);
    csock_free(p->listener);
    csock_tls_context_free(p->ctx);
}

/* The server's wrap failed with a message that has both texts. */
static inline void check_server_said(const peer *p, const char *a, const char *b)
{
    if (!strstr(p->err, a) || !strstr(p->err, b)) {
        fprintf(stderr, "the server's message \"%s\" lacks \"%s\" or \"%s\"\n", p->err, a, b);
        check_test_failed = 1;
    }
}

/* A TCP client of p, with a timeout, not wrapped yet. */
static inline csock *dial(peer *p)
{
    csock *c = csock_create_connection("127.0.0.1", p->port, 10, NULL);
    CHECK(c != NULL);
    return c;
}

/* A TLS client of p by ctx, for the server name given, its handshake done. */
static inline csock *tls_client(peer *p, csock_tls_context *ctx, const char *name)
{
    csock *c = dial(p);
    CHECK_EQ(csock_tls_wrap_client(c, ctx, name), 0);
    return c;
}

/* ---- acts of the server ---- */

/* Echoes until the end of stream (recv 0), then records how it ended. */
static inline void echo(peer *p, csock *conn)
{
    char buf[16384];
    ssize_t n;
    while ((n = csock_recv(conn, buf, sizeof buf)) > 0)
        if (csock_sendall(conn, buf, (size_t)n, NULL) < 0) break;
    p->n = n;
    snprintf(p->text, sizeof p->text, "%s",
             csock_tls_server_name(conn) ? csock_tls_server_name(conn) : "(none)");
}

/* Reads a certificate file the tests made (server.der) into buf: its length, or -1. */
static inline long check_read_der(const char *path, unsigned char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    long n = f ? (long)fread(buf, 1, size, f) : -1;
    if (f) fclose(f);
    CHECK(n > 0 && (size_t)n < size);
    return n;
}

/* Records the client's certificate subject, then echoes. */
static inline void who(peer *p, csock *conn)
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
static inline void cut(peer *p, csock *conn)
{
    (void)p;
    csock_sendall(conn, "bye", 3, NULL);
    close(csock_detach(conn));
}

/* Sends "bye" and ends with close_notify (csock_close). */
static inline void bye(peer *p, csock *conn)
{
    (void)p;
    csock_sendall(conn, "bye", 3, NULL);
    csock_close(conn);
}

/* Waits for the client's end (recv 0), then closes. */
static inline void wait_end(peer *p, csock *conn)
{
    char buf[64];
    while ((p->n = csock_recv(conn, buf, sizeof buf)) > 0) {
    }
}

/* Makes the certificates in a temporary directory, or skips the test (exit 77) where openssl
 * cannot. */
static inline void check_tls_setup(void)
{
    check_watchdog(120);
    char tmpl[] = "/tmp/csock-tls-XXXXXX";
    if (!mkdtemp(tmpl)) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(certs, sizeof certs, "%s", tmpl);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "sh %s/tls_certs.sh %s", CSOCK_TESTS_DIR, certs);
    if (system(cmd) != 0) {
        printf("SKIP: could not make the test certificates (apt-get install openssl)\n");
        exit(77);
    }
}

/* Removes the certificates and returns check_done()'s result. */
static inline int check_tls_done(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", certs);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", certs);
    return check_done();
}

#endif
