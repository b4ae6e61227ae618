/* Sending and receiving. The path through each function is one system call; the clock is read
 * only when the socket has a timeout, and nothing is allocated. */
#include "internal.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

static inline int check_io(const csock *s, const void *buf, size_t len, const char *op)
{
    int rc = csock__check(s, op);
    if (CSOCK_UNLIKELY(rc < 0)) return rc;
    if (CSOCK_UNLIKELY(len > (size_t)SSIZE_MAX))
        return csock__failf(CSOCK_EINVAL, "%s: length %zu is too large (at most %zd)", op, len,
                            (ssize_t)SSIZE_MAX);
    if (CSOCK_UNLIKELY(buf == NULL && len > 0))
        return csock__failf(CSOCK_EINVAL, "%s: NULL buffer of %zu bytes", op, len);
    return 0;
}

static void trace_io(const char *op, size_t len, ssize_t n)
{
    if (n < 0)
        csock__trace("%s %zu -> %s", op, len, csock_strerror((int)n));
    else if (n == 0 && len > 0 && op[0] == 'r')
        csock__trace("%s %zu -> 0 bytes (end of stream)", op, len);
    else
        csock__trace("%s %zu -> %zd bytes", op, len, n);
}

static ssize_t send_to(csock *s, const void *buf, size_t len, int flags, const csock_addr *to,
                       const char *op)
{
    ssize_t n = check_io(s, buf, len, op);
    if (CSOCK_UNLIKELY(n < 0)) return n;
    const struct sockaddr *sa = to ? (const struct sockaddr *)&to->ss : NULL;
    socklen_t salen = to ? to->len : 0;
    int64_t deadline = csock__deadline(s, flags);
    int lowered = 0;
    /* MSG_NOSIGNAL: a closed peer is an EPIPE error, never a SIGPIPE. */
    while ((n = sendto(s->fd, buf, len, flags | MSG_NOSIGNAL, sa, salen)) < 0) {
        if (errno != EINTR) {
            n = csock__wait_error(s, errno, flags);
            break;
        }
        int rc = csock__wait_again(s, SO_SNDTIMEO, deadline, &lowered);
        if (rc < 0) {
            n = rc;
            break;
        }
    }
    if (CSOCK_UNLIKELY(lowered)) csock__restore_timeout(s, SO_SNDTIMEO, lowered);
    if (csock__tracing()) trace_io(op, len, n);
    if (CSOCK_UNLIKELY(n < 0)) csock__fail((int)n, op, to ? to : &s->peer);
    return n;
}

static ssize_t recv_from(csock *s, void *buf, size_t len, int flags, csock_addr *from,
                         const char *op)
{
    ssize_t n = check_io(s, buf, len, op);
    if (CSOCK_UNLIKELY(n < 0)) return n;
    struct sockaddr *sa = from ? (struct sockaddr *)&from->ss : NULL;
    socklen_t salen = sizeof from->ss;
    int64_t deadline = csock__deadline(s, flags);
    int lowered = 0;
    while ((n = recvfrom(s->fd, buf, len, flags, sa, from ? &salen : NULL)) < 0) {
        if (errno != EINTR) {
            n = csock__wait_error(s, errno, flags);
            break;
        }
        int rc = csock__wait_again(s, SO_RCVTIMEO, deadline, &lowered);
        if (rc < 0) {
            n = rc;
            break;
        }
    }
    if (CSOCK_UNLIKELY(lowered)) csock__restore_timeout(s, SO_RCVTIMEO, lowered);
    if (from) from->len = n >= 0 ? salen : 0;
    if (csock__tracing()) trace_io(op, len, n);
    if (CSOCK_UNLIKELY(n < 0)) csock__fail((int)n, op, &s->peer);
    return n;
}

ssize_t csock_send(csock *s, const void *buf, size_t len)
{
    return send_to(s, buf, len, 0, NULL, "send");
}

ssize_t csock_send_flags(csock *s, const void *buf, size_t len, int flags)
{
    return send_to(s, buf, len, flags, NULL, "send");
}

ssize_t csock_sendto(csock *s, const void *buf, size_t len, const csock_addr *to)
{
    if (!to || to->len == 0 || to->len > sizeof to->ss)
        return csock__failf(CSOCK_EINVAL, "sendto: no address");
    return send_to(s, buf, len, 0, to, "sendto");
}

ssize_t csock_recv(csock *s, void *buf, size_t len)
{
    return recv_from(s, buf, len, 0, NULL, "recv");
}

ssize_t csock_recv_flags(csock *s, void *buf, size_t len, int flags)
{
    return recv_from(s, buf, len, flags, NULL, "recv");
}

ssize_t csock_recvfrom(csock *s, void *buf, size_t len, csock_addr *from)
{
    return recv_from(s, buf, len, 0, from, "recvfrom");
}

int csock_sendall(csock *s, const void *buf, size_t len, size_t *sent)
{
    size_t done = 0;
    if (sent) *sent = 0;
    int rc = check_io(s, buf, len, "sendall");
    if (rc < 0) return rc;
    /* One deadline for the whole call: each wait after partial progress gets only what is left. */
    int64_t deadline = csock__deadline(s, 0);
    int lowered = 0;
    const char *p = buf;
    while (done < len) {
        ssize_t n = send(s->fd, p + done, len - done, MSG_NOSIGNAL);
        if (n >= 0) {
            done += (size_t)n;
            if (done < len && (rc = csock__wait_again(s, SO_SNDTIMEO, deadline, &lowered)) < 0)
                break;
        } else if (errno == EINTR) {
            if ((rc = csock__wait_again(s, SO_SNDTIMEO, deadline, &lowered)) < 0) break;
        } else {
            rc = csock__wait_error(s, errno, 0);
            break;
        }
    }
    if (CSOCK_UNLIKELY(lowered)) csock__restore_timeout(s, SO_SNDTIMEO, lowered);
    if (sent) *sent = done;
    if (csock__tracing()) {
        if (rc < 0)
            csock__trace("sendall %zu -> %s after %zu bytes", len, csock_strerror(rc), done);
        else
            csock__trace("sendall %zu -> ok", len);
    }
    if (rc < 0) {
        char where[CSOCK_ADDRSTRLEN];
        return csock__failf(rc, "sendall %s: %s after %zu of %zu bytes",
                            csock__addr_text(&s->peer, where), csock_strerror(rc), done, len);
    }
    return 0;
}
