/* SPDX-License-Identifier: MIT */
/* csock's blocking TLS against hand-written OpenSSL code (SSL_read/SSL_write on a blocking
 * descriptor, SSL_set_fd), on loopback TCP, side by side in one run: 64-byte ping-pong latency
 * and bulk throughput (64 KiB writes). TLS 1.3, the same cipher suite both ways; the handshake
 * is not timed. Both ends run as threads on one core, so any per-call overhead shows. Each
 * variant runs several times, interleaved; the median is reported with ratios against OpenSSL.
 *
 * Usage: bench-tls [rounds] [pingpongs] [megabytes]   (defaults 7 20000 64)
 *        bench-tls once VARIANT WORKLOAD [pingpongs] [megabytes]
 *            one run of one variant (openssl, csock, csock+timeout) and workload (pingpong,
 *            bulk), for counting its system calls: strace -f -c bench-tls once csock bulk */
#define _GNU_SOURCE
#include "bench.h"

#include <csock.h>
#include <csock/tls.h>

#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

enum { OPENSSL, CSOCK, CSOCK_TIMEOUT, VARIANTS };
static const char *const variant_names[VARIANTS] = {"openssl", "csock", "csock+timeout"};

static long pingpongs = 20000;
static size_t total_bytes = 64u << 20;
static char cert_file[64], key_file[64];

enum { PING = 64, CHUNK = 65536 };

struct run {
    int variant;
    size_t chunk; /* 0: ping-pong */
    csock *s[2];  /* client, server */
    SSL *ssl[2];  /* the OpenSSL variant's */
    SSL_CTX *ctx[2];
    csock_tls_context *tls[2];
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
    fprintf(stderr, "bench-tls: %s: %s\n", what, csock_lasterror());
    ERR_print_errors_fp(stderr);
    exit(1);
}

/* A self-signed certificate for the server, made by the openssl tool in a temporary
 * directory. */
static void make_certificate(void)
{
    char dir[] = "/tmp/csock-bench-tls-XXXXXX";
    if (!mkdtemp(dir)) die("mkdtemp");
    snprintf(cert_file, sizeof cert_file, "%s/cert.pem", dir);
    snprintf(key_file, sizeof key_file, "%s/key.pem", dir);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
             "-subj /CN=localhost -keyout %s -out %s 2>/dev/null",
             key_file, cert_file);
    if (system(cmd) != 0) die("openssl req (apt-get install openssl)");
}

static void remove_certificate(void)
{
    unlink(cert_file);
    unlink(key_file);
    *strrchr(cert_file, '/') = '\0';
    rmdir(cert_file);
}

/* The server's half of the handshake, on its thread. */
static void *accept_tls(void *arg)
{
    struct run *r = arg;
    int ok = r->variant == OPENSSL ? SSL_accept(r->ssl[1]) == 1
                                   : csock_tls_wrap_server(r->s[1], r->tls[1]) == 0;
    if (!ok) die("server handshake");
    return NULL;
}

/* A connected loopback pair with TLS over it, the variant's way. */
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
        csock_setnodelay(r->s[i], 1);
        if (r->variant == CSOCK_TIMEOUT && csock_settimeout(r->s[i], 30.0) < 0) die("settimeout");
    }
    if (r->variant == OPENSSL) {
        r->ctx[0] = SSL_CTX_new(TLS_client_method());
        r->ctx[1] = SSL_CTX_new(TLS_server_method());
        if (!r->ctx[0] || !r->ctx[1] ||
            SSL_CTX_use_certificate_chain_file(r->ctx[1], cert_file) != 1 ||
            SSL_CTX_use_PrivateKey_file(r->ctx[1], key_file, SSL_FILETYPE_PEM) != 1)
            die("SSL_CTX");
        for (int i = 0; i < 2; i++) {
            SSL_CTX_set_min_proto_version(r->ctx[i], TLS1_3_VERSION);
            r->ssl[i] = SSL_new(r->ctx[i]);
            if (!r->ssl[i] || SSL_set_fd(r->ssl[i], csock_fileno(r->s[i])) != 1) die("SSL_new");
        }
    } else {
        r->tls[0] = csock_tls_context_new(CSOCK_TLS_CLIENT);
        r->tls[1] = csock_tls_context_new(CSOCK_TLS_SERVER);
        /* The benchmark's own certificate: verification is off by choice, as for OpenSSL. */
        if (!r->tls[0] || !r->tls[1] ||
            csock_tls_context_set_verify(r->tls[0], CSOCK_TLS_VERIFY_NONE) < 0 ||
            csock_tls_context_set_versions(r->tls[0], CSOCK_TLS_V1_3, 0) < 0 ||
            csock_tls_context_load_cert_chain(r->tls[1], cert_file, key_file) < 0)
            die("tls context");
    }
    pthread_t t;
    pthread_create(&t, NULL, accept_tls, r);
    int ok = r->variant == OPENSSL ? SSL_connect(r->ssl[0]) == 1
                                   : csock_tls_wrap_client(r->s[0], r->tls[0], NULL) == 0;
    if (!ok) die("client handshake");
    pthread_join(t, NULL);
}

static void free_pair(struct run *r)
{
    for (int i = 0; i < 2; i++) {
        if (r->ssl[i]) SSL_shutdown(r->ssl[i]);
        SSL_free(r->ssl[i]);
        SSL_CTX_free(r->ctx[i]);
        csock_free(r->s[i]);
        csock_tls_context_free(r->tls[i]);
    }
}

