/* SPDX-License-Identifier: MIT */
/* A file over loopback TCP: csock_sendfile against a read/send loop (64 KiB buffer), both ends on
 * one core, median of several interleaved rounds.
 *
 * Usage: bench-sendfile [rounds] [megabytes]   (defaults 7 256) */
#define _GNU_SOURCE
#include "bench.h"

#include <csock.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t total;

static void die(const char *what)
{
    fprintf(stderr, "bench-sendfile: %s: %s\n", what, csock_lasterror());
    exit(1);
}

static void *drain(void *arg)
{
    static char buf[1 << 16];
    size_t got = 0;
    ssize_t n;
    while (got < total && (n = csock_recv(arg, buf, sizeof buf)) > 0)
        got += (size_t)n;
    if (got != total) die("drain");
    return NULL;
}

/* Seconds to move the file once, with sendfile or with a read/send loop. */
static double run(int fd, int use_sendfile)
{
    csock *l = csock_create_server("127.0.0.1", 0, NULL);
    csock_addr a;
    if (!l || csock_getsockname(l, &a) < 0) die("listen");
    csock *c = csock_create_connection("127.0.0.1", csock_addr_port(&a), CSOCK_NO_TIMEOUT, NULL);
    csock *s = c ? csock_accept(l, NULL) : NULL;
    if (!s) die("connect");
    pthread_t t;
    pthread_create(&t, NULL, drain, s);
    double t0 = bench_now();
    if (use_sendfile) {
        if (csock_sendfile(c, fd, 0, total, NULL) < 0) die("sendfile");
    } else {
        static char buf[1 << 16];
        for (off_t off = 0; off < (off_t)total;) {
            ssize_t n = pread(fd, buf, sizeof buf, off);
            if (n <= 0 || csock_sendall(c, buf, (size_t)n, NULL) < 0) die("read/send");
            off += n;
        }
    }
    pthread_join(t, NULL);
    double took = bench_now() - t0;
    csock_free(c);
    csock_free(s);
    csock_free(l);
    return took;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 7;
    total = (size_t)(argc > 2 ? atol(argv[2]) : 256) << 20;
    if (rounds < 1 || rounds > 100 || total == 0) {
        fprintf(stderr, "usage: bench-sendfile [rounds 1-100] [megabytes]\n");
        return 2;
    }
    bench_one_core();
    char path[] = "/tmp/csock-bench-XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    static char block[1 << 16];
    memset(block, 'f', sizeof block);
    for (size_t off = 0; off < total; off += sizeof block)
        if (write(fd, block, sizeof block) != (ssize_t)sizeof block) die("write file");
    double rw[100], sf[100];
    for (int i = 0; i < rounds; i++) {
        rw[i] = run(fd, 0);
        sf[i] = run(fd, 1);
    }
    double mrw = bench_median(rw, rounds), msf = bench_median(sf, rounds);
    double mb = (double)total / (1 << 20);
    printf("%zu MiB file over loopback TCP, one core; median of %d rounds\n\n", total >> 20,
           rounds);
    printf("| way | MiB/s | vs read/send |\n|---|---|---|\n");
    printf("| read + csock_sendall (64 KiB) | %.0f | 1.000 |\n", mb / mrw);
    printf("| csock_sendfile | %.0f | %.3f |\n", mb / msf, mrw / msf);
    close(fd);
    return 0;
}
