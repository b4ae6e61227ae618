/* SPDX-License-Identifier: MIT */
/* The fault-injecting proxy (faultproxy.h): one thread, one poll over the listening socket, a
 * stop pipe and both ends of every connection. Each direction has a buffer; a piece leaves only
 * when its delay has passed, so a slow reader on one side never blocks the other direction. */
#define _GNU_SOURCE
#include "faultproxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNS_MAX 64
#define BUF_SIZE  65536

struct direction {
    int from, to;            /* descriptors: read from, write to (-1 once closed) */
    char buf[BUF_SIZE];      /* read, not yet written */
    size_t start, end;       /* buf[start..end) waits */
    size_t piece;            /* the next piece's size, 0 while none is chosen */
    int64_t due_ns;          /* when the next piece may leave */
    long long relayed;       /* bytes written */
    int eof, shut, dropping; /* end of file read; shutdown sent; faults: drop the rest */
};

struct conn {
    int fds[2]; /* client side, target side */
    struct direction dir[2];
    uint64_t rng;
    int live;
};

struct faultproxy {
    faultproxy_config cfg;
    struct sockaddr_storage target;
    socklen_t target_len;
    int listen_fd, port, stop_pipe[2];
    pthread_t thread;
    struct conn conns[CONNS_MAX];
    _Atomic long long bytes[2];
    _Atomic int accepted;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* xorshift64*: small, and the same sequence for the same seed everywhere. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void close_conn(struct conn *c, int reset)
{
    for (int i = 0; i < 2; i++) {
        if (c->fds[i] < 0) continue;
        if (reset) {
            struct linger l = {.l_onoff = 1, .l_linger = 0};
            setsockopt(c->fds[i], SOL_SOCKET, SO_LINGER, &l, sizeof l);
        }
        close(c->fds[i]);
        c->fds[i] = -1;
    }
    c->live = 0;
}

/* Connects up to the target. A signal may interrupt a blocking connect while the handshake goes
 * on (connect(2)): then the socket is waited for and its outcome read. Returns 0, or -1 with
 * errno set. */
static int connect_target(faultproxy *p, int up)
{
    if (connect(up, (struct sockaddr *)&p->target, p->target_len) == 0) return 0;
    if (errno != EINTR) return -1;
    struct pollfd pfd = {.fd = up, .events = POLLOUT};
    for (int tries = 0; tries < 1000; tries++) {
        int n = poll(&pfd, 1, 1000);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) break;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(up, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -1;
        errno = err;
        return err ? -1 : 0;
    }
    errno = ETIMEDOUT;
    return -1;
}

static void accept_one(faultproxy *p)
{
    int fd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    int up = socket(p->target.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    /* Loopback: the connection completes at once, accepted or not. */
    if (up < 0 || connect_target(p, up) < 0) {
        fprintf(stderr, "faultproxy: connect to target: %s\n", strerror(errno));
        if (up >= 0) close(up);
        close(fd);
        return;
    }
    fcntl(up, F_SETFL, O_NONBLOCK);
    if (p->cfg.rcvbuf) setsockopt(up, SOL_SOCKET, SO_RCVBUF, &p->cfg.rcvbuf, sizeof(int));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (int i = 0; i < CONNS_MAX; i++) {
        struct conn *c = &p->conns[i];
        if (c->live) continue;
        memset(c, 0, sizeof *c);
        c->fds[0] = fd, c->fds[1] = up, c->live = 1;
        c->dir[FP_UP] = (struct direction){.from = fd, .to = up};
        c->dir[FP_DOWN] = (struct direction){.from = up, .to = fd};
        int n = atomic_fetch_add(&p->accepted, 1);
        c->rng = (p->cfg.seed + 1) * 0x9E3779B97F4A7C15ULL + (uint64_t)n * 0xBF58476D1CE4E5B9ULL;
        next_random(&c->rng);
        return;
    }
    fprintf(stderr, "faultproxy: more than %d connections\n", CONNS_MAX);
    close(fd), close(up);
}

/* Chooses the next piece's size and when it may leave. */
static void choose_piece(faultproxy *p, struct conn *c, struct direction *d)
{
    size_t have = d->end - d->start;
    size_t piece = p->cfg.max_piece ? 1 + next_random(&c->rng) % p->cfg.max_piece : have;
    d->piece = piece < have ? piece : have;
    d->due_ns = now_ns();
    if (p->cfg.max_delay_us)
        d->due_ns += (int64_t)(next_random(&c->rng) % (p->cfg.max_delay_us + 1)) * 1000;
}

/* Reads what fits from d->from. Returns 0, or -1 when the connection is to be closed. */
static int fill(struct direction *d)
{
    ssize_t n = read(d->from, d->buf + d->end, BUF_SIZE - d->end);
    if (n > 0 && d->dropping) return 0;
    if (n > 0) d->end += (size_t)n;
    if (n == 0) d->eof = 1;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return -1;
    return 0;
}

/* Writes the chosen piece if it is due; applies the direction's faults. Returns 0, 1 when the
 * connection was reset, or -1 when it is to be closed. */
static int flush(faultproxy *p, struct conn *c, int which)
{
    struct direction *d = &c->dir[which];
    long long shut = p->cfg.shut_after[which], reset = p->cfg.reset_after[which];
    if (d->start < d->end && !d->piece) choose_piece(p, c, d);
    if (d->piece && now_ns() >= d->due_ns) {
        size_t piece = d->piece;
        long long limit = shut ? shut : reset;
        if (limit && d->relayed + (long long)piece > limit) piece = (size_t)(limit - d->relayed);
        ssize_t n = piece ? send(d->to, d->buf + d->start, piece, MSG_NOSIGNAL) : 0;
        if (n < 0 && errno != EAGAIN && errno != EINTR) return -1;
        if (n > 0) {
            d->start += (size_t)n, d->relayed += n, d->piece -= (size_t)n;
            atomic_fetch_add(&p->bytes[which], n);
            if (d->start == d->end) d->start = d->end = 0; /* room to read again */
        }
        if (!piece) d->piece = 0;
    }
    if (reset && d->relayed >= reset) {
        close_conn(c, 1);
        return 1;
    }
    if (shut && d->relayed >= shut && !d->dropping) {
        d->dropping = 1;
        d->start = d->end = d->piece = 0;
    }
    if (!d->shut && (d->dropping || (d->eof && d->start == d->end))) {
        shutdown(d->to, SHUT_WR);
        d->shut = 1;
    }
    return 0;
}

static void *run(void *arg)
{
    faultproxy *p = arg;
    for (;;) {
        struct pollfd pfd[2 + 2 * CONNS_MAX];
        int n = 0;
        int64_t wake = -1;
        pfd[n++] = (struct pollfd){.fd = p->stop_pipe[0], .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = p->listen_fd, .events = POLLIN};
        for (int i = 0; i < CONNS_MAX; i++) {
            struct conn *c = &p->conns[i];
            if (!c->live) continue;
            for (int k = 0; k < 2; k++) {
                struct direction *d = &c->dir[k];
                short ev = 0;
                if (!d->eof && d->end < BUF_SIZE) ev |= POLLIN;
                if (d->start < d->end) {
                    if (!d->piece) choose_piece(p, c, d);
                    if (now_ns() >= d->due_ns)
                        ev |= POLLOUT;
                    else if (wake < 0 || d->due_ns < wake)
                        wake = d->due_ns;
                }
                pfd[n++] = (struct pollfd){.fd = ev & POLLIN ? d->from : -1, .events = POLLIN};
                pfd[n++] = (struct pollfd){.fd = ev & POLLOUT ? d->to : -1, .events = POLLOUT};
            }
        }
        struct timespec ts, *tsp = NULL;
        if (wake >= 0) {
            int64_t left = wake - now_ns();
            if (left < 0) left = 0;
            ts = (struct timespec){.tv_sec = left / 1000000000, .tv_nsec = left % 1000000000};
            tsp = &ts;
        }
        if (ppoll(pfd, (nfds_t)n, tsp, NULL) < 0 && errno != EINTR) break;
        if (pfd[0].revents) break;
        if (pfd[1].revents & POLLIN) accept_one(p);
        for (int i = 0; i < CONNS_MAX; i++) {
            struct conn *c = &p->conns[i];
            if (!c->live) continue;
            int rc = 0;
            for (int k = 0; k < 2 && c->live && rc == 0; k++) {
                struct direction *d = &c->dir[k];
                if (!d->eof && d->end < BUF_SIZE) rc = fill(d);
                if (rc == 0) rc = flush(p, c, k);
            }
            if (rc < 0) close_conn(c, 0);
            /* Both directions ended and delivered: the connection is done. */
            if (c->live && c->dir[0].shut && c->dir[1].shut && c->dir[0].eof && c->dir[1].eof)
                close_conn(c, 0);
        }
    }
    return NULL;
}

faultproxy *faultproxy_start(const char *target_host, int target_port, const faultproxy_config *cfg)
{
    faultproxy *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    if (cfg) p->cfg = *cfg;
    const char *shift = getenv("FAULTPROXY_SEED");
    if (shift) p->cfg.seed += strtoull(shift, NULL, 10);
    struct sockaddr_in *t4 = (struct sockaddr_in *)&p->target;
    struct sockaddr_in6 *t6 = (struct sockaddr_in6 *)&p->target;
    if (inet_pton(AF_INET, target_host, &t4->sin_addr) == 1) {
        t4->sin_family = AF_INET, t4->sin_port = htons((uint16_t)target_port);
        p->target_len = sizeof *t4;
    } else if (inet_pton(AF_INET6, target_host, &t6->sin6_addr) == 1) {
        t6->sin6_family = AF_INET6, t6->sin6_port = htons((uint16_t)target_port);
        p->target_len = sizeof *t6;
    } else {
        fprintf(stderr, "faultproxy: %s is not a numeric address\n", target_host);
        free(p);
        return NULL;
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    /* Set before listen, so that accepted connections inherit it (and its window). */
    if (p->listen_fd >= 0 && p->cfg.rcvbuf)
        setsockopt(p->listen_fd, SOL_SOCKET, SO_RCVBUF, &p->cfg.rcvbuf, sizeof(int));
    if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(p->listen_fd, 64) < 0 || getsockname(p->listen_fd, (struct sockaddr *)&a, &len) ||
        pipe2(p->stop_pipe, O_CLOEXEC) < 0) {
        fprintf(stderr, "faultproxy: listen: %s\n", strerror(errno));
        if (p->listen_fd >= 0) close(p->listen_fd);
        free(p);
        return NULL;
    }
    p->port = ntohs(a.sin_port);
    if (pthread_create(&p->thread, NULL, run, p) != 0) {
        fprintf(stderr, "faultproxy: no thread\n");
        close(p->listen_fd), close(p->stop_pipe[0]), close(p->stop_pipe[1]);
        free(p);
        return NULL;
    }
    return p;
}

int faultproxy_port(const faultproxy *p)
{
    return p->port;
}

long long faultproxy_bytes(faultproxy *p, int direction)
{
    return atomic_load(&p->bytes[direction]);
}

int faultproxy_connections(faultproxy *p)
{
    return atomic_load(&p->accepted);
}

void faultproxy_stop(faultproxy *p)
{
    if (!p) return;
    ssize_t rc = write(p->stop_pipe[1], "", 1);
    (void)rc;
    pthread_join(p->thread, NULL);
    for (int i = 0; i < CONNS_MAX; i++)
        if (p->conns[i].live) close_conn(&p->conns[i], 0);
    close(p->listen_fd), close(p->stop_pipe[0]), close(p->stop_pipe[1]);
    free(p);
}
