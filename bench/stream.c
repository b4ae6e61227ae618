/* SPDX-License-Identifier: MIT */
/* csock against raw BSD system calls on loopback TCP, side by side in one run: 1-byte ping-pong
 * latency and bulk throughput with 64 KiB and 4 KiB buffers, each with no timeout and with a
 * timeout set. Both ends run as threads on one core, so any per-call overhead shows. Each
 * round runs every variant once, the order turning every round; a variant's ratio against raw
 * is the median over rounds of its figure over raw's in the same round (the machine's speed
 * drifts between rounds, and both runs of a round see the same machine), with a 95% confidence
 * interval, for wall time and CPU time per operation.
 *
 * Usage: bench-stream [rounds] [pingpongs] [megabytes]   (defaults 7 50000 256) */
#define _GNU_SOURCE
#include "bench.h"

#include <csock.h>

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

enum { RAW, RAW_SO_RCVTIMEO, CSOCK, CSOCK_TIMEOUT, VARIANTS };
static const char *const variant_names[VARIANTS] = {"raw", "raw + SO_RCVTIMEO", "csock",
                                                    "csock + timeout"};

static long pingpongs = 50000;
static size_t total_bytes = 256u << 20;

struct run {
    int variant;
    int fd[2]; /* client, server */
    csock *s[2];
    size_t chunk; /* 0: ping-pong */
};

static double cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void die(const char *what)
{
    fprintf(stderr, "bench-stream: %s: %s\n", what, csock_lasterror());
    exit(1);
}

