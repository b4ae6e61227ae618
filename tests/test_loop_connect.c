/* SPDX-License-Identifier: MIT */
/* The loop's client side: resolving on the loop (the resolver pool) and connecting on it. Runs
 * where only /etc/hosts answers (tests/no_dns.sh), whose csock-dual is ::1 and 127.0.0.1; a
 * lookup that never answers is the test's own lookup put in the pool's place. */
#include "check_connect.h"

#include <csock/connect.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sys/socket.h>
#include <sys/wait.h>

/* The pool's lookup (src/loop_internal.h): the tests put theirs in its place. */
extern csock_addrlist *(*csock__resolver_lookup)(const char *host, int port, int family);

/* ---- a lookup that hangs: "hang.test" blocks until released; other names are looked up ---- */

static pthread_mutex_t hang_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hang_cond = PTHREAD_COND_INITIALIZER;
static int hang_released, hang_inside;
static int looking_up; /* threads inside getaddrinfo */

static csock_addrlist *hanging_lookup(const char *host, int port, int family)
{
    /* late6.test: its A answer comes at once, its AAAA one never. */
    int late6 = strcmp(host, "late6.test") == 0;
    if (late6 && family == AF_INET)
        return csock_getaddrinfo("127.0.0.1", port, AF_INET, SOCK_STREAM, 0, 0);
    if (strcmp(host, "hang.test") != 0 && !late6) {
        pthread_mutex_lock(&hang_lock);
        looking_up++;
        pthread_mutex_unlock(&hang_lock);
        csock_addrlist *list = csock_getaddrinfo(host, port, family, SOCK_STREAM, 0, 0);
        pthread_mutex_lock(&hang_lock);
        looking_up--;
        pthread_cond_broadcast(&hang_cond);
        pthread_mutex_unlock(&hang_lock);
        return list;
    }
    pthread_mutex_lock(&hang_lock);
    hang_inside++;
    pthread_cond_broadcast(&hang_cond);
    while (!hang_released)
        pthread_cond_wait(&hang_cond, &hang_lock);
    hang_inside--;
    pthread_cond_broadcast(&hang_cond);
    pthread_mutex_unlock(&hang_lock);
    /* A failure that looks nothing up (a port out of range), so that no thread is inside
     * getaddrinfo, holding its locks, when a test forks. */
    (void)port;
    return csock_getaddrinfo(host, -1, family, SOCK_STREAM, 0, 0);
}

/* Waits (10 s at most) until n lookups hang. */
static void wait_hung_lookups(int n)
{
    struct timespec end;
    clock_gettime(CLOCK_REALTIME, &end);
    end.tv_sec += 10;
    pthread_mutex_lock(&hang_lock);
    while (hang_inside < n && pthread_cond_timedwait(&hang_cond, &hang_lock, &end) == 0)
        ;
    CHECK_EQ(hang_inside, n);
    pthread_mutex_unlock(&hang_lock);
}

/* Lets every hung lookup return, and waits until none is inside. */
static void release_hung_lookups(void)
{
    pthread_mutex_lock(&hang_lock);
    hang_released = 1;
    pthread_cond_broadcast(&hang_cond);
    while (hang_inside > 0)
        pthread_cond_wait(&hang_cond, &hang_lock);
    hang_released = 0;
    pthread_mutex_unlock(&hang_lock);
}

/* ---- resolving ---- */

typedef struct {
    int calls, error, count, family;
    int called_inside; /* the callback ran before csock_loop_resolve returned */
    int returned;
    char message[256];
} answer;

static void on_answer(csock_loop *loop, csock_addrlist *list, int error, void *data)
{
    answer *a = data;
    (void)loop;
    a->calls++;
    a->error = error;
    a->called_inside |= !a->returned;
    if (list) {
        a->count = (int)list->count;
        a->family = list->items[0].family;
    } else {
        snprintf(a->message, sizeof a->message, "%s", csock_lasterror());
    }
    csock_freeaddrinfo(list);
}

static void resolve_numeric_and_unix_without_a_thread(void)
{
    csock_loop *loop = csock_loop_new();
    answer a = {0}, u = {0};
    CHECK(csock_loop_resolve(loop, "127.0.0.1", 80, 0, on_answer, &a) != NULL);
    a.returned = 1;
    CHECK(csock_loop_resolve(loop, "unix:/tmp/x.sock", 0, 0, on_answer, &u) != NULL);
    u.returned = 1;
    CHECK_EQ(a.calls, 0); /* never from inside the call */
    CHECK(csock_loop_run_once(loop, 1.0) >= 2);
    CHECK_EQ(a.calls, 1);
    CHECK_EQ(a.error, 0);
    CHECK_EQ(a.count, 1);
    CHECK_EQ(a.family, AF_INET);
    CHECK_EQ(a.called_inside, 0);
    CHECK_EQ(u.calls, 1);
    CHECK_EQ(u.family, AF_UNIX);
    csock_loop_free(loop);
}

