/* SPDX-License-Identifier: MIT */
/* A TLS load generator for echo servers: OpenSSL on raw epoll, as loadgen is for plain ones, so
 * that the client costs as little as possible and the same for every server.
 *
 *   tlsgen windows HOST PORT CONNECTIONS SIZE
 *       makes CONNECTIONS TLS connections (one handshake after another), prints "ready", then
 *       runs one window per line of standard input (its length in seconds): every connection
 *       sends a SIZE-byte message, waits for all of it to come back, checks every byte, sends the
 *       next; one result line per window, as loadgen's
 *   tlsgen handshakes HOST PORT CONCURRENCY SECONDS
 *       CONCURRENCY at a time: connect, a full handshake (no session is resumed), 64 bytes out
 *       and back, close_notify, close; prints handshakes/s
 *   tlsgen idle HOST PORT CONNECTIONS
 *       makes CONNECTIONS TLS connections, each with one byte echoed, and holds them: prints
 *       "ready", closes them at the end of standard input
 *
 * TLS 1.3 with OpenSSL's defaults, TCP_NODELAY; the server's certificate is not verified
 * (every server gets the same client). A byte that comes back wrong is an error (status 1). */
#define _GNU_SOURCE
#include "gen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in target;
static SSL_CTX *ctx;

static void die(const char *what)
{
    fprintf(stderr, "tlsgen: %s: %s\n", what, errno ? strerror(errno) : "");
    ERR_print_errors_fp(stderr);
    exit(2);
}

static void setup(const char *host, const char *port)
{
    target.sin_family = AF_INET;
    target.sin_port = htons((unsigned short)atoi(port));
    if (inet_pton(AF_INET, host, &target.sin_addr) != 1) {
        fprintf(stderr, "tlsgen: %s is not a numeric IPv4 address\n", host);
        exit(2);
    }
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) die("SSL_CTX_new");
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF); /* every handshake a full one */
}

static int connect_to(int nonblocking)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) die("socket");
    /* As TLS clients do: the handshake's last flight and the first record go out at once, not
     * held by Nagle until the server's delayed ACK (40 ms). */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&target, sizeof target) < 0 && errno != EINPROGRESS)
        die("connect");
    return fd;
}

static SSL *new_ssl(int fd)
{
    SSL *ssl = SSL_new(ctx);
    if (!ssl || !SSL_set_fd(ssl, fd)) die("SSL_new");
    SSL_set_connect_state(ssl);
    return ssl;
}

/* A blocking connect and handshake, then the socket made non-blocking. */
static SSL *handshaken(int *fd)
{
    *fd = connect_to(0);
    SSL *ssl = new_ssl(*fd);
    if (SSL_connect(ssl) != 1) die("handshake");
    fcntl(*fd, F_SETFL, O_NONBLOCK);
    return ssl;
}

/* The events that SSL call's result ret waits for: EPOLLIN or EPOLLOUT, or 0 for a failure. */
static uint32_t wants(SSL *ssl, int ret)
{
    int e = SSL_get_error(ssl, ret);
    return e == SSL_ERROR_WANT_READ ? EPOLLIN : e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : 0;
}

/* ---- windows ---- */

struct conn {
    int fd;
    SSL *ssl;
    size_t got;
    int sent; /* the message is written (SSL_write wrote all of it) */
    unsigned seq;
    double started;
};

