/* SPDX-License-Identifier: MIT */
/* How a TLS connection ends without losing what was sent: csock_close after a large send,
 * close_notify behind a full send buffer, unwrapping with data on its way, errors after a
 * connection failed, and what refuses early. Both ends are csock on loopback. */
#include "check_tls.h"

#include <netinet/in.h>

/* ---- the server's acts ---- */

/* Per connection: the bytes read, and how the stream ended (recv's last result). */
static size_t totals[16];
static ssize_t endings[16];
static int served;

/* Reads everything until the end, counting. */
static void count_all(peer *p, csock *conn)
{
    (void)p;
    static char buf[65536];
    size_t total = 0;
    ssize_t n;
    while ((n = csock_recv(conn, buf, sizeof buf)) > 0)
        total += (size_t)n;
    totals[served % 16] = total;
    endings[served % 16] = n;
    served++;
}

static const size_t big = 4 << 20;

/* TLS 1.3 servers send session tickets after the handshake; a client that never reads leaves
 * them unread, and a close(2) with input unread resets the connection, dropping what the server
 * had not read yet. csock_close delivers everything. */
static void close_after_a_large_send_delivers_everything(void)
{
    enum { rounds = 8 };
    served = 0;
    peer p;
    start_for(&p, server_ctx("server"), count_all, rounds);
    csock_tls_context *ctx = client_ctx();
    char *data = calloc(1, big);
    CHECK(data != NULL);
    for (int i = 0; i < rounds; i++) {
        csock *c = csock_tls_connect("localhost", p.port, ctx, 10);
        CHECK(c != NULL);
        if (!c) break;
        CHECK_STR(csock_tls_version(c), "TLSv1.3");
        CHECK_EQ(csock_sendall(c, data, big, NULL), 0);
        CHECK_EQ(csock_close(c), 0);
        csock_free(c);
    }
    finish(&p);
    CHECK_EQ(served, rounds);
    for (int i = 0; i < rounds; i++) {
        CHECK_EQ(totals[i], big);
        CHECK_EQ(endings[i], 0); /* close_notify, not a reset */
    }
    free(data);
    csock_tls_context_free(ctx);
}

static int go_pipe[2] = {-1, -1};

/* Reads nothing until told, then slowly: the client's close finds its send buffer full. */
static void slow_reader(peer *p, csock *conn)
{
    char c;
    if (read(go_pipe[0], &c, 1) != 1) return;
    char buf[4096];
    size_t total = 0;
    ssize_t n;
    struct timespec pace = {0, 2000000};
    while ((n = csock_recv(conn, buf, sizeof buf)) > 0) {
        total += (size_t)n;
        if (memchr(buf, 0, (size_t)n)) snprintf(p->text, sizeof p->text, "a byte never sent");
        nanosleep(&pace, NULL); /* pacing the reader, not waiting for the test */
    }
    p->n = n;
    totals[0] = total;
}

