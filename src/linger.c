/* SPDX-License-Identifier: MIT */
/* A lingering close. Linux resets a TCP connection closed with input unread (or input arriving
 * afterwards), and a reset throws away what the peer has not read yet, however much had been
 * sent. Shutting down for writing, then reading and dropping until the peer's end of file, lets
 * every byte arrive first. Here are the two steps every graceful close shares: whether it is
 * needed, and the bounded wait. */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

int csock__linger_needed(int fd)
{
    int n = 0;
    if (ioctl(fd, SIOCINQ, &n) == 0 && n > 0) return 1;
    return ioctl(fd, SIOCOUTQ, &n) == 0 && n > 0;
}

int csock__drain_to_end(int fd, int64_t timeout_ns)
{
    if (shutdown(fd, SHUT_WR) < 0) return errno == ENOTCONN ? 0 : -errno;
    int64_t deadline = timeout_ns > 0 ? csock__now() + timeout_ns : 0;
    char buf[4096];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) continue;
        if (n == 0) return 0;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return -errno;
        int ms = -1;
        if (timeout_ns == 0) return CSOCK_ETIMEOUT;
        if (timeout_ns > 0) {
            int64_t left = deadline - csock__now();
            if (left <= 0) return CSOCK_ETIMEOUT;
            ms = (int)((left + 999999) / 1000000);
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, ms) < 0 && errno != EINTR) return -errno;
    }
}
