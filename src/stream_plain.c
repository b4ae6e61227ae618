/* SPDX-License-Identifier: MIT */
/* The plain transport: a stream's bytes go straight to its connected socket, one system call per
 * step, the calls raw code makes (recv, send for one buffer, sendmsg for several). */
#include "stream_internal.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

/* The result of a call that failed, with the readiness to wait for when it would block. */
static ssize_t failed(int *wants, int direction)
{
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        *wants = direction;
        return CSOCK_EAGAIN;
    }
    return -errno;
}

static ssize_t plain_read(csock_stream *st, void *buf, size_t len, int *wants)
{
    ssize_t n = recv(st->watch.fd, buf, len, 0);
    return n >= 0 ? n : failed(wants, CSOCK_READ);
}

static ssize_t plain_writev(csock_stream *st, const struct iovec *iov, int iovcnt, int *wants)
{
    ssize_t n;
    /* One buffer: send(2), which costs less than sendmsg(2) on some kernels. */
    if (iovcnt == 1) {
        n = send(st->watch.fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
    } else {
        struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
        n = sendmsg(st->watch.fd, &m, MSG_NOSIGNAL);
    }
    return n >= 0 ? n : failed(wants, CSOCK_WRITE);
}

static int plain_shutdown(csock_stream *st)
{
    return shutdown(st->watch.fd, SHUT_WR) == 0 ? 0 : -errno;
}

/* What the kernel holds: input not yet read, or output the peer has not acknowledged (the one
 * rule every graceful close shares, src/linger.c). */
static int plain_unsettled(csock_stream *st)
{
    return csock__linger_needed(st->watch.fd, (st->state & CSOCK__STREAM_TCP) != 0);
}

static void plain_close(csock_stream *st)
{
    close(st->watch.fd);
}

const struct csock__transport csock__plain = {
    .name = "plain",
    .read = plain_read,
    .writev = plain_writev,
    .shutdown = plain_shutdown,
    .unsettled = plain_unsettled,
    .close = plain_close,
};
