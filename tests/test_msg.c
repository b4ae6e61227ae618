/* SPDX-License-Identifier: MIT */
/* Message I/O: truncated datagrams reported, scatter/gather, ancillary data (descriptors that
 * arrive close-on-exec, and none leaked when the control buffer is too small), and batches. */
#include "check.h"

#include <fcntl.h>
#include <limits.h>

static void udp_pair(csock **a, csock **b, csock_addr *a_addr)
{
    *a = csock_socket(AF_INET, SOCK_DGRAM, 0);
    *b = csock_socket(AF_INET, SOCK_DGRAM, 0);
    CHECK_EQ(csock_bind(*a, "127.0.0.1", 0), 0);
    CHECK_EQ(csock_getsockname(*a, a_addr), 0);
    CHECK_EQ(csock_connect_addr(*b, a_addr), 0);
    csock_settimeout(*a, 5);
}

static void recv_reports_a_cut_datagram(void)
{
    csock *a, *b;
    csock_addr where, from;
    udp_pair(&a, &b, &where);
    char big[2000], buf[512];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)i;
    CHECK_EQ(csock_send(b, big, sizeof big), 2000);
    CHECK_EQ(csock_recvfrom(a, buf, sizeof buf, &from), CSOCK_EMSGSIZE);
    char want[160];
    snprintf(want, sizeof want,
             "recvfrom 127.0.0.1:%d: datagram of 2000 bytes does not fit in 512 (the first 512 "
             "are in the buffer)",
             csock_addr_port(&from));
    CHECK_STR(csock_lasterror(), want);
    CHECK(memcmp(buf, big, sizeof buf) == 0);
    /* The next datagram is whole and untouched. */
    CHECK_EQ(csock_send(b, "next", 4), 4);
    CHECK_EQ(csock_recv(a, buf, sizeof buf), 4);
    CHECK_EQ(csock_send(b, big, 513), 513);
    CHECK_EQ(csock_recv(a, buf, sizeof buf), CSOCK_EMSGSIZE);
    CHECK_ERROR(CSOCK_EMSGSIZE, "datagram of 513 bytes does not fit in 512");
    CHECK_EQ(csock_send(b, big, 512), 512); /* exactly fits */
    CHECK_EQ(csock_recv(a, buf, sizeof buf), 512);
    csock_free(a);
    csock_free(b);

    static const int types[] = {SOCK_DGRAM, SOCK_SEQPACKET};
    for (size_t t = 0; t < 2; t++) {
        csock *pair[2];
        CHECK_EQ(csock_socketpair(AF_UNIX, types[t], 0, pair), 0);
        CHECK_EQ(csock_send(pair[0], big, 1500), 1500);
        CHECK_EQ(csock_recv(pair[1], buf, 100), CSOCK_EMSGSIZE);
        CHECK_ERROR(CSOCK_EMSGSIZE, "datagram of 1500 bytes does not fit in 100");
        csock_free(pair[0]);
        csock_free(pair[1]);
    }
}

static void scatter_gather(void)
{
    csock *a, *b;
    csock_addr where, from;
    udp_pair(&a, &b, &where);
    char h1[] = "head-", h2[] = "body-", h3[] = "tail";
    struct iovec out[3] = {{h1, 5}, {h2, 5}, {h3, 4}};
    csock_msg m = {.iov = out, .iovcnt = 3};
    CHECK_EQ(csock_sendmsg(b, &m, 0), 14);
    CHECK_EQ(m.len, 14);
    char r1[6], r2[20];
    struct iovec in[2] = {{r1, 6}, {r2, 20}};
    csock_msg r = {.iov = in, .iovcnt = 2, .addr = &from};
    CHECK_EQ(csock_recvmsg(a, &r, 0), 14);
    CHECK(memcmp(r1, "head-b", 6) == 0 && memcmp(r2, "ody-tail", 8) == 0);
    CHECK_EQ(r.size, 14);
    CHECK_EQ(r.flags & MSG_TRUNC, 0);
    csock_addr self;
    csock_getsockname(b, &self);
    CHECK_EQ(csock_addr_port(&from), csock_addr_port(&self));
    /* Too small: reported through flags and size, not as an error. */
    CHECK_EQ(csock_sendmsg(b, &m, 0), 14);
    struct iovec small = {r1, 6};
    r = (csock_msg){.iov = &small, .iovcnt = 1};
    CHECK_EQ(csock_recvmsg(a, &r, 0), 6);
    CHECK(r.flags & MSG_TRUNC);
    CHECK_EQ(r.size, 14);
    CHECK_EQ(r.len, 6);
    /* Sending to an address without connecting. */
    csock *c = csock_socket(AF_INET, SOCK_DGRAM, 0);
    m.addr = &where;
    CHECK_EQ(csock_sendmsg(c, &m, 0), 14);
    r = (csock_msg){.iov = in, .iovcnt = 2};
    CHECK_EQ(csock_recvmsg(a, &r, 0), 14);
    csock_free(c);
    csock_free(a);
    csock_free(b);
}

