/* SPDX-License-Identifier: MIT */
/* The TLS reference: an echo server on raw epoll and OpenSSL, written the way a careful C
 * programmer would (the plain echo-epoll with SSL_accept, SSL_read and SSL_write on the
 * descriptor). Level-triggered; the handshake is driven by the readiness OpenSSL asks for; every
 * read goes into one 16 KiB buffer and straight back out with SSL_write; a write that must wait
 * keeps a copy of those bytes for that connection (offered again, the same bytes, as OpenSSL
 * requires: SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER lets the copy move) and stops reading from it
 * until they are gone. Plaintext OpenSSL holds (SSL_pending) is read
 * before waiting again. TCP_NODELAY on every connection. Usage: echo-epoll-tls HOST PORT CERT KEY;
 * SIGTERM ends it. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FDS 65536
#define CHUNK   16384 /* one TLS record's plaintext */

struct conn {
    SSL *ssl;
    int open;   /* the handshake is done */
    char *held; /* bytes a write left waiting, or NULL */
    size_t held_len;
    uint32_t events;
};

static char buf[CHUNK];

static struct conn *conns[MAX_FDS];
static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static void watch(int ep, int op, int fd, uint32_t events)
{
    struct epoll_event e = {.events = events, .data.fd = fd};
    epoll_ctl(ep, op, fd, &e);
}

static void set_events(int ep, int fd, struct conn *c, uint32_t events)
{
    if (c->events == events) return;
    c->events = events;
    watch(ep, EPOLL_CTL_MOD, fd, events);
}

static void drop(int ep, int fd)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    SSL_free(conns[fd]->ssl);
    free(conns[fd]->held);
    free(conns[fd]);
    conns[fd] = NULL;
    close(fd);
}

/* What the SSL call's result ret waits for (EPOLLIN or EPOLLOUT), or 0: the connection is done. */
static uint32_t wants(SSL *ssl, int ret)
{
    int e = SSL_get_error(ssl, ret);
    if (e == SSL_ERROR_WANT_READ) return EPOLLIN;
    if (e == SSL_ERROR_WANT_WRITE) return EPOLLOUT;
    ERR_clear_error();
    return 0;
}

/* Runs the connection on fd as far as it goes. */
static void serve(int ep, int fd)
{
    struct conn *c = conns[fd];
    if (!c->open) {
        int r = SSL_accept(c->ssl);
        if (r != 1) {
            uint32_t e = wants(c->ssl, r);
            if (e)
                set_events(ep, fd, c, e);
            else
                drop(ep, fd);
            return;
        }
        c->open = 1;
    }
    if (c->held) {
        int w = SSL_write(c->ssl, c->held, (int)c->held_len);
        if (w <= 0) {
            uint32_t e = wants(c->ssl, w);
            if (e)
                set_events(ep, fd, c, e);
            else
                drop(ep, fd);
            return;
        }
        free(c->held);
        c->held = NULL;
    }
    for (;;) {
        int r = SSL_read(c->ssl, buf, CHUNK);
        if (r <= 0) {
            uint32_t e = wants(c->ssl, r);
            if (e)
                set_events(ep, fd, c, e);
            else
                drop(ep, fd); /* the end, close_notify or not, or a failure */
            return;
        }
        int w = SSL_write(c->ssl, buf, r);
        if (w <= 0) {
            uint32_t e = wants(c->ssl, w);
            if (!e || !(c->held = malloc((size_t)r))) {
                drop(ep, fd);
                return;
            }
            memcpy(c->held, buf, (size_t)r); /* offered again once the socket allows */
            c->held_len = (size_t)r;
            set_events(ep, fd, c, e);
            return;
        }
        if (!SSL_pending(c->ssl)) {
            set_events(ep, fd, c, EPOLLIN);
            return; /* level-triggered: the next record wakes us */
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: echo-epoll-tls HOST PORT CERT KEY\n");
        return 2;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, argv[3]) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, argv[4], SSL_FILETYPE_PEM) != 1) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((unsigned short)atoi(argv[2]))};
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t len = sizeof a;
    if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 511) < 0 ||
        getsockname(l, (struct sockaddr *)&a, &len) < 0) {
        perror("echo-epoll-tls");
        return 1;
    }
    printf("listening on %s:%d\n", argv[1], ntohs(a.sin_port));
    fflush(stdout);
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* OpenSSL writes with write(2) */
    int ep = epoll_create1(EPOLL_CLOEXEC);
    watch(ep, EPOLL_CTL_ADD, l, EPOLLIN);
    struct epoll_event ev[256];
    while (!stop) {
        int n = epoll_wait(ep, ev, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = ev[i].data.fd;
            if (fd != l) {
                if (conns[fd]) serve(ep, fd);
                continue;
            }
            int c;
            while ((c = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                struct conn *x = c < MAX_FDS ? calloc(1, sizeof *x) : NULL;
                if (x) x->ssl = SSL_new(ctx);
                if (!x || !x->ssl || !SSL_set_fd(x->ssl, c)) {
                    if (x) SSL_free(x->ssl);
                    free(x);
                    close(c);
                    continue;
                }
                /* As TLS servers do (nginx, Go): a reply right after the handshake is not held
                 * by Nagle behind the session tickets until the client's delayed ACK. */
                int one = 1;
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                conns[c] = x;
                x->events = EPOLLIN;
                watch(ep, EPOLL_CTL_ADD, c, EPOLLIN);
            }
        }
    }
    SSL_CTX_free(ctx);
    return 0;
}
