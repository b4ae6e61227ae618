/* SPDX-License-Identifier: MIT */
/* Timeouts with Python's meaning: none, 0 (non-blocking), positive (a limit), the default for new
 * sockets, a total deadline for sendall and connect, and EINTR retried within what is left. */
#include "check.h"

#include <csock/loop.h>
#include <csock/server.h>

#include <math.h>
#include <signal.h>
#include <sys/time.h>

static void values_and_validation(void)
{
    csock *s = csock_socket(AF_INET, SOCK_STREAM, 0);
    CHECK(csock_gettimeout(s) == CSOCK_NO_TIMEOUT);
    CHECK_EQ(csock_getblocking(s), 1);
    CHECK_EQ(csock_settimeout(s, 0.25), 0);
    CHECK(csock_gettimeout(s) == 0.25);
    CHECK_EQ(csock_getblocking(s), 1);
    CHECK_EQ(csock_setblocking(s, 0), 0);
    CHECK(csock_gettimeout(s) == 0.0);
    CHECK_EQ(csock_getblocking(s), 0);
    CHECK_EQ(csock_setblocking(s, 1), 0);
    CHECK(csock_gettimeout(s) == CSOCK_NO_TIMEOUT);
    CHECK_EQ(csock_settimeout(s, -0.5), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "settimeout -0.5: a timeout is CSOCK_NO_TIMEOUT, 0, or positive");
    CHECK_EQ(csock_settimeout(s, 0.0 / 0.0), CSOCK_EINVAL);
    CHECK_EQ(csock_settimeout(s, 1e300), CSOCK_EINVAL);
    CHECK(csock_gettimeout(s) == CSOCK_NO_TIMEOUT); /* a refused value changes nothing */
    CHECK_EQ(csock_settimeout(s, 1e-12), 0);        /* tiny but positive: not non-blocking */
    CHECK(csock_gettimeout(s) > 0);
    csock_free(s);
}

static void recv_times_out(void)
{
    csock *c, *s;
    check_tcp_pair("127.0.0.1", &c, &s);
    CHECK_EQ(csock_settimeout(c, 0.2), 0);
    char buf[16];
    double t0 = check_now();
    CHECK_EQ(csock_recv(c, buf, sizeof buf), CSOCK_ETIMEOUT);
    double took = check_now() - t0;
    CHECK(took >= 0.19 && took < 5);
    CHECK_ERROR(CSOCK_ETIMEOUT, "recv 127.0.0.1:");
    CHECK(strstr(csock_lasterror(), ": timed out") != NULL);
    /* Nothing is lost: data sent after the timeout is still received whole. */
    CHECK_EQ(csock_sendall(s, "late", 4, NULL), 0);
    CHECK_EQ(check_recv_exactly(c, buf, 4), 4);
    CHECK(memcmp(buf, "late", 4) == 0);
    csock_free(c);
    csock_free(s);
}

static void accept_times_out(void)
{
    int port;
    csock *l = check_listener("127.0.0.1", &port);
    CHECK_EQ(csock_settimeout(l, 0.1), 0);
    double t0 = check_now();
    CHECK(csock_accept(l, NULL) == NULL);
    CHECK(check_now() - t0 >= 0.09);
    char want[64];
    snprintf(want, sizeof want, "accept 127.0.0.1:%d: timed out", port);
    CHECK_ERROR(CSOCK_ETIMEOUT, want);
    csock_free(l);
}

/* A listener whose queue is full (backlog 0, one connection waiting) drops new SYNs, so a
 * connect to it hangs on loopback until its timeout. Listens on *port and connects to it with a
 * 0.2 s timeout until a connect times out; filler[] gets the sockets. Returns how many connected
 * before one timed out (-1 if none did). */
