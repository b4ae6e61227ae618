/* SPDX-License-Identifier: MIT */
/* A load generator for echo servers, on raw epoll so that it costs as little as possible.
 *
 *   loadgen echo HOST PORT CONNECTIONS SIZE SECONDS
 *       every connection sends a SIZE-byte message, waits for all of it to come back, checks
 *       every byte, and sends the next; prints messages/s and latency percentiles
 *   loadgen windows HOST PORT CONNECTIONS SIZE
 *       the same over connections held open: prints "ready", then runs one window per line of
 *       standard input (its length in seconds) and prints one result line for each
 *   loadgen connect HOST PORT CONCURRENCY SECONDS
 *       CONCURRENCY at a time: connect, send 64 bytes, read them back, close; prints connections/s
 *   loadgen idle HOST PORT CONNECTIONS
 *       opens CONNECTIONS and holds them: prints "ready", closes them at end of standard input
 *
 * The result is one line of key=value pairs; a byte that comes back wrong is an error (status 1).
 */
#define _GNU_SOURCE
#include "gen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_storage target;
static socklen_t target_len;

static void die(const char *what)
{
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void parse_target(const char *host, const char *port)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)&target;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&target;
    memset(&target, 0, sizeof target);
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((unsigned short)atoi(port));
        target_len = sizeof *v4;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((unsigned short)atoi(port));
        target_len = sizeof *v6;
    } else {
        fprintf(stderr, "loadgen: %s is not a numeric address\n", host);
        exit(2);
    }
}

static int connect_to(int nonblocking)
{
    int fd =
        socket(target.ss_family, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) die("socket");
    if (connect(fd, (struct sockaddr *)&target, target_len) < 0 && errno != EINPROGRESS)
        die("connect");
    return fd;
}

/* ---- echo ---- */

struct conn {
    int fd;
    size_t sent, got;
    unsigned seq;
    double started;
};

struct echo {
    int ep, conns;
    size_t size;
    struct conn *c;
    char *out, *in;
    unsigned long errors;
};

static void echo_open(struct echo *e, int conns, size_t size)
{
    e->ep = epoll_create1(EPOLL_CLOEXEC);
    e->conns = conns;
    e->size = size;
    e->c = calloc((size_t)conns, sizeof *e->c);
    e->out = malloc(size);
    e->in = malloc(size);
    e->errors = 0;
    if (e->ep < 0 || !e->c || !e->out || !e->in) die("echo set-up");
    for (int i = 0; i < conns; i++) {
        e->c[i].fd = connect_to(0);
        fcntl(e->c[i].fd, F_SETFL, O_NONBLOCK);
        watch(e->ep, EPOLL_CTL_ADD, e->c[i].fd, 0, (unsigned)i);
    }
}

static void echo_close(struct echo *e)
{
    for (int i = 0; i < e->conns; i++)
        close(e->c[i].fd);
    free(e->c);
    free(e->out);
    free(e->in);
    close(e->ep);
}

/* Every connection sends a message, checks the echo and sends the next until `seconds` have
 * passed; then no new message starts and the window ends once every message in flight is back,
 * so that the server did exactly the work counted. Returns the messages completed (each one's
 * round trip added to the histogram), or -1 if the server closed a connection or stalled. */
