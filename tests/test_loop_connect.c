/* SPDX-License-Identifier: MIT */
/* The loop's client side: resolving on the loop (the resolver pool) and connecting on it. Runs
 * where only /etc/hosts answers (tests/no_dns.sh), whose csock-dual is ::1 and 127.0.0.1; a
 * lookup that never answers is the test's own lookup put in the pool's place. */
#include "check.h"

#include <csock/connect.h>

#include <errno.h>
#include <sys/socket.h>

/* The pool's lookup (src/loop_internal.h): the tests put theirs in its place. */
extern csock_addrlist *(*csock__resolver_lookup)(const char *host, int port, int family);

/* ---- a lookup that hangs: "hang.test" blocks until released; other names are looked up ---- */

static pthread_mutex_t hang_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hang_cond = PTHREAD_COND_INITIALIZER;
static int hang_released, hang_inside;

static csock_addrlist *hanging_lookup(const char *host, int port, int family)
{
    if (strcmp(host, "hang.test") != 0)
        return csock_getaddrinfo(host, port, family, SOCK_STREAM, 0, 0);
    pthread_mutex_lock(&hang_lock);
    hang_inside++;
    pthread_cond_broadcast(&hang_cond);
    while (!hang_released)
        pthread_cond_wait(&hang_cond, &hang_lock);
    hang_inside--;
    pthread_cond_broadcast(&hang_cond);
    pthread_mutex_unlock(&hang_lock);
    return csock_getaddrinfo("nosuch.invalid", port, family, SOCK_STREAM, 0, 0);
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

/* Runs passes until *done is nonzero, for at most seconds. */
static void run_until(csock_loop *loop, const int *done, double seconds)
{
    double end = check_now() + seconds;
    while (!*done && check_now() < end)
        csock_loop_run_once(loop, 0.05);
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
    CHECK_EQ(check_open_fds(), fds);
    return check_done();
}
