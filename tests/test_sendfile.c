/* SPDX-License-Identifier: MIT */
/* sendfile: a whole file, a range, a pipe (the read-and-send path), a file shorter than asked,
 * one deadline for the call, and bad arguments. */
#include "check.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

struct reader {
    csock *s;
    unsigned char *got;
    size_t len, cap;
};

static void *read_all(void *arg)
{
    struct reader *r = arg;
    ssize_t n;
    while (r->len < r->cap && (n = csock_recv(r->s, r->got + r->len, r->cap - r->len)) > 0)
        r->len += (size_t)n;
    return NULL;
}

/* A temporary file of size pattern bytes (byte i is i*13). */
static int pattern_file(size_t size)
{
    char path[] = "/tmp/csock-sendfile-XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    unsigned char block[4096];
    for (size_t off = 0; off < size; off += sizeof block) {
        size_t n = size - off < sizeof block ? size - off : sizeof block;
        for (size_t i = 0; i < n; i++)
            block[i] = (unsigned char)((off + i) * 13);
        if (write(fd, block, n) != (ssize_t)n) return -1;
    }
    return fd;
}

/* Sends [offset, offset+count) of a file and checks what the peer received. */
static void send_range(csock *c, csock *s, int fd, off_t offset, size_t count, size_t expect)
{
    struct reader r = {s, malloc(expect + 1), 0, expect + 1};
    pthread_t t = check_thread(read_all, &r);
    size_t sent = 0;
    CHECK_EQ(csock_sendfile(c, fd, offset, count, &sent), 0);
    CHECK_EQ(sent, expect);
    csock_shutdown(c, SHUT_WR);
    check_join(t);
    CHECK_EQ(r.len, expect);
    int same = r.len == expect;
    for (size_t i = 0; same && i < expect; i++)
        same = r.got[i] == (unsigned char)((offset + (off_t)i) * 13);
    CHECK(same);
    free(r.got);
}

