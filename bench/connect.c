/* SPDX-License-Identifier: MIT */
/* Connects per second on an event loop: CONCURRENCY at a time, each connection connects, sends
 * 64 bytes, reads them back and closes, and a new one starts in its place. The same client three
 * ways: csock_stream_connect on a csock loop, raw epoll with non-blocking connect(2), and libuv
 * (where built with it). The echo server is started from the command line after "--", pinned to
 * core 0, the client on core 1.
 *
 * Paired windows: the variants take turns, one window each per round, the order turning every
 * round; a variant's ratio against raw epoll is the median over rounds of its window's rate over
 * raw epoll's rate in the same round, with a distribution-free 95% confidence interval. In a
 * window, connections start until its time is up and the window ends when the last one in flight
 * has closed, so every connection counted was finished. Every window has a server of its own,
 * listening on a new port: the client's closes leave their connections in TIME_WAIT, and with
 * one port for every window the kernel's search for a free source port (up to 28,000 of them to
 * one address and port) soon costs more than the clients compared.
 *
 * Usage: bench-connect ROUNDS WINDOW CONCURRENCY -- SERVER ARGS...
 * (the server prints "listening on HOST:PORT" on its standard output). With CONNECT_ONLY=NAME in
 * the environment ("raw", "csock" or "libuv") only that client runs, one window, no table: for
 * counting its system calls with `strace -c`. */
#define _GNU_SOURCE
#include "bench.h"

#include <csock.h>
#include <csock/connect.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef BENCH_HAVE_LIBUV
#include <uv.h>
#endif

#define MESSAGE         64
#define MAX_CONCURRENCY 1000
#define MAX_ROUNDS      1000

static char host[256];
static int port;
static int concurrency;

/* What one window did: connections finished, failed, and the client's CPU seconds. */
struct tally {
    long done, failed;
    int in_flight;
    double end;
};

static const char message[MESSAGE] = "connect-rate benchmark: 64 bytes out and back again......";

static void die(const char *what)
{
    fprintf(stderr, "bench-connect: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* ---- raw epoll, non-blocking connect ---- */

struct raw_conn {
    int fd;
    size_t got;
    int sent;
};

static int raw_start(int ep, struct sockaddr_in *a, struct raw_conn *c, unsigned id)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket");
    c->got = 0;
    c->sent = 0;
    if (connect(c->fd, (struct sockaddr *)a, sizeof *a) < 0 && errno != EINPROGRESS) {
        close(c->fd);
        return -1;
    }
    struct epoll_event e = {.events = EPOLLOUT, .data.u32 = id};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
    return 0;
}

static void raw_window(struct tally *t)
{
    static struct raw_conn c[MAX_CONCURRENCY];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    for (int i = 0; i < concurrency; i++) {
        if (raw_start(ep, &a, &c[i], (unsigned)i) < 0) die("connect");
        t->in_flight++;
    }
    struct epoll_event ev[256];
    char in[MESSAGE];
    while (t->in_flight > 0) {
        int n = epoll_wait(ep, ev, 256, 1000);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int k = 0; k < n; k++) {
            unsigned id = ev[k].data.u32;
            struct raw_conn *x = &c[id];
            int finished = 0, ok = 0;
            if (!x->sent) {
                /* Connected, or failed: SO_ERROR says which, as a careful client checks. */
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err || send(x->fd, message, MESSAGE, MSG_NOSIGNAL) != MESSAGE) {
                    finished = 1;
                } else {
                    x->sent = 1;
                    struct epoll_event e = {.events = EPOLLIN, .data.u32 = id};
                    epoll_ctl(ep, EPOLL_CTL_MOD, x->fd, &e);
                }
            } else {
                ssize_t r = recv(x->fd, in, MESSAGE - x->got, 0);
                if (r > 0) x->got += (size_t)r;
                if (x->got == MESSAGE)
                    finished = ok = 1;
                else if (r == 0 || (r < 0 && errno != EAGAIN))
                    finished = 1;
            }
            if (!finished) continue;
            close(x->fd);
            ok ? t->done++ : t->failed++;
            if (bench_now() < t->end && raw_start(ep, &a, x, id) == 0) continue;
            t->in_flight--;
        }
    }
    close(ep);
}

/* ---- csock: csock_stream_connect on a csock loop ---- */

static csock_loop *loop;
static struct tally *cs_tally;
static const csock_stream_handler cs_handler;

static void cs_start(void)
{
    if (!csock_stream_connect(loop, host, port, NULL, &cs_handler, NULL)) {
        cs_tally->failed++;
        if (--cs_tally->in_flight == 0) csock_loop_stop(loop);
    }
}

static void cs_open(csock_stream *st, void *data)
{
    (void)data;
    if (csock_stream_write(st, message, MESSAGE) < 0) csock_stream_abort(st);
}

