/* SPDX-License-Identifier: MIT */
/* A soak: many connect/echo/close cycles with the blocking API and with streams on a loop against
 * the server framework, then many calls that fail (a refused connection, bad numeric addresses,
 * a port in use, a numeric-only lookup of a name). Afterwards the process must hold as many
 * descriptors as before, exactly, and about as much memory: its resident size may grow by at
 * most RSS_SLACK_KIB (allocator arenas and caches settle in the first rounds, which run before
 * the baseline is taken). Prints the figures; exits 1 if either came back wrong.
 *
 * Usage: soak [cycles] [failures]   (defaults 100000 10000) */
#define _GNU_SOURCE
#include "../tests/check.h" /* check_open_fds: the tests' count of descriptors */
#include "bench.h"

#include <csock.h>
#include <csock/server.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RSS_SLACK_KIB 2048 /* what the resident size may grow by over the whole soak */
#define MESSAGE       100  /* bytes echoed per cycle */
#define IN_FLIGHT     32   /* stream cycles under way at once */

static void die(const char *what)
{
    fprintf(stderr, "soak: %s: %s\n", what, csock_lasterror());
    exit(1);
}

static long rss_kib(void)
{
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "re");
    if (!f || fscanf(f, "%ld %ld", &size, &resident) != 2) die("read /proc/self/statm");
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static char message[MESSAGE];

/* ---- the blocking API: connect, accept, echo one message, close ---- */

static void blocking_cycles(csock *listener, int port, long cycles)
{
    char buf[MESSAGE];
    for (long i = 0; i < cycles; i++) {
        csock *c = csock_create_connection("127.0.0.1", port, 5, NULL);
        if (!c) die("connect");
        csock *s = csock_accept(listener, NULL);
        if (!s) die("accept");
        if (csock_sendall(c, message, MESSAGE, NULL) < 0) die("client send");
        if (csock_recv_flags(s, buf, MESSAGE, MSG_WAITALL) != MESSAGE) die("server recv");
        if (csock_sendall(s, buf, MESSAGE, NULL) < 0) die("server send");
        if (csock_recv_flags(c, buf, MESSAGE, MSG_WAITALL) != MESSAGE ||
            memcmp(buf, message, MESSAGE) != 0)
            die("client recv");
        csock_free(s);
        csock_free(c);
    }
}

/* ---- streams: clients on a loop here, the server framework's echo on a thread ---- */

struct streams {
    csock_loop *loop;
    int port;
    long started, finished, wanted;
};

static void echo(csock_stream *st, void *data)
{
    (void)data;
    const char *p;
    size_t n = csock_stream_peek(st, &p);
    if (csock_stream_write(st, p, n) >= 0) csock_stream_consume(st, n);
}

static const csock_stream_handler echo_handler = {.on_data = echo};

static void start_client(struct streams *ss);

static void client_data(csock_stream *st, void *data)
{
    (void)data;
    const char *p;
    if (csock_stream_peek(st, &p) < MESSAGE) return;
    if (memcmp(p, message, MESSAGE) != 0) die("stream echo differs");
    csock_stream_consume(st, MESSAGE);
    csock_stream_close(st);
}

static void client_close(csock_stream *st, int error, void *data)
{
    (void)st;
    struct streams *ss = data;
    if (error) {
        fprintf(stderr, "soak: stream closed with %s\n", csock_strerror(error));
        exit(1);
    }
    ss->finished++;
    start_client(ss);
}

static const csock_stream_handler client_handler = {.on_data = client_data,
                                                    .on_close = client_close};

static void start_client(struct streams *ss)
{
    if (ss->started == ss->wanted) return;
    ss->started++;
    csock *c = csock_create_connection("127.0.0.1", ss->port, 5, NULL);
    if (!c) die("stream connect");
    csock_stream *st = csock_stream_new(ss->loop, c, &client_handler, ss);
    if (!st) die("stream");
    if (csock_stream_write(st, message, MESSAGE) < 0) die("stream write");
}

static void *serve(void *arg)
{
    if (csock_server_run(arg) < 0) die("server");
    return NULL;
}

static void stream_cycles(csock_server *srv, long cycles)
{
    csock_addr a;
    csock_server_address(srv, &a);
    struct streams ss = {.loop = csock_loop_new(), .port = csock_addr_port(&a), .wanted = cycles};
    if (!ss.loop) die("loop");
    for (int i = 0; i < IN_FLIGHT; i++)
        start_client(&ss);
    while (ss.finished < cycles)
        if (csock_loop_run_once(ss.loop, 5) < 0) die("loop pass");
    csock_loop_free(ss.loop);
    /* The server closes its side once it reads end of file, on its own thread: wait for that
     * (a moment; 10 s at most) so that its descriptors are not counted. */
    for (double end = bench_now() + 10; csock_server_connections(srv) > 0 && bench_now() < end;)
        sched_yield();
}

/* ---- calls that fail: each must fail, and say why ---- */

