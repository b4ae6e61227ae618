/* SPDX-License-Identifier: MIT */
/* A csock peer for interop tests against Python's socket module.
 *   peer echo-server tcp|udp|unix HOST PORT   print "listening on ADDR", echo one client
 *                                              (udp: echo datagrams until "quit")
 *   peer client tcp|udp|unix HOST PORT N      send N pattern bytes, read them back, verify
 *   peer mcast-recv GROUP IFACE               join GROUP on IFACE, print "ready PORT", answer
 *                                             the first datagram with "ack" to its sender
 *   peer mcast-send GROUP PORT IFACE          send to GROUP:PORT through IFACE until answered
 *   peer burst HOST PORT SIZE                 send 64 datagrams of SIZE bytes (datagram i filled
 *                                             with byte i) with csock_sendmany, then "end"
 * For unix, HOST is the path and PORT is 0. Exits 0 on success, 1 with the error otherwise. */
#include <csock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what)
{
    fprintf(stderr, "peer %s: %s\n", what, csock_lasterror());
    return 1;
}

static int family_of(const char *kind, const char *host)
{
    if (strcmp(kind, "unix") == 0) return AF_UNIX;
    return strchr(host, ':') ? AF_INET6 : AF_INET;
}

static int echo_server(const char *kind, const char *host, int port)
{
    int udp = strcmp(kind, "udp") == 0;
    csock_listen_options o = {.type = udp ? SOCK_DGRAM : SOCK_STREAM};
    csock *s = csock_create_server(host, port, &o);
    csock_addr a;
    char text[CSOCK_ADDRSTRLEN];
    static char buf[65536];
    if (!s || csock_getsockname(s, &a) < 0) return fail("listen");
    csock_settimeout(s, 30);
    csock_addr_format(&a, text, sizeof text);
    printf("listening on %s\n", text);
    fflush(stdout);
    if (udp) {
        for (;;) {
            ssize_t n = csock_recvfrom(s, buf, sizeof buf, &a);
            if (n < 0) return fail("recvfrom");
            if (n == 4 && memcmp(buf, "quit", 4) == 0) break;
            if (csock_sendto(s, buf, (size_t)n, &a) != n) return fail("sendto");
        }
    } else {
        csock *c = csock_accept(s, NULL);
        if (!c) return fail("accept");
        ssize_t n;
        while ((n = csock_recv(c, buf, sizeof buf)) > 0)
            if (csock_sendall(c, buf, (size_t)n, NULL) < 0) return fail("sendall");
        if (n < 0) return fail("recv");
        csock_free(c);
    }
    csock_free(s);
    return 0;
}