static int fill_the_queue(csock **listener, int *port, csock *filler[4])
{
    *listener = csock_socket(AF_INET, SOCK_STREAM, 0);
    csock_addr a;
    CHECK_EQ(csock_bind(*listener, "127.0.0.1", 0), 0);
    CHECK_EQ(csock_listen(*listener, 0), 0);
    csock_getsockname(*listener, &a);
    *port = csock_addr_port(&a);
    for (int i = 0; i < 4; i++)
        filler[i] = NULL;
    for (int i = 0; i < 4; i++) {
        filler[i] = csock_socket(AF_INET, SOCK_STREAM, 0);
        csock_settimeout(filler[i], 0.2);
        double t0 = check_now();
        int rc = csock_connect(filler[i], "127.0.0.1", *port);
        if (rc == CSOCK_ETIMEOUT) {
            CHECK(check_now() - t0 >= 0.19);
            char want[64];
            snprintf(want, sizeof want, "connect 127.0.0.1:%d: timed out", *port);
            CHECK_STR(csock_lasterror(), want);
            return i;
        }
        CHECK_EQ(rc, 0);
    }
    return -1;
}

static void connect_times_out(void)
{
    csock *l, *filler[4];
    int port;
    CHECK(fill_the_queue(&l, &port, filler) >= 0);
    /* create_connection: the same, with the timeout bounding the whole call. */
    double t0 = check_now();
    csock *c = csock_create_connection("127.0.0.1", port, 0.2, NULL);
    CHECK(c == NULL);
    CHECK(check_now() - t0 < 5);
    CHECK_ERROR(CSOCK_ETIMEOUT, "timed out");
    for (int i = 0; i < 4; i++)
        csock_free(filler[i]);
    csock_free(l);
}

/* connect_ex reports a timeout as it reports every failure of the connect step, by returning it
 * rather than failing: CSOCK_ETIMEOUT itself (no errno means "timed out"), with the message. */
static void connect_ex_times_out(void)
{
    csock *l, *filler[4];
    int port;
    CHECK(fill_the_queue(&l, &port, filler) >= 0);
    csock *c = csock_socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(csock_settimeout(c, 0.2), 0);
    double t0 = check_now();
    CHECK_EQ(csock_connect_ex(c, "127.0.0.1", port), CSOCK_ETIMEOUT);
    CHECK(check_now() - t0 >= 0.19);
    char want[64];
    snprintf(want, sizeof want, "connect_ex 127.0.0.1:%d: timed out", port);
    CHECK_ERROR(CSOCK_ETIMEOUT, want);
    csock_free(c);
    for (int i = 0; i < 4; i++)
        csock_free(filler[i]);
    csock_free(l);
}

static long kernel_timeout_us(csock *s, int optname)
{
    struct timeval tv;
    socklen_t len = sizeof tv;
    getsockopt(csock_fileno(s), SOL_SOCKET, optname, &tv, &len);
    return (long)tv.tv_sec * 1000000 + (long)tv.tv_usec;
}

