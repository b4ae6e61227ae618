/* SPDX-License-Identifier: MIT */
/* A tiny test harness: CHECK macros, a runner, and loopback helpers. Each test file is one
 * program: main() lists its tests with RUN and returns check_done(). */
#ifndef CSOCK_CHECK_H
#define CSOCK_CHECK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <csock.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int check_test_failed, check_outside_failed, check_passed_tests, check_failed_tests;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK(%s) failed (last error: %s)\n", __FILE__, __LINE__,      \
                    #cond, csock_lasterror());                                                     \
            check_test_failed = 1;                                                                 \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                            \
        if (check_a_ != check_b_) {                                                                \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld (last error: %s)\n", __FILE__,   \
                    __LINE__, #a, #b, check_a_, check_b_, csock_lasterror());                      \
            check_test_failed = 1;                                                                 \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *check_a_ = (a), *check_b_ = (b);                                               \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {                           \
            fprintf(stderr, "%s:%d: %s == \"%s\" failed: got \"%s\"\n", __FILE__, __LINE__, #a,    \
                    check_b_ ? check_b_ : "(null)", check_a_ ? check_a_ : "(null)");               \
            check_test_failed = 1;                                                                 \
        }                                                                                          \
    } while (0)

/* The last failure's code is `code` and its message contains `text`. */
#define CHECK_ERROR(code, text)                                                                    \
    do {                                                                                           \
        CHECK_EQ(csock_lastcode(), (code));                                                        \
        if (!strstr(csock_lasterror(), (text))) {                                                  \
            fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", __FILE__, __LINE__,            \
                    csock_lasterror(), (text));                                                    \
            check_test_failed = 1;                                                                 \
        }                                                                                          \
    } while (0)

#define RUN(fn) check_run(#fn, fn)

static inline void check_run(const char *name, void (*fn)(void))
{
    check_outside_failed |= check_test_failed; /* a check of main's own, before this test */
    check_test_failed = 0;
    fn();
    if (check_test_failed) {
        check_failed_tests++;
        fprintf(stderr, "FAIL %s\n", name);
    } else {
        check_passed_tests++;
        printf("ok   %s\n", name);
    }
    check_test_failed = 0;
    fflush(stdout);
}

static inline int check_done(void)
{
    /* A check of main's own, outside every test, fails the program too. */
    check_outside_failed |= check_test_failed;
    if (check_outside_failed) fprintf(stderr, "FAIL a check outside the tests\n");
    printf("%d passed, %d failed\n", check_passed_tests, check_failed_tests);
    return check_failed_tests || check_outside_failed ? 1 : 0;
}

/* A watchdog: no test program may hang; a stuck one dies and fails. */
static inline void check_watchdog(unsigned seconds)
{
    alarm(seconds);
}

static inline double check_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A listening TCP socket on host (loopback) port 0; *port gets the port. */
static inline csock *check_listener(const char *host, int *port)
{
    csock *s = csock_create_server(host, 0, NULL);
    csock_addr a;
    if (!s || csock_getsockname(s, &a) < 0) {
        fprintf(stderr, "listener on %s: %s\n", host, csock_lasterror());
        exit(1);
    }
    *port = csock_addr_port(&a);
    return s;
}

/* A port on host that refuses connections: bound but never listening, so nobody else can take
 * it while *holder lives. Returns the port. */
static inline int check_refusing_port(const char *host, csock **holder)
{
    csock_addr a;
    *holder = csock_socket(strchr(host, ':') ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    if (!*holder || csock_bind(*holder, host, 0) < 0 || csock_getsockname(*holder, &a) < 0) {
        fprintf(stderr, "refusing port on %s: %s\n", host, csock_lasterror());
        exit(1);
    }
    return csock_addr_port(&a);
}

/* A connected TCP pair over loopback: *client and *server. */
static inline void check_tcp_pair(const char *host, csock **client, csock **server)
{
    int port;
    csock *l = check_listener(host, &port);
    *client = csock_create_connection(host, port, CSOCK_DEFAULT_TIMEOUT, NULL);
    *server = *client ? csock_accept(l, NULL) : NULL;
    if (!*client || !*server) {
        fprintf(stderr, "tcp pair on %s: %s\n", host, csock_lasterror());
        exit(1);
    }
    csock_free(l);
}

/* Receives exactly len bytes into buf however the kernel splits them (recv may return fewer
 * than are on their way). Returns len, or what the recv that ended it returned: 0 at end of
 * stream, a negative code. */
static inline ssize_t check_recv_exactly(csock *s, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = csock_recv(s, (char *)buf + got, len - got);
        if (n <= 0) return n;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* How many descriptors this process has open: a test of "nothing leaked". */
static inline int check_open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    while (d && readdir(d))
        n++;
    if (d) closedir(d);
    return n;
}

/* Runs fn(arg) on a thread; check_join waits for it. */
static inline pthread_t check_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    if (pthread_create(&t, NULL, fn, arg) != 0) {
        perror("pthread_create");
        exit(1);
    }
    return t;
}

static inline void check_join(pthread_t t)
{
    pthread_join(t, NULL);
}

#endif
