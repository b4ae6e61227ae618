/* SPDX-License-Identifier: MIT */
/* The end of a TCP session: csock exits only once the peer has taken what it was sent, or says
 * how much it did not take.
 *
 * Two kernel facts shape this. Closing a TCP socket with unread input makes the kernel reset the
 * connection and discard whatever of ours it still holds, unsent or unacknowledged: a peer that
 * is still sending when csock closes would lose the end of the data. And the kernel's send
 * buffer (megabytes) is still being delivered after close(2), where no error can be seen any
 * more. So the session's socket outlives the stream that carried it (a duplicate descriptor):
 * writing is shut down, what the peer still sends is read (and written to standard output), and
 * csock waits until the peer has acknowledged every byte (SIOCOUTQ is 0), the peer resets the
 * connection, or a time limit runs out. A reset after that loses nothing: the peer's system has
 * every byte, and Linux hands a reset socket's received data to its reader before the error. */
#define _GNU_SOURCE /* struct tcp_info */
#include "local.h"
#include "session.h"

#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define TICK_MAX 0.05 /* seconds between looks at the send queue, at most */

size_t unacked_bytes(int fd, int fin_sent)
{
    struct tcp_info info;
    socklen_t len = sizeof info;
    int queued;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) < 0) return 0; /* not TCP */
    if (ioctl(fd, SIOCOUTQ, &queued) < 0 || queued <= 0) return 0;
    /* The end of file takes a sequence number, and SIOCOUTQ counts it until it is acknowledged:
     * in these states it was sent, and after a reset (TCP_CLOSE) if the caller shut down. */
    int fin = info.tcpi_state == TCP_FIN_WAIT1 || info.tcpi_state == TCP_CLOSING ||
              info.tcpi_state == TCP_LAST_ACK || (info.tcpi_state == TCP_CLOSE && fin_sent);
    return (size_t)queued - (size_t)fin;
}

double monotonic_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void say_ended(const char *peer, const char *how, uint64_t sent, uint64_t received)
{
    char s[32], r[32];
    say("%s: ended: %s after %s sent, %s received", peer, how, bytes_text(sent, s, sizeof s),
        bytes_text(received, r, sizeof r));
}

void ending_reason(int error, double idle, char *buf, size_t size)
{
    if (error == CSOCK_ECONNRESET || error == CSOCK_EPIPE)
        snprintf(buf, size, "reset by the peer");
    else if (error == CSOCK_ETIMEOUT)
        snprintf(buf, size, "idle for %gs", idle);
    else if (error == CSOCK_ESHUTDOWN)
        snprintf(buf, size, "stopped by a signal");
    else
        snprintf(buf, size, "failed: %s", csock_strerror(error));
}

/* -v: the last line of a session that failed while csock waited. */
static void say_failed_end(const struct ending *e, const char *how)
{
    if (e->verbose) say_ended(e->peer, how, e->sent, e->received);
}

/* Reads what the peer sends while csock waits, to standard output, a few reads at a time.
 * Returns 1 while it may send more, 0 at its end of file, -1 when standard output failed (said)
 * or on a socket error, which is then in *error. */
static int read_more(struct ending *e, int *error)
{
    char buf[16 * 1024];
    for (int i = 0; i < 16; i++) {
        ssize_t n = recv(e->fd, buf, sizeof buf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 1;
        if (n < 0) {
            *error = errno;
            return -1;
        }
        if (n == 0) return 0;
        if (e->hex)
            hexdump('<', &e->received, buf, (size_t)n);
        else
            e->received += (uint64_t)n;
        if (output_write(buf, (size_t)n) < 0) return -1;
    }
    return 1;
}

/* The connection failed while csock waited: says what of ours it lost, and why. */
static int failed(const struct ending *e, int fin_sent, int error)
{
    size_t left = unacked_bytes(e->fd, fin_sent);
    if (left) say("%s: %zu bytes were not taken by the peer", e->peer, left);
    if (e->peer_ended)
        say("%s: the peer closed the connection before the end of input (%s)", e->peer,
            strerror(error));
    else
        say("%s: %s", e->peer, strerror(error));
    char how[200];
    ending_reason(-error, e->idle, how, sizeof how);
    say_failed_end(e, how);
    return EXIT_FAILED;
}

int finish_session(struct ending *e)
{
    int fin_sent = shutdown(e->fd, SHUT_WR) == 0;
    double tick = 0.001, moved = monotonic_time();
    size_t last = (size_t)-1;
    int status = EXIT_OK;
    for (;;) {
        size_t left = unacked_bytes(e->fd, fin_sent);
        int error = 0;
        socklen_t len = sizeof error;
        if (getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0) error = errno;
        if (error) {
            status = failed(e, fin_sent, error);
            break;
        }
        if (left == 0) {
            char sent[32], received[32];
            if (e->verbose)
                say(e->reading ? "%s has taken everything sent: closing the connection after %s "
                                 "sent, %s received"
                               : "%s closed the connection after %s sent, %s received",
                    e->peer, bytes_text(e->sent, sent, sizeof sent),
                    bytes_text(e->received, received, sizeof received));
            break;
        }
        double t = monotonic_time();
        if (left != last) moved = t, last = left;
        if (e->deadline != NO_LIMIT && t >= e->deadline) {
            say("%s: %zu bytes were not taken by the peer when -q %gs ran out", e->peer, left,
                e->quit_after);
            char how[64];
            snprintf(how, sizeof how, "-q %gs ran out", e->quit_after);
            say_failed_end(e, how);
            status = EXIT_FAILED;
            break;
        }
        if (e->idle > 0 && t - moved >= e->idle) {
            say("%s: %zu bytes were not taken by the peer", e->peer, left);
            say("%s: idle for %gs", e->peer, e->idle);
            char how[64];
            snprintf(how, sizeof how, "idle for %gs", e->idle);
            say_failed_end(e, how);
            status = EXIT_TIMEOUT;
            break;
        }
        double wait = tick;
        if (e->deadline != NO_LIMIT && e->deadline - t < wait) wait = e->deadline - t;
        /* Once the peer's end of file is read, the socket is always readable: sleep instead. */
        struct pollfd p = {.fd = e->fd, .events = POLLIN};
        if (poll(e->reading ? &p : NULL, e->reading ? 1 : 0, (int)(wait * 1000) + 1) > 0) {
            int rc = read_more(e, &error);
            if (rc < 0) {
                status = error ? failed(e, fin_sent, error) : EXIT_FAILED;
                break;
            }
            e->reading = rc;
            moved = monotonic_time();
        } else if (tick < TICK_MAX) {
            tick *= 2;
        }
    }
    /* Given up with bytes still unacknowledged: they were said to be lost, so they are. A plain
     * close would let the kernel go on sending them after csock exits when no input is unread
     * (and reset, dropping them, when some is), so what was said depended on that instant; a
     * reset now drops them always. */
    if (status != EXIT_OK && unacked_bytes(e->fd, fin_sent) > 0) {
        struct linger abort_now = {.l_onoff = 1, .l_linger = 0};
        setsockopt(e->fd, SOL_SOCKET, SO_LINGER, &abort_now, sizeof abort_now);
    }
    close(e->fd);
    return status;
}
