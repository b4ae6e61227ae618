/* SPDX-License-Identifier: MIT */
/* TCP over loopback, IPv4 and IPv6: the six steps, names, recv(n) semantics, half-close, large
 * transfers, and the failures the tutorial names (port in use, bad address, refused). */
#include "check.h"

#include <signal.h>
#include <stdatomic.h>

static void six_steps(const char *host, int family)
{
    csock *s = csock_socket(family, SOCK_STREAM, 0);
    CHECK_EQ(csock_bind(s, host, 0), 0);
    CHECK_EQ(csock_listen(s, 5), 0);
    csock_addr self, peer, seen;
    CHECK_EQ(csock_getsockname(s, &self), 0);
    CHECK_EQ(csock_addr_family(&self), family);
    int port = csock_addr_port(&self);
    CHECK(port > 0);

    csock *c = csock_socket(family, SOCK_STREAM, 0);
    CHECK_EQ(csock_connect(c, host, port), 0);
    csock *cs = csock_accept(s, &peer);
    CHECK(cs != NULL);
    CHECK_EQ(csock_getpeername(c, &seen), 0);
    CHECK_EQ(csock_addr_port(&seen), port);
    CHECK_EQ(csock_getsockname(c, &seen), 0);
    CHECK_EQ(csock_addr_port(&seen), csock_addr_port(&peer)); /* accept names the client */

    CHECK_EQ(csock_sendall(cs, "byebye", 6, NULL), 0);
    char buf[512];
    CHECK_EQ(check_recv_exactly(c, buf, 6), 6);
    CHECK(memcmp(buf, "byebye", 6) == 0);
    CHECK_EQ(csock_sendall(c, "hihi", 4, NULL), 0);
    CHECK_EQ(check_recv_exactly(cs, buf, 4), 4);
    CHECK(memcmp(buf, "hihi", 4) == 0);
    CHECK_EQ(csock_close(c), 0);
    CHECK_EQ(csock_recv(cs, buf, sizeof buf), 0); /* end of stream */
    csock_free(c);
    csock_free(cs);
    csock_free(s);
}

static void six_steps_ipv4(void)
{
    six_steps("127.0.0.1", AF_INET);
}

static void six_steps_ipv6(void)
{
    six_steps("::1", AF_INET6);
}

/* The tutorial's point: recv(n) returns at most n bytes, and the rest waits for the next call. */
static void recv_returns_at_most_n(void)
{
    csock *c, *s;
    check_tcp_pair("127.0.0.1", &c, &s);
    char msg[1000], buf[1000];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (char)('a' + i % 26);
    CHECK_EQ(csock_sendall(c, msg, sizeof msg, NULL), 0);
    CHECK_EQ(csock_recv_flags(s, buf, sizeof buf, MSG_WAITALL | MSG_PEEK), 1000); /* all here */
    /* Each recv returns at most 512 (the kernel may return fewer); together they are the 1000
     * bytes in order. */
    size_t got = 0;
    for (int calls = 0; got < sizeof msg && calls < 1000; calls++) {
        ssize_t n = csock_recv(s, buf + got, sizeof msg - got < 512 ? sizeof msg - got : 512);
        CHECK(n > 0 && n <= 512);
        if (n <= 0) break;
        got += (size_t)n;
    }
    CHECK_EQ(got, sizeof msg);
    CHECK(memcmp(buf, msg, sizeof msg) == 0);
    csock_free(c);
    csock_free(s);
}

static void shutdown_write_is_end_of_stream(void)
{
    csock *c, *s;
    check_tcp_pair("::1", &c, &s);
    char buf[16];
    CHECK_EQ(csock_shutdown(c, SHUT_WR), 0);
    CHECK_EQ(csock_recv(s, buf, sizeof buf), 0);
    CHECK_EQ(csock_sendall(s, "still", 5, NULL), 0); /* the other direction stays open */
    CHECK_EQ(check_recv_exactly(c, buf, 5), 5);
    CHECK(memcmp(buf, "still", 5) == 0);
    CHECK_EQ(csock_send(c, "x", 1), CSOCK_EPIPE);
    csock_free(c);
    csock_free(s);
}

/* csock_send_flags until all len bytes are gone (a send may take fewer). */
static ssize_t send_flags_all(csock *s, const char *buf, size_t len, int flags)
{
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = csock_send_flags(s, buf + sent, len - sent, flags);
        if (n <= 0) return n;
        sent += (size_t)n;
    }
    return (ssize_t)sent;
}

