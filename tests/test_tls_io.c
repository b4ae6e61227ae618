/* SPDX-License-Identifier: MIT */
/* TLS connections' ends and waits: close_notify or not, shutting down, plaintext peers,
 * timeouts and deadlines, EINTR, SIGPIPE, unwrapping, non-blocking sockets. Both ends are csock
 * on loopback. */
#include "check_tls.h"

#include <stdint.h>

#include <fcntl.h>

#include <sys/time.h>

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
    CHECK_EQ(csock_send(c, "more", 4), CSOCK_EPIPE); /* nothing may follow close_notify */
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
    CHECK_ERROR(CSOCK_EINVAL, "tls connect localhost:");
    CHECK_ERROR(CSOCK_EINVAL, ": timeout 0 never waits");
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

/* Waits for five signals, then reads everything to the end, counting. */
static void count_after_signals(peer *p, csock *conn)
{
    char c;
    for (int seen = 0; seen < 5;)
        if (read(wake_pipe[0], &c, 1) == 1) seen++;
    static char buf[65536];
    size_t total = 0;
    while ((p->n = csock_recv(conn, buf, sizeof buf)) > 0)
        total += (size_t)p->n;
    snprintf(p->text, sizeof p->text, "%zu", total);
}

/* A close that lingers (input unread: the session tickets) goes on through signals. */
static void a_lingering_close_goes_on_through_signals(void)
{
    csock_tls_context *ctx = client_ctx();
    CHECK_EQ(pipe(wake_pipe), 0);
    peer p;
    start(&p, server_ctx("server"), count_after_signals);
    csock *c = csock_tls_connect("localhost", p.port, ctx, 10);
    CHECK(c != NULL);
    static char block[65536];
    CHECK_EQ(csock_sendall(c, block, sizeof block, NULL), 0);
    alarms = 0;
    set_alarms(1);
    CHECK_EQ(csock_close(c), 0);
    set_alarms(0);
    CHECK(alarms >= 5);
    csock_free(c);
    finish(&p);
    CHECK_EQ(p.n, 0);
    CHECK_STR(p.text, "65536");
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

    /* Data where the peer's close_notify should be is kept (test_tls_close.c), and the socket
     * stays TLS. */
    start(&p, server_ctx("server"), send_then_wait);
    c = csock_tls_connect("localhost", p.port, ctx, 10);
    CHECK(c != NULL);
    CHECK_EQ(csock_tls_unwrap(c), CSOCK_ETLS);
    CHECK_ERROR(CSOCK_ETLS, "tls unwrap localhost:");
    CHECK_ERROR(CSOCK_ETLS, ": 4 bytes of data came before the peer's close_notify");
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

/* Reads the ClientHello, then resets the connection (SO_LINGER 0). */
static void reset_in_handshake(peer *p, csock *conn)
{
    (void)p;
    char hello[512];
    csock_recv(conn, hello, sizeof hello);
    struct linger now = {1, 0};
    setsockopt(csock_fileno(conn), SOL_SOCKET, SO_LINGER, &now, sizeof now);
    close(csock_detach(conn));
}

static void a_reset_in_the_handshake_is_named(void)
{
    peer p;
    start(&p, NULL, reset_in_handshake);
    csock_tls_context *ctx = client_ctx();
    csock *c = dial(&p);
    CHECK_EQ(csock_tls_wrap_client(c, ctx, "localhost"), CSOCK_ECONNRESET);
    CHECK_ERROR(CSOCK_ECONNRESET, "tls handshake localhost:");
    CHECK_ERROR(CSOCK_ECONNRESET, ": Connection reset by peer");
    CHECK(csock_tls_version(c) == NULL);
    CHECK_EQ(csock_close(c), 0);
    csock_free(c);
    finish(&p);
    csock_tls_context_free(ctx);
}

/* Reads nothing until the client says, then everything. */
static void read_when_told(peer *p, csock *conn)
{
    char c;
    if (read(wake_pipe[0], &c, 1) != 1) return;
    static char buf[65536];
    size_t total = 0;
    while ((p->n = csock_recv(conn, buf, sizeof buf)) > 0)
        total += (size_t)p->n;
    snprintf(p->text, sizeof p->text, "%zu", total);
}

/* A send that could not finish must be offered as many bytes again: fewer are refused (OpenSSL
 * would end the connection), and the connection goes on. */
static void a_shorter_retry_is_refused(void)
{
    CHECK_EQ(pipe(wake_pipe), 0);
    peer p;
    start(&p, server_ctx("server"), read_when_told);
    csock_tls_context *ctx = client_ctx();
    csock *c = csock_tls_connect("localhost", p.port, ctx, 10);
    CHECK(c != NULL);
    CHECK_EQ(csock_settimeout(c, 0), 0);
    static char block[16384];
    memset(block, 'x', sizeof block);
    ssize_t n;
    size_t sent = 0;
    for (int i = 0; i < 10000 && (n = csock_send(c, block, sizeof block)) > 0; i++)
        sent += (size_t)n;
    CHECK_EQ(n, CSOCK_EAGAIN);
    CHECK_EQ(csock_send(c, block, 10), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "send localhost:");
    CHECK_ERROR(CSOCK_EINVAL, "offer the same 16384 bytes again");
    CHECK_EQ(csock_sendall(c, block, 10, NULL), CSOCK_EINVAL);
    CHECK_EQ(write(wake_pipe[1], "!", 1), 1);
    CHECK_EQ(csock_settimeout(c, 10), 0);
    CHECK_EQ(csock_sendall(c, block, sizeof block, NULL), 0); /* the same bytes, now whole */
    sent += sizeof block;
    CHECK_EQ(csock_sendall(c, block, 10, NULL), 0);
    sent += 10;
    csock_free(c);
    finish(&p);
    CHECK_EQ(p.n, 0);
    char want[32];
    snprintf(want, sizeof want, "%zu", sent);
    CHECK_STR(p.text, want);
    close(wake_pipe[0]);
    close(wake_pipe[1]);
    csock_tls_context_free(ctx);
}

/* Reads to the end, keeping the count in n and an FNV-1a hash in text. */
static void hash_to_end(peer *p, csock *conn)
{
    unsigned char buf[16384];
    uint32_t h = 2166136261u;
    ssize_t n, total = 0;
    while ((n = csock_recv(conn, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            h = (h ^ buf[i]) * 16777619u;
        total += n;
    }
    p->n = n < 0 ? n : total;
    snprintf(p->text, sizeof p->text, "%08x", (unsigned)h);
}

static uint32_t fnv(const unsigned char *b, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

/* csock_sendfile through TLS: a range from an offset, then the rest to the end (count 0), then
 * a pipe; the TLS peer decrypts exactly those bytes (sent in the clear, they would be a bad
 * record), and the bytes after the peer's close are an error, not a SIGPIPE. */
static void sendfile_goes_through_tls(void)
{
    enum { SIZE = 300000, OFFSET = 1000, COUNT = 200000 };
    static unsigned char data[SIZE];
    for (size_t i = 0; i < SIZE; i++)
        data[i] = (unsigned char)(i * 7 + i / 251);
    char path[300];
    snprintf(path, sizeof path, "%s/sendfile.bin", certs);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(data, 1, SIZE, f) == SIZE);
    fclose(f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);

    peer p;
    start(&p, server_ctx("server"), hash_to_end);
    csock_tls_context *ctx = client_ctx();
    csock *c = tls_client(&p, ctx, "localhost");
    CHECK_EQ(csock_settimeout(c, 10), 0);
    size_t sent = 0;
    CHECK_EQ(csock_sendfile(c, fd, OFFSET, COUNT, &sent), 0);
    CHECK_EQ(sent, COUNT);
    CHECK_EQ(csock_sendfile(c, fd, OFFSET + COUNT, 0, &sent), 0); /* to the end */
    CHECK_EQ(sent, SIZE - OFFSET - COUNT);
    int pipefd[2];
    CHECK_EQ(pipe(pipefd), 0);
    CHECK_EQ(write(pipefd[1], data, 5000), 5000);
    close(pipefd[1]);
    CHECK_EQ(csock_sendfile(c, pipefd[0], 0, 0, &sent), 0); /* a pipe, until it ends */
    CHECK_EQ(sent, 5000);
    close(pipefd[0]);
    CHECK_EQ(csock_sendfile(c, fd, SIZE - 10, 100, &sent), CSOCK_ENODATA); /* short input */
    CHECK_EQ(sent, 10);
    CHECK_ERROR(CSOCK_ENODATA, "ended after 10 of 100 bytes");
    CHECK_EQ(csock_shutdown(c, SHUT_WR), 0);
    finish(&p);
    static unsigned char want[SIZE + 5000 + 10];
    size_t n = SIZE - OFFSET;
    memcpy(want, data + OFFSET, n);
    memcpy(want + n, data, 5000);
    memcpy(want + n + 5000, data + SIZE - 10, 10);
    CHECK_EQ(p.n, (ssize_t)(n + 5010));
    char hex[16];
    snprintf(hex, sizeof hex, "%08x", (unsigned)fnv(want, n + 5010));
    CHECK_STR(p.text, hex);
    csock_free(c);
    close(fd);
    remove(path);

    /* An input that never ends (/dev/zero) to a peer that takes every byte: each piece goes at
     * once, and the call ends at its one deadline all the same. */
    int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    CHECK(zero >= 0);
    start(&p, server_ctx("server"), hash_to_end);
    c = tls_client(&p, ctx, "localhost");
    CHECK_EQ(csock_settimeout(c, 0.3), 0);
    double t0 = check_now();
    CHECK_EQ(csock_sendfile(c, zero, 0, 0, &sent), CSOCK_ETIMEOUT);
    double took = check_now() - t0;
    CHECK(took > 0.25 && took < 2);
    CHECK(sent > 0);
    CHECK_ERROR(CSOCK_ETIMEOUT, "sendfile");
    csock_free(c);
    finish(&p);

    /* To a peer that closed: an error that says so, not a SIGPIPE (left at its default here). */
    signal(SIGPIPE, SIG_DFL);
    start(&p, server_ctx("server"), NULL);
    c = tls_client(&p, ctx, "localhost");
    finish(&p);
    CHECK_EQ(csock_settimeout(c, 10), 0);
    int rc = csock_sendfile(c, zero, 0, 0, &sent);
    CHECK(rc == CSOCK_ECONNRESET || rc == CSOCK_EPIPE || rc == CSOCK_ETLSEOF || rc == CSOCK_ETLS);
    CHECK(strstr(csock_lasterror(), "sendfile") != NULL);
    csock_free(c);
    close(zero);
    csock_tls_context_free(ctx);
}

int main(void)
{
    check_tls_setup();
    RUN(ends_with_and_without_close_notify);
    RUN(shutdown_sends_close_notify);
    RUN(a_plaintext_peer_is_named);
    RUN(timeouts_bound_the_handshake_and_reads);
    RUN(a_trickling_peer_cannot_stretch_the_deadline);
    RUN(eintr_is_retried_within_the_deadline);
    RUN(no_sigpipe);
    RUN(a_lingering_close_goes_on_through_signals);
    RUN(unwrap_gives_the_plain_socket_back);
    RUN(non_blocking_handshake);
    RUN(a_reset_in_the_handshake_is_named);
    RUN(a_shorter_retry_is_refused);
    RUN(sendfile_goes_through_tls);
    return check_tls_done();
}