static void accepted_sockets_get_their_own_timeout(void)
{
    /* The kernel copies a listener's SO_RCVTIMEO/SO_SNDTIMEO into the sockets it accepts;
     * csock gives them the default timeout instead, as it says. */
    int port;
    csock *l = check_listener("127.0.0.1", &port);
    CHECK_EQ(csock_settimeout(l, 5), 0);
    csock *c = csock_create_connection("127.0.0.1", port, 5, NULL);
    csock *a = csock_accept(l, NULL);
    CHECK(a != NULL);
    CHECK(csock_gettimeout(a) == CSOCK_NO_TIMEOUT);
    CHECK_EQ(kernel_timeout_us(a, SO_RCVTIMEO), 0);
    CHECK_EQ(kernel_timeout_us(a, SO_SNDTIMEO), 0);
    csock_free(a);
    csock_free(c);
    /* With a default of its own, that one applies. */
    CHECK_EQ(csock_setdefaulttimeout(0.5), 0);
    c = csock_create_connection("127.0.0.1", port, 5, NULL);
    a = csock_accept(l, NULL);
    CHECK(a != NULL && csock_gettimeout(a) == 0.5);
    CHECK_EQ(kernel_timeout_us(a, SO_RCVTIMEO), 500000);
    CHECK_EQ(kernel_timeout_us(a, SO_SNDTIMEO), 500000);
    csock_free(a);
    csock_free(c);
    CHECK_EQ(csock_setdefaulttimeout(0), 0);
    c = csock_create_connection("127.0.0.1", port, 5, NULL);
    a = csock_accept(l, NULL);
    CHECK(a != NULL && csock_gettimeout(a) == 0.0);
    CHECK_EQ(csock_settimeout(a, CSOCK_NO_TIMEOUT), 0); /* no kernel timeout left behind */
    CHECK_EQ(kernel_timeout_us(a, SO_RCVTIMEO), 0);
    CHECK_EQ(csock_setdefaulttimeout(CSOCK_NO_TIMEOUT), 0);
    csock_free(a);
    csock_free(c);
    /* A connection that completed while the listener had a timeout, accepted after the
     * listener's timeout was removed, still gets none. */
    c = csock_create_connection("127.0.0.1", port, 5, NULL);
    CHECK_EQ(csock_settimeout(l, CSOCK_NO_TIMEOUT), 0);
    a = csock_accept(l, NULL);
    CHECK(a != NULL);
    CHECK_EQ(kernel_timeout_us(a, SO_RCVTIMEO), 0);
    CHECK_EQ(kernel_timeout_us(a, SO_SNDTIMEO), 0);
    csock_free(a);
    csock_free(c);
    csock_free(l);
}

static void non_blocking_calls_never_wait(void)
{
    csock *c, *s;
    check_tcp_pair("127.0.0.1", &c, &s);
    CHECK_EQ(csock_setblocking(c, 0), 0);
    char buf[16];
    CHECK_EQ(csock_recv(c, buf, sizeof buf), CSOCK_EAGAIN);
    CHECK_ERROR(CSOCK_EAGAIN, "recv 127.0.0.1:");
    CHECK_EQ(csock_recv_flags(s, buf, sizeof buf, MSG_DONTWAIT), CSOCK_EAGAIN);
    int port;
    csock *l = check_listener("127.0.0.1", &port);
    CHECK_EQ(csock_setblocking(l, 0), 0);
    CHECK(csock_accept(l, NULL) == NULL);
    CHECK_EQ(csock_lastcode(), CSOCK_EAGAIN);
    csock *n = csock_socket(AF_INET, SOCK_STREAM, 0);
    csock_setblocking(n, 0);
    int rc = csock_connect(n, "127.0.0.1", port);
    CHECK(rc == 0 || rc == CSOCK_EINPROGRESS);
    csock *a = csock_accept(l, NULL);
    if (!a) { /* the handshake may still be on its way: wait for it with a timeout */
        csock_settimeout(l, 5);
        a = csock_accept(l, NULL);
    }
    CHECK(a != NULL);
    csock_free(a);
    csock_free(n);
    csock_free(l);
    csock_free(c);
    csock_free(s);
}

static void default_timeout_applies_to_new_sockets(void)
{
    CHECK_EQ(csock_setdefaulttimeout(1.5), 0);
    CHECK(csock_getdefaulttimeout() == 1.5);
    csock *c, *s;
    check_tcp_pair("127.0.0.1", &c, &s); /* created and accepted under the default */
    CHECK(csock_gettimeout(c) == 1.5);
    CHECK(csock_gettimeout(s) == 1.5);
    CHECK_EQ(kernel_timeout_us(s, SO_RCVTIMEO), 1500000);
    csock_free(c);
    csock_free(s);
    CHECK_EQ(csock_setdefaulttimeout(0), 0);
    csock *nb = csock_socket(AF_INET, SOCK_STREAM, 0);
    CHECK(csock_gettimeout(nb) == 0.0);
    csock_free(nb);
    CHECK_EQ(csock_setdefaulttimeout(-3), CSOCK_EINVAL);
    CHECK_EQ(csock_setdefaulttimeout(CSOCK_NO_TIMEOUT), 0);
    CHECK(csock_getdefaulttimeout() == CSOCK_NO_TIMEOUT);
}

