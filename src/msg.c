/* SPDX-License-Identifier: MIT */
/* Message I/O: sendmsg/recvmsg with scatter/gather buffers and ancillary data, and batches of
 * datagrams in one system call (sendmmsg/recvmmsg, or one segmented UDP send). Nothing here
 * allocates: a batch is converted on the stack, at most CSOCK_BATCH_MAX messages at a time. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Checks a message and fills the kernel's header from it. Returns 0 or a recorded failure. */
static int to_msghdr(const csock_msg *m, struct msghdr *h, const char *op)
{
    if (!m) return csock__failf(CSOCK_EINVAL, "%s: NULL message", op);
    if (m->iovcnt > IOV_MAX)
        return csock__failf(CSOCK_EINVAL, "%s: %zu buffers, more than IOV_MAX (%d)", op, m->iovcnt,
                            IOV_MAX);
    if (m->iovcnt > 0 && !m->iov) return csock__failf(CSOCK_EINVAL, "%s: NULL iov", op);
    size_t total = 0;
    for (size_t i = 0; i < m->iovcnt; i++) {
        if (!m->iov[i].iov_base && m->iov[i].iov_len > 0)
            return csock__failf(CSOCK_EINVAL, "%s: buffer %zu is NULL with %zu bytes", op, i,
                                m->iov[i].iov_len);
        total += m->iov[i].iov_len;
        if (total > (size_t)SSIZE_MAX || total < m->iov[i].iov_len)
            return csock__failf(CSOCK_EINVAL, "%s: buffers total more than SSIZE_MAX bytes", op);
    }
    if (!m->control && m->controllen > 0)
        return csock__failf(CSOCK_EINVAL, "%s: NULL control buffer of %zu bytes", op,
                            m->controllen);
    memset(h, 0, sizeof *h);
    h->msg_iov = m->iov;
    h->msg_iovlen = m->iovcnt;
    h->msg_control = m->controllen ? m->control : NULL;
    h->msg_controllen = m->controllen;
    return 0;
}

static size_t iov_total(const csock_msg *m)
{
    size_t total = 0;
    for (size_t i = 0; i < m->iovcnt; i++)
        total += m->iov[i].iov_len;
    return total;
}

/* Closes every descriptor that arrived in h's SCM_RIGHTS messages; returns how many. */
static int close_passed_fds(struct msghdr *h)
{
    int closed = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            close(fd);
            closed++;
        }
    }
    return closed;
}

/* Fills a message's "out" fields after the kernel received n bytes into it (n is the full size
 * when MSG_TRUNC was asked for). flags keeps what the kernel says happened to the message, not
 * the MSG_CMSG_CLOEXEC it echoes back. When the control data was cut (MSG_CTRUNC), the
 * descriptors that did arrive are closed so none leaks, and controllen is 0. Returns how many
 * were closed, or -1 when nothing was cut. */
static int from_msghdr(csock_msg *m, struct msghdr *h, size_t n, int asked_size)
{
    m->size = n;
    m->len = n;
    /* Only a cut datagram (the kernel says MSG_TRUNC) can be larger than the buffers. */
    if (asked_size && (h->msg_flags & MSG_TRUNC)) {
        size_t room = iov_total(m);
        if (n > room) m->len = room;
    }
    m->flags = h->msg_flags & ~MSG_CMSG_CLOEXEC;
    m->controllen = h->msg_controllen;
    if (m->addr) m->addr->len = h->msg_name ? h->msg_namelen : 0;
    if (CSOCK_UNLIKELY(h->msg_flags & MSG_CTRUNC)) {
        m->controllen = 0;
        return close_passed_fds(h);
    }
    return -1;
}

/* Records the failure of a receive whose control data was cut to controllen bytes; closed
 * descriptors that did arrive with it were closed. Returns CSOCK_EMSGSIZE. */
static int control_cut(csock *s, size_t controllen, int closed, const char *op)
{
    char where[CSOCK_ADDRSTRLEN], fate[64];
    if (closed == 0)
        snprintf(fate, sizeof fate, "no descriptor arrived");
    else
        snprintf(fate, sizeof fate, "%d descriptor%s that arrived %s closed", closed,
                 closed == 1 ? "" : "s", closed == 1 ? "was" : "were");
    return csock__failf(CSOCK_EMSGSIZE,
                        "%s %s: ancillary data cut to the %zu-byte control buffer; %s", op,
                        csock__addr_text(&s->peer, where), controllen, fate);
}

static ssize_t call_sendmsg(csock *s, void *args, int flags)
{
    return sendmsg(s->fd, args, flags | MSG_NOSIGNAL);
}

static ssize_t call_recvmsg(csock *s, void *args, int flags)
{
    return recvmsg(s->fd, args, flags | MSG_CMSG_CLOEXEC);
}

static void set_name(struct msghdr *h, csock_addr *addr, int receiving)
{
    if (!addr) return;
    h->msg_name = &addr->ss;
    h->msg_namelen = receiving ? sizeof addr->ss : addr->len;
}