static void resolve_a_name_in_the_pool(void)
{
    csock_loop *loop = csock_loop_new();
    answer a = {0}, six = {0};
    CHECK(csock_loop_resolve(loop, "csock-dual", 80, 0, on_answer, &a) != NULL);
    CHECK(csock_loop_resolve(loop, "csock-dual", 80, AF_INET6, on_answer, &six) != NULL);
    run_until(loop, &six.calls, 10);
    run_until(loop, &a.calls, 10);
    CHECK_EQ(a.calls, 1);
    CHECK_EQ(a.error, 0);
    CHECK(a.count >= 2);
    CHECK_EQ(six.calls, 1);
    CHECK_EQ(six.count, 1);
    CHECK_EQ(six.family, AF_INET6);
    csock_loop_free(loop);
}

static void resolve_failure_comes_with_its_message(void)
{
    csock_loop *loop = csock_loop_new();
    answer a = {0};
    CHECK(csock_loop_resolve(loop, "nosuch.invalid", 80, 0, on_answer, &a) != NULL);
    run_until(loop, &a.calls, 10);
    CHECK_EQ(a.calls, 1);
    CHECK_EQ(a.error, CSOCK_EAI_NONAME);
    CHECK_STR(a.message, "getaddrinfo nosuch.invalid:80: Name or service not known");
    CHECK(csock_loop_resolve(NULL, "x", 80, 0, on_answer, &a) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "resolve: NULL loop");
    CHECK_EQ(csock_set_resolver_threads(0), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "resolver: 0 threads: 1 to 64");
    csock_loop_free(loop);
}

/* Cancelled at every stage (queued behind hung lookups, under way, answered and posted but not
 * run): the callback never runs; not cancelled, it runs once. */
static void resolve_cancel_means_no_callback(void)
{
    csock__resolver_lookup = hanging_lookup;
    CHECK_EQ(csock_set_resolver_threads(2), 0);
    csock_loop *loop = csock_loop_new();
    answer hung[4] = {{0}}, late = {0};
    csock_resolve *h[4];
    for (int i = 0; i < 4; i++) /* two hold the threads, two wait in the queue */
        h[i] = csock_loop_resolve(loop, "hang.test", 80, 0, on_answer, &hung[i]);
    /* Behind the hung ones, a name waits too: the loop goes on meanwhile. */
    csock_resolve *q = csock_loop_resolve(loop, "csock-dual", 80, 0, on_answer, &late);
    wait_hung_lookups(2);
    for (int i = 0; i < 4; i++)
        csock_resolve_cancel(h[i]);
    /* Cancelled lookups under way still hold their threads: the name waits its turn. */
    run_until(loop, &late.calls, 0.2);
    CHECK_EQ(late.calls, 0);
    (void)q;
    release_hung_lookups();
    run_until(loop, &late.calls, 10);
    CHECK_EQ(late.calls, 1);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(hung[i].calls, 0);

    /* Racing the answer: cancelled after 0, 1, 2... passes, the callback ran exactly when the
     * cancel did not come first. */
    int ran = 0;
    for (int i = 0; i < 300; i++) {
        answer a = {0};
        csock_resolve *r = csock_loop_resolve(loop, "csock-dual", 80, 0, on_answer, &a);
        for (int pass = 0; pass < i % 4 && !a.calls; pass++)
            csock_loop_run_once(loop, 0.001 * (i % 3));
        int before = a.calls;
        if (!before) csock_resolve_cancel(r);
        for (int pass = 0; pass < 3; pass++)
            csock_loop_run_once(loop, 0);
        CHECK_EQ(a.calls, before);
        ran += before;
    }
    printf("     %d of 300 answered before the cancel\n", ran);
    csock_loop_free(loop);
    CHECK_EQ(csock_set_resolver_threads(4), 0);
}