static void sendall_has_one_deadline(void)
{
    /* The peer never reads: sendall must stop at its total deadline and say how much went. */
    csock *c, *s;
    check_tcp_pair("127.0.0.1", &c, &s);
    CHECK_EQ(csock_settimeout(c, 0.3), 0);
    size_t len = 64 << 20, sent = 0;
    char *data = calloc(1, len);
    double t0 = check_now();
    CHECK_EQ(csock_sendall(c, data, len, &sent), CSOCK_ETIMEOUT);
    double took = check_now() - t0;
    CHECK(took >= 0.29 && took < 3);
    CHECK(sent > 0 && sent < len);
    char want[64];
    snprintf(want, sizeof want, "after %zu of %zu bytes", sent, len);
    CHECK_ERROR(CSOCK_ETIMEOUT, want);
    CHECK(strstr(csock_lasterror(), "sendall 127.0.0.1:") != NULL);
    /* The receiver gets exactly the bytes sendall reported. */
    CHECK_EQ(csock_shutdown(c, SHUT_WR), 0);
    csock_settimeout(s, 5);
    size_t got = 0;
    ssize_t n;
    while ((n = csock_recv(s, data, len)) > 0)
        got += (size_t)n;
    CHECK_EQ(n, 0);
    CHECK_EQ(got, sent);
    free(data);
    csock_free(c);
    csock_free(s);
}

/* Signals that interrupt a waiting call; after the fifth, the handler sends the awaited byte. */
static volatile sig_atomic_t alarms;
static int wake_fd = -1;

static void on_alarm(int sig)
{
    (void)sig;
    int saved = errno;
    if (++alarms == 5 && wake_fd >= 0)
        while (write(wake_fd, "!", 1) < 0 && errno == EINTR) {
        } /* the one byte must go, or the waiting recv waits for ever */
    errno = saved;
}