/* Reads exactly len bytes on side i. */
static void read_all(struct run *r, int i, char *buf, size_t len)
{
    for (size_t got = 0; got < len;) {
        if (r->variant == OPENSSL) {
            size_t n;
            if (!SSL_read_ex(r->ssl[i], buf + got, len - got, &n)) die("SSL_read");
            got += n;
        } else {
            ssize_t n = csock_recv(r->s[i], buf + got, len - got);
            if (n <= 0) die("csock_recv");
            got += (size_t)n;
        }
    }
}

/* Writes all len bytes on side i (SSL_write without partial writes writes them all). */
static void write_all(struct run *r, int i, const char *buf, size_t len)
{
    size_t n;
    int ok = r->variant == OPENSSL ? SSL_write_ex(r->ssl[i], buf, len, &n)
                                   : csock_sendall(r->s[i], buf, len, NULL) == 0;
    if (!ok) die("write");
}

/* The server side: echo each message (ping-pong) or drain everything (bulk). */
static void *server(void *arg)
{
    struct run *r = arg;
    static char buf[CHUNK];
    if (r->chunk == 0) {
        for (long i = 0; i < pingpongs; i++) {
            read_all(r, 1, buf, PING);
            write_all(r, 1, buf, PING);
        }
        return NULL;
    }
    for (size_t got = 0; got < total_bytes; got += r->chunk)
        read_all(r, 1, buf, r->chunk);
    write_all(r, 1, "k", 1); /* everything arrived */
    return NULL;
}

static void client(struct run *r)
{
    static char buf[CHUNK];
    memset(buf, 'x', sizeof buf);
    if (r->chunk == 0) {
        for (long i = 0; i < pingpongs; i++) {
            write_all(r, 0, buf, PING);
            read_all(r, 0, buf, PING);
        }
        return;
    }
    for (size_t sent = 0; sent < total_bytes; sent += r->chunk)
        write_all(r, 0, buf, r->chunk);
    read_all(r, 0, buf, 1);
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
    double ops = chunk ? (double)total_bytes / (1 << 20) : (double)pingpongs;
    *wall = (bench_now() - t0) / ops;
    *cputime = (cpu() - c0) / ops;
    free_pair(&r);
}

static int variant_named(const char *name)
{
    for (int v = 0; v < VARIANTS; v++)
        if (strcmp(name, variant_names[v]) == 0) return v;
    return -1;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* for the OpenSSL variant, which writes with write(2) */
    int once = argc > 1 && strcmp(argv[1], "once") == 0;
    int a = once ? 4 : 2;
    int rounds = !once && argc > 1 ? atoi(argv[1]) : 7;
    if (argc > a) pingpongs = atol(argv[a]);
    if (argc > a + 1) total_bytes = (size_t)atol(argv[a + 1]) << 20;
    int variant = once && argc > 2 ? variant_named(argv[2]) : 0;
    int bulk = once && argc > 3 && strcmp(argv[3], "bulk") == 0;
    if (rounds < 1 || rounds > 100 || pingpongs < 1 || total_bytes < CHUNK || variant < 0 ||
        (once && (argc < 4 || (!bulk && strcmp(argv[3], "pingpong") != 0)))) {
        fprintf(stderr, "usage: bench-tls [rounds 1-100] [pingpongs] [megabytes]\n"
                        "       bench-tls once openssl|csock|csock+timeout pingpong|bulk "
                        "[pingpongs] [megabytes]\n");
        return 2;
    }
    /* Both ends on one core: the overhead of each call is not hidden by parallelism. */
    bench_one_core();
    make_certificate();
    if (once) {
        double wall, cputime;
        measure(variant, bulk ? CHUNK : 0, &wall, &cputime);
        printf("%s %s: %.3f us per %s\n", variant_names[variant], bulk ? "bulk" : "pingpong",
               wall * 1e6, bulk ? "MiB" : "round trip");
        remove_certificate();
        return 0;
    }

    static const struct {
        const char *name, *unit;
        size_t chunk;
    } workloads[] = {{"ping-pong 64 B", "us/round trip", 0},
                     {"bulk, 64 KiB writes", "us/MiB", CHUNK}};

    printf("csock TLS vs OpenSSL on a blocking descriptor, TLS 1.3, loopback, both ends on one "
           "core; median of %d rounds\n(%ld round trips, %zu MiB per bulk run)\n\n",
           rounds, pingpongs, total_bytes >> 20);
    printf("| workload | variant | wall per op | CPU | wall vs OpenSSL | CPU vs OpenSSL |\n");
    printf("|---|---|---|---|---|---|\n");
    for (size_t w = 0; w < sizeof workloads / sizeof workloads[0]; w++) {
        double wall[VARIANTS][100], cputime[VARIANTS][100];
        for (int i = 0; i < rounds; i++)
            for (int v = 0; v < VARIANTS; v++)
                measure(v, workloads[w].chunk, &wall[v][i], &cputime[v][i]);
        double mw[VARIANTS], mc[VARIANTS];
        for (int v = 0; v < VARIANTS; v++) {
            mw[v] = bench_median(wall[v], rounds);
            mc[v] = bench_median(cputime[v], rounds);
        }
        for (int v = 0; v < VARIANTS; v++)
            printf("| %s | %s | %.2f %s | %.2f | %.3f | %.3f |\n", workloads[w].name,
                   variant_names[v], mw[v] * 1e6, workloads[w].unit, mc[v] * 1e6,
                   mw[v] / mw[OPENSSL], mc[v] / mc[OPENSSL]);
        fflush(stdout);
    }
    remove_certificate();
    return 0;
}