/* One window, as loadgen's: returns the messages completed, or -1. */
static long window(int ep, struct conn *c, int conns, size_t size, char *out, char *in,
                   double seconds, unsigned long *errors)
{
    unsigned long messages = 0;
    int busy = conns;
    for (int i = 0; i < conns; i++)
        watch(ep, EPOLL_CTL_MOD, c[i].fd, EPOLLOUT, (unsigned)i);
    double end = now() + seconds, give_up = end + 10;
    struct epoll_event ev[256];
    while (busy > 0) {
        int n = epoll_wait(ep, ev, 256, 100);
        double t = now();
        if (n == 0 && t > give_up) {
            fprintf(stderr, "tlsgen: %d messages not echoed within 10 s\n", busy);
            return -1;
        }
        for (int k = 0; k < n; k++) {
            unsigned id = ev[k].data.u32;
            struct conn *x = &c[id];
            if (!x->sent) {
                if (x->started == 0) x->started = now();
                for (size_t i = 0; i < size; i++)
                    out[i] = fill(id, x->seq, i);
                int w = SSL_write(x->ssl, out, (int)size); /* a retry offers the same bytes */
                if (w <= 0) {
                    uint32_t e = wants(x->ssl, w);
                    if (!e) die("SSL_write");
                    watch(ep, EPOLL_CTL_MOD, x->fd, e, id);
                    continue;
                }
                x->sent = 1;
                watch(ep, EPOLL_CTL_MOD, x->fd, EPOLLIN, id);
            }
            for (;;) {
                int r = SSL_read(x->ssl, in, (int)(size - x->got));
                if (r <= 0) {
                    uint32_t e = wants(x->ssl, r);
                    if (!e) {
                        fprintf(stderr, "tlsgen: connection %u closed by the server\n", id);
                        return -1;
                    }
                    if (e == EPOLLOUT) watch(ep, EPOLL_CTL_MOD, x->fd, EPOLLIN | EPOLLOUT, id);
                    break;
                }
                for (int i = 0; i < r; i++)
                    if (in[i] != fill(id, x->seq, x->got + (size_t)i)) (*errors)++;
                x->got += (size_t)r;
                if (x->got < size) continue;
                record_latency(x->started);
                messages++;
                x->seq++;
                x->got = 0;
                x->sent = 0;
                x->started = 0;
                if (t < end) {
                    watch(ep, EPOLL_CTL_MOD, x->fd, EPOLLOUT, id);
                } else {
                    watch(ep, EPOLL_CTL_MOD, x->fd, 0, id);
                    busy--;
                }
                break;
            }
        }
    }
    return (long)messages;
}

static int windows(int conns, size_t size)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct conn *c = calloc((size_t)conns, sizeof *c);
    char *out = malloc(size), *in = malloc(size);
    if (ep < 0 || !c || !out || !in || size == 0 || size > 16384) die("set-up");
    for (int i = 0; i < conns; i++) {
        c[i].ssl = handshaken(&c[i].fd);
        watch(ep, EPOLL_CTL_ADD, c[i].fd, 0, (unsigned)i);
    }
    printf("ready %d\n", conns);
    fflush(stdout);
    char line[64];
    long messages = 0;
    unsigned long errors = 0;
    while (fgets(line, sizeof line, stdin)) {
        memset(histogram, 0, sizeof histogram);
        double start = now();
        messages = window(ep, c, conns, size, out, in, atof(line), &errors);
        if (messages < 0) break;
        report(messages, now() - start, errors);
    }
    for (int i = 0; i < conns; i++) {
        SSL_free(c[i].ssl);
        close(c[i].fd);
    }
    free(c);
    free(out);
    free(in);
    close(ep);
    return messages < 0 || errors ? 1 : 0;
}

/* ---- handshakes per second ---- */

enum { CONNECTING, HANDSHAKING, WRITING, READING };

struct shake {
    int fd, state;
    SSL *ssl;
    size_t got;
};

static void start(int ep, struct shake *x, unsigned id)
{
    *x = (struct shake){.fd = connect_to(1), .state = CONNECTING};
    watch(ep, EPOLL_CTL_ADD, x->fd, EPOLLOUT, id);
}

/* Moves x on as far as it goes: returns 1 when its echo is back, -1 when it failed, else 0 (it
 * waits for the events it set). */