static void expect_failure(int rc, const char *what)
{
    if (rc >= 0) {
        fprintf(stderr, "soak: %s succeeded\n", what);
        exit(1);
    }
    if (!csock_lasterror()[0]) {
        fprintf(stderr, "soak: %s failed without a message\n", what);
        exit(1);
    }
}

static void failing_calls(int refusing_port, int busy_port, long count)
{
    static const char *const bad[] = {"300.1.1.1:80", "127.0.0.1:70000",      "[::1:80",
                                      "1.2.3:x",      "[fe80::1%nosuchif]:1", ""};
    for (long i = 0; i < count; i++) {
        csock *c = csock_create_connection("127.0.0.1", refusing_port, 5, NULL);
        expect_failure(c ? 0 : -1, "connect to a refusing port");
        csock_addr a;
        expect_failure(csock_addr_parse(&a, bad[i % 6]), "parse a bad address");
        csock *s = csock_socket(AF_INET, SOCK_STREAM, 0);
        if (!s) die("socket");
        expect_failure(csock_bind(s, "127.0.0.1", busy_port), "bind a port in use");
        expect_failure(csock_connect(s, "127.0.0.1", 0), "connect to port 0");
        csock_free(s);
        expect_failure(csock_create_server("127.0.0.1", busy_port, NULL) ? 0 : -1,
                       "listen on a port in use");
        /* A name with AI_NUMERICHOST: refused at once, no lookup leaves the process. */
        csock_addrlist *l =
            csock_getaddrinfo("soak.invalid", 80, AF_UNSPEC, SOCK_STREAM, 0, AI_NUMERICHOST);
        expect_failure(l ? 0 : -1, "resolve a name as a number");
        csock_freeaddrinfo(l);
    }
}

/* ---- the figures ---- */

static int failed;

static void report(const char *phase, long n, double seconds, int fds0, long rss0)
{
    int fds = check_open_fds();
    long rss = rss_kib();
    int bad = fds != fds0 || rss - rss0 > RSS_SLACK_KIB;
    printf("| %-28s | %8ld | %6.2f s | %9.0f/s | %3d -> %3d | %6ld -> %6ld KiB | %s |\n", phase, n,
           seconds, n / seconds, fds0, fds, rss0, rss, bad ? "LEAK" : "ok");
    fflush(stdout);
    failed |= bad;
}

int main(int argc, char **argv)
{
    long cycles = argc > 1 ? atol(argv[1]) : 100000, failures = argc > 2 ? atol(argv[2]) : 10000;
    if (cycles < 1 || failures < 1) {
        fprintf(stderr, "usage: soak [cycles] [failures]\n");
        return 2;
    }
    memset(message, 'm', sizeof message);
    csock *listener = csock_create_server("127.0.0.1", 0, NULL);
    csock_addr a;
    if (!listener || csock_getsockname(listener, &a) < 0) die("listener");
    int port = csock_addr_port(&a);
    csock *holder = csock_socket(AF_INET, SOCK_STREAM, 0); /* bound, never listening: refuses */
    if (!holder || csock_bind(holder, "127.0.0.1", 0) < 0 || csock_getsockname(holder, &a) < 0)
        die("refusing port");
    int refusing = csock_addr_port(&a);
    csock_server *srv =
        csock_server_new("127.0.0.1:0", &(csock_server_config){.handler = &echo_handler});
    if (!srv) die("server");
    pthread_t t;
    if (pthread_create(&t, NULL, serve, srv) != 0) die("thread");

    /* A first round of each, so that what is allocated once and kept is in the baseline. */
    long warm = cycles / 100 > 100 ? cycles / 100 : 100;
    blocking_cycles(listener, port, warm);
    stream_cycles(srv, warm);
    failing_calls(refusing, port, warm / 10 + 1);
    int fds0 = check_open_fds();
    long rss0 = rss_kib();

    printf("soak: %ld cycles, %ld failing rounds; descriptors must come back exactly, resident "
           "size within %d KiB\n\n",
           cycles, failures, RSS_SLACK_KIB);
    printf("| %-28s | %8s | %8s | %11s | %10s | %21s | %4s |\n", "phase", "count", "time", "rate",
           "fds", "resident", "");
    printf("|------------------------------|----------|----------|-------------|------------|"
           "-----------------------|------|\n");
    /* The failing calls first: the cycles leave connections in TIME_WAIT by the tens of
     * thousands, and the kernel's bind and connect slow down as it searches them. */
    double start = bench_now();
    failing_calls(refusing, port, failures);
    report("failing calls (x6 each)", failures, bench_now() - start, fds0, rss0);
    start = bench_now();
    blocking_cycles(listener, port, cycles);
    report("blocking connect/echo/close", cycles, bench_now() - start, fds0, rss0);
    start = bench_now();
    stream_cycles(srv, cycles);
    report("streams against the server", cycles, bench_now() - start, fds0, rss0);

    csock_server_shutdown(srv);
    pthread_join(t, NULL);
    csock_server_free(srv);
    csock_free(holder);
    csock_free(listener);
    printf("\n%s\n", failed ? "soak: FAILED (see LEAK above)" : "soak: ok");
    return failed;
}
