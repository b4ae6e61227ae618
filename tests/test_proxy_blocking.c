/* SPDX-License-Identifier: MIT */
/* The blocking API across the fault proxy (faultproxy.h): sendall and sendfile through pieces of
 * one byte deliver every byte; through a slow proxy their timeout is one deadline for the whole
 * call, and what they say was sent is what the peer reads; and a storm of signals (a handler
 * without SA_RESTART) neither ends a call early with EINTR nor stretches its deadline. */
#include "check_proxy.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

static char pattern(size_t i)
{
    return (char)(i * 131 + (i >> 9));
}

/* Reads the server side to end of file on a thread, checking every byte. */
struct reader {
    csock *s;
    size_t got;
    int wrong;
};

static void *read_all(void *arg)
{
    struct reader *r = arg;
    char buf[8192];
    ssize_t n;
    csock_settimeout(r->s, 30);
    while ((n = csock_recv(r->s, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != pattern(r->got + (size_t)i)) r->wrong = 1;
        r->got += (size_t)n;
    }
    return NULL;
}

static char *make_text(size_t len)
{
    char *t = malloc(len);
    for (size_t i = 0; i < len; i++)
        t[i] = pattern(i);
    return t;
}

static void sendall_in_single_bytes(void)
{
    size_t len = 60000;
    char *text = make_text(len);
    faultproxy_config cfg = {.seed = 1, .max_piece = 1};
    struct check_link l = check_through_proxy(&cfg);
    struct reader r = {.s = l.server};
    pthread_t t = check_thread(read_all, &r);
    size_t sent = 0;
    CHECK_EQ(csock_settimeout(l.client, 30), 0);
    CHECK_EQ(csock_sendall(l.client, text, len, &sent), 0);
    CHECK_EQ(sent, len);
    CHECK_EQ(csock_shutdown(l.client, SHUT_WR), 0);
    check_join(t);
    CHECK_EQ(r.got, len);
    CHECK(!r.wrong);
    check_link_free(&l);
    free(text);
}

/* A proxy of about 120 KB/s, and small buffers on the sending side and in the proxy: a 4 MB
 * call cannot finish in its timeout, and what it sent arrives soon after. */
static const faultproxy_config slow = {
    .seed = 2, .max_piece = 64, .max_delay_us = 1000, .rcvbuf = 4096};

/* sendall (or sendfile) of 4 MB with a timeout of 0.3 s through the slow proxy: the timeout
 * bounds the whole call, not each partial write, and what it says went out is what arrives. */
static void timeout_is_one_deadline(int use_sendfile)
{
    size_t len = 4 << 20;
    char *text = make_text(len);
    FILE *f = tmpfile();
    CHECK(f && fwrite(text, 1, len, f) == len && fflush(f) == 0);
    struct check_link l = check_through_proxy(&slow);
    CHECK_EQ(csock_setsndbuf(l.client, 4096), 0);
    CHECK_EQ(csock_settimeout(l.client, 0.3), 0);
    struct reader r = {.s = l.server};
    pthread_t t = check_thread(read_all, &r);
    size_t sent = 0;
    double start = check_now();
    int rc = use_sendfile ? csock_sendfile(l.client, fileno(f), 0, len, &sent)
                          : csock_sendall(l.client, text, len, &sent);
    double took = check_now() - start;
    CHECK_EQ(rc, CSOCK_ETIMEOUT);
    char want[64];
    snprintf(want, sizeof want, "after %zu of %zu bytes", sent, len);
    CHECK_ERROR(CSOCK_ETIMEOUT, want);
    CHECK(took >= 0.28 && took < 1.3);
    CHECK(sent > 0 && sent < len);
    CHECK_EQ(csock_gettimeout(l.client), 0.3);
    CHECK_EQ(csock_shutdown(l.client, SHUT_WR), 0);
    check_join(t);
    CHECK_EQ(r.got, sent);
    CHECK(!r.wrong);
    check_link_free(&l);
    fclose(f);
    free(text);
}

static void sendall_timeout_is_one_deadline(void)
{
    timeout_is_one_deadline(0);
}

static void sendfile_timeout_is_one_deadline(void)
{
    timeout_is_one_deadline(1);
}

/* ---- a storm of signals at the calling thread ---- */

static atomic_int storming;
static atomic_long signals_sent;

static void on_usr1(int signo)
{
    (void)signo;
}

static void *storm(void *arg)
{
    pthread_t target = *(pthread_t *)arg;
    while (atomic_load(&storming)) {
        pthread_kill(target, SIGUSR1);
        atomic_fetch_add(&signals_sent, 1);
        struct timespec ts = {0, 500000}; /* the storm's own pace, not synchronisation */
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static pthread_t start_storm(pthread_t *self)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1; /* no SA_RESTART: every blocking call returns EINTR */
    sigaction(SIGUSR1, &sa, NULL);
    *self = pthread_self();
    atomic_store(&storming, 1);
    atomic_store(&signals_sent, 0);
    return check_thread(storm, self);
}

static void stop_storm(pthread_t t)
{
    atomic_store(&storming, 0);
    check_join(t);
    signal(SIGUSR1, SIG_DFL);
}

static void signals_neither_end_nor_stretch_calls(void)
{
    size_t len = 300000;
    char *text = make_text(len);
    faultproxy_config cfg = {.seed = 3, .max_piece = 1500, .max_delay_us = 1000};
    struct check_link l = check_through_proxy(&cfg);
    CHECK_EQ(csock_setsndbuf(l.client, 4096), 0);
    struct reader r = {.s = l.server};
    pthread_t reader = check_thread(read_all, &r);
    pthread_t self, t = start_storm(&self);
    /* sendall completes, however many times it is interrupted. */
    CHECK_EQ(csock_settimeout(l.client, 30), 0);
    size_t sent = 0;
    CHECK_EQ(csock_sendall(l.client, text, len, &sent), 0);
    CHECK_EQ(sent, len);
    /* recv on a silent connection times out at its deadline, not later, never with EINTR. */
    char b;
    CHECK_EQ(csock_settimeout(l.client, 0.3), 0);
    double start = check_now();
    CHECK_EQ(csock_recv(l.client, &b, 1), CSOCK_ETIMEOUT);
    double took = check_now() - start;
    CHECK(took >= 0.28 && took < 1.3);
    stop_storm(t);
    CHECK(atomic_load(&signals_sent) > 100);
    CHECK_EQ(csock_shutdown(l.client, SHUT_WR), 0);
    check_join(reader);
    CHECK_EQ(r.got, len);
    CHECK(!r.wrong);
    check_link_free(&l);
    free(text);
}

int main(void)
{
    check_watchdog(110);
    RUN(sendall_in_single_bytes);
    RUN(sendall_timeout_is_one_deadline);
    RUN(sendfile_timeout_is_one_deadline);
    RUN(signals_neither_end_nor_stretch_calls);
    return check_done();
}
