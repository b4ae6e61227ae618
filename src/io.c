/* SPDX-License-Identifier: MIT */
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

struct transfer {
    void *buf;
    size_t len;
    csock_addr *addr;
    socklen_t addrlen;
};

static ssize_t call_sendto(csock *s, void *args, int flags)
{
    struct transfer *t = args;
    /* MSG_NOSIGNAL: a closed peer is an EPIPE error, never a SIGPIPE. */
    return sendto(s->fd, t->buf, t->len, flags | MSG_NOSIGNAL,
                  t->addr ? (struct sockaddr *)&t->addr->ss : NULL, t->addrlen);
}

static ssize_t call_recvfrom(csock *s, void *args, int flags)
{
    struct transfer *t = args;
    t->addrlen = sizeof t->addr->ss;
    return recvfrom(s->fd, t->buf, t->len, flags, t->addr ? (struct sockaddr *)&t->addr->ss : NULL,
                    t->addr ? &t->addrlen : NULL);
}

/* Records a failed transfer, with a hint where the system's reason misleads. */
static void fail_io(const csock *s, int code, const char *op, const csock_addr *addr)
{
    csock__fail(code, op, addr);
    if (code != CSOCK_EAGAIN) {
        char buf[CSOCK__HINT_MAX];
        csock__explain(csock__hint(s, code, op, NULL, buf));
    }
}

static ssize_t send_to(csock *s, const void *buf, size_t len, int flags, const csock_addr *to,
                       const char *op)
{
    ssize_t n = check_io(s, buf, len, op);
    if (n == 0 && to) n = csock__addr_check(to, op);
    if (CSOCK_UNLIKELY(n < 0)) return n;
    if (CSOCK_UNLIKELY(s->layer)) return s->layer->ops->send(s, buf, len, flags, to, op);
    struct transfer t = {(void *)buf, len, (csock_addr *)to, to ? to->len : 0};
    n = csock__retrying(s, SO_SNDTIMEO, flags, call_sendto, &t);
    if (csock__tracing()) csock__trace_count(op, len, n, "bytes");
    if (CSOCK_UNLIKELY(n < 0)) fail_io(s, (int)n, op, to ? to : &s->peer);
    return n;
}

ssize_t csock__datagram_cut(csock *s, const char *op, size_t len, ssize_t size,
                            const csock_addr *from)
{
    char where[CSOCK_ADDRSTRLEN];
    const csock_addr *who = from && from->len ? from : &s->peer;
    return csock__failf(CSOCK_EMSGSIZE,
                        "%s %s: datagram of %zd bytes does not fit in %zu (the first %zu are in "
                        "the buffer)",
                        op, csock__addr_text(who, where), size, len, len);
}

static ssize_t recv_from(csock *s, void *buf, size_t len, int flags, csock_addr *from,
                         const char *op)
{
    ssize_t n = check_io(s, buf, len, op);
    if (CSOCK_UNLIKELY(n < 0)) return n;
    if (CSOCK_UNLIKELY(s->layer)) return s->layer->ops->recv(s, buf, len, flags, from, op);
    /* On message sockets MSG_TRUNC makes the kernel return the datagram's full size, so a
     * datagram larger than the buffer is seen, at no extra cost. */
    int want_size = s->type != SOCK_STREAM && !(flags & MSG_TRUNC);
    struct transfer t = {buf, len, from, 0};
    n = csock__retrying(s, SO_RCVTIMEO, flags | (want_size ? MSG_TRUNC : 0), call_recvfrom, &t);
    if (from) from->len = n >= 0 ? t.addrlen : 0;
    if (CSOCK_UNLIKELY(want_size && n > (ssize_t)len)) n = csock__datagram_cut(s, op, len, n, from);
    if (csock__tracing()) csock__trace_count(op, len, n, "bytes");
    if (CSOCK_UNLIKELY(n < 0) && n != CSOCK_EMSGSIZE) fail_io(s, (int)n, op, &s->peer);
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
    if (!to || to->len == 0) return csock__failf(CSOCK_EINVAL, "sendto: no address");
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

int csock__send_until(csock *s, const void *buf, size_t len, csock__deadline *d, size_t *done)
{
    const char *p = buf;
    size_t sent = 0;
    int rc = 0;
    while (sent < len) {
        ssize_t n = send(s->fd, p + sent, len - sent, MSG_NOSIGNAL);
        if (n >= 0) {
            sent += (size_t)n;
            if (sent < len && (rc = csock__deadline_again(d)) < 0) break;
        } else if (errno == EINTR) {
            if ((rc = csock__deadline_again(d)) < 0) break;
        } else {
            rc = csock__deadline_error(d, errno);
            break;
        }
    }
    *done += sent;
    return rc;
}

int csock_sendall(csock *s, const void *buf, size_t len, size_t *sent)
{
    size_t done = 0;
    if (sent) *sent = 0;
    int rc = check_io(s, buf, len, "sendall");
    if (rc < 0) return rc;
    if (CSOCK_UNLIKELY(s->layer)) return s->layer->ops->sendall(s, buf, len, sent);
    /* One deadline for the whole call: each wait after partial progress gets only what is left. */
    csock__deadline d = csock__deadline_begin(s, SO_SNDTIMEO, 0);
    rc = csock__send_until(s, buf, len, &d, &done);
    csock__deadline_end(&d);
    if (sent) *sent = done;
    if (csock__tracing()) {
        if (rc < 0)
            csock__trace("sendall %zu -> %s after %zu bytes", len, csock_strerror(rc), done);
        else
            csock__trace("sendall %zu -> ok", len);
    }
    if (rc < 0) {
        char where[CSOCK_ADDRSTRLEN];
        csock__failf(rc, "sendall %s: %s after %zu of %zu bytes", csock__addr_text(&s->peer, where),
                     csock_strerror(rc), done, len);
        char buf[CSOCK__HINT_MAX];
        csock__explain(csock__hint(s, rc, "sendall", NULL, buf));
        return rc;
    }
    return 0;
}