/* Checks s and msg and fills the kernel's header, with the address for sending or receiving.
 * Returns 0 or a recorded failure. */
static int prepare(const csock *s, const csock_msg *msg, struct msghdr *h, int receiving,
                   const char *op)
{
    int rc = csock__check_plain(s, op);
    if (rc == 0) rc = to_msghdr(msg, h, op);
    if (rc == 0 && !receiving) rc = csock__addr_check(msg->addr, op);
    if (rc == 0) set_name(h, msg->addr, receiving);
    return rc;
}

ssize_t csock__sendmsg(csock *s, csock_msg *msg, int flags, const char *op)
{
    struct msghdr h;
    ssize_t n = prepare(s, msg, &h, 0, op);
    if (n < 0) return n;
    n = csock__retrying(s, SO_SNDTIMEO, flags, call_sendmsg, &h);
    msg->len = n > 0 ? (size_t)n : 0;
    if (csock__tracing()) csock__trace_count(op, iov_total(msg), n, "bytes");
    if (n < 0) csock__fail((int)n, op, msg->addr ? msg->addr : &s->peer);
    return n;
}

ssize_t csock_sendmsg(csock *s, csock_msg *msg, int flags)
{
    return csock__sendmsg(s, msg, flags, "sendmsg");
}

ssize_t csock__recvmsg(csock *s, csock_msg *msg, int flags, const char *op)
{
    struct msghdr h;
    ssize_t n = prepare(s, msg, &h, 1, op);
    if (n < 0) return n;
    int asked_size = s->type != SOCK_STREAM && !(flags & MSG_TRUNC);
    n = csock__retrying(s, SO_RCVTIMEO, flags | (asked_size ? MSG_TRUNC : 0), call_recvmsg, &h);
    if (n >= 0) {
        int closed = from_msghdr(msg, &h, (size_t)n, asked_size);
        n = closed < 0 ? (ssize_t)msg->len : control_cut(s, h.msg_controllen, closed, op);
    } else {
        msg->len = msg->size = 0;
        msg->controllen = 0;
        csock__fail((int)n, op, &s->peer);
    }
    if (csock__tracing())
        csock__trace_count(op, iov_total(msg), n,
                           n >= 0 && (msg->flags & MSG_TRUNC) ? "bytes (datagram cut)" : "bytes");
    return n;
}

ssize_t csock_recvmsg(csock *s, csock_msg *msg, int flags)
{
    return csock__recvmsg(s, msg, flags, "recvmsg");
}

/* A batch in the kernel's form. */
struct batch {
    struct mmsghdr h[CSOCK_BATCH_MAX];
    unsigned count;
};

static int to_batch(csock_msg *msgs, size_t count, struct batch *b, int receiving, const char *op)
{
    if (!msgs && count > 0) return csock__failf(CSOCK_EINVAL, "%s: NULL messages", op);
    b->count = count > CSOCK_BATCH_MAX ? CSOCK_BATCH_MAX : (unsigned)count;
    for (unsigned i = 0; i < b->count; i++) {
        int rc = to_msghdr(&msgs[i], &b->h[i].msg_hdr, op);
        if (rc == 0 && !receiving) rc = csock__addr_check(msgs[i].addr, op);
        if (rc < 0) return rc;
        set_name(&b->h[i].msg_hdr, msgs[i].addr, receiving);
        b->h[i].msg_len = 0;
    }
    return 0;
}

static ssize_t call_sendmmsg(csock *s, void *args, int flags)
{
    struct batch *b = args;
    return sendmmsg(s->fd, b->h, b->count, flags | MSG_NOSIGNAL);
}

static ssize_t call_recvmmsg(csock *s, void *args, int flags)
{
    struct batch *b = args;
    /* MSG_WAITFORONE: wait (within the socket's timeout) for the first datagram only. */
    return recvmmsg(s->fd, b->h, b->count, flags | MSG_WAITFORONE | MSG_CMSG_CLOEXEC, NULL);
}

/* UDP segmentation offload (UDP_SEGMENT): a run of equal-sized datagrams to one destination
 * leaves in one send as one buffer that the kernel cuts into datagrams, several times cheaper
 * per datagram than sendmmsg. The receiver sees ordinary datagrams. */
#define SEGMENT_IOV_MAX   256   /* buffers gathered into one segmented send, on the stack */
#define SEGMENT_BYTES_MAX 65507 /* a UDP payload over IPv4; the kernel's limit for the run */