/* A connected loopback pair, as raw descriptors and as csock sockets over the same ones. */
static void make_pair(struct run *r)
{
    csock *l = csock_create_server("127.0.0.1", 0, NULL);
    csock_addr a;
    if (!l || csock_getsockname(l, &a) < 0) die("listen");
    r->s[0] = csock_create_connection("127.0.0.1", csock_addr_port(&a), CSOCK_NO_TIMEOUT, NULL);
    r->s[1] = r->s[0] ? csock_accept(l, NULL) : NULL;
    if (!r->s[1]) die("connect");
    csock_free(l);
    for (int i = 0; i < 2; i++) {
        r->fd[i] = csock_fileno(r->s[i]);
        csock_setnodelay(r->s[i], 1);
        if (r->variant == CSOCK_TIMEOUT && csock_settimeout(r->s[i], 30.0) < 0) die("settimeout");
        if (r->variant == RAW_SO_RCVTIMEO) {
            struct timeval tv = {30, 0};
            setsockopt(r->fd[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            setsockopt(r->fd[i], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        }
    }
}

static int is_raw(const struct run *r)
{
    return r->variant == RAW || r->variant == RAW_SO_RCVTIMEO;
}

/* The server side: echo each byte (ping-pong) or drain everything (throughput). */
static void *server(void *arg)
{
    struct run *r = arg;
    static char buf[65536];
    if (r->chunk == 0) {
        char c;
        for (long i = 0; i < pingpongs; i++) {
            if (is_raw(r)) {
                if (recv(r->fd[1], &c, 1, 0) != 1 || send(r->fd[1], &c, 1, MSG_NOSIGNAL) != 1)
                    die("raw echo");
            } else if (csock_recv(r->s[1], &c, 1) != 1 || csock_send(r->s[1], &c, 1) != 1) {
                die("csock echo");
            }
        }
    } else {
        size_t got = 0;
        while (got < total_bytes) {
            ssize_t n =
                is_raw(r) ? recv(r->fd[1], buf, r->chunk, 0) : csock_recv(r->s[1], buf, r->chunk);
            if (n <= 0) die("drain");
            got += (size_t)n;
        }
    }
    return NULL;
}

static void client(struct run *r)
{
    static char buf[65536];
    if (r->chunk == 0) {
        char c = 'x';
        for (long i = 0; i < pingpongs; i++) {
            if (is_raw(r)) {
                if (send(r->fd[0], &c, 1, MSG_NOSIGNAL) != 1 || recv(r->fd[0], &c, 1, 0) != 1)
                    die("raw ping");
            } else if (csock_send(r->s[0], &c, 1) != 1 || csock_recv(r->s[0], &c, 1) != 1) {
                die("csock ping");
            }
        }
    } else {
        for (size_t sent = 0; sent < total_bytes; sent += r->chunk) {
            if (is_raw(r)) {
                /* Raw code must complete partial writes itself, as sendall does. */
                for (size_t off = 0; off < r->chunk;) {
                    ssize_t n = send(r->fd[0], buf + off, r->chunk - off, MSG_NOSIGNAL);
                    if (n < 0) die("raw send");
                    off += (size_t)n;
                }
            } else if (csock_sendall(r->s[0], buf, r->chunk, NULL) < 0) {
                die("csock sendall");
            }
        }
    }
}

/* Runs one variant once; returns wall and CPU seconds per operation. */
static void measure(int variant, size_t chunk, double *wall, double *cputime)
{
    struct run r = {.variant = variant, .chunk = chunk};
    make_pair(&r);
    pthread_t t;
    double c0 = cpu(), t0 = bench_now();
    pthread_create(&t, NULL, server, &r);
    client(&r);
    pthread_join(t, NULL);
    double ops = chunk ? (double)total_bytes / (double)chunk : (double)pingpongs;
    *wall = (bench_now() - t0) / ops;
    *cputime = (cpu() - c0) / ops;
    csock_free(r.s[0]);
    csock_free(r.s[1]);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 7;
    if (argc > 2) pingpongs = atol(argv[2]);
    if (argc > 3) total_bytes = (size_t)atol(argv[3]) << 20;
    if (rounds < 1 || rounds > 100 || pingpongs < 1 || total_bytes < 65536) {
        fprintf(stderr, "usage: bench-stream [rounds 1-100] [pingpongs] [megabytes]\n");
        return 2;
    }
    /* Both ends on one core: the overhead of each call is not hidden by parallelism. */
    bench_one_core();

    static const struct {
        const char *name, *unit;
        size_t chunk;
        double scale;
    } workloads[] = {{"ping-pong 1 B", "us/round trip", 0, 1e6},
                     {"throughput 64 KiB", "us/64 KiB", 65536, 1e6},
                     {"throughput 4 KiB", "us/4 KiB", 4096, 1e6}};

    printf("csock vs raw system calls, loopback TCP, both ends on one core; %d rounds, the four "
           "variants one run each per round in an order that turns every round\n"
           "(%ld round trips, %zu MiB per throughput run). Figures are medians over rounds; ratios "
           "are the median of each round's figure over raw's in the same round, with a 95%% "
           "confidence interval (order statistics).\n\n",
           rounds, pingpongs, total_bytes >> 20);
    printf(
        "| workload | variant | wall per op | CPU | wall vs raw (95%% CI) | CPU vs raw (95%% CI) "
        "|\n");
    printf("|---|---|---|---|---|---|\n");
    for (size_t w = 0; w < sizeof workloads / sizeof workloads[0]; w++) {
        double wall[VARIANTS][100], cputime[VARIANTS][100];
        for (int i = 0; i < rounds; i++)
            for (int k = 0; k < VARIANTS; k++) {
                int v = (k + i) % VARIANTS;
                measure(v, workloads[w].chunk, &wall[v][i], &cputime[v][i]);
            }
        for (int v = 0; v < VARIANTS; v++) {
            double rw[100], rc[100];
            for (int i = 0; i < rounds; i++) {
                rw[i] = wall[v][i] / wall[RAW][i];
                rc[i] = cputime[v][i] / cputime[RAW][i];
            }
            struct bench_ci mw = bench_median_ci(wall[v], rounds);
            struct bench_ci mc = bench_median_ci(cputime[v], rounds);
            struct bench_ci qw = bench_median_ci(rw, rounds), qc = bench_median_ci(rc, rounds);
            printf("| %s | %s | %.3f %s | %.3f | %.3f (%.3f-%.3f) | %.3f (%.3f-%.3f) |\n",
                   workloads[w].name, variant_names[v], mw.median * workloads[w].scale,
                   workloads[w].unit, mc.median * workloads[w].scale, qw.median, qw.low, qw.high,
                   qc.median, qc.low, qc.high);
        }
        fflush(stdout);
    }
    return 0;
}