static void cs_data(csock_stream *st, void *data)
{
    (void)data;
    const char *p;
    if (csock_stream_peek(st, &p) < MESSAGE) return;
    csock_stream_consume(st, MESSAGE);
    csock_stream_set_data(st, st); /* marks it echoed */
    csock_stream_close(st);
}

static void cs_close(csock_stream *st, int error, void *data)
{
    (void)data;
    if (st && !error && csock_stream_data(st) == st)
        cs_tally->done++;
    else
        cs_tally->failed++;
    if (bench_now() < cs_tally->end) {
        cs_start();
    } else if (--cs_tally->in_flight == 0) {
        csock_loop_stop(loop);
    }
}

static const csock_stream_handler cs_handler = {
    .on_open = cs_open, .on_data = cs_data, .on_close = cs_close};

static void csock_window(struct tally *t)
{
    cs_tally = t;
    for (int i = 0; i < concurrency; i++) {
        t->in_flight++;
        cs_start();
    }
    if (t->in_flight > 0 && csock_loop_run(loop) < 0) {
        fprintf(stderr, "bench-connect: loop: %s\n", csock_lasterror());
        exit(1);
    }
}

/* ---- libuv ---- */

#ifdef BENCH_HAVE_LIBUV
struct uv_conn {
    uv_tcp_t tcp;
    uv_connect_t req;
    uv_write_t write;
    size_t got;
    int ok;
    char in[MESSAGE];
};

static uv_loop_t uv;
static struct tally *uv_tally;
static struct sockaddr_in uv_addr;

static void uv_start(struct uv_conn *c);

static void uv_closed(uv_handle_t *h)
{
    struct uv_conn *c = (struct uv_conn *)h;
    c->ok ? uv_tally->done++ : uv_tally->failed++;
    if (bench_now() < uv_tally->end)
        uv_start(c);
    else
        uv_tally->in_flight--;
}

static void uv_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct uv_conn *c = (struct uv_conn *)h;
    *buf = uv_buf_init(c->in + c->got, (unsigned)(MESSAGE - c->got));
}

static void uv_got(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    struct uv_conn *c = (struct uv_conn *)s;
    if (n > 0) c->got += (size_t)n;
    if (c->got == MESSAGE) c->ok = 1;
    if (c->ok || n < 0) uv_close((uv_handle_t *)s, uv_closed);
}

static void uv_wrote(uv_write_t *w, int status)
{
    (void)w;
    (void)status;
}

static void uv_connected(uv_connect_t *req, int status)
{
    struct uv_conn *c = req->data;
    if (status < 0) {
        uv_close((uv_handle_t *)&c->tcp, uv_closed);
        return;
    }
    uv_buf_t b = uv_buf_init((char *)message, MESSAGE);
    if (uv_try_write((uv_stream_t *)&c->tcp, &b, 1) != MESSAGE &&
        uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, uv_wrote) < 0) {
        uv_close((uv_handle_t *)&c->tcp, uv_closed);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, uv_alloc, uv_got);
}

static void uv_start(struct uv_conn *c)
{
    c->got = 0;
    c->ok = 0;
    c->req.data = c;
    uv_tcp_init(&uv, &c->tcp);
    if (uv_tcp_connect(&c->req, &c->tcp, (struct sockaddr *)&uv_addr, uv_connected) < 0)
        uv_close((uv_handle_t *)&c->tcp, uv_closed);
}

static void libuv_window(struct tally *t)
{
    static struct uv_conn c[MAX_CONCURRENCY];
    uv_tally = t;
    uv_ip4_addr(host, port, &uv_addr);
    for (int i = 0; i < concurrency; i++) {
        t->in_flight++;
        uv_start(&c[i]);
    }
    uv_run(&uv, UV_RUN_DEFAULT);
}
#endif

/* ---- the server and the rounds ---- */

static FILE *server_out; /* the running server's standard output */

static pid_t start_server(char **argv)
{
    int out[2];
    if (pipe(out) < 0) die("pipe");
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        cpu_set_t zero;
        CPU_ZERO(&zero);
        CPU_SET(0, &zero);
        sched_setaffinity(0, sizeof zero, &zero);
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(out[1]);
    char line[256];
    FILE *f = server_out = fdopen(out[0], "r");
    if (!f || !fgets(line, sizeof line, f) || strncmp(line, "listening on ", 13) != 0) {
        fprintf(stderr, "bench-connect: %s did not start\n", argv[0]);
        exit(1);
    }
    char *colon = strrchr(line, ':');
    *colon = '\0';
    snprintf(host, sizeof host, "%s", line + 13);
    port = atoi(colon + 1);
    return pid;
}

enum { RAW, CSOCK, LIBUV, VARIANTS };
static const char *const names[VARIANTS] = {"raw epoll", "csock", "libuv"};