static long echo_window(struct echo *e, double seconds)
{
    unsigned long messages = 0;
    int busy = e->conns;
    for (int i = 0; i < e->conns; i++)
        watch(e->ep, EPOLL_CTL_MOD, e->c[i].fd, EPOLLIN | EPOLLOUT, (unsigned)i);
    double end = now() + seconds, give_up = end + 10;
    struct epoll_event ev[256];
    while (busy > 0) {
        int n = epoll_wait(e->ep, ev, 256, 100);
        double t = now();
        if (n == 0 && t > give_up) {
            fprintf(stderr, "loadgen: %d messages not echoed within 10 s\n", busy);
            return -1;
        }
        for (int k = 0; k < n; k++) {
            unsigned id = ev[k].data.u32;
            struct conn *x = &e->c[id];
            if ((ev[k].events & EPOLLOUT) && x->sent < e->size) {
                if (x->sent == 0) x->started = now();
                for (size_t i = x->sent; i < e->size; i++)
                    e->out[i] = fill(id, x->seq, i);
                ssize_t w = send(x->fd, e->out + x->sent, e->size - x->sent, MSG_NOSIGNAL);
                if (w > 0) x->sent += (size_t)w;
                if (w < 0 && errno != EAGAIN) die("send");
                if (x->sent == e->size) watch(e->ep, EPOLL_CTL_MOD, x->fd, EPOLLIN, id);
            }
            if (ev[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                ssize_t r = recv(x->fd, e->in, e->size - x->got, 0);
                if (r == 0 || (r < 0 && errno != EAGAIN)) {
                    fprintf(stderr, "loadgen: connection %u closed by the server\n", id);
                    return -1;
                }
                if (r < 0) continue;
                for (ssize_t i = 0; i < r; i++)
                    if (e->in[i] != fill(id, x->seq, x->got + (size_t)i)) e->errors++;
                x->got += (size_t)r;
                if (x->got == e->size) {
                    record_latency(x->started);
                    messages++;
                    x->seq++;
                    x->sent = x->got = 0;
                    if (t < end) {
                        watch(e->ep, EPOLL_CTL_MOD, x->fd, EPOLLIN | EPOLLOUT, id);
                    } else {
                        watch(e->ep, EPOLL_CTL_MOD, x->fd, 0, id);
                        busy--;
                    }
                }
            }
        }
    }
    return (long)messages;
}

static int echo(int conns, size_t size, double seconds)
{
    struct echo e;
    echo_open(&e, conns, size);
    double start = now();
    long messages = echo_window(&e, seconds);
    if (messages >= 0) report(messages, now() - start, e.errors);
    echo_close(&e);
    return messages < 0 || e.errors ? 1 : 0;
}

/* Holds the connections open and runs one window per line of standard input (its seconds),
 * answering each with one result line, so that a caller can read the server's CPU time around
 * each window and alternate windows between servers without reconnecting. */
static int echo_windows(int conns, size_t size)
{
    struct echo e;
    echo_open(&e, conns, size);
    printf("ready %d\n", conns);
    fflush(stdout);
    char line[64];
    long messages = 0;
    while (fgets(line, sizeof line, stdin)) {
        memset(histogram, 0, sizeof histogram);
        double start = now();
        messages = echo_window(&e, atof(line));
        if (messages < 0) break;
        report(messages, now() - start, e.errors);
    }
    echo_close(&e);
    return messages < 0 || e.errors ? 1 : 0;
}

/* ---- connection rate ---- */

static int connect_rate(int concurrency, double seconds)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct conn *c = calloc((size_t)concurrency, sizeof *c);
    char msg[64], in[64];
    memset(msg, 'c', sizeof msg);
    for (int i = 0; i < concurrency; i++) {
        c[i].fd = connect_to(1);
        watch(ep, EPOLL_CTL_ADD, c[i].fd, EPOLLOUT, (unsigned)i);
    }
    unsigned long done = 0, failed = 0;
    double start = now(), end = start + seconds;
    struct epoll_event ev[256];
    while (now() < end) {
        int n = epoll_wait(ep, ev, 256, 100);
        for (int k = 0; k < n; k++) {
            struct conn *x = &c[ev[k].data.u32];
            int finished = 0;
            if (x->sent == 0 && (ev[k].events & EPOLLOUT)) {
                if (send(x->fd, msg, sizeof msg, MSG_NOSIGNAL) == (ssize_t)sizeof msg) {
                    x->sent = sizeof msg;
                    watch(ep, EPOLL_CTL_MOD, x->fd, EPOLLIN, ev[k].data.u32);
                } else {
                    failed++, finished = 1;
                }
            } else if (ev[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                ssize_t r = recv(x->fd, in, sizeof in - x->got, 0);
                if (r > 0) x->got += (size_t)r;
                if (x->got == sizeof msg)
                    done++, finished = 1;
                else if (r == 0 || (r < 0 && errno != EAGAIN))
                    failed++, finished = 1;
            }
            if (finished) {
                close(x->fd);
                x->sent = x->got = 0;
                x->fd = connect_to(1);
                watch(ep, EPOLL_CTL_ADD, x->fd, EPOLLOUT, ev[k].data.u32);
            }
        }
    }
    double took = now() - start;
    printf("connections=%lu seconds=%.3f rate=%.0f failed=%lu\n", done, took, done / took, failed);
    for (int i = 0; i < concurrency; i++)
        close(c[i].fd);
    free(c);
    close(ep);
    return failed ? 1 : 0;
}

/* ---- idle connections ---- */

static int idle(int conns)
{
    int *fds = calloc((size_t)conns, sizeof *fds);
    for (int i = 0; i < conns; i++)
        fds[i] = connect_to(0);
    /* Every connection is accepted once a byte sent on it comes back. */
    for (int i = 0; i < conns; i++) {
        char b = 'i';
        if (send(fds[i], &b, 1, MSG_NOSIGNAL) != 1 || recv(fds[i], &b, 1, 0) != 1) die("idle echo");
    }
    printf("ready %d\n", conns);
    fflush(stdout);
    char buf[64];
    while (read(0, buf, sizeof buf) > 0) {
    }
    for (int i = 0; i < conns; i++)
        close(fds[i]);
    free(fds);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 7 && strcmp(argv[1], "echo") == 0) {
        parse_target(argv[2], argv[3]);
        return echo(atoi(argv[4]), (size_t)atol(argv[5]), atof(argv[6]));
    }
    if (argc == 6 && strcmp(argv[1], "windows") == 0) {
        parse_target(argv[2], argv[3]);
        return echo_windows(atoi(argv[4]), (size_t)atol(argv[5]));
    }
    if (argc == 6 && strcmp(argv[1], "connect") == 0) {
        parse_target(argv[2], argv[3]);
        return connect_rate(atoi(argv[4]), atof(argv[5]));
    }
    if (argc == 5 && strcmp(argv[1], "idle") == 0) {
        parse_target(argv[2], argv[3]);
        return idle(atoi(argv[4]));
    }
    fprintf(stderr, "usage: loadgen echo HOST PORT CONNECTIONS SIZE SECONDS\n"
                    "       loadgen windows HOST PORT CONNECTIONS SIZE\n"
                    "       loadgen connect HOST PORT CONCURRENCY SECONDS\n"
                    "       loadgen idle HOST PORT CONNECTIONS\n");
    return 2;
}
