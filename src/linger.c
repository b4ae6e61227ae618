/* SPDX-License-Identifier: MIT */
/* A lingering close. Linux resets a TCP connection closed with input unread (or input arriving
 * afterwards), and a reset throws away what the peer has not read yet, however much had been
 * sent. Shutting down for writing, then reading and dropping until the peer's end of file, lets
 * every byte arrive first. Here are the two steps every graceful close shares: whether it is
 * needed, and the bounded wait. */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

int csock__linger_needed(int fd, int tcp)
{
    /* TCP charges its receive queue (also a reset's cause still waiting in the backlog) and its
     * unsent or unacknowledged output to the socket's memory, which SO_MEMINFO reports at once.
     * A Unix socket's input is charged to its sender, so only the queue lengths tell there. */
    if (tcp) {
        uint32_t m[SK_MEMINFO_VARS] = {0};
        socklen_t len = sizeof m;
        if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, m, &len) == 0 &&
            len > SK_MEMINFO_BACKLOG * sizeof m[0])
            return m[SK_MEMINFO_RMEM_ALLOC] > 0 || m[SK_MEMINFO_BACKLOG] > 0 ||
                   m[SK_MEMINFO_WMEM_QUEUED] > 0;
    }
    int n = 0;
    if (ioctl(fd, SIOCINQ, &n) == 0 && n > 0) return 1;
    return ioctl(fd, SIOCOUTQ, &n) == 0 && n > 0;
}

int csock__drain_to_end(csock *s, int64_t timeout_ns)
{
    if (shutdown(s->fd, SHUT_WR) < 0) return errno == ENOTCONN ? 0 : -errno;
    csock__deadline d = csock__deadline_of(s, timeout_ns, SO_RCVTIMEO);
    char buf[4096];
    for (;;) {
        ssize_t n = recv(s->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) continue;
        if (n == 0) return 0;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return -errno;
        int rc = csock__deadline_wait(&d, POLLIN);
        if (rc < 0) return rc;
    }
}
