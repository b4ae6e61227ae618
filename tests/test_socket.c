/* SPDX-License-Identifier: MIT */
/* The socket object: creation, close-on-exec, wrap/fromfd/detach, closing, and calls on a closed
 * or NULL socket. */
#include "check.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

static int cloexec(int fd)
{
    int flags = fcntl(fd, F_GETFD);
    return flags >= 0 && (flags & FD_CLOEXEC);
}

static void create_families_and_types(void)
{
    static const int kinds[][2] = {{AF_INET, SOCK_STREAM},   {AF_INET, SOCK_DGRAM},
                                   {AF_INET6, SOCK_STREAM},  {AF_INET6, SOCK_DGRAM},
                                   {AF_UNIX, SOCK_STREAM},   {AF_UNIX, SOCK_DGRAM},
                                   {AF_UNIX, SOCK_SEQPACKET}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        csock *s = csock_socket(kinds[i][0], kinds[i][1], 0);
        CHECK(s != NULL);
        CHECK_EQ(csock_family(s), kinds[i][0]);
        CHECK_EQ(csock_type(s), kinds[i][1]);
        CHECK_EQ(csock_protocol(s), 0);
        CHECK(csock_fileno(s) >= 0);
        CHECK(cloexec(csock_fileno(s)));
        CHECK(csock_gettimeout(s) == CSOCK_NO_TIMEOUT);
        csock_free(s);
    }
}

static void raw_sockets(void)
{
    /* Raw sockets need CAP_NET_RAW: where it is missing, the error says so. */
    csock *r = csock_socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (r) {
        CHECK_EQ(csock_type(r), SOCK_RAW);
        CHECK_EQ(csock_protocol(r), IPPROTO_ICMP);
        CHECK(cloexec(csock_fileno(r)));
        csock_free(r);
    } else {
        CHECK(csock_lastcode() == CSOCK_EPERM || csock_lastcode() == CSOCK_EACCES);
        CHECK_ERROR(csock_lastcode(), "socket AF_INET SOCK_RAW: ");
    }
}

static void create_rejects_bad_arguments(void)
{
    CHECK(csock_socket(12345, SOCK_STREAM, 0) == NULL);
    CHECK_ERROR(CSOCK_EAFNOSUPPORT,
                "socket family 12345 SOCK_STREAM: Address family not supported");
    CHECK(csock_socket(AF_INET, SOCK_STREAM, IPPROTO_UDP) == NULL);
    CHECK_ERROR(CSOCK_EPROTONOSUPPORT, "socket AF_INET SOCK_STREAM");
    CHECK(csock_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "non-blocking mode through csock_settimeout");
}