static int step(int ep, struct shake *x, unsigned id)
{
    static const char msg[64] = "tlsgen handshake";
    char in[64];
    if (x->state == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) return -1;
        x->ssl = new_ssl(x->fd);
        x->state = HANDSHAKING;
    }
    if (x->state == HANDSHAKING) {
        int r = SSL_do_handshake(x->ssl);
        if (r != 1) {
            uint32_t e = wants(x->ssl, r);
            if (e) watch(ep, EPOLL_CTL_MOD, x->fd, e, id);
            return e ? 0 : -1;
        }
        x->state = WRITING;
    }
    if (x->state == WRITING) {
        int w = SSL_write(x->ssl, msg, sizeof msg);
        if (w <= 0) {
            uint32_t e = wants(x->ssl, w);
            if (e) watch(ep, EPOLL_CTL_MOD, x->fd, e, id);
            return e ? 0 : -1;
        }
        x->state = READING;
    }
    for (;;) {
        int r = SSL_read(x->ssl, in, (int)(sizeof in - x->got));
        if (r <= 0) {
            uint32_t e = wants(x->ssl, r);
            if (e) watch(ep, EPOLL_CTL_MOD, x->fd, e, id);
            return e ? 0 : -1;
        }
        x->got += (size_t)r;
        if (x->got == sizeof in) return 1;
    }
}

static void finish(struct shake *x, int clean)
{
    if (x->ssl && clean) SSL_shutdown(x->ssl); /* close_notify, not waiting for the server's */
    SSL_free(x->ssl);
    close(x->fd);
}

static int handshakes(int concurrency, double seconds)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct shake *c = calloc((size_t)concurrency, sizeof *c);
    if (ep < 0 || !c) die("set-up");
    for (int i = 0; i < concurrency; i++)
        start(ep, &c[i], (unsigned)i);
    unsigned long done = 0, failed = 0;
    double begin = now(), end = begin + seconds;
    struct epoll_event ev[256];
    while (now() < end) {
        int n = epoll_wait(ep, ev, 256, 100);
        for (int k = 0; k < n; k++) {
            unsigned id = ev[k].data.u32;
            int r = step(ep, &c[id], id);
            if (r == 0) continue;
            if (r > 0)
                done++;
            else
                failed++;
            finish(&c[id], r > 0);
            start(ep, &c[id], id);
        }
    }
    double took = now() - begin;
    printf("handshakes=%lu seconds=%.3f rate=%.0f failed=%lu\n", done, took, done / took, failed);
    for (int i = 0; i < concurrency; i++)
        finish(&c[i], 0);
    free(c);
    close(ep);
    return failed ? 1 : 0;
}

/* ---- idle connections ---- */

static int idle(int conns)
{
    struct conn *c = calloc((size_t)conns, sizeof *c);
    if (!c) die("set-up");
    for (int i = 0; i < conns; i++) {
        c[i].fd = connect_to(0);
        c[i].ssl = new_ssl(c[i].fd);
        char b = 'i';
        /* The echo of one byte: the server has made its connection whole. */
        if (SSL_connect(c[i].ssl) != 1 || SSL_write(c[i].ssl, &b, 1) != 1 ||
            SSL_read(c[i].ssl, &b, 1) != 1)
            die("idle echo");
    }
    printf("ready %d\n", conns);
    fflush(stdout);
    char buf[64];
    while (read(0, buf, sizeof buf) > 0) {
    }
    for (int i = 0; i < conns; i++) {
        SSL_free(c[i].ssl);
        close(c[i].fd);
    }
    free(c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "windows") == 0) {
        setup(argv[2], argv[3]);
        return windows(atoi(argv[4]), (size_t)atol(argv[5]));
    }
    if (argc == 6 && strcmp(argv[1], "handshakes") == 0) {
        setup(argv[2], argv[3]);
        return handshakes(atoi(argv[4]), atof(argv[5]));
    }
    if (argc == 5 && strcmp(argv[1], "idle") == 0) {
        setup(argv[2], argv[3]);
        return idle(atoi(argv[4]));
    }
    fprintf(stderr, "usage: tlsgen windows HOST PORT CONNECTIONS SIZE\n"
                    "       tlsgen handshakes HOST PORT CONCURRENCY SECONDS\n"
                    "       tlsgen idle HOST PORT CONNECTIONS\n");
    return 2;
}