static void whole_file_and_range(void)
{
    int fd = pattern_file(5 << 20);
    csock *c, *s;
    check_tcp_pair("127.0.0.1", &c, &s);
    send_range(c, s, fd, 0, 0, 5 << 20); /* count 0: to the end */
    csock_free(c);
    csock_free(s);
    check_tcp_pair("::1", &c, &s);
    send_range(c, s, fd, 1000, 5000, 5000);
    csock_free(c);
    csock_free(s);
    csock *pair[2];
    CHECK_EQ(csock_socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    send_range(pair[0], pair[1], fd, 7, 100000, 100000);
    csock_free(pair[0]);
    csock_free(pair[1]);
    close(fd);
}

static void from_a_pipe(void)
{
    int p[2];
    CHECK_EQ(pipe(p), 0);
    unsigned char data[30000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 13);
    CHECK_EQ(write(p[1], data, sizeof data), (ssize_t)sizeof data);
    close(p[1]);
    csock *c, *s;
    check_tcp_pair("127.0.0.1", &c, &s);
    send_range(c, s, p[0], 0, sizeof data, sizeof data);
    csock_free(c);
    csock_free(s);
    close(p[0]);
}

/* A pipe of size bytes (byte i is i*13), its write end closed: at most a pipe's capacity. */
static int pattern_pipe(size_t size)
{
    int p[2];
    if (pipe(p) < 0) return -1;
    unsigned char data[60000];
    for (size_t i = 0; i < size && i < sizeof data; i++)
        data[i] = (unsigned char)(i * 13);
    if (write(p[1], data, size) != (ssize_t)size) return -1;
    close(p[1]);
    return p[0];
}

/* count 0 is "to the end of the input" for what has no size to ask: a pipe, a character
 * device, a /proc file (a regular file of size 0 that holds text). */
static void count_zero_sends_to_the_end_of_any_input(void)
{
    csock *c, *s;
    check_tcp_pair("127.0.0.1", &c, &s);
    int p = pattern_pipe(60000); /* more than one read-and-send buffer */
    CHECK(p >= 0);
    send_range(c, s, p, 0, 0, 60000);
    close(p);
    csock_free(c);
    csock_free(s);

    csock *pair[2];
    CHECK_EQ(csock_socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    int null = open("/dev/null", O_RDONLY);
    size_t sent = 99;
    CHECK_EQ(csock_sendfile(pair[0], null, 0, 0, &sent), 0);
    CHECK_EQ(sent, 0);
    close(null);

    char want[4096], got[4096];
    int f = open("/proc/version", O_RDONLY);
    ssize_t len = read(f, want, sizeof want);
    CHECK(len > 0);
    CHECK_EQ(csock_sendfile(pair[0], f, 0, 0, &sent), 0);
    CHECK_EQ(sent, len);
    close(f);
    CHECK_EQ(csock_settimeout(pair[1], 5), 0);
    size_t have = 0;
    for (ssize_t n = 1; n > 0 && have<sent; have += n> 0 ? (size_t)n : 0)
        n = csock_recv(pair[1], got + have, sizeof got - have);
    CHECK_EQ(have, len);
    CHECK(len > 0 && have == (size_t)len && memcmp(got, want, have) == 0);

    /* A pipe that ends before an explicit count is still CSOCK_ENODATA. */
    p = pattern_pipe(100);
    CHECK_EQ(csock_sendfile(pair[0], p, 0, 200, &sent), CSOCK_ENODATA);
    CHECK_EQ(sent, 100);
    snprintf(want, sizeof want, "fd %d ended after 100 of 200 bytes", p);
    CHECK_ERROR(CSOCK_ENODATA, want);
    close(p);
    csock_free(pair[0]);
    csock_free(pair[1]);
}

static void shorter_than_asked(void)
{
    int fd = pattern_file(1000);
    csock *c, *s;
    check_tcp_pair("127.0.0.1", &c, &s);
    size_t sent = 0;
    CHECK_EQ(csock_sendfile(c, fd, 500, 800, &sent), CSOCK_ENODATA);
    CHECK_EQ(sent, 500);
    char want[96];
    snprintf(want, sizeof want, "fd %d ended after 500 of 800 bytes", fd);
    CHECK_ERROR(CSOCK_ENODATA, want);
    CHECK_EQ(csock_sendfile(c, fd, 5000, 0, &sent), 0); /* past the end, to the end: nothing */
    CHECK_EQ(sent, 0);
    csock_free(c);
    csock_free(s);
    close(fd);
}

static void one_deadline(void)
{
    int fd = pattern_file(64 << 20);
    csock *c, *s;
    check_tcp_pair("127.0.0.1", &c, &s);
    CHECK_EQ(csock_settimeout(c, 0.3), 0);
    size_t sent = 0;
    double t0 = check_now();
    CHECK_EQ(csock_sendfile(c, fd, 0, 0, &sent), CSOCK_ETIMEOUT);
    double took = check_now() - t0;
    CHECK(took >= 0.29 && took < 3);
    CHECK(sent > 0 && sent < (64u << 20));
    CHECK_ERROR(CSOCK_ETIMEOUT, "sendfile 127.0.0.1:");
    csock_free(c);
    csock_free(s);
    close(fd);
}

/* Sends a file to a peer that is gone and checks the failure: a code and a message, no signal,
 * and the thread's signal mask as it was. */
static void send_to_gone_peer(csock *c, int fd)
{
    sigset_t before, after;
    pthread_sigmask(SIG_SETMASK, NULL, &before);
    size_t sent = 1;
    int rc = csock_sendfile(c, fd, 0, 0, &sent);
    CHECK(rc == CSOCK_EPIPE || rc == CSOCK_ECONNRESET);
    CHECK_ERROR(rc, "sendfile ");
    CHECK(strstr(csock_lasterror(), csock_strerror(rc)) != NULL);
    CHECK_EQ(sent, 0);
    pthread_sigmask(SIG_SETMASK, NULL, &after);
    CHECK_EQ(sigismember(&after, SIGPIPE), sigismember(&before, SIGPIPE));
}

/* In a child with SIGPIPE at its default action (death): a file sent to a TCP peer that reset
 * the connection and to a Unix peer that closed fails with CSOCK_EPIPE (or CSOCK_ECONNRESET),
 * and the child lives. A SIGPIPE the caller had pending (blocked) before is left pending; none
 * is left behind otherwise. */
static void closed_peer_is_an_error_not_a_signal(void)
{
    pid_t child = fork();
    if (child == 0) {
        signal(SIGPIPE, SIG_DFL);
        int fd = pattern_file(1 << 20);
        csock *c, *s;
        check_tcp_pair("127.0.0.1", &c, &s);
        /* Closed with a byte unread: s resets the connection, which c's recv then reports. */
        CHECK_EQ(csock_send(c, "x", 1), 1);
        csock_close(s);
        char b;
        CHECK_EQ(csock_recv(c, &b, 1), CSOCK_ECONNRESET);
        send_to_gone_peer(c, fd);
        csock_free(c);
        csock_free(s);
        csock *pair[2];
        CHECK_EQ(csock_socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
        csock_close(pair[1]);
        send_to_gone_peer(pair[0], fd);
        sigset_t pending;
        sigpending(&pending);
        CHECK(!sigismember(&pending, SIGPIPE));
        /* SIGPIPE blocked by the caller, one already pending: still pending afterwards. */
        sigset_t pipe_only;
        sigemptyset(&pipe_only);
        sigaddset(&pipe_only, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_only, NULL);
        pthread_kill(pthread_self(), SIGPIPE);
        send_to_gone_peer(pair[0], fd);
        sigpending(&pending);
        CHECK(sigismember(&pending, SIGPIPE));
        csock_free(pair[0]);
        csock_free(pair[1]);
        close(fd);
        _exit(check_test_failed ? 1 : 0);
    }
    int status = 0;
    CHECK_EQ(waitpid(child, &status, 0), child);
    if (WIFSIGNALED(status))
        fprintf(stderr, "  the child died of %s\n", strsignal(WTERMSIG(status)));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void bad_arguments(void)
{
    int fd = pattern_file(10);
    csock *u = csock_socket(AF_INET, SOCK_DGRAM, 0);
    CHECK_EQ(csock_sendfile(u, fd, 0, 0, NULL), CSOCK_EINVAL);
    CHECK_STR(csock_lasterror(), "sendfile: needs a stream socket (SOCK_STREAM)");
    csock_free(u);
    csock *c, *s;
    check_tcp_pair("127.0.0.1", &c, &s);
    CHECK_EQ(csock_sendfile(c, -1, 0, 10, NULL), CSOCK_EBADF);
    CHECK_STR(csock_lasterror(), "sendfile fd -1: Bad file descriptor");
    CHECK_EQ(csock_sendfile(c, fd, -5, 10, NULL), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "negative offset -5");
    int wr = open("/dev/null", O_WRONLY);
    CHECK_EQ(csock_sendfile(c, wr, 0, 10, NULL), CSOCK_EBADF); /* not open for reading */
    close(wr);
    csock_close(c);
    CHECK_EQ(csock_sendfile(c, fd, 0, 0, NULL), CSOCK_EBADF);
    CHECK_ERROR(CSOCK_EBADF, "sendfile: socket is closed");
    csock_free(c);
    csock_free(s);
    close(fd);
}

/* A pipe has no offsets: an offset on one is refused, and nothing is taken from it or sent. */
static void offset_on_a_pipe_is_refused(void)
{
    int p[2];
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(write(p[1], "hello", 5), 5);
    csock *c, *s;
    check_tcp_pair("127.0.0.1", &c, &s);
    size_t sent = 99;
    CHECK_EQ(csock_sendfile(c, p[0], 3, 0, &sent), CSOCK_ESPIPE);
    CHECK_ERROR(CSOCK_ESPIPE, "offset 3 on a pipe, which cannot seek");
    CHECK_EQ(sent, 0);
    CHECK_EQ(csock_sendfile(c, p[0], 3, 2, &sent), CSOCK_ESPIPE);
    /* From offset 0 it is sent as it stands, all of it. */
    CHECK_EQ(csock_sendfile(c, p[0], 0, 5, &sent), 0);
    CHECK_EQ(sent, 5);
    char buf[8] = {0};
    CHECK_EQ(check_recv_exactly(s, buf, 5), 5);
    CHECK_STR(buf, "hello");
    csock_free(c);
    csock_free(s);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    check_watchdog(60);
    RUN(whole_file_and_range);
    RUN(from_a_pipe);
    RUN(count_zero_sends_to_the_end_of_any_input);
    RUN(shorter_than_asked);
    RUN(one_deadline);
    RUN(closed_peer_is_an_error_not_a_signal);
    RUN(bad_arguments);
    RUN(offset_on_a_pipe_is_refused);
    return check_done();
}