/* ThreadSanitizer cannot start threads in a child forked from a process with threads. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

/* A child forked after the pool has threads has none of them: its lookups still get answered. */
static void resolve_in_a_forked_child(void)
{
#ifdef UNDER_TSAN
    printf("     skipped under ThreadSanitizer\n");
    return;
#endif
    csock_loop *loop = csock_loop_new();
    answer a = {0};
    CHECK(csock_loop_resolve(loop, "csock-dual", 80, 0, on_answer, &a) != NULL);
    run_until(loop, &a.calls, 10);
    CHECK_EQ(a.calls, 1);
    csock_loop_free(loop);
    /* Cancelled lookups of the tests before may still run: fork when none is inside
     * getaddrinfo (whose locks a child would find held). */
    struct timespec end;
    clock_gettime(CLOCK_REALTIME, &end);
    end.tv_sec += 10;
    pthread_mutex_lock(&hang_lock);
    while (looking_up > 0 && pthread_cond_timedwait(&hang_cond, &hang_lock, &end) == 0)
        ;
    pthread_mutex_unlock(&hang_lock);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20); /* the watchdog's alarm is not inherited */
        csock_loop *child = csock_loop_new();
        answer b = {0};
        /* A name the test's lookup answers without the system's resolver, whose locks a thread
         * of the parent may have held at the fork. */
        csock_loop_resolve(child, "late6.test", 80, AF_INET, on_answer, &b);
        run_until(child, &b.calls, 10);
        _exit(b.calls == 1 && b.error == 0 ? 0 : 1);
    }
    int status = -1;
    CHECK(pid > 0);
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A loop freed with lookups queued, under way and posted: none calls back, nothing leaks. */
static void loop_freed_with_lookups_pending(void)
{
    csock__resolver_lookup = hanging_lookup;
    csock_loop *loop = csock_loop_new();
    answer a[6] = {{0}};
    csock_loop_resolve(loop, "hang.test", 80, 0, on_answer, &a[0]);
    csock_loop_resolve(loop, "hang.test", 80, 0, on_answer, &a[1]);
    csock_loop_resolve(loop, "hang.test", 80, 0, on_answer, &a[2]);
    csock_loop_resolve(loop, "127.0.0.1", 80, 0, on_answer, &a[3]);
    csock_loop_free(loop);
    release_hung_lookups();
    for (int i = 0; i < 4; i++)
        CHECK_EQ(a[i].calls, 0);
}

/* ---- connecting ---- */

/* A port bound on both [::1] and 127.0.0.1 (not listening: each refuses). */
static int dual_port(csock **six, csock **four)
{
    for (int i = 0; i < 50; i++) {
        int port = check_refusing_port("::1", six);
        *four = csock_socket(AF_INET, SOCK_STREAM, 0);
        if (*four && csock_bind(*four, "127.0.0.1", port) == 0) return port;
        csock_free(*four);
        csock_free(*six);
    }
    fprintf(stderr, "no port free on both families\n");
    exit(1);
}

/* Makes l (bound to host:port) listen with its accept queue full, so that the SYNs of further
 * connects are dropped: a black hole on loopback. The connections that fill it go into fill[]
 * (8 at most); returns how many. */
