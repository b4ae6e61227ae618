/* SPDX-License-Identifier: MIT */
/* The loop's backends: CSOCK_LOOP_BACKEND picks one at run time, csock_loop_backend says which,
 * and where io_uring is refused a loop that asked for it runs on epoll and traces why. Run twice:
 * as it is, and under tests/no_uring (CSOCK_TEST_NO_URING=1), where io_uring_setup fails. */
#include "check.h"

#include <csock/loop.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <sys/syscall.h>

/* Whether this process may use io_uring at all, asked of the kernel directly. */
static int uring_allowed(void)
{
    struct io_uring_params params = {0};
    int fd = (int)syscall(SYS_io_uring_setup, 4, &params);
    if (fd < 0) return -errno;
    close(fd);
    return 1;
}

static void got_byte(csock_loop *loop, csock_watch *w, int events, void *data)
{
    (void)loop, (void)w;
    *(int *)data |= events;
}

/* A loop from CSOCK_LOOP_BACKEND=name, shown to work: a byte sent wakes its watch, level-
 * triggered (again in the next pass), and a paused watch stays silent. */
static csock_loop *working_loop(const char *name)
{
    setenv("CSOCK_LOOP_BACKEND", name, 1);
    csock_loop *loop = csock_loop_new();
    CHECK(loop != NULL);
    if (!loop) return NULL;
    csock *a, *b;
    check_tcp_pair("127.0.0.1", &a, &b);
    int seen = 0;
    csock_watch *w = csock_loop_add(loop, csock_fileno(b), CSOCK_READ, got_byte, &seen);
    CHECK(w != NULL);
    CHECK_EQ(csock_loop_run_once(loop, 0), 0);
    CHECK_EQ(csock_send(a, "x", 1), 1);
    CHECK_EQ(csock_loop_run_once(loop, 5), 1);
    CHECK_EQ(seen, CSOCK_READ);
    CHECK_EQ(csock_loop_run_once(loop, 0), 1);
    CHECK_EQ(csock_watch_set(w, 0), 0);
    CHECK_EQ(csock_loop_run_once(loop, 0), 0);
    csock_watch_remove(w);
    csock_free(a);
    csock_free(b);
    return loop;
}

static void each_backend_by_name(void)
{
    const char *names[] = {"epoll", "poll", "uring"};
    int uring = uring_allowed() > 0;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        csock_loop *loop = working_loop(names[i]);
        const char *want = i == 2 && !uring ? "epoll" : names[i];
        if (loop) CHECK_STR(csock_loop_backend(loop), want);
        csock_loop_free(loop);
    }
    unsetenv("CSOCK_LOOP_BACKEND");
    csock_loop *loop = csock_loop_new(); /* the build's default */
    CHECK(loop != NULL);
    const char *name = csock_loop_backend(loop);
    CHECK(strcmp(name, "epoll") == 0 || strcmp(name, "poll") == 0 || strcmp(name, "uring") == 0);
    csock_loop_free(loop);
    CHECK(csock_loop_backend(NULL) == NULL);
}

static void unknown_name_refused(void)
{
    setenv("CSOCK_LOOP_BACKEND", "kqueue", 1);
    CHECK(csock_loop_new() == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "loop: CSOCK_LOOP_BACKEND=kqueue: not epoll, poll or uring");
    setenv("CSOCK_LOOP_BACKEND", "ep\noll", 1);
    CHECK(csock_loop_new() == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "loop: CSOCK_LOOP_BACKEND=ep\\x0aoll: not");
    unsetenv("CSOCK_LOOP_BACKEND");
}

/* Where io_uring is refused, a loop that asks for it says why in the trace and runs on epoll;
 * the caller's last error is left as it was, as after any call that succeeds. */
static void refused_uring_falls_back_to_epoll(void)
{
    int allowed = uring_allowed();
    if (getenv("CSOCK_TEST_NO_URING")) CHECK_EQ(allowed, -EPERM); /* the launcher works */
    if (allowed > 0) {
        printf("  io_uring is allowed here: the fallback is tested under tests/no_uring\n");
        return;
    }
    CHECK_EQ(csock_loop_run_once(NULL, 0), CSOCK_EINVAL); /* a last error to keep */
    int p[2], saved = dup(2);
    CHECK_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    dup2(p[1], 2);
    csock_settrace(1);
    setenv("CSOCK_LOOP_BACKEND", "uring", 1);
    csock_loop *loop = csock_loop_new();
    csock_settrace(0);
    dup2(saved, 2);
    close(saved);
    close(p[1]);
    char trace[512] = "";
    ssize_t n = read(p[0], trace, sizeof trace - 1);
    close(p[0]);
    trace[n > 0 ? n : 0] = '\0';
    char want[160];
    snprintf(want, sizeof want,
             "csock: loop: io_uring unavailable (io_uring_setup: %s): using epoll\n",
             csock_strerror(allowed));
    CHECK(strstr(trace, want) != NULL);
    CHECK_ERROR(CSOCK_EINVAL, "loop: NULL loop");
    CHECK(loop != NULL);
    if (loop) CHECK_STR(csock_loop_backend(loop), "epoll");
    csock_loop_free(loop);
    csock_loop_free(working_loop("uring")); /* and works */
    unsetenv("CSOCK_LOOP_BACKEND");
}

int main(void)
{
    check_watchdog(60);
    RUN(each_backend_by_name);
    RUN(unknown_name_refused);
    RUN(refused_uring_falls_back_to_epoll);
    return check_done();
}