static int same_destination(const csock_addr *a, const csock_addr *b)
{
    if (a == b) return 1;
    return a && b && a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

/* How many of msgs (at least two, or 0) can leave as one segmented send, and the segment size:
 * UDP, no control data, one destination, every message but the last exactly the first's size,
 * the last no larger. */
static unsigned segment_run(const csock *s, const csock_msg *msgs, unsigned count, size_t *size,
                            size_t *iovs)
{
    if (s->no_segments || s->type != SOCK_DGRAM ||
        (s->family != AF_INET && s->family != AF_INET6) ||
        (s->protocol != 0 && s->protocol != IPPROTO_UDP) || count < 2)
        return 0;
    size_t first = iov_total(&msgs[0]), bytes = 0;
    *iovs = 0;
    if (first == 0 || first > UINT16_MAX) return 0;
    unsigned n = 0;
    for (; n < count; n++) {
        const csock_msg *m = &msgs[n];
        size_t len = iov_total(m);
        if (m->controllen || !same_destination(m->addr, msgs[0].addr) || len > first || len == 0 ||
            *iovs + m->iovcnt > SEGMENT_IOV_MAX || bytes + len > SEGMENT_BYTES_MAX)
            break;
        *iovs += m->iovcnt;
        bytes += len;
        if (len < first) { /* a shorter datagram can only end the run */
            n++;
            break;
        }
    }
    *size = first;
    return n >= 2 ? n : 0;
}

/* Sends msgs[0..count) as one segmented send. Returns count, a negative code, or 0 when the
 * kernel refuses segmentation for this socket (it is not asked again; sendmmsg takes over). */
static ssize_t send_segments(csock *s, csock_msg *msgs, unsigned count, size_t size, size_t iovs,
                             int flags)
{
    struct iovec iov[SEGMENT_IOV_MAX];
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } control;
    size_t k = 0;
    for (unsigned i = 0; i < count; i++)
        for (size_t j = 0; j < msgs[i].iovcnt; j++)
            iov[k++] = msgs[i].iov[j];
    struct msghdr h = {.msg_iov = iov, .msg_iovlen = iovs};
    set_name(&h, msgs[0].addr, 0);
    memset(&control, 0, sizeof control);
    h.msg_control = control.buf;
    h.msg_controllen = sizeof control.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t segment = (uint16_t)size;
    memcpy(CMSG_DATA(c), &segment, sizeof segment);

    ssize_t n = csock__retrying(s, SO_SNDTIMEO, flags, call_sendmsg, &h);
    if (n == -EINVAL || n == -EIO || n == -EMSGSIZE || n == -ENOPROTOOPT || n == -EOPNOTSUPP) {
        /* No offload on this path (an old kernel, a device without checksum offload, a segment
         * over the route's MTU): the same batch goes through sendmmsg, which reports any error
         * of its own for the datagram concerned. */
        s->no_segments = 1;
        return 0;
    }
    if (n < 0) return n;
    for (unsigned i = 0; i < count; i++)
        msgs[i].len = iov_total(&msgs[i]);
    return count;
}

int csock_sendmany(csock *s, csock_msg *msgs, size_t count, int flags)
{
    struct batch b;
    int rc = csock__check_plain(s, "sendmany");
    if (rc == 0) rc = to_batch(msgs, count, &b, 0, "sendmany");
    if (rc < 0) return rc;
    if (b.count == 0) return 0;
    size_t size, iovs;
    unsigned run = segment_run(s, msgs, b.count, &size, &iovs);
    ssize_t n = run ? send_segments(s, msgs, run, size, iovs, flags) : 0;
    if (n == 0) { /* not segmented: one sendmmsg */
        n = csock__retrying(s, SO_SNDTIMEO, flags, call_sendmmsg, &b);
        for (ssize_t i = 0; i < n; i++)
            msgs[i].len = b.h[i].msg_len;
    }
    if (csock__tracing()) csock__trace_count("sendmany", b.count, n, "messages");
    if (n < 0) return csock__fail((int)n, "sendmany", msgs[0].addr ? msgs[0].addr : &s->peer);
    return (int)n;
}

int csock_recvmany(csock *s, csock_msg *msgs, size_t count, int flags)
{
    struct batch b;
    int rc = csock__check_plain(s, "recvmany");
    if (rc == 0) rc = to_batch(msgs, count, &b, 1, "recvmany");
    if (rc < 0) return rc;
    if (b.count == 0) return 0;
    int asked_size = s->type != SOCK_STREAM && !(flags & MSG_TRUNC);
    ssize_t n =
        csock__retrying(s, SO_RCVTIMEO, flags | (asked_size ? MSG_TRUNC : 0), call_recvmmsg, &b);
    /* Every datagram taken off the socket is returned, whatever happened to the others: one
     * whose control data was cut is flagged MSG_CTRUNC (its descriptors closed), not an error
     * that would lose the rest of the batch. */
    for (ssize_t i = 0; i < n; i++)
        from_msghdr(&msgs[i], &b.h[i].msg_hdr, b.h[i].msg_len, asked_size);
    if (csock__tracing()) csock__trace_count("recvmany", b.count, n, "messages");
    if (n < 0) csock__fail((int)n, "recvmany", &s->peer);
    return (int)n;
}