static void window(int v, double seconds, char **server_argv, double *rate, double *cpu_us)
{
    pid_t server = start_server(server_argv);
    struct tally t = {0};
    double c0 = bench_cpu(), t0 = bench_now();
    t.end = t0 + seconds;
    if (v == RAW) raw_window(&t);
    if (v == CSOCK) csock_window(&t);
#ifdef BENCH_HAVE_LIBUV
    if (v == LIBUV) libuv_window(&t);
#endif
    double took = bench_now() - t0;
    double cpu = bench_cpu() - c0;
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    fclose(server_out);
    if (t.failed) {
        fprintf(stderr, "bench-connect: %s: %ld of %ld connections failed\n", names[v], t.failed,
                t.failed + t.done);
        exit(1);
    }
    *rate = (double)t.done / took;
    *cpu_us = cpu / (double)t.done * 1e6;
}

int main(int argc, char **argv)
{
    int sep = 1;
    while (sep < argc && strcmp(argv[sep], "--") != 0)
        sep++;
    if (sep != 4 || sep + 1 >= argc) {
        fprintf(stderr, "usage: bench-connect ROUNDS WINDOW CONCURRENCY -- SERVER ARGS...\n");
        return 2;
    }
    int rounds = atoi(argv[1]);
    double seconds = atof(argv[2]);
    concurrency = atoi(argv[3]);
    if (rounds < 1 || rounds > MAX_ROUNDS || seconds <= 0 || concurrency < 1 ||
        concurrency > MAX_CONCURRENCY) {
        fprintf(stderr, "bench-connect: rounds 1-%d, window above 0, concurrency 1-%d\n",
                MAX_ROUNDS, MAX_CONCURRENCY);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    char **server = argv + sep + 1;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(1, &one);
    sched_setaffinity(0, sizeof one, &one);
    loop = csock_loop_new();
    if (!loop) die("csock_loop_new");
#ifdef BENCH_HAVE_LIBUV
    uv_loop_init(&uv);
    int variants = VARIANTS;
#else
    int variants = LIBUV;
#endif
    static double rate[VARIANTS][MAX_ROUNDS], cpu[VARIANTS][MAX_ROUNDS];
    const char *only = getenv("CONNECT_ONLY");
    if (only) {
        static const char *const short_names[VARIANTS] = {"raw", "csock", "libuv"};
        int v = 0;
        while (v < variants && strcmp(only, short_names[v]) != 0)
            v++;
        if (v == variants) {
            fprintf(stderr, "bench-connect: CONNECT_ONLY=%s: not a client here\n", only);
            return 2;
        }
        window(v, seconds, server, &rate[v][0], &cpu[v][0]);
        printf("%s: %.0f connects/s, %.2f us client CPU per connect\n", names[v], rate[v][0],
               cpu[v][0]);
        return 0;
    }
    for (int v = 0; v < variants; v++) /* warm-up: one short window each, not counted */
        window(v, seconds / 4, server, &rate[v][0], &cpu[v][0]);
    for (int r = 0; r < rounds; r++)
        for (int k = 0; k < variants; k++) {
            int v = (r % 2 ? variants - 1 - (k + r / 2) % variants : (k + r / 2) % variants);
            window(v, seconds, server, &rate[v][r], &cpu[v][r]);
        }

    printf("Connects per second, %d in flight (connect, %d bytes out and back, close); %d rounds "
           "of one %.2g s window per client; echo server `%s` on core 0, client on core 1. "
           "Figures are medians over the windows; ratios are the median of each window's "
           "figure over raw epoll's in the same round, with its 95%% confidence interval.\n\n",
           concurrency, MESSAGE, rounds, seconds, argv[sep + 1]);
    printf("| client | connects/s | 95%% CI | vs raw epoll | client CPU/connect (us) | vs raw "
           "epoll |\n|---|---|---|---|---|---|\n");
    for (int v = 0; v < variants; v++) {
        double rr[MAX_ROUNDS], cr[MAX_ROUNDS], rs[MAX_ROUNDS], cs[MAX_ROUNDS];
        for (int r = 0; r < rounds; r++) {
            rr[r] = rate[v][r] / rate[RAW][r];
            cr[r] = cpu[v][r] / cpu[RAW][r];
            rs[r] = rate[v][r];
            cs[r] = cpu[v][r];
        }
        struct bench_ci a = bench_median_ci(rs, rounds), b = bench_median_ci(rr, rounds);
        struct bench_ci c = bench_median_ci(cs, rounds), d = bench_median_ci(cr, rounds);
        printf("| %s | %.0f | %.0f-%.0f | %.3f (%.3f-%.3f) | %.2f | %.3f (%.3f-%.3f) |\n", names[v],
               a.median, a.low, a.high, b.median, b.low, b.high, c.median, d.median, d.low, d.high);
    }
    csock_loop_free(loop);
#ifdef BENCH_HAVE_LIBUV
    uv_loop_close(&uv);
#endif
    return 0;
}