static void accepted_and_paired_sockets_are_cloexec(void)
{
    csock *client, *server;
    check_tcp_pair("127.0.0.1", &client, &server);
    CHECK(cloexec(csock_fileno(client)));
    CHECK(cloexec(csock_fileno(server)));
    csock_free(client);
    csock_free(server);
    csock *pair[2];
    CHECK_EQ(csock_socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    CHECK(cloexec(csock_fileno(pair[0])) && cloexec(csock_fileno(pair[1])));
    CHECK_EQ(csock_sendall(pair[0], "ab", 2, NULL), 0);
    char buf[4];
    CHECK_EQ(check_recv_exactly(pair[1], buf, 2), 2);
    CHECK(memcmp(buf, "ab", 2) == 0);
    csock_free(pair[0]);
    csock_free(pair[1]);
    CHECK_EQ(csock_socketpair(AF_INET, SOCK_STREAM, 0, pair), CSOCK_EOPNOTSUPP);
    CHECK(pair[0] == NULL && pair[1] == NULL);
    CHECK_EQ(csock_socketpair(AF_UNIX, SOCK_STREAM, 0, NULL), CSOCK_EINVAL);
}

static void wrap_fromfd_detach(void)
{
    int fds[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    csock *w = csock_wrap(fds[0]); /* owns fds[0] now */
    CHECK(w != NULL);
    CHECK_EQ(csock_family(w), AF_UNIX);
    CHECK_EQ(csock_protocol(w), 0);
    CHECK_EQ(csock_type(w), SOCK_STREAM);
    CHECK(csock_gettimeout(w) == 0.0); /* non-blocking descriptor */
    csock *d = csock_fromfd(fds[1]);   /* a duplicate; fds[1] stays ours */
    CHECK(d != NULL && csock_fileno(d) != fds[1]);
    CHECK(cloexec(csock_fileno(d)));
    /* Both ends are non-blocking: a call may find no room or nothing yet, and is tried again. */
    ssize_t n = CSOCK_EAGAIN;
    for (int i = 0; i < 100 && n == CSOCK_EAGAIN; i++)
        n = csock_send(d, "x", 1);
    CHECK_EQ(n, 1);
    char c = 0;
    n = CSOCK_EAGAIN;
    for (int i = 0; i < 100 && n == CSOCK_EAGAIN; i++)
        n = csock_recv(w, &c, 1);
    CHECK_EQ(n, 1);
    CHECK_EQ(c, 'x');
    CHECK_EQ(csock_settimeout(w, 2.5), 0);
    int fd = csock_detach(w);
    CHECK_EQ(fd, fds[0]);
    CHECK_EQ(csock_fileno(w), -1);
    struct timeval tv;
    socklen_t len = sizeof tv;
    CHECK_EQ(getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len), 0);
    CHECK(tv.tv_sec == 0 && tv.tv_usec == 0); /* detach clears csock's kernel timeouts */
    CHECK_EQ(csock_detach(w), CSOCK_EBADF);
    CHECK_ERROR(CSOCK_EBADF, "detach: socket is closed");
    csock_free(w); /* closed: does not touch fd */
    CHECK(fcntl(fd, F_GETFD) >= 0);
    close(fd);
    close(fds[1]);
    csock_free(d);

    CHECK(csock_wrap(-1) == NULL);
    CHECK_ERROR(CSOCK_EBADF, "wrap fd -1: Bad file descriptor");
    int pipefd[2];
    CHECK_EQ(pipe(pipefd), 0);
    CHECK(csock_wrap(pipefd[0]) == NULL);
    CHECK_ERROR(CSOCK_ENOTSOCK, "wrap fd");
    CHECK(csock_fromfd(pipefd[0]) == NULL);
    CHECK_ERROR(CSOCK_ENOTSOCK, "wrap fd");
    close(pipefd[0]);
    close(pipefd[1]);
}

/* x, a duplicate of a socket with a 0.2 s timeout, says so and times out as it says. */
static void times_out_as_it_says(csock *x, const char *where)
{
    CHECK(csock_gettimeout(x) == 0.2);
    CHECK_EQ(csock_getblocking(x), 1);
    char b;
    double t0 = check_now();
    CHECK_EQ(csock_recv(x, &b, 1), CSOCK_ETIMEOUT);
    CHECK(check_now() - t0 >= 0.19);
    CHECK_ERROR(CSOCK_ETIMEOUT, where);
    CHECK(strstr(csock_lasterror(), ": timed out") != NULL);
}

/* The blocking mode and the kernel timeouts belong to the open file description, which a
 * duplicate shares: fromfd adopts what the descriptor has (O_NONBLOCK, SO_RCVTIMEO) and dup keeps
 * the original's timeout, so that gettimeout tells the truth and a timeout is reported as one. */
static void duplicates_keep_the_timeout(void)
{
    csock *c, *s;
    check_tcp_pair("127.0.0.1", &c, &s);
    CHECK_EQ(csock_settimeout(c, 0.2), 0);
    csock *f = csock_fromfd(csock_fileno(c));
    CHECK(f != NULL);
    times_out_as_it_says(f, "recv");
    csock_free(f);
    /* The original is as it was. */
    times_out_as_it_says(c, "recv 127.0.0.1:");
    /* dup keeps the timeout, and the peer for messages; closing it leaves the original open. */
    csock *d = csock_dup(c);
    CHECK(d != NULL && csock_fileno(d) != csock_fileno(c));
    CHECK(cloexec(csock_fileno(d)));
    times_out_as_it_says(d, "recv 127.0.0.1:");
    csock_free(d);
    CHECK_EQ(csock_send(s, "x", 1), 1);
    char one;
    CHECK_EQ(csock_recv(c, &one, 1), 1);
    CHECK(csock_dup(NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "dup: NULL socket");
    /* Non-blocking: 0, and would-block is CSOCK_EAGAIN. */
    CHECK_EQ(csock_settimeout(c, 0), 0);
    f = csock_fromfd(csock_fileno(c));
    CHECK(csock_gettimeout(f) == 0.0);
    char b;
    CHECK_EQ(csock_recv(f, &b, 1), CSOCK_EAGAIN);
    csock_free(f);
    /* A raw descriptor with a receive timeout of its own. */
    int fd = csock_detach(s);
    struct timeval tv = {0, 200000};
    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    f = csock_fromfd(fd);
    times_out_as_it_says(f, "recv");
    csock_free(f);
    close(fd);
    csock_free(c);
    csock_free(s);
}

static void calls_on_a_closed_socket_fail_clearly(void)
{
    csock *s = csock_socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(csock_close(s), 0);
    CHECK_EQ(csock_close(s), 0); /* closing twice is harmless */
    CHECK_EQ(csock_fileno(s), -1);
    char buf[8];
    csock_addr a;
    size_t sent = 99;
    CHECK_EQ(csock_addr_parse(&a, "127.0.0.1:9"), 0);
    CHECK_EQ(csock_bind(s, "127.0.0.1", 0), CSOCK_EBADF);
    CHECK_ERROR(CSOCK_EBADF, "bind: socket is closed");
    CHECK_EQ(csock_listen(s, 1), CSOCK_EBADF);
    CHECK_ERROR(CSOCK_EBADF, "listen: socket is closed");
    CHECK(csock_accept(s, NULL) == NULL);
    CHECK_ERROR(CSOCK_EBADF, "accept: socket is closed");
    CHECK_EQ(csock_connect(s, "127.0.0.1", 9), CSOCK_EBADF);
    CHECK_ERROR(CSOCK_EBADF, "connect: socket is closed");
    CHECK_EQ(csock_connect_ex(s, "127.0.0.1", 9), CSOCK_EBADF);
    CHECK_EQ(csock_connect_addr(s, &a), CSOCK_EBADF);
    CHECK_EQ(csock_bind_addr(s, &a), CSOCK_EBADF);
    CHECK_EQ(csock_send(s, "x", 1), CSOCK_EBADF);
    CHECK_ERROR(CSOCK_EBADF, "send: socket is closed");
    CHECK_EQ(csock_sendall(s, "x", 1, &sent), CSOCK_EBADF);
    CHECK_EQ(sent, 0);
    CHECK_ERROR(CSOCK_EBADF, "sendall: socket is closed");
    CHECK_EQ(csock_sendto(s, "x", 1, &a), CSOCK_EBADF);
    CHECK_EQ(csock_recv(s, buf, sizeof buf), CSOCK_EBADF);
    CHECK_ERROR(CSOCK_EBADF, "recv: socket is closed");
    CHECK_EQ(csock_recvfrom(s, buf, sizeof buf, &a), CSOCK_EBADF);
    CHECK_ERROR(CSOCK_EBADF, "recvfrom: socket is closed");
    CHECK_EQ(csock_shutdown(s, SHUT_WR), CSOCK_EBADF);
    CHECK_EQ(csock_getsockname(s, &a), CSOCK_EBADF);
    CHECK_EQ(csock_getpeername(s, &a), CSOCK_EBADF);
    CHECK_ERROR(CSOCK_EBADF, "getpeername: socket is closed");
    CHECK_EQ(csock_settimeout(s, 1.0), CSOCK_EBADF);
    CHECK_EQ(csock_setblocking(s, 0), CSOCK_EBADF);
    CHECK_EQ(csock_setreuseaddr(s, 1), CSOCK_EBADF);
    CHECK_ERROR(CSOCK_EBADF, "setsockopt: socket is closed");
    CHECK_EQ(csock_setsockopt_int(s, SOL_SOCKET, SO_REUSEADDR, 1), CSOCK_EBADF);
    int v;
    CHECK_EQ(csock_getsockopt_int(s, SOL_SOCKET, SO_TYPE, &v), CSOCK_EBADF);
    CHECK_EQ(csock_detach(s), CSOCK_EBADF);
    CHECK(csock_dup(s) == NULL);
    CHECK_ERROR(CSOCK_EBADF, "dup: socket is closed");
    csock_free(s);
}

static void calls_on_null_fail_clearly(void)
{
    char buf[4];
    CHECK_EQ(csock_recv(NULL, buf, sizeof buf), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "recv: NULL socket");
    CHECK_EQ(csock_send(NULL, "x", 1), CSOCK_EINVAL);
    CHECK_EQ(csock_bind(NULL, "127.0.0.1", 0), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "bind: NULL socket");
    CHECK(csock_accept(NULL, NULL) == NULL);
    CHECK_EQ(csock_close(NULL), CSOCK_EINVAL);
    CHECK_EQ(csock_fileno(NULL), -1);
    csock_free(NULL);
}

static void bad_buffers_are_refused(void)
{
    csock *pair[2];
    CHECK_EQ(csock_socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    CHECK_EQ(csock_send(pair[0], NULL, 5), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "send: NULL buffer of 5 bytes");
    char buf[4];
    CHECK_EQ(csock_recv(pair[0], buf, (size_t)-1), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "recv: length 18446744073709551615 is too large");
    size_t sent = 7;
    CHECK_EQ(csock_sendall(pair[0], buf, (size_t)-1, &sent), CSOCK_EINVAL);
    CHECK_EQ(sent, 0);
    CHECK_EQ(csock_send(pair[0], NULL, 0), 0); /* nothing to send is not an error */
    CHECK_EQ(csock_shutdown(pair[0], 42), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "shutdown 42: how is SHUT_RD, SHUT_WR or SHUT_RDWR");
    /* Nothing was lost on the way: the stream still works. */
    CHECK_EQ(csock_sendall(pair[0], "ok", 2, NULL), 0);
    CHECK_EQ(check_recv_exactly(pair[1], buf, 2), 2);
    CHECK(memcmp(buf, "ok", 2) == 0);
    CHECK(memcmp(buf, "ok", 2) == 0);
    csock_free(pair[0]);
    csock_free(pair[1]);
}

/* A wrapped connected socket names its peer in messages, as an accepted one does. */
static void wrapped_socket_names_its_peer(void)
{
    csock *c, *s;
    check_tcp_pair("127.0.0.1", &c, &s);
    csock_addr peer;
    CHECK_EQ(csock_getpeername(c, &peer), 0);
    char text[CSOCK_ADDRSTRLEN], want[CSOCK_ADDRSTRLEN + 32];
    csock_addr_format(&peer, text, sizeof text);
    csock *w = csock_fromfd(csock_fileno(c));
    CHECK(w != NULL);
    CHECK_EQ(csock_settimeout(w, 0.01), 0);
    char buf[4];
    CHECK_EQ(csock_recv(w, buf, sizeof buf), CSOCK_ETIMEOUT);
    snprintf(want, sizeof want, "recv %s: timed out", text);
    CHECK_STR(csock_lasterror(), want);
    csock_free(w);
    csock_free(c);
    csock_free(s);
}

/* Where the system's reason alone would mislead, the message says what to do next. */
static void messages_say_what_to_do(void)
{
    char buf[4];
    csock *s = csock_socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(csock_send(s, "x", 1),
             CSOCK_EPIPE); /* Linux's word for a TCP socket never connected */
    CHECK_ERROR(CSOCK_EPIPE, "send: Broken pipe (the socket is not connected: csock_connect it");
    CHECK_EQ(csock_sendall(s, "x", 1, NULL), CSOCK_EPIPE);
    CHECK_ERROR(CSOCK_EPIPE, "after 0 of 1 bytes (the socket is not connected");
    CHECK_EQ(csock_recv(s, buf, sizeof buf), CSOCK_ENOTCONN);
    CHECK_ERROR(CSOCK_ENOTCONN, "(the socket is not connected: csock_connect it first)");
    CHECK(csock_accept(s, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "Invalid argument (the socket is not listening: csock_listen first)");
    CHECK_EQ(csock_bind(s, "127.0.0.1", 0), 0);
    csock_addr bound;
    char text[CSOCK_ADDRSTRLEN], want[CSOCK_ADDRSTRLEN + 64];
    CHECK_EQ(csock_getsockname(s, &bound), 0);
    csock_addr_format(&bound, text, sizeof text);
    snprintf(want, sizeof want, "Invalid argument (the socket is already bound, to %s)", text);
    CHECK_EQ(csock_bind(s, "127.0.0.1", 0), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, want);
    csock_free(s);

    csock *l = csock_create_server("127.0.0.1", 0, NULL);
    CHECK_EQ(csock_send(l, "x", 1), CSOCK_EPIPE);
    CHECK_ERROR(CSOCK_EPIPE, "(the socket is listening: send and receive on the sockets");
    csock_free(l);
    csock *u = csock_socket(AF_INET, SOCK_DGRAM, 0);
    CHECK_EQ(csock_send(u, "x", 1), CSOCK_EDESTADDRREQ);
    CHECK_ERROR(CSOCK_EDESTADDRREQ,
                "(the socket is not connected: give the address with csock_sendto");
    csock_free(u);
    /* A connection that has ended is not "never connected": its reason stands alone. */
    csock *a, *b;
    check_tcp_pair("127.0.0.1", &a, &b);
    csock_free(b);
    while (csock_recv(a, buf, sizeof buf) > 0)
        ;
    int rc = 0;
    for (int i = 0; i < 100 && rc >= 0; i++)
        rc = (int)csock_send(a, "x", 1); /* the first meets a reset, a later one EPIPE */
    CHECK(rc < 0);
    CHECK(strstr(csock_lasterror(), "(the socket is not connected") == NULL);
    csock_free(a);
}

/* A port below the unprivileged limit, bound without the privilege: the message names the
 * capability and the sysctl (the check runs as nobody, in a child, when run as root). */
static void reserved_port_says_what_allows_it(void)
{
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (getuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0)) _exit(3);
        int start = 1024;
        FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "r");
        if (f) {
            if (fscanf(f, "%d", &start) != 1) start = 1024;
            fclose(f);
        }
        if (start <= 1) _exit(0); /* every port is open to everyone here: nothing to say */
        csock *s = csock_socket(AF_INET, SOCK_STREAM, 0);
        if (csock_bind(s, "127.0.0.1", start - 1) != CSOCK_EACCES) _exit(4);
        _exit(strstr(csock_lasterror(), "Permission denied (ports below ") &&
                      strstr(csock_lasterror(), "CAP_NET_BIND_SERVICE") &&
                      strstr(csock_lasterror(), "net.ipv4.ip_unprivileged_port_start")
                  ? 0
                  : 5);
    }
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    check_watchdog(60);
    RUN(create_families_and_types);
    RUN(raw_sockets);
    RUN(create_rejects_bad_arguments);
    RUN(accepted_and_paired_sockets_are_cloexec);
    RUN(wrap_fromfd_detach);
    RUN(duplicates_keep_the_timeout);
    RUN(calls_on_a_closed_socket_fail_clearly);
    RUN(calls_on_null_fail_clearly);
    RUN(bad_buffers_are_refused);
    RUN(wrapped_socket_names_its_peer);
    RUN(messages_say_what_to_do);
    RUN(reserved_port_says_what_allows_it);
    return check_done();
}