static void send_flags(void)
{
    csock *c, *s;
    check_tcp_pair("127.0.0.1", &c, &s);
    char buf[8];
    CHECK_EQ(send_flags_all(c, "ab", 2, MSG_MORE), 2); /* corked until the next send */
    CHECK_EQ(send_flags_all(c, "cd", 2, 0), 2);
    CHECK_EQ(csock_recv_flags(s, buf, 4, MSG_WAITALL), 4);
    CHECK(memcmp(buf, "abcd", 4) == 0);
    ssize_t n = CSOCK_EAGAIN;
    for (int i = 0; i < 100 && n == CSOCK_EAGAIN; i++) /* a non-blocking send may find no room */
        n = csock_send_flags(c, "x", 1, MSG_OOB | MSG_DONTWAIT);
    CHECK_EQ(n, 1);
    CHECK_EQ(csock_send_flags(s, NULL, 3, 0), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "send: NULL buffer of 3 bytes");
    csock_free(c);
    csock_free(s);
}

struct reader {
    csock *s;
    size_t total;
    int ok;
};

/* Reads until end of stream, checking every byte against the pattern the writer sends. */
static void *read_pattern(void *arg)
{
    struct reader *r = arg;
    static char buf[65536];
    ssize_t n;
    r->ok = 1;
    while ((n = csock_recv(r->s, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != (char)((r->total + (size_t)i) * 7)) r->ok = 0;
        r->total += (size_t)n;
    }
    if (n < 0) r->ok = 0;
    return NULL;
}

static void sendall_moves_everything(void)
{
    csock *c, *s;
    check_tcp_pair("127.0.0.1", &c, &s);
    /* Small buffers make the kernel take the data in many pieces. (Not 4 KiB: gVisor's network
     * stack stalls a loopback transfer with buffers that small, raw BSD code included.) */
    csock_setsndbuf(c, 16384);
    csock_setrcvbuf(s, 16384);
    size_t len = 8 << 20;
    char *data = malloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (char)(i * 7);
    struct reader r = {s, 0, 0};
    pthread_t t = check_thread(read_pattern, &r);
    size_t sent = 0;
    CHECK_EQ(csock_sendall(c, data, len, &sent), 0);
    CHECK_EQ(sent, len);
    csock_shutdown(c, SHUT_WR);
    check_join(t);
    CHECK(r.ok);
    CHECK_EQ(r.total, len);
    free(data);
    csock_free(c);
    csock_free(s);
}

static void no_sigpipe_on_closed_peer(void)
{
    /* The default disposition kills the process on SIGPIPE: surviving this test is the check. */
    signal(SIGPIPE, SIG_DFL);
    csock *c, *s;
    check_tcp_pair("127.0.0.1", &c, &s);
    csock_free(s);
    char buf[4096] = {0};
    int rc = 0;
    for (int i = 0; i < 100 && rc >= 0; i++)
        rc = (int)csock_send(c, buf, sizeof buf);
    CHECK(rc == CSOCK_EPIPE || rc == CSOCK_ECONNRESET);
    CHECK(strstr(csock_lasterror(), "send 127.0.0.1:") != NULL);
    size_t sent;
    rc = csock_sendall(c, buf, sizeof buf, &sent);
    CHECK(rc == CSOCK_EPIPE || rc == CSOCK_ECONNRESET);
    CHECK(strstr(csock_lasterror(), "sendall 127.0.0.1:") != NULL);
    csock_free(c);
}

static void port_in_use(void)
{
    int port;
    csock *l = check_listener("127.0.0.1", &port);
    csock *s = csock_socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(csock_bind(s, "127.0.0.1", port), CSOCK_EADDRINUSE);
    char want[64];
    snprintf(want, sizeof want, "bind 127.0.0.1:%d: Address already in use", port);
    CHECK_STR(csock_lasterror(), want);
    CHECK(csock_create_server("127.0.0.1", port, NULL) == NULL);
    CHECK_ERROR(CSOCK_EADDRINUSE, want);
    csock_free(s);
    csock_free(l);
}

static void address_not_on_this_machine(void)
{
    /* 192.0.2.1 (TEST-NET-1) is never local; bind sends nothing. */
    csock *s = csock_socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(csock_bind(s, "192.0.2.1", 0), CSOCK_EADDRNOTAVAIL);
    CHECK_STR(csock_lasterror(), "bind 192.0.2.1:0: Cannot assign requested address");
    csock_free(s);
}

static void bad_ports_and_families(void)
{
    csock *s = csock_socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(csock_bind(s, "127.0.0.1", 65536), CSOCK_EINVAL);
    CHECK_STR(csock_lasterror(), "bind 127.0.0.1:65536: port out of range (0-65535)");
    CHECK_EQ(csock_connect(s, "127.0.0.1", -1), CSOCK_EINVAL);
    CHECK_STR(csock_lasterror(), "connect 127.0.0.1:-1: port out of range (0-65535)");
    CHECK_EQ(csock_bind(s, "::1", 0), CSOCK_EAFNOSUPPORT);
    CHECK_STR(csock_lasterror(), "bind [::1]:0: an AF_INET6 address for an AF_INET socket");
    csock_addr a;
    csock_addr_parse(&a, "[::1]:80");
    CHECK_EQ(csock_connect_addr(s, &a), CSOCK_EAFNOSUPPORT);
    CHECK_ERROR(CSOCK_EAFNOSUPPORT, "connect [::1]:80: address family");
    CHECK_EQ(csock_bind_addr(s, NULL), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "bind: no address");
    CHECK_EQ(csock_listen(s, -5), 0); /* a negative backlog is taken as 0, as Python does */
    csock_free(s);
}

static void connection_refused(void)
{
    /* A port bound but not listening refuses connections, and nobody else can take it. */
    csock *holder;
    int port = check_refusing_port("127.0.0.1", &holder);
    csock *c = csock_socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(csock_connect(c, "127.0.0.1", port), CSOCK_ECONNREFUSED);
    char want[64];
    snprintf(want, sizeof want, "connect 127.0.0.1:%d: Connection refused", port);
    CHECK_STR(csock_lasterror(), want);
    csock_free(c);
    c = csock_socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(csock_connect_ex(c, "127.0.0.1", port), ECONNREFUSED); /* Python's connect_ex */
    CHECK_EQ(csock_connect_ex(c, "127.0.0.1", 99999), CSOCK_EINVAL);
    csock_free(c);
    csock_free(holder);
}

static void listen_on_a_datagram_socket(void)
{
    csock *u = csock_socket(AF_INET, SOCK_DGRAM, 0);
    CHECK_EQ(csock_bind(u, "127.0.0.1", 0), 0);
    CHECK_EQ(csock_listen(u, 1), CSOCK_EOPNOTSUPP);
    CHECK_ERROR(CSOCK_EOPNOTSUPP, "listen 127.0.0.1:");
    CHECK(csock_accept(u, NULL) == NULL);
    CHECK_EQ(csock_lastcode(), CSOCK_EOPNOTSUPP);
    csock_free(u);
}

/* ---- closing while the peer still sends ---- */

#define REPLY (200 * 1000)

/* A client that uploads on one thread while another reads the reply, checking each byte, to its
 * end; with stop_at_end, it then stops uploading and shuts down writing. */
struct client {
    csock *c;
    int stop_at_end;
    atomic_int reply_ended;
    size_t got;
    int ok, end; /* every byte right; how the reply ended: 0 end of stream, or a code */
};

static char reply_byte(size_t i)
{
    return (char)(i * 13 + 1);
}

static void *client_upload(void *arg)
{
    struct client *k = arg;
    static char buf[16384];
    while (!(k->stop_at_end && atomic_load(&k->reply_ended)))
        if (csock_sendall(k->c, buf, sizeof buf, NULL) < 0) break; /* the server closed */
    if (k->stop_at_end) csock_shutdown(k->c, SHUT_WR);
    return NULL;
}

static void *client_download(void *arg)
{
    struct client *k = arg;
    static char buf[65536];
    ssize_t n;
    k->ok = 1;
    while ((n = csock_recv(k->c, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != reply_byte(k->got + (size_t)i)) k->ok = 0;
        k->got += (size_t)n;
    }
    k->end = (int)n;
    atomic_store(&k->reply_ended, 1);
    return NULL;
}

/* The server's side: the upload has begun, and a 200 KB reply is sent, most of it still on the
 * server's side (the client's receive buffer is small), when the server closes. */
static csock *reply_to_uploader(struct client *k, pthread_t threads[2])
{
    csock *server;
    check_tcp_pair("127.0.0.1", &k->c, &server);
    CHECK_EQ(csock_setrcvbuf(k->c, 16384), 0);
    CHECK_EQ(csock_setsndbuf(server, 1 << 20), 0);
    csock_settimeout(k->c, 10);
    csock_settimeout(server, 10);
    threads[0] = check_thread(client_upload, k);
    threads[1] = check_thread(client_download, k);
    char b;
    CHECK_EQ(csock_recv(server, &b, 1), 1);
    static char reply[REPLY];
    for (size_t i = 0; i < REPLY; i++)
        reply[i] = reply_byte(i);
    CHECK_EQ(csock_sendall(server, reply, REPLY, NULL), 0);
    return server;
}

static void check_reply(struct client *k, pthread_t threads[2])
{
    check_join(threads[1]);
    check_join(threads[0]);
    CHECK_EQ(k->got, REPLY);
    CHECK(k->ok);
    CHECK_EQ(k->end, 0);
    csock_free(k->c);
}

/* A reply sent with unread input waiting: csock_close_gracefully delivers all of it, then end of
 * stream, and returns 0 once the client has ended its side. */
static void close_gracefully_delivers_the_reply(void)
{
    struct client k = {.stop_at_end = 1};
    pthread_t threads[2];
    csock *server = reply_to_uploader(&k, threads);
    CHECK_EQ(csock_close_gracefully(server, 10), 0);
    CHECK_EQ(csock_fileno(server), -1);
    CHECK_EQ(csock_close_gracefully(server, 10), 0); /* closed already: nothing to do */
    check_reply(&k, threads);
    csock_free(server);
}

/* A client that uploads forever still gets the whole reply, and the close ends at the timeout
 * with CSOCK_ETIMEOUT, the socket closed all the same. */
static void close_gracefully_is_bounded(void)
{
    struct client k = {0};
    pthread_t threads[2];
    csock *server = reply_to_uploader(&k, threads);
    double start = check_now();
    CHECK_EQ(csock_close_gracefully(server, 0.3), CSOCK_ETIMEOUT);
    double took = check_now() - start;
    CHECK_ERROR(CSOCK_ETIMEOUT, "close_gracefully 127.0.0.1:");
    CHECK_ERROR(CSOCK_ETIMEOUT, "the peer did not end its side within 0.3s");
    CHECK(took >= 0.25 && took < 3);
    CHECK_EQ(csock_fileno(server), -1);
    check_reply(&k, threads);
    csock_free(server);
}

/* What csock_close_gracefully does not wait for: an unconnected socket, a datagram socket; and a
 * bad timeout leaves the socket open. csock_close itself neither shuts down nor reads: a
 * duplicate's close leaves the connection, unread input included, to the other descriptor. */
static void close_gracefully_edges_and_plain_close(void)
{
    csock *s = csock_socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(csock_close_gracefully(s, -5), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "close_gracefully -5: a timeout is");
    CHECK(csock_fileno(s) >= 0);
    CHECK_EQ(csock_close_gracefully(s, CSOCK_NO_TIMEOUT), 0);
    CHECK_EQ(csock_fileno(s), -1);
    csock_free(s);
    csock *u = csock_socket(AF_INET, SOCK_DGRAM, 0);
    CHECK_EQ(csock_close_gracefully(u, 10), 0);
    csock_free(u);
    CHECK_EQ(csock_close_gracefully(NULL, 1), CSOCK_EINVAL);

    csock *c, *server;
    check_tcp_pair("127.0.0.1", &c, &server);
    CHECK_EQ(csock_sendall(c, "request", 7, NULL), 0);
    csock *dup = csock_fromfd(csock_fileno(server));
    CHECK(dup != NULL);
    char b;
    CHECK_EQ(csock_recv_flags(server, &b, 1, MSG_PEEK), 1); /* unread input waits */
    csock_free(dup);
    char buf[16] = {0};
    CHECK_EQ(check_recv_exactly(server, buf, 7), 7);
    CHECK_STR(buf, "request");
    CHECK_EQ(csock_sendall(server, "answer", 6, NULL), 0);
    CHECK_EQ(check_recv_exactly(c, buf, 6), 6);
    CHECK(memcmp(buf, "answer", 6) == 0);
    csock_free(c);
    csock_free(server);
}

int main(void)
{
    check_watchdog(60);
    RUN(six_steps_ipv4);
    RUN(six_steps_ipv6);
    RUN(recv_returns_at_most_n);
    RUN(shutdown_write_is_end_of_stream);
    RUN(send_flags);
    RUN(sendall_moves_everything);
    RUN(no_sigpipe_on_closed_peer);
    RUN(port_in_use);
    RUN(address_not_on_this_machine);
    RUN(bad_ports_and_families);
    RUN(connection_refused);
    RUN(listen_on_a_datagram_socket);
    RUN(close_gracefully_delivers_the_reply);
    RUN(close_gracefully_is_bounded);
    RUN(close_gracefully_edges_and_plain_close);
    return check_done();
}