static int black_hole(csock *l, const char *host, int port, csock *fill[8])
{
    CHECK_EQ(csock_listen(l, 0), 0);
    int n = 0;
    while (n < 8) {
        csock *s = csock_socket(strchr(host, ':') ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
        csock_settimeout(s, 0.2);
        if (csock_connect(s, host, port) < 0) {
            csock_free(s); /* its SYN was dropped: the queue is full */
            return n;
        }
        fill[n++] = s;
    }
    fprintf(stderr, "the accept queue of %s:%d never filled\n", host, port);
    exit(1);
}

static void free_all(csock **s, int n)
{
    for (int i = 0; i < n; i++)
        csock_free(s[i]);
}

static void only_ipv4_listening_connects_over_ipv4_at_once(void)
{
    csock *six, *four;
    int port = dual_port(&six, &four);
    CHECK_EQ(csock_listen(four, 16), 0);
    csock_connect_options o = {.attempt_delay = 2.0};
    double took;
    outcome r = connect_once("csock-dual", port, &o, &took);
    CHECK_EQ(r.error, 0);
    CHECK_EQ(r.family, AF_INET);
    CHECK(took < 1.0); /* the refused IPv6 attempt started the next at once */
    printf("     connected in %.3f s\n", took);
    csock_free(six);
    csock_free(four);
}

static void ipv6_black_holed_connects_over_ipv4_after_the_attempt_delay(void)
{
    csock *six, *four, *fill[8];
    int port = dual_port(&six, &four);
    int n = black_hole(six, "::1", port, fill);
    CHECK_EQ(csock_listen(four, 16), 0);
    double took;
    outcome r = connect_once("csock-dual", port, NULL, &took);
    CHECK_EQ(r.error, 0);
    CHECK_EQ(r.family, AF_INET);
    CHECK(took >= 0.2); /* the attempt delay, 0.25 s */
    CHECK(took < 2.0);  /* not the kernel SYN retries (1 s, 3 s, ...), which are never answered */
    printf("     connected in %.3f s\n", took);
    free_all(fill, n);
    csock_free(six);
    csock_free(four);
}

static void both_refused_fails_at_once_naming_both(void)
{
    csock *six, *four;
    int port = dual_port(&six, &four);
    csock_connect_options o = {.attempt_delay = 2.0};
    double took;
    outcome r = connect_once("csock-dual", port, &o, &took);
    CHECK_EQ(r.error, CSOCK_ECONNREFUSED);
    char want[200];
    snprintf(
        want, sizeof want,
        "connect csock-dual:%d: [::1]:%d: Connection refused; 127.0.0.1:%d: Connection refused",
        port, port, port);
    CHECK_STR(r.message, want);
    CHECK(took < 1.0);
    /* One address: csock_connect's words. */
    o.family = AF_INET6;
    r = connect_once("csock-dual", port, &o, &took);
    snprintf(want, sizeof want, "connect csock-dual:%d ([::1]:%d): Connection refused", port, port);
    CHECK_STR(r.message, want);
    r = connect_once("127.0.0.1", port, NULL, &took);
    snprintf(want, sizeof want, "connect 127.0.0.1:%d: Connection refused", port);
    CHECK_STR(r.message, want);
    csock_free(six);
    csock_free(four);
}

static void both_black_holed_times_out_at_the_timeout(void)
{
    csock *six, *four, *fill6[8], *fill4[8];
    int port = dual_port(&six, &four);
    int n6 = black_hole(six, "::1", port, fill6);
    int n4 = black_hole(four, "127.0.0.1", port, fill4);
    csock_connect_options o = {.timeout = 0.6};
    double took;
    outcome r = connect_once("csock-dual", port, &o, &took);
    CHECK_EQ(r.error, CSOCK_ETIMEOUT);
    char want[200];
    snprintf(want, sizeof want, "[::1]:%d: timed out", port);
    CHECK(strstr(r.message, want) != NULL);
    snprintf(want, sizeof want, "127.0.0.1:%d: timed out", port);
    CHECK(strstr(r.message, want) != NULL);
    CHECK(took >= 0.55);
    CHECK(took < 3.0);
    printf("     timed out after %.3f s: %s\n", took, r.message);
    free_all(fill6, n6);
    free_all(fill4, n4);
    csock_free(six);
    csock_free(four);
}

/* One numeric address that times out is named once, in csock_connect's words; a timeout before
 * a numeric address's answer is not a name's lookup. */
static void one_address_timing_out_is_named_once(void)
{
    csock *l = csock_socket(AF_INET, SOCK_STREAM, 0), *fill[8];
    CHECK_EQ(csock_bind(l, "127.0.0.1", 0), 0);
    csock_addr a;
    CHECK_EQ(csock_getsockname(l, &a), 0);
    int port = csock_addr_port(&a);
    int n = black_hole(l, "127.0.0.1", port, fill);
    csock_connect_options o = {.timeout = 0.3};
    double took;
    outcome r = connect_once("127.0.0.1", port, &o, &took);
    CHECK_EQ(r.error, CSOCK_ETIMEOUT);
    char want[200];
    snprintf(want, sizeof want, "connect 127.0.0.1:%d: timed out", port);
    CHECK_STR(r.message, want);
    o.timeout = 1e-9;
    r = connect_once("127.0.0.1", port, &o, &took);
    CHECK_EQ(r.error, CSOCK_ETIMEOUT);
    CHECK_STR(r.message, want);
    free_all(fill, n);
    csock_free(l);
}

/* A source of the other family: no address to try, said as the same failure for every target. */
static void a_source_of_the_other_family_is_named(void)
{
    csock_connect_options o = {0};
    CHECK_EQ(csock_addr_make(&o.source, "::1", 0), 0);
    double took;
    outcome r = connect_once("127.0.0.1", 9, &o, &took);
    CHECK_EQ(r.error, CSOCK_EADDRNOTAVAIL);
    CHECK_STR(r.message,
              "connect 127.0.0.1:9: no address of the source address's family ([::1]:0)");
}

static void sequential_family_and_source(void)
{
    csock *six, *four;
    int port = dual_port(&six, &four);
    CHECK_EQ(csock_listen(four, 16), 0);
    double took;
    csock_connect_options o = {.sequential = 1};
    outcome r = connect_once("csock-dual", port, &o, &took);
    CHECK_EQ(r.error, 0);
    CHECK_EQ(r.family, AF_INET);
    o = (csock_connect_options){.family = AF_INET};
    r = connect_once("csock-dual", port, &o, &took);
    CHECK_EQ(r.family, AF_INET);
    o = (csock_connect_options){0};
    CHECK_EQ(csock_addr_parse(&o.source, "127.0.0.1:0"), 0);
    r = connect_once("csock-dual", port, &o, &took);
    CHECK_EQ(r.error, 0);
    CHECK_EQ(r.family, AF_INET);
    csock_loop *loop = csock_loop_new();
    o.family = 7;
    CHECK(csock_loop_connect(loop, "x", 1, &o, on_connected, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "connect: family 7: 0, AF_INET or AF_INET6");
    o = (csock_connect_options){.timeout = -1};
    CHECK(csock_loop_connect(loop, "x", 1, &o, on_connected, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "connect: timeout -1: a timeout is 0 (none)");
    o = (csock_connect_options){.family = AF_INET};
    CHECK(csock_loop_connect(loop, "/tmp/x.sock", 0, &o, on_connected, NULL) == NULL);
    CHECK_ERROR(CSOCK_EAFNOSUPPORT,
                "connect /tmp/x.sock: an AF_UNIX address for an AF_INET socket");
    CHECK(csock_loop_connect(loop, "/tmp/x.sock", 80, NULL, on_connected, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "connect /tmp/x.sock: a Unix address has no port (got 80)");
    /* The port said whole, however long; a host in brackets is not bracketed again. */
    CHECK(csock_loop_connect(loop, "127.0.0.1", INT_MAX, NULL, on_connected, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "connect 127.0.0.1:2147483647: port out of range (0-65535)");
    CHECK(csock_loop_connect(loop, "::1", INT_MIN, NULL, on_connected, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "connect [::1]:-2147483648: port out of range (0-65535)");
    CHECK(csock_loop_connect(loop, "[::1]", -1, NULL, on_connected, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "connect [::1]:-1: port out of range (0-65535)");
    csock_loop_free(loop);
    csock_free(six);
    csock_free(four);
}

static void unix_connects_and_a_full_backlog_fails(void)
{
    char name[64];
    snprintf(name, sizeof name, "@csock-loop-connect-%d", (int)getpid());
    csock_listen_options lo = {.backlog = 1};
    csock *l = csock_create_server(name, 0, &lo);
    CHECK(l != NULL);
    double took;
    outcome r = connect_once(name, 0, NULL, &took);
    CHECK_EQ(r.error, 0);
    CHECK_EQ(r.family, AF_UNIX);
    /* Fill the backlog with connections nobody accepts. */
    csock *fill[8];
    int n = 0;
    for (; n < 8; n++) {
        fill[n] = csock_socket(AF_UNIX, SOCK_STREAM, 0);
        csock_settimeout(fill[n], 0);
        if (csock_connect(fill[n], name, 0) < 0) break;
    }
    CHECK_EQ(csock_lastcode(), CSOCK_EAGAIN);
    csock_free(fill[n]);
    r = connect_once(name, 0, NULL, &took);
    CHECK_EQ(r.error, CSOCK_EAGAIN);
    CHECK(strstr(r.message, "Resource temporarily unavailable") != NULL);
    free_all(fill, n);
    csock_free(l);
}

/* The A answer first: attempts wait the resolution delay (50 ms) for the AAAA one, which never
 * comes, then go ahead over IPv4. */
static void ipv4_answer_first_waits_the_resolution_delay(void)
{
    int port;
    csock *l = check_listener("127.0.0.1", &port);
    double took;
    outcome r = connect_once("late6.test", port, NULL, &took);
    CHECK_EQ(r.error, 0);
    CHECK_EQ(r.family, AF_INET);
    CHECK(took >= 0.035);    /* the loop's coarse clock may lag a tick (4 or 10 ms) */
    CHECK(took < 0.2 + 0.5); /* not the attempt delay or more, with room for a loaded machine */
    printf("     connected in %.3f s\n", took);
    release_hung_lookups();
    csock_free(l);
}

/* A loop freed with connects pending (resolving, attempting): no callback, nothing left open. */
static void loop_freed_with_connects_pending(void)
{
    int fds = check_open_fds();
    csock *six, *four, *fill[8];
    int port = dual_port(&six, &four);
    int n = black_hole(six, "::1", port, fill);
    csock_loop *loop = csock_loop_new();
    outcome o[2] = {{0}};
    int before = check_open_fds();
    CHECK(csock_loop_connect(loop, "::1", port, NULL, on_connected, &o[0]) != NULL);
    CHECK(csock_loop_connect(loop, "hang.test", port, NULL, on_connected, &o[1]) != NULL);
    for (int i = 0; i < 5; i++)
        csock_loop_run_once(loop, 0.01);
    CHECK(check_open_fds() > before); /* the attempt's socket */
    csock_loop_free(loop);
    release_hung_lookups();
    CHECK_EQ(o[0].calls + o[1].calls, 0);
    free_all(fill, n);
    csock_free(six);
    csock_free(four);
    CHECK_EQ(check_open_fds(), fds);
}

/* ---- the stream variant ---- */

static int stream_opened, stream_closed, stream_close_error;

static void st_open(csock_stream *st, void *data)
{
    (void)data;
    stream_opened++;
    csock_stream_close(st);
}
static void st_data(csock_stream *st, void *data)
{
    (void)st, (void)data;
}
static void st_close(csock_stream *st, int error, void *data)
{
    (void)data;
    stream_closed += st ? 1 : 100;
    stream_close_error = error;
}
static const csock_stream_handler st_handler = {
    .on_open = st_open, .on_data = st_data, .on_close = st_close};

static void stream_variant_opens_or_closes(void)
{
    csock *six, *four;
    int port = dual_port(&six, &four);
    CHECK_EQ(csock_listen(four, 16), 0);
    csock_loop *loop = csock_loop_new();
    CHECK(csock_stream_connect(loop, "csock-dual", port, NULL, &st_handler, NULL) != NULL);
    run_until(loop, &stream_closed, 10);
    CHECK_EQ(stream_opened, 1);
    CHECK_EQ(stream_closed, 1);
    CHECK_EQ(stream_close_error, 0);
    stream_closed = 0;
    CHECK(csock_stream_connect(loop, "::1", port, NULL, &st_handler, NULL) != NULL);
    run_until(loop, &stream_closed, 10);
    CHECK_EQ(stream_opened, 1);
    CHECK_EQ(stream_closed, 100); /* on_close(NULL, ...) */
    CHECK_EQ(stream_close_error, CSOCK_ECONNREFUSED);
    CHECK(csock_stream_connect(loop, "::1", port, NULL, &(csock_stream_handler){0}, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "connect: no on_data");
    /* What csock_stream_new would refuse is refused at the call, not once connected. */
    stream_closed = 0;
    csock_stream_handler bad = st_handler;
    bad.low_water = 2048, bad.high_water = 1024;
    CHECK(csock_stream_connect(loop, "::1", port, NULL, &bad, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "stream: low_water is above high_water");
    bad = st_handler;
    bad.idle_timeout = NAN;
    CHECK(csock_stream_connect(loop, "127.0.0.1", port, NULL, &bad, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "stream: idle_timeout nan");
    bad = st_handler;
    bad.close_timeout = -1;
    CHECK(csock_stream_connect(loop, "127.0.0.1", port, NULL, &bad, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "stream: close_timeout -1");
    CHECK_EQ(csock_loop_run_once(loop, 0), 0); /* nothing was started */
    CHECK_EQ(stream_closed, 0);
    csock_loop_free(loop);
    csock_free(six);
    csock_free(four);
}

/* A connect that a stream's on_close starts begins in that pass: its socket is made before the
 * pass returns, not in a next pass (which would first poll for nothing). */
static int chain_port, chain_fds_at_open = -1, chain_opened, chain_closed;
static csock_loop *chain_loop;

static void chain_open(csock_stream *st, void *data)
{
    (void)st, (void)data;
    chain_fds_at_open = check_open_fds();
    chain_opened = 1;
}
static const csock_stream_handler chain_next = {.on_open = chain_open, .on_data = st_data};

static void chain_close(csock_stream *st, int error, void *data)
{
    (void)st, (void)error, (void)data;
    chain_closed = 1;
    CHECK(csock_stream_connect(chain_loop, "127.0.0.1", chain_port, NULL, &chain_next, NULL));
}
static const csock_stream_handler chain_first = {.on_data = st_data, .on_close = chain_close};

static void connect_from_on_close_starts_in_its_pass(void)
{
    csock *l = check_listener("127.0.0.1", &chain_port), *pair[2];
    CHECK_EQ(csock_socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    chain_loop = csock_loop_new();
    /* A connect first: the loop's connect state comes before its stream state, as in a client
     * that connects, and its end-of-pass work is ordered so. */
    outcome o = {0};
    CHECK(csock_loop_connect(chain_loop, "127.0.0.1", chain_port, NULL, on_connected, &o));
    run_until(chain_loop, &o.calls, 10);
    CHECK_EQ(o.error, 0);
    csock_stream *st = csock_stream_new(chain_loop, pair[0], &chain_first, NULL);
    CHECK(st != NULL);
    csock_stream_close(st);
    for (int i = 0; i < 100 && !chain_closed; i++)
        csock_loop_run_once(chain_loop, 0.1); /* on_close, and the connect it starts */
    int after_close = check_open_fds();
    for (int i = 0; i < 100 && !chain_opened; i++)
        csock_loop_run_once(chain_loop, 0.1);
    CHECK_EQ(chain_opened, 1);
    CHECK_EQ(chain_fds_at_open, after_close); /* the socket existed already */
    csock_loop_free(chain_loop);
    csock_free(pair[1]);
    csock_free(l);
}

/* A connect that fails in the pass it starts in (a Unix path with nothing there) cancels, from
 * its callback, another that was asked for in the same pass and has not started: the other never
 * calls back, and nothing is touched after it is gone. */
static csock_connecting *sibling;
static int sibling_calls;

static void on_sibling(csock_loop *loop, csock *s, int error, void *data)
{
    (void)loop, (void)error, (void)data;
    sibling_calls++;
    csock_free(s);
}

static void cancel_sibling(csock_loop *loop, csock *s, int error, void *data)
{
    outcome *o = data;
    on_connected(loop, s, error, o);
    csock_connect_cancel(sibling);
    sibling = NULL;
}

static void cancel_from_a_callback_in_the_same_pass(void)
{
    int fds = check_open_fds();
    csock_loop *loop = csock_loop_new();
    outcome o = {0};
    CHECK(csock_loop_connect(loop, "unix:/nonexistent/csock-test.sock", 0, NULL, cancel_sibling,
                             &o) != NULL);
    sibling =
        csock_loop_connect(loop, "unix:/nonexistent/csock-other.sock", 0, NULL, on_sibling, NULL);
    CHECK(sibling != NULL);
    run_until(loop, &o.calls, 10);
    for (int i = 0; i < 3; i++)
        csock_loop_run_once(loop, 0.01);
    CHECK_EQ(o.calls, 1);
    CHECK_EQ(o.error, CSOCK_ENOENT);
    CHECK_EQ(sibling_calls, 0);
    csock_loop_free(loop);
    CHECK_EQ(check_open_fds(), fds);
}

/* Numeric answers come at the end of the pass that asked. A callback that cancels the last of
 * them and asks again has its new answer in the next pass, not in this one (which could then
 * never end): one callback per pass here. */
static csock_resolve *last_lookup;
static int lookups_answered, lookups_cancelled_ran;

static void on_renewed(csock_loop *loop, csock_addrlist *list, int error, void *data)
{
    (void)error, (void)data;
    csock_freeaddrinfo(list);
    lookups_answered++;
    if (last_lookup) {
        csock_resolve_cancel(last_lookup);
        last_lookup = NULL;
    }
    if (lookups_answered < 100)
        CHECK(csock_loop_resolve(loop, "127.0.0.1", 80, 0, on_renewed, NULL));
}

static void on_never(csock_loop *loop, csock_addrlist *list, int error, void *data)
{
    (void)loop, (void)error, (void)data;
    csock_freeaddrinfo(list);
    lookups_cancelled_ran++;
}

static void lookup_asked_by_a_callback_waits_for_the_next_pass(void)
{
    csock_loop *loop = csock_loop_new();
    CHECK(csock_loop_resolve(loop, "127.0.0.1", 80, 0, on_renewed, NULL));
    last_lookup = csock_loop_resolve(loop, "::1", 80, 0, on_never, NULL);
    CHECK(last_lookup != NULL);
    csock_loop_run_once(loop, 1);
    CHECK_EQ(lookups_answered, 1);
    CHECK_EQ(lookups_cancelled_ran, 0);
    csock_loop_run_once(loop, 1);
    CHECK_EQ(lookups_answered, 2);
    csock_loop_free(loop);
}

/* ---- a resolver that never answers ---- */

typedef struct {
    double last, worst;
    int ticks;
} ticker;

static void on_tick(csock_loop *loop, csock_timer *t, void *data)
{
    ticker *k = data;
    double now = check_now();
    (void)loop, (void)t;
    if (k->last && now - k->last > k->worst) k->worst = now - k->last;
    k->last = now;
    k->ticks++;
}

static void hung_resolver_blocks_neither_the_loop_nor_the_timeouts(void)
{
    csock_loop *loop = csock_loop_new();
    ticker k = {0};
    csock_timer *t = csock_loop_call_every(loop, 0.01, on_tick, &k);
    outcome o[20] = {{0}};
    int done = 0;
    double start = check_now();
    csock_connect_options opts = {.timeout = 0.3};
    for (int i = 0; i < 20; i++)
        CHECK(csock_loop_connect(loop, "hang.test", 80, &opts, on_connected, &o[i]) != NULL);
    while (!done && check_now() < start + 10) {
        csock_loop_run_once(loop, 0.05);
        done = 1;
        for (int i = 0; i < 20; i++)
            done &= o[i].calls == 1;
    }
    double worst = 0;
    for (int i = 0; i < 20; i++) {
        CHECK_EQ(o[i].calls, 1);
        CHECK_EQ(o[i].error, CSOCK_ETIMEOUT);
        if (o[i].at - start > worst) worst = o[i].at - start;
        CHECK(o[i].at - start >= 0.28);
    }
    CHECK_STR(o[0].message, "connect hang.test:80: timed out resolving the name");
    CHECK(worst < 1.5);
    CHECK(k.worst < 0.5); /* the 10 ms timer kept running (a blocked loop: 0.3 s or more) */
    CHECK(k.ticks >= 10);
    printf("     20 timed out by %.3f s; the 10 ms timer ran %d times, its longest gap %.3f s\n",
           worst, k.ticks, k.worst);
    csock_timer_cancel(t);
    /* Cancelled while resolving: no callback. */
    outcome c = {0};
    csock_connecting *h = csock_loop_connect(loop, "hang.test", 80, NULL, on_connected, &c);
    csock_loop_run_once(loop, 0.01);
    csock_connect_cancel(h);
    release_hung_lookups();
    for (int i = 0; i < 20; i++)
        csock_loop_run_once(loop, 0.01);
    CHECK_EQ(c.calls, 0);
    csock_loop_free(loop);
}

/* Cancelled after 0, 1, 2 or 3 passes of a connect to a listener: the callback ran exactly
 * when it came before the cancel. */
static void cancel_racing_completion(void)
{
    int port;
    csock *l = check_listener("127.0.0.1", &port);
    csock_loop *loop = csock_loop_new();
    int ran = 0;
    for (int i = 0; i < 200; i++) {
        outcome o = {0};
        csock_connecting *c = csock_loop_connect(loop, i % 2 ? "localhost" : "127.0.0.1", port,
                                                 NULL, on_connected, &o);
        for (int pass = 0; pass < i % 4 && !o.calls; pass++)
            csock_loop_run_once(loop, 0.001 * (i % 3));
        int before = o.calls;
        if (!before) csock_connect_cancel(c);
        for (int pass = 0; pass < 3; pass++)
            csock_loop_run_once(loop, 0);
        CHECK_EQ(o.calls, before);
        ran += before;
        csock *a;
        while ((csock_settimeout(l, 0), a = csock_accept(l, NULL)) != NULL)
            csock_free(a);
    }
    printf("     %d of 200 connected before the cancel\n", ran);
    csock_loop_free(loop);
    csock_free(l);
}

/* ---- many ---- */

enum { LOOPS = 4, PER_LOOP = 2500, IN_FLIGHT = 32 };

typedef struct {
    csock_loop *loop;
    csock *listener;
    int port, started, answered, failed;
} many;

static void start_one(many *m);

static void on_many(csock_loop *loop, csock *s, int error, void *data)
{
    many *m = data;
    (void)loop;
    m->answered++;
    if (error) m->failed++;
    if (s) {
        struct linger lg = {1, 0}; /* a reset: no TIME_WAIT left for the next run */
        csock_setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        csock_free(s);
    }
    if (m->started < PER_LOOP) start_one(m);
    if (m->answered == PER_LOOP) csock_loop_stop(m->loop);
}

static void start_one(many *m)
{
    const char *host = m->started % 4 == 0 ? "localhost" : "127.0.0.1";
    m->started++;
    csock_connect_options o = {.timeout = 20};
    if (!csock_loop_connect(m->loop, host, m->port, &o, on_many, m)) {
        m->answered++, m->failed++;
        fprintf(stderr, "loop connect: %s\n", csock_lasterror());
    }
}

static void on_accept(csock_loop *loop, csock_watch *w, int events, void *data)
{
    many *m = data;
    csock *a;
    (void)loop, (void)w, (void)events;
    for (int i = 0; i < 64 && (a = csock_accept(m->listener, NULL)) != NULL; i++)
        csock_free(a);
}

static void *run_many(void *arg)
{
    many *m = arg;
    for (int i = 0; i < IN_FLIGHT; i++)
        start_one(m);
    csock_loop_run(m->loop);
    return NULL;
}

static void ten_thousand_connects_on_four_loops(void)
{
    int fds = check_open_fds();
    many m[LOOPS];
    pthread_t t[LOOPS];
    for (int i = 0; i < LOOPS; i++) {
        m[i] = (many){.loop = csock_loop_new()};
        m[i].listener = check_listener("127.0.0.1", &m[i].port);
        csock_settimeout(m[i].listener, 0);
        csock_loop_add(m[i].loop, csock_fileno(m[i].listener), CSOCK_READ, on_accept, &m[i]);
    }
    double start = check_now();
    for (int i = 0; i < LOOPS; i++)
        t[i] = check_thread(run_many, &m[i]);
    for (int i = 0; i < LOOPS; i++)
        check_join(t[i]);
    int answered = 0, failed = 0;
    for (int i = 0; i < LOOPS; i++) {
        answered += m[i].answered;
        failed += m[i].failed;
        csock_loop_free(m[i].loop);
        csock_free(m[i].listener);
    }
    CHECK_EQ(answered, LOOPS * PER_LOOP);
    CHECK_EQ(failed, 0);
    CHECK_EQ(check_open_fds(), fds);
    printf("     %d connects in %.2f s\n", answered, check_now() - start);
}

int main(void)
{
    check_watchdog(100);
    csock__resolver_lookup = hanging_lookup;
    int fds = check_open_fds();
    RUN(resolve_numeric_and_unix_without_a_thread);
    RUN(resolve_a_name_in_the_pool);
    RUN(resolve_failure_comes_with_its_message);
    RUN(resolve_cancel_means_no_callback);
    RUN(loop_freed_with_lookups_pending);
    RUN(resolve_in_a_forked_child);
    RUN(only_ipv4_listening_connects_over_ipv4_at_once);
    RUN(ipv6_black_holed_connects_over_ipv4_after_the_attempt_delay);
    RUN(both_refused_fails_at_once_naming_both);
    RUN(both_black_holed_times_out_at_the_timeout);
    RUN(one_address_timing_out_is_named_once);
    RUN(a_source_of_the_other_family_is_named);
    RUN(sequential_family_and_source);
    RUN(unix_connects_and_a_full_backlog_fails);
    RUN(ipv4_answer_first_waits_the_resolution_delay);
    RUN(loop_freed_with_connects_pending);
    RUN(stream_variant_opens_or_closes);
    RUN(connect_from_on_close_starts_in_its_pass);
    RUN(cancel_from_a_callback_in_the_same_pass);
    RUN(lookup_asked_by_a_callback_waits_for_the_next_pass);
    RUN(hung_resolver_blocks_neither_the_loop_nor_the_timeouts);
    RUN(cancel_racing_completion);
    RUN(ten_thousand_connects_on_four_loops);
    CHECK_EQ(check_open_fds(), fds);
    return check_done();
}