static void start_alarms(int wake)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: every signal interrupts the call with EINTR */
    sigaction(SIGALRM, &sa, NULL);
    alarms = 0;
    wake_fd = wake;
    struct itimerval it = {{0, 20000}, {0, 20000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void stop_alarms(void)
{
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    signal(SIGALRM, SIG_DFL);
    check_watchdog(60);
}

static void eintr_is_retried_when_blocking(void)
{
    csock *c, *s;
    check_tcp_pair("127.0.0.1", &c, &s);
    start_alarms(csock_fileno(s));
    char buf[4];
    CHECK_EQ(csock_recv(c, buf, sizeof buf), 1); /* not EINTR: retried until the byte came */
    CHECK(alarms >= 5);
    stop_alarms();
    csock_free(c);
    csock_free(s);
}

static void eintr_is_retried_within_the_deadline(void)
{
    csock *c, *s;
    check_tcp_pair("127.0.0.1", &c, &s);
    CHECK_EQ(csock_settimeout(c, 0.3), 0);
    start_alarms(-1);
    char buf[4];
    double t0 = check_now();
    CHECK_EQ(csock_recv(c, buf, sizeof buf), CSOCK_ETIMEOUT);
    double took = check_now() - t0;
    /* Restarting the full timeout after each signal would never end; what is left is used. */
    CHECK(took >= 0.29 && took < 3);
    CHECK(alarms >= 5);
    stop_alarms();
    CHECK_EQ(kernel_timeout_us(c, SO_RCVTIMEO), 300000); /* the socket's own timeout is back */
    csock_free(c);
    csock_free(s);
}

/* ---- every function that takes seconds, against one table ---- */

/* What each kind of number of seconds takes (docs/design.md, "Numbers of seconds"): 'o' taken,
 * 'x' refused with CSOCK_EINVAL and the kind's range in the message, '-' not tried. */
static const struct {
    double seconds;
    const char *timeout; /* settimeout, setdefaulttimeout, create_connection, loop run_once */
    const char *zero;    /* a config field whose zero means none: the THREADS server's timeout */
    const char *delay;   /* call_later, timer_restart */
    const char *every;   /* call_every */
    const char *ahead;   /* call_at(csock_loop_time + seconds): a time in the past is now */
} seconds_table[] = {
    {NAN, "x", "x", "x", "x", "x"},
    {INFINITY, "x", "x", "x", "x", "x"},
    {-INFINITY, "x", "x", "x", "x", "x"},
    {-1e300, "x", "x", "x", "x", "o"},
    {CSOCK_DEFAULT_TIMEOUT, "x", "x", "x", "x", "o"},
    {CSOCK_NO_TIMEOUT, "o", "x", "x", "x", "o"},
    {-0.5, "x", "x", "x", "x", "o"},
    {0, "o", "o", "o", "x", "o"},
    {1e-300, "o", "o", "o", "o", "o"},
    {1e-12, "o", "o", "o", "o", "o"},
    {0.25, "o", "o", "o", "o", "o"},
    {1e9, "o", "o", "o", "o", "o"},
    {2147483647.0, "o", "o", "o", "o", "o"},
    /* now + 2^31 is not exact in a double: call_at's limit is tried just past it instead. */
    {2147483648.0, "o", "o", "o", "o", "-"},
    {2147483649.0, "x", "x", "x", "x", "x"},
    {3e9, "x", "x", "x", "x", "x"},
    {1e10, "x", "x", "x", "x", "x"},
    {1e300, "x", "x", "x", "x", "x"},
};

#define TIMEOUT_RANGE "a timeout is CSOCK_NO_TIMEOUT, 0, or positive up to 2^31 s"

/* Checks one outcome: taken (rc >= 0), or refused with CSOCK_EINVAL and "op value: range". */
static void check_seconds(const char *want, int rc, const char *op, double seconds,
                          const char *range)
{
    if (want[0] == '-') return;
    char value[32], text[256];
    if (isnan(seconds))
        snprintf(value, sizeof value, "nan");
    else
        snprintf(value, sizeof value, "%g", seconds);
    snprintf(text, sizeof text, "%s %s: %s", op, value, range);
    if (want[0] == 'o' && rc < 0)
        fprintf(stderr, "  %s %s refused: %s\n", op, value, csock_lasterror());
    if (want[0] == 'x' && rc >= 0) fprintf(stderr, "  %s %s taken\n", op, value);
    CHECK(want[0] == 'o' ? rc >= 0 : rc == CSOCK_EINVAL);
    if (want[0] == 'x' && rc == CSOCK_EINVAL) CHECK_ERROR(CSOCK_EINVAL, text);
}

static void nothing(csock_loop *loop, csock_timer *t, void *data)
{
    (void)loop, (void)t, (void)data;
}

static void nobody(csock *client, void *data)
{
    (void)client, (void)data;
}

static void every_function_that_takes_seconds_reads_one_table(void)
{
    int port;
    csock *l = check_listener("127.0.0.1", &port);
    csock *s = csock_socket(AF_INET, SOCK_STREAM, 0);
    csock_loop *loop = csock_loop_new();
    /* Repeating, so that it outlives the passes that run it after a restart at 0. */
    csock_timer *restarted = csock_loop_call_every(loop, 1, nothing, NULL);
    csock_addr here;
    CHECK_EQ(csock_addr_parse(&here, "127.0.0.1:0"), 0);
    for (size_t i = 0; i < sizeof seconds_table / sizeof seconds_table[0]; i++) {
        double v = seconds_table[i].seconds;
        check_seconds(seconds_table[i].timeout, csock_settimeout(s, v), "settimeout", v,
                      TIMEOUT_RANGE);
        check_seconds(seconds_table[i].timeout, csock_setdefaulttimeout(v), "setdefaulttimeout", v,
                      TIMEOUT_RANGE);
        csock_setdefaulttimeout(CSOCK_NO_TIMEOUT);
        if (v != CSOCK_DEFAULT_TIMEOUT) { /* which create_connection takes as the default */
            csock *c = csock_create_connection("127.0.0.1", port, v, NULL);
            /* Timeout 0 connects without waiting: CSOCK_EINPROGRESS is no refusal. */
            int rc = c || csock_lastcode() == CSOCK_EINPROGRESS ? 0 : csock_lastcode();
            check_seconds(seconds_table[i].timeout, rc, "create_connection", v, TIMEOUT_RANGE);
            csock_free(c);
            if (rc == 0) csock_free(csock_accept(l, NULL)); /* the handshake is done or due */
        }
        csock_loop_wakeup(loop); /* a pass that is taken ends at once */
        check_seconds(seconds_table[i].timeout, csock_loop_run_once(loop, v), "loop: run_once", v,
                      TIMEOUT_RANGE);

        csock_server_config threads = {.serve = nobody, .mode = CSOCK_SERVE_THREADS, .timeout = v};
        csock_server *srv = csock_server_new_addr(&here, &threads);
        check_seconds(seconds_table[i].zero, srv ? 0 : csock_lastcode(), "server: timeout", v,
                      "a timeout is 0 (none) or positive up to 2^31 s");
        csock_server_free(srv);

        csock_timer *t = csock_loop_call_later(loop, v, nothing, NULL);
        check_seconds(seconds_table[i].delay, t ? 0 : csock_lastcode(), "loop: call_later", v,
                      "a delay is 0 or positive up to 2^31 s");
        csock_timer_cancel(t);
        check_seconds(seconds_table[i].delay, csock_timer_restart(restarted, v),
                      "loop: timer restart", v, "a delay is 0 or positive up to 2^31 s");
        t = csock_loop_call_every(loop, v, nothing, NULL);
        check_seconds(seconds_table[i].every, t ? 0 : csock_lastcode(), "loop: call_every", v,
                      "an interval is positive up to 2^31 s");
        csock_timer_cancel(t);
        /* Outside a callback the loop's clock is read anew, a little later each time. */
        t = csock_loop_call_at(loop, csock_loop_time(loop) + v, nothing, NULL);
        int rc = t ? 0 : csock_lastcode();
        if (seconds_table[i].ahead[0] == 'x') {
            CHECK_EQ(rc, CSOCK_EINVAL);
            CHECK_ERROR(CSOCK_EINVAL, "loop: call_at ");
            CHECK_ERROR(CSOCK_EINVAL, " s from now: a time is finite and at most 2^31 s from now");
        } else if (seconds_table[i].ahead[0] == 'o') {
            check_seconds("o", rc, "loop: call_at", v, "");
        }
        csock_timer_cancel(t);
    }
    CHECK(csock_gettimeout(s) == 2147483648.0); /* the last value taken */
    CHECK(csock_getdefaulttimeout() == CSOCK_NO_TIMEOUT);
    csock_loop_free(loop);
    csock_free(s);
    csock_free(l);
}

int main(void)
{
    check_watchdog(60);
    RUN(values_and_validation);
    RUN(recv_times_out);
    RUN(accept_times_out);
    RUN(connect_times_out);
    RUN(connect_ex_times_out);
    RUN(accepted_sockets_get_their_own_timeout);
    RUN(non_blocking_calls_never_wait);
    RUN(default_timeout_applies_to_new_sockets);
    RUN(sendall_has_one_deadline);
    RUN(eintr_is_retried_when_blocking);
    RUN(eintr_is_retried_within_the_deadline);
    RUN(every_function_that_takes_seconds_reads_one_table);
    return check_done();
}