static int client(const char *kind, const char *host, int port, size_t len)
{
    int udp = strcmp(kind, "udp") == 0;
    csock *s = csock_socket(family_of(kind, host), udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    if (!s || csock_settimeout(s, 30) < 0 || csock_connect(s, host, port) < 0)
        return fail("connect");
    char *out = malloc(len + 1), *in = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        out[i] = (char)(i * 31 + 7);
    size_t got = 0;
    if (udp) {
        /* Datagrams of up to 1000 bytes, each echoed before the next is sent. */
        for (size_t off = 0; off < len; off += 1000) {
            size_t n = len - off < 1000 ? len - off : 1000;
            if (csock_send(s, out + off, n) != (ssize_t)n) return fail("send");
            ssize_t r = csock_recv(s, in + off, n + 1);
            if (r != (ssize_t)n) return fail("recv");
            got += (size_t)r;
        }
        csock_send(s, "quit", 4);
    } else {
        if (csock_sendall(s, out, len, NULL) < 0 || csock_shutdown(s, SHUT_WR) < 0)
            return fail("send");
        ssize_t r;
        while (got <= len && (r = csock_recv(s, in + got, len + 1 - got)) > 0)
            got += (size_t)r;
        if (r < 0) return fail("recv");
    }
    if (got != len || memcmp(in, out, len) != 0) {
        fprintf(stderr, "peer client: got %zu bytes back, expected %zu the same\n", got, len);
        return 1;
    }
    printf("ok %zu\n", len);
    free(out);
    free(in);
    csock_free(s);
    return 0;
}

static int mcast_recv(const char *group, const char *iface)
{
    int v6 = strchr(group, ':') != NULL;
    csock *s = csock_socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
    csock_addr a;
    char text[CSOCK_ADDRSTRLEN], buf[64];
    if (!s || csock_bind(s, NULL, 0) < 0 || csock_join_group(s, group, iface) < 0 ||
        csock_getsockname(s, &a) < 0 || csock_settimeout(s, 10) < 0)
        return fail("mcast-recv");
    printf("ready %d\n", csock_addr_port(&a));
    fflush(stdout);
    /* The answer may fail while this side's address is still tentative: answer each resend
     * until one answer goes out (bounded by the sender's tries and the timeout). */
    ssize_t n = -1;
    for (int i = 0; i < 200; i++) {
        if ((n = csock_recvfrom(s, buf, sizeof buf, &a)) < 0) return fail("mcast-recv");
        if (csock_sendto(s, "ack", 3, &a) == 3) break;
    }
    csock_addr_format(&a, text, sizeof text);
    printf("got %.*s from %s\n", (int)n, buf, text);
    csock_free(s);
    return 0;
}

static int mcast_send(const char *group, int port, const char *iface)
{
    int v6 = strchr(group, ':') != NULL;
    csock *s = csock_socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
    csock_addr to, from;
    char buf[8], text[CSOCK_ADDRSTRLEN];
    /* A link-local group needs the interface as the address's scope. */
    snprintf(text, sizeof text, "%s%s%s", group, v6 ? "%" : "", v6 ? iface : "");
    if (!s || csock_addr_make(&to, text, port) < 0 || csock_setmulticast_if(s, iface) < 0 ||
        csock_setmulticast_ttl(s, 1) < 0 || csock_settimeout(s, 0.05) < 0)
        return fail("mcast-send");
    /* While the link comes up, sending may fail (IPv6 addresses start tentative) or datagrams
     * may be lost: resend until answered, a bounded number of times, each try paced by the
     * 50 ms wait for the answer. */
    for (int i = 0; i < 200; i++) {
        csock_sendto(s, "m", 1, &to);
        ssize_t n = csock_recvfrom(s, buf, sizeof buf, &from);
        if (n == 3 && memcmp(buf, "ack", 3) == 0) {
            csock_addr_format(&from, text, sizeof text);
            printf("acked by %s\n", text);
            csock_free(s);
            return 0;
        }
    }
    return fail("mcast-send: no answer");
}
/* The sender's side of a batch: whatever way csock_sendmany chooses (one segmented send, or
 * sendmmsg), the receiver must see 64 ordinary datagrams. */
static int burst(const char *host, int port, size_t size)
{
    static char data[64][1000];
    struct iovec iov[64];
    csock_msg msgs[64];
    if (size == 0 || size > sizeof data[0]) return fail("size");
    for (int i = 0; i < 64; i++) {
        memset(data[i], i, size);
        iov[i] = (struct iovec){data[i], size};
        msgs[i] = (csock_msg){.iov = &iov[i], .iovcnt = 1};
    }
    csock *s = csock_socket(family_of("udp", host), SOCK_DGRAM, 0);
    if (!s || csock_connect(s, host, port) < 0) return fail("connect");
    for (int sent = 0; sent < 64;) {
        int n = csock_sendmany(s, msgs + sent, 64 - (size_t)sent, 0);
        if (n <= 0) return fail("sendmany");
        sent += n;
    }
    if (csock_send(s, "end", 3) != 3) return fail("send");
    csock_free(s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "burst") == 0) {
        int port = csock_parse_port(argv[3]);
        return port < 0 ? fail("port") : burst(argv[2], port, (size_t)atol(argv[4]));
    }
    if (argc == 4 && strcmp(argv[1], "mcast-recv") == 0) return mcast_recv(argv[2], argv[3]);
    if (argc == 5 && strcmp(argv[1], "mcast-send") == 0) {
        int port = csock_parse_port(argv[3]);
        return port < 0 ? fail("port") : mcast_send(argv[2], port, argv[4]);
    }
    if (argc < 5) {
        fprintf(stderr, "usage: peer echo-server|client tcp|udp|unix HOST PORT [N]\n");
        return 2;
    }
    int port = csock_parse_port(argv[4]);
    if (port < 0) return fail("port");
    if (strcmp(argv[1], "echo-server") == 0) return echo_server(argv[2], argv[3], port);
    return client(argv[2], argv[3], port, argc > 5 ? (size_t)atol(argv[5]) : 100000);
}