/* Closes c by csock_close, or csock_close_gracefully (graceful). */
static void close_full(int graceful)
{
    CHECK_EQ(pipe(go_pipe), 0);
    peer p;
    start(&p, server_ctx("server"), slow_reader);
    int small = 65536;
    CHECK_EQ(setsockopt(csock_fileno(p.listener), SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    csock_tls_context *ctx = client_ctx();
    csock *c = csock_tls_connect("localhost", p.port, ctx, 10);
    CHECK(c != NULL);
    CHECK_EQ(setsockopt(csock_fileno(c), SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    /* Fills the way to the server: sendall gives up when nothing more goes. */
    CHECK_EQ(csock_settimeout(c, 0.1), 0);
    static char block[4 << 20];
    memset(block, 'x', sizeof block);
    size_t sent = 0;
    CHECK_EQ(csock_sendall(c, block, sizeof block, &sent), CSOCK_ETIMEOUT);
    CHECK(sent > 0 && sent < sizeof block);
    CHECK_EQ(csock_settimeout(c, 10), 0);
    CHECK_EQ(write(go_pipe[1], "!", 1), 1);
    double t0 = check_now();
    CHECK_EQ(graceful ? csock_close_gracefully(c, 5) : csock_close(c), 0);
    CHECK(check_now() - t0 < 5);
    csock_free(c);
    finish(&p);
    CHECK_EQ(p.n, 0); /* close_notify came, after all the data */
    CHECK_STR(p.text, "");
    /* The record under way when sendall gave up is completed before close_notify. */
    CHECK(totals[0] >= sent && totals[0] <= sent + 16384);
    close(go_pipe[0]);
    close(go_pipe[1]);
    csock_tls_context_free(ctx);
}

/* The send buffer is full, part of a record still in it: close_notify waits for room, after the
 * rest of the record. */
static void close_waits_for_room_for_close_notify(void)
{
    close_full(0);
    close_full(1);
}

/* Reads nothing until told, then ends. */
static void never_read(peer *p, csock *conn)
{
    (void)p;
    (void)conn;
    char c;
    if (read(go_pipe[0], &c, 1) != 1) return;
}

/* A peer that reads nothing bounds the close by the socket's timeout (non-blocking: no wait). */
static void close_is_bounded_when_the_peer_reads_nothing(void)
{
    csock_tls_context *ctx = client_ctx();
    for (int mode = 0; mode < 2; mode++) {
        CHECK_EQ(pipe(go_pipe), 0);
        peer p;
        start(&p, server_ctx("server"), never_read);
        csock *c = csock_tls_connect("localhost", p.port, ctx, 10);
        CHECK(c != NULL);
        CHECK_EQ(csock_settimeout(c, 0.1), 0);
        static char block[16 << 20];
        CHECK_EQ(csock_sendall(c, block, sizeof block, NULL), CSOCK_ETIMEOUT);
        CHECK_EQ(csock_settimeout(c, mode ? 0 : 0.3), 0);
        double t0 = check_now();
        CHECK_EQ(csock_close(c), 0);
        double took = check_now() - t0;
        if (mode)
            CHECK(took < 0.2);
        else
            CHECK(took > 0.25 && took < 2);
        csock_free(c);
        CHECK_EQ(write(go_pipe[1], "!", 1), 1);
        finish(&p);
        close(go_pipe[0]);
        close(go_pipe[1]);
    }
    csock_tls_context_free(ctx);
}

/* Sends a line, reads to the client's close_notify, unwraps, then echoes five plain bytes. */
static void data_then_unwrap(peer *p, csock *conn)
{
    csock_sendall(conn, "data", 4, NULL);
    char buf[16];
    while ((p->n = csock_recv(conn, buf, sizeof buf)) > 0) {
    }
    if (p->n == 0 && csock_tls_unwrap(conn) == 0 && check_recv_exactly(conn, buf, 5) == 5)
        csock_sendall(conn, buf, 5, NULL);
}

/* Data that comes before the peer's close_notify stays readable; unwrap goes on after it. */
static void unwrap_keeps_data_that_came_first(void)
{
    peer p;
    start(&p, server_ctx("server"), data_then_unwrap);
    csock_tls_context *ctx = client_ctx();
    csock *c = csock_tls_connect("localhost", p.port, ctx, 10);
    CHECK(c != NULL);
    CHECK_EQ(csock_tls_unwrap(c), CSOCK_ETLS);
    CHECK_ERROR(CSOCK_ETLS, "tls unwrap localhost:");
    CHECK_ERROR(CSOCK_ETLS, ": 4 bytes of data came before the peer's close_notify");
    CHECK(csock_tls_version(c) != NULL);
    CHECK_EQ(csock_tls_pending(c), 4);
    char buf[8];
    CHECK_EQ(check_recv_exactly(c, buf, 4), 4);
    CHECK(memcmp(buf, "data", 4) == 0);
    CHECK_EQ(csock_recv(c, buf, sizeof buf), 0); /* the peer's close_notify */
    CHECK_EQ(csock_tls_unwrap(c), 0);
    CHECK(csock_tls_version(c) == NULL);
    CHECK_EQ(csock_sendall(c, "plain", 5, NULL), 0);
    CHECK_EQ(check_recv_exactly(c, buf, 5), 5);
    CHECK(memcmp(buf, "plain", 5) == 0);
    csock_free(c);
    finish(&p);
    CHECK_EQ(p.n, 0);
    csock_tls_context_free(ctx);
}

/* Sends a record no key can open, from under TLS, then waits for the end. */
static void garbage_record(peer *p, csock *conn)
{
    static const char record[] = "\x17\x03\x03\x00\x20"
                                 "0123456789abcdef0123456789abcdef";
    int fd = csock_fileno(conn);
    /* Raw calls, each cut short or interrupted as the kernel may: every byte goes all the same. */
    for (size_t at = 0; at < sizeof record - 1;) {
        ssize_t n = send(fd, record + at, sizeof record - 1 - at, MSG_NOSIGNAL);
        if (n < 0 && errno != EINTR) return;
        if (n > 0) at += (size_t)n;
    }
    char buf[64];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0 || (n < 0 && errno == EINTR)) {
    }
    p->n = 0;
}

/* A connection TLS gave up on keeps its reason for every later call. */
static void a_failed_connection_keeps_its_reason(void)
{
    peer p;
    start(&p, server_ctx("server"), garbage_record);
    csock_tls_context *ctx = client_ctx();
    csock *c = csock_tls_connect("localhost", p.port, ctx, 10);
    CHECK(c != NULL);
    char buf[64];
    CHECK_EQ(csock_recv(c, buf, sizeof buf), CSOCK_ETLS);
    CHECK_ERROR(CSOCK_ETLS, "recv localhost:");
    char first[256];
    snprintf(first, sizeof first, "%s", strrchr(csock_lasterror(), ':') + 2);
    CHECK(strlen(first) > 0);
    CHECK_EQ(csock_recv(c, buf, sizeof buf), CSOCK_ETLS);
    CHECK_ERROR(CSOCK_ETLS, first);
    CHECK_ERROR(CSOCK_ETLS, "(TLS failed earlier on this connection)");
    CHECK_EQ(csock_send(c, "x", 1), CSOCK_ETLS);
    CHECK_ERROR(CSOCK_ETLS, "send localhost:");
    CHECK_ERROR(CSOCK_ETLS, first);
    CHECK_EQ(csock_sendall(c, "x", 1, NULL), CSOCK_ETLS);
    CHECK_ERROR(CSOCK_ETLS, first);
    CHECK_EQ(csock_close(c), 0);
    csock_free(c);
    finish(&p);
    csock_tls_context_free(ctx);
}

/* After close_notify nothing more is written: as on a plain socket shut down for writing. */
static void send_after_shutdown_is_epipe(void)
{
    peer p;
    start(&p, server_ctx("server"), wait_end);
    csock_tls_context *ctx = client_ctx();
    csock *c = csock_tls_connect("localhost", p.port, ctx, 10);
    CHECK(c != NULL);
    CHECK_EQ(csock_shutdown(c, SHUT_WR), 0);
    CHECK_EQ(csock_send(c, "more", 4), CSOCK_EPIPE);
    CHECK_ERROR(CSOCK_EPIPE, "send localhost:");
    CHECK_ERROR(CSOCK_EPIPE, "close_notify");
    CHECK_EQ(csock_sendall(c, "more", 4, NULL), CSOCK_EPIPE);
    CHECK_ERROR(CSOCK_EPIPE, "sendall localhost:");
    csock_free(c);
    finish(&p);
    CHECK_EQ(p.n, 0);
    csock_tls_context_free(ctx);
}

/* A call that cannot succeed refuses before it connects. */
static void tls_connect_refuses_before_connecting(void)
{
    csock *holder;
    int port = check_refusing_port("127.0.0.1", &holder);
    csock_tls_context *server = server_ctx("server");
    CHECK(csock_tls_connect("127.0.0.1", port, server, 5) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "tls connect 127.0.0.1:");
    CHECK_ERROR(CSOCK_EINVAL, ": the context is a server's");
    csock_tls_context *ctx = client_ctx();
    CHECK(csock_tls_connect("127.0.0.1", port, ctx, 0) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "tls connect 127.0.0.1:");
    CHECK_ERROR(CSOCK_EINVAL, ": timeout 0 never waits");
    CHECK(csock_tls_connect("127.0.0.1", port, NULL, 5) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "tls connect 127.0.0.1:");
    CHECK(csock_tls_connect("127.0.0.1", port, ctx, 5) == NULL);
    CHECK_EQ(csock_lastcode(), CSOCK_ECONNREFUSED);
    csock_free(holder);
    csock_tls_context_free(server);
    csock_tls_context_free(ctx);
}

/* Files that are not what they should be say so. */
static void files_are_named_with_what_is_wrong(void)
{
    csock_tls_context *ctx = csock_tls_context_new(CSOCK_TLS_CLIENT);
    CHECK_EQ(csock_tls_context_load_ca(ctx, certs, NULL), CSOCK_EISDIR);
    CHECK_ERROR(CSOCK_EISDIR, "tls ca file ");
    CHECK_ERROR(CSOCK_EISDIR, ": Is a directory");
    csock_tls_context_free(ctx);

    ctx = csock_tls_context_new(CSOCK_TLS_SERVER);
    CHECK_EQ(csock_tls_context_load_cert_chain(ctx, cert("server.pem"), NULL), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "tls private key ");
    CHECK_ERROR(CSOCK_EINVAL, "server.pem: no private key in it (pass the key file too)");
    CHECK_EQ(csock_tls_context_load_cert_chain(ctx, certs, NULL), CSOCK_EISDIR);
    CHECK_ERROR(CSOCK_EISDIR, ": Is a directory");
    /* A key in the certificate's file is found there. */
    char both[400], cmd[1200];
    snprintf(both, sizeof both, "%s/both.pem", certs);
    snprintf(cmd, sizeof cmd, "cat %s %s >%s", cert("server.pem"), cert("server.key"), both);
    CHECK_EQ(system(cmd), 0);
    CHECK_EQ(csock_tls_context_load_cert_chain(ctx, both, NULL), 0);
    csock_tls_context_free(ctx);
}

int main(void)
{
    check_tls_setup();
    RUN(close_after_a_large_send_delivers_everything);
    RUN(close_waits_for_room_for_close_notify);
    RUN(close_is_bounded_when_the_peer_reads_nothing);
    RUN(unwrap_keeps_data_that_came_first);
    RUN(a_failed_connection_keeps_its_reason);
    RUN(send_after_shutdown_is_epipe);
    RUN(tls_connect_refuses_before_connecting);
    RUN(files_are_named_with_what_is_wrong);
    return check_tls_done();
}