/* Sends fds over pair[0] with one byte of data. */
static void send_fds(csock *s, const int *fds, int n)
{
    union {
        char buf[CMSG_SPACE(8 * sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr h = {.msg_control = control.buf, .msg_controllen = CMSG_SPACE(n * sizeof(int))};
    struct cmsghdr *c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(n * sizeof(int));
    memcpy(CMSG_DATA(c), fds, n * sizeof(int));
    struct iovec one = {"x", 1};
    csock_msg m = {.iov = &one,
                   .iovcnt = 1,
                   .control = control.buf,
                   .controllen = CMSG_SPACE(n * sizeof(int))};
    CHECK_EQ(csock_sendmsg(s, &m, 0), 1);
}

static void descriptors_arrive_close_on_exec(void)
{
    csock *pair[2];
    CHECK_EQ(csock_socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    int p[2];
    CHECK_EQ(pipe(p), 0);
    send_fds(pair[0], &p[1], 1);
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    char byte;
    struct iovec one = {&byte, 1};
    csock_msg r = {.iov = &one, .iovcnt = 1, .control = control.buf, .controllen = sizeof control};
    CHECK_EQ(csock_recvmsg(pair[1], &r, 0), 1);
    struct msghdr h = {.msg_control = control.buf, .msg_controllen = r.controllen};
    struct cmsghdr *c = CMSG_FIRSTHDR(&h);
    CHECK(c && c->cmsg_type == SCM_RIGHTS);
    int fd = -1;
    if (c) memcpy(&fd, CMSG_DATA(c), sizeof fd);
    CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
    CHECK_EQ(write(fd, "ok", 2), 2); /* the pipe's write end, usable */
    char got[2];
    CHECK_EQ(read(p[0], got, 2), 2);
    close(fd);
    close(p[0]);
    close(p[1]);
    csock_free(pair[0]);
    csock_free(pair[1]);
}

static void cut_control_data_leaks_nothing(void)
{
    csock *pair[2];
    CHECK_EQ(csock_socketpair(AF_UNIX, SOCK_DGRAM, 0, pair), 0);
    int p[2];
    CHECK_EQ(pipe(p), 0);
    int three[3] = {p[0], p[1], p[0]};
    int before = check_open_fds();
    send_fds(pair[0], three, 3);
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    char byte;
    struct iovec one = {&byte, 1};
    /* Room for exactly one descriptor of three. */
    csock_msg r = {
        .iov = &one, .iovcnt = 1, .control = control.buf, .controllen = CMSG_LEN(sizeof(int))};
    CHECK_EQ(csock_recvmsg(pair[1], &r, 0), CSOCK_EMSGSIZE);
    char want[160];
    snprintf(want, sizeof want,
             "ancillary data cut to the %zu-byte control buffer; 1 descriptor that arrived was "
             "closed",
             (size_t)CMSG_LEN(sizeof(int)));
    CHECK_ERROR(CSOCK_EMSGSIZE, want);
    CHECK_EQ(check_open_fds(), before);
    /* The padding of CMSG_SPACE holds a second one: both are closed, said in the plural. */
    send_fds(pair[0], three, 3);
    r = (csock_msg){.iov = &one, .iovcnt = 1, .control = control.buf, .controllen = sizeof control};
    CHECK_EQ(csock_recvmsg(pair[1], &r, 0), CSOCK_EMSGSIZE);
    snprintf(want, sizeof want,
             "ancillary data cut to the %zu-byte control buffer; 2 descriptors that arrived were "
             "closed",
             sizeof control);
    CHECK_ERROR(CSOCK_EMSGSIZE, want);
    CHECK_EQ(check_open_fds(), before);
    /* In a batch, the cut message comes back flagged MSG_CTRUNC with its descriptors closed,
     * and so does every other datagram the call took off the socket, wherever the cut one is. */
    for (int cut_at = 0; cut_at < 3; cut_at++) {
        for (int i = 0; i < 3; i++) {
            if (i == cut_at)
                send_fds(pair[0], three, 3); /* one byte, "x" */
            else
                CHECK_EQ(csock_send(pair[0], i == 0 ? "first" : "third", 5), 5);
        }
        char data[3][16];
        union {
            char buf[CMSG_SPACE(sizeof(int))]; /* room for one descriptor */
            struct cmsghdr align;
        } control[3];
        struct iovec iov[3];
        csock_msg m[3];
        for (int i = 0; i < 3; i++) {
            iov[i] = (struct iovec){data[i], sizeof data[i]};
            m[i] = (csock_msg){.iov = &iov[i],
                               .iovcnt = 1,
                               .control = control[i].buf,
                               .controllen = sizeof control[i]};
        }
        CHECK_EQ(csock_recvmany(pair[1], m, 3, 0), 3);
        for (int i = 0; i < 3; i++) {
            if (i == cut_at) {
                CHECK_EQ(m[i].len, 1);
                CHECK_EQ(m[i].flags, MSG_CTRUNC);
                CHECK_EQ(m[i].controllen, 0);
            } else {
                CHECK_EQ(m[i].len, 5);
                CHECK(memcmp(data[i], i == 0 ? "first" : "third", 5) == 0);
                CHECK_EQ(m[i].flags, 0);
            }
        }
        CHECK_EQ(check_open_fds(), before);
    }
    close(p[0]);
    close(p[1]);
    csock_free(pair[0]);
    csock_free(pair[1]);
}

/* msg.flags says what happened to the message, nothing else: no flag the library asked for. */
static void flags_say_only_what_happened(void)
{
    csock *pair[2];
    CHECK_EQ(csock_socketpair(AF_UNIX, SOCK_DGRAM, 0, pair), 0);
    char buf[8];
    struct iovec iov = {buf, sizeof buf};
    csock_msg m = {.iov = &iov, .iovcnt = 1};
    CHECK_EQ(csock_send(pair[0], "whole", 5), 5);
    CHECK_EQ(csock_recvmsg(pair[1], &m, 0), 5);
    CHECK_EQ(m.flags, 0);
    CHECK_EQ(csock_send(pair[0], "longer than eight", 17), 17);
    m = (csock_msg){.iov = &iov, .iovcnt = 1};
    CHECK_EQ(csock_recvmsg(pair[1], &m, 0), 8);
    CHECK_EQ(m.flags, MSG_TRUNC);
    CHECK_EQ(csock_send(pair[0], "whole", 5), 5);
    m = (csock_msg){.iov = &iov, .iovcnt = 1};
    CHECK_EQ(csock_recvmany(pair[1], &m, 1, 0), 1);
    CHECK_EQ(m.flags, 0);
    csock_free(pair[0]);
    csock_free(pair[1]);
}

static void batches(void)
{
    csock *a, *b;
    csock_addr where;
    udp_pair(&a, &b, &where);
    char payload[10][32];
    struct iovec out[10];
    csock_msg send[10];
    for (int i = 0; i < 10; i++) {
        snprintf(payload[i], sizeof payload[i], "datagram %d", i);
        out[i] = (struct iovec){payload[i], strlen(payload[i])};
        send[i] = (csock_msg){.iov = &out[i], .iovcnt = 1};
    }
    CHECK_EQ(csock_sendmany(b, send, 10, 0), 10);
    CHECK_EQ(send[3].len, strlen("datagram 3"));
    char in[16][12];
    struct iovec iov[16];
    csock_msg recv[16];
    csock_addr from[16];
    for (int i = 0; i < 16; i++) {
        iov[i] = (struct iovec){in[i], sizeof in[i]};
        recv[i] = (csock_msg){.iov = &iov[i], .iovcnt = 1, .addr = &from[i]};
    }
    int got = 0;
    for (int tries = 0; tries < 10 && got < 10; tries++) {
        int n = csock_recvmany(a, recv + got, 16 - (size_t)got, 0);
        CHECK(n > 0);
        if (n <= 0) break;
        got += n;
    }
    CHECK_EQ(got, 10);
    for (int i = 0; i < got; i++) {
        CHECK_EQ(recv[i].len, strlen(payload[i]));
        CHECK(memcmp(in[i], payload[i], recv[i].len) == 0);
        CHECK(csock_addr_port(&from[i]) > 0);
    }
    /* A datagram larger than its buffer, in a batch: flagged, with its size. */
    out[0] = (struct iovec){"this one is longer than twelve", 30};
    CHECK_EQ(csock_sendmany(b, send, 1, 0), 1);
    CHECK_EQ(csock_recvmany(a, recv, 16, 0), 1);
    CHECK(recv[0].flags & MSG_TRUNC);
    CHECK_EQ(recv[0].size, 30);
    CHECK_EQ(recv[0].len, 12);
    /* Nothing queued: the timeout applies to the first datagram. */
    csock_settimeout(a, 0.05);
    CHECK_EQ(csock_recvmany(a, recv, 16, 0), CSOCK_ETIMEOUT);
    CHECK_ERROR(CSOCK_ETIMEOUT, "recvmany");
    CHECK_EQ(csock_recvmany(a, recv, 0, 0), 0);
    csock_free(a);
    csock_free(b);
}

/* Receives count datagrams on a and checks datagram i has sizes[i] bytes, each byte i. */
static void expect_datagrams(csock *a, const size_t *sizes, int count)
{
    static char in[64][10000];
    struct iovec iov[64];
    csock_msg recv[64];
    for (int i = 0; i < 64; i++) {
        iov[i] = (struct iovec){in[i], sizeof in[i]};
        recv[i] = (csock_msg){.iov = &iov[i], .iovcnt = 1};
    }
    int got = 0;
    for (int tries = 0; tries < count && got < count; tries++) {
        int n = csock_recvmany(a, recv + got, (size_t)(count - got), 0);
        CHECK(n > 0);
        if (n <= 0) break;
        got += n;
    }
    CHECK_EQ(got, count);
    for (int i = 0; i < got; i++) {
        CHECK_EQ(recv[i].size, sizes[i]);
        CHECK_EQ(recv[i].flags & MSG_TRUNC, 0);
        size_t same = 0;
        while (same < recv[i].len && in[i][same] == (char)i)
            same++;
        CHECK_EQ(same, sizes[i]);
    }
}

/* Sends datagram i with sizes[i] bytes of byte i, from b to where (NULL: b is connected), as
 * many calls as csock_sendmany needs; returns the first call's count. */
static int send_datagrams(csock *b, const csock_addr *where, const size_t *sizes, int count)
{
    static char out[64][10000];
    struct iovec iov[64][2];
    csock_msg msgs[64];
    csock_addr to[64];
    for (int i = 0; i < count; i++) {
        memset(out[i], i, sizes[i]);
        /* Two buffers per datagram: a segmented send gathers every message's buffers. */
        iov[i][0] = (struct iovec){out[i], sizes[i] / 2};
        iov[i][1] = (struct iovec){out[i] + sizes[i] / 2, sizes[i] - sizes[i] / 2};
        if (where) to[i] = *where; /* equal addresses, distinct objects */
        msgs[i] = (csock_msg){.iov = iov[i], .iovcnt = 2, .addr = where ? &to[i] : NULL};
    }
    int first = 0;
    for (int sent = 0, calls = 0; sent < count && calls < count; calls++) {
        int n = csock_sendmany(b, msgs + sent, (size_t)(count - sent), 0);
        CHECK(n > 0);
        if (n <= 0) break;
        for (int i = sent; i < sent + n; i++)
            CHECK_EQ(msgs[i].len, sizes[i]);
        if (!first) first = n;
        sent += n;
    }
    return first;
}

/* Runs of equal datagrams may leave as one segmented UDP send; whichever way they leave, the
 * receiver sees each datagram whole and in order, and a run never spans what it cannot carry. */
static void segmented_batches(void)
{
    for (int v6 = 0; v6 < 2; v6++) {
        csock *a = csock_socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
        csock *b = csock_socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
        csock_addr where;
        CHECK_EQ(csock_bind(a, v6 ? "::1" : "127.0.0.1", 0), 0);
        CHECK_EQ(csock_getsockname(a, &where), 0);
        CHECK_EQ(csock_setrcvbuf(a, 1 << 20), 0);
        csock_settimeout(a, 5);

        size_t sizes[64];
        for (int i = 0; i < 64; i++)
            sizes[i] = 100;
        sizes[63] = 37; /* a shorter last datagram may end a run */
        CHECK_EQ(send_datagrams(b, &where, sizes, 64), 64);
        expect_datagrams(a, sizes, 64);

        /* A shorter datagram in the middle ends the run after it; the rest still arrives. */
        size_t mixed[5] = {100, 100, 50, 100, 100};
        int first = send_datagrams(b, &where, mixed, 5);
        CHECK(first == 3 || first == 5);
        expect_datagrams(a, mixed, 5);

        /* Eight 9000-byte datagrams are more than one UDP payload can carry: split runs. */
        size_t big[8];
        for (int i = 0; i < 8; i++)
            big[i] = 9000;
        first = send_datagrams(b, &where, big, 8);
        CHECK(first == 7 || first == 8);
        expect_datagrams(a, big, 8);

        /* Connected, without addresses. */
        CHECK_EQ(csock_connect_addr(b, &where), 0);
        CHECK_EQ(send_datagrams(b, NULL, sizes, 64), 64);
        expect_datagrams(a, sizes, 64);
        csock_free(a);
        csock_free(b);
    }
}

static void bad_messages(void)
{
    csock *u = csock_socket(AF_INET, SOCK_DGRAM, 0);
    CHECK_EQ(csock_sendmsg(u, NULL, 0), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "sendmsg: NULL message");
    struct iovec iov = {NULL, 5};
    csock_msg m = {.iov = &iov, .iovcnt = 1};
    CHECK_EQ(csock_recvmsg(u, &m, 0), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "recvmsg: buffer 0 is NULL with 5 bytes");
    m.iovcnt = (size_t)IOV_MAX + 1;
    CHECK_EQ(csock_sendmsg(u, &m, 0), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "more than IOV_MAX");
    m = (csock_msg){.controllen = 8};
    CHECK_EQ(csock_sendmsg(u, &m, 0), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "NULL control buffer of 8 bytes");
    CHECK_EQ(csock_sendmany(u, NULL, 3, 0), CSOCK_EINVAL);
    csock_close(u);
    m = (csock_msg){0};
    CHECK_EQ(csock_sendmsg(u, &m, 0), CSOCK_EBADF);
    CHECK_ERROR(CSOCK_EBADF, "sendmsg: socket is closed");
    CHECK_EQ(csock_recvmsg(u, &m, 0), CSOCK_EBADF);
    CHECK_EQ(csock_sendmany(u, &m, 1, 0), CSOCK_EBADF);
    CHECK_EQ(csock_recvmany(u, &m, 1, 0), CSOCK_EBADF);
    CHECK_ERROR(CSOCK_EBADF, "recvmany: socket is closed");
    csock_free(u);
}

int main(void)
{
    check_watchdog(60);
    RUN(recv_reports_a_cut_datagram);
    RUN(scatter_gather);
    RUN(descriptors_arrive_close_on_exec);
    RUN(cut_control_data_leaks_nothing);
    RUN(flags_say_only_what_happened);
    RUN(batches);
    RUN(segmented_batches);
    RUN(bad_messages);
    return check_done();
}
