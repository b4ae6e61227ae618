/* SPDX-License-Identifier: MIT */
/* The socket object's life: creating, wrapping, detaching, shutting down, closing, freeing; and
 * what it is: its family, type, descriptor and names (getsockname, getpeername). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

const char *csock__family_name(int family, char buf[24])
{
    switch (family) {
    case AF_INET:
        return "AF_INET";
    case AF_INET6:
        return "AF_INET6";
    case AF_UNIX:
        return "AF_UNIX";
    default:
        snprintf(buf, 24, "family %d", family);
        return buf;
    }
}

static const char *type_text(int type, char *buf, size_t size)
{
    switch (type) {
    case SOCK_STREAM:
        return "SOCK_STREAM";
    case SOCK_DGRAM:
        return "SOCK_DGRAM";
    case SOCK_RAW:
        return "SOCK_RAW";
    case SOCK_SEQPACKET:
        return "SOCK_SEQPACKET";
    default:
        snprintf(buf, size, "type %d", type);
        return buf;
    }
}

static void init(csock *s, int fd, int family, int type, int protocol, int64_t timeout_ns)
{
    s->fd = fd;
    s->family = family;
    s->type = type;
    s->protocol = protocol;
    s->timeout_ns = timeout_ns;
    s->had_timeout = timeout_ns > 0;
    s->peer.len = 0;
    s->no_segments = 0;
    s->layer = NULL;
}

csock *csock__new(int fd, int family, int type, int protocol, int64_t timeout_ns)
{
    csock *s = malloc(sizeof *s);
    if (!s) {
        csock__failf(CSOCK_ENOMEM, "socket: out of memory for fd %d", fd);
        return NULL;
    }
    init(s, fd, family, type, protocol, timeout_ns);
    return s;
}

/* Flags for socket(2)/accept4(2) that give a new descriptor csock's defaults atomically. */
static int born_flags(int64_t timeout_ns)
{
    return SOCK_CLOEXEC | (timeout_ns == 0 ? SOCK_NONBLOCK : 0);
}

/* Gives a descriptor born blocking or non-blocking (born_flags) its kernel timeouts. */
static int finish_birth(int fd, int64_t timeout_ns)
{
    return timeout_ns > 0 ? csock__apply_timeout(fd, -1, timeout_ns) : 0;
}

/* Wraps a descriptor csock created, closing it if the object cannot be made. */
static csock *adopt(int fd, int family, int type, int protocol, int64_t timeout_ns)
{
    csock *s = csock__new(fd, family, type, protocol, timeout_ns);
    if (!s) close(fd);
    return s;
}

csock *csock_socket(int family, int type, int protocol)
{
    return csock__socket_with(family, type, protocol, csock__default_timeout_ns());
}

csock *csock__socket_with(int family, int type, int protocol, int64_t timeout)
{
    csock made;
    return csock__socket_init(&made, family, type, protocol, timeout) < 0
               ? NULL
               : adopt(made.fd, family, type, protocol, timeout);
}

int csock__socket_init(csock *s, int family, int type, int protocol, int64_t timeout)
{
    s->fd = -1;
    char fbuf[24], tbuf[24];
    int plain = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (type != plain)
        return csock__failf(
            CSOCK_EINVAL,
            "socket %s %s: pass the plain type; csock sets close-on-exec itself and "
            "non-blocking mode through csock_settimeout",
            csock__family_name(family, fbuf), type_text(plain, tbuf, sizeof tbuf));
    int fd = socket(family, type | born_flags(timeout), protocol);
    int rc = fd < 0 ? csock__errno() : finish_birth(fd, timeout);
    if (rc < 0 && fd >= 0) close(fd);
    if (csock__tracing()) {
        const char *fam = csock__family_name(family, fbuf),
                   *typ = type_text(type, tbuf, sizeof tbuf);
        if (rc < 0)
            csock__trace("socket %s %s %d -> %s", fam, typ, protocol, csock_strerror(rc));
        else
            csock__trace("socket %s %s %d -> fd %d", fam, typ, protocol, fd);
    }
    if (rc < 0)
        return csock__failf(rc, "socket %s %s: %s", csock__family_name(family, fbuf),
                            type_text(type, tbuf, sizeof tbuf), csock_strerror(rc));
    init(s, fd, family, type, protocol, timeout);
    return 0;
}

static int64_t kernel_timeout_ns(int fd, int optname)
{
    struct timeval tv = {0, 0};
    socklen_t len = sizeof tv;
    if (getsockopt(fd, SOL_SOCKET, optname, &tv, &len) < 0) return 0;
    return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

/* The timeout a descriptor's open file description already gives it, which a duplicate shares
 * with the original: 0 when it is non-blocking, the kernel timeout of a blocking one (the
 * receive timeout, else the send timeout: when the two differ, both are set to it, so that
 * what the socket says holds both ways), or -1 when it has none. Returns 0 or -errno. */
static int adopt_timeout(int fd, int64_t *ns)
{
    *ns = -1;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return csock__errno();
    if (fl & O_NONBLOCK) {
        *ns = 0;
        return 0;
    }
    int64_t rcv = kernel_timeout_ns(fd, SO_RCVTIMEO), snd = kernel_timeout_ns(fd, SO_SNDTIMEO);
    if (rcv == 0 && snd == 0) return 0;
    *ns = rcv > 0 ? rcv : snd;
    if (rcv == snd) return 0;
    int rc = csock__set_kernel_timeout(fd, SO_RCVTIMEO, *ns);
    return rc < 0 ? rc : csock__set_kernel_timeout(fd, SO_SNDTIMEO, *ns);
}

csock *csock_wrap(int fd)
{
    int family = 0, type = 0, protocol = 0;
    socklen_t len = sizeof type;
    if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
        int rc = fd < 0 ? CSOCK_EBADF : csock__errno();
        csock__failf(rc, "wrap fd %d: %s", fd, csock_strerror(rc));
        return NULL;
    }
    len = sizeof family;
    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len);
    len = sizeof protocol;
    getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len);
    int64_t timeout = -1;
    int rc = adopt_timeout(fd, &timeout);
    if (rc == 0 && timeout < 0) {
        /* No timeout of its own: the default, as a new socket gets. */
        timeout = csock__default_timeout_ns();
        if (timeout > 0) rc = csock__apply_timeout(fd, -1, timeout);
    }
    if (rc < 0) {
        csock__failf(rc, "wrap fd %d: %s", fd, csock_strerror(rc));
        return NULL;
    }
    if (csock__tracing()) csock__trace("wrap fd %d -> ok", fd);
    csock *s = csock__new(fd, family, type, protocol, timeout);
    if (s) {
        /* The peer, if it has one, for messages ("recv 127.0.0.1:40000: timed out"), as an
         * accepted or connected socket names it. */
        len = sizeof s->peer.ss;
        int named = getpeername(fd, (struct sockaddr *)&s->peer.ss, &len) == 0 &&
                    len > sizeof(sa_family_t); /* an unnamed Unix peer is no help */
        s->peer.len = named ? len : 0;
    }
    return s;
}

csock *csock_fromfd(int fd)
{
    int copy = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) {
        int rc = fd < 0 ? CSOCK_EBADF : csock__errno();
        csock__failf(rc, "fromfd %d: %s", fd, csock_strerror(rc));
        return NULL;
    }
    csock *s = csock_wrap(copy);
    if (!s) close(copy);
    return s;
}

csock *csock_dup(csock *s)
{
    if (csock__check(s, "dup") < 0) return NULL;
    if (s->layer) {
        /* Two objects cannot share one TLS session's state. */
        csock__failf(CSOCK_EINVAL, "dup: a TLS socket cannot be duplicated");
        return NULL;
    }
    int fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        int rc = csock__errno();
        csock__failf(rc, "dup fd %d: %s", s->fd, csock_strerror(rc));
        return NULL;
    }
    /* The copy shares the descriptor's mode and kernel timeouts, so it keeps the timeout as it
     * is, and the peer for messages, at no cost. */
    csock *d = adopt(fd, s->family, s->type, s->protocol, s->timeout_ns);
    if (!d) return NULL;
    *d = *s;
    d->fd = fd;
    if (csock__tracing()) csock__trace("dup fd %d -> fd %d", s->fd, fd);
    return d;
}

int csock_socketpair(int family, int type, int protocol, csock *pair[2])
{
    if (!pair) return csock__failf(CSOCK_EINVAL, "socketpair: NULL pair");
    pair[0] = pair[1] = NULL;
    int64_t timeout = csock__default_timeout_ns();
    int fds[2];
    int rc = socketpair(family, type | born_flags(timeout), protocol, fds) < 0 ? csock__errno() : 0;
    if (rc == 0 &&
        ((rc = finish_birth(fds[0], timeout)) < 0 || (rc = finish_birth(fds[1], timeout)) < 0)) {
        close(fds[0]);
        close(fds[1]);
    }
    if (csock__tracing()) csock__trace("socketpair -> %s", csock__result_text(rc));
    if (rc < 0) {
        char fbuf[24], tbuf[24];
        return csock__failf(rc, "socketpair %s %s: %s", csock__family_name(family, fbuf),
                            type_text(type, tbuf, sizeof tbuf), csock_strerror(rc));
    }
    pair[0] = adopt(fds[0], family, type, protocol, timeout);
    pair[1] = adopt(fds[1], family, type, protocol, timeout);
    if (!pair[0] || !pair[1]) {
        csock_free(pair[0]);
        csock_free(pair[1]);
        pair[0] = pair[1] = NULL;
        return CSOCK_ENOMEM;
    }
    return 0;
}

int csock_fileno(const csock *s)
{
    return s ? s->fd : -1;
}

int csock_family(const csock *s)
{
    return s ? s->family : 0;
}

int csock_type(const csock *s)
{
    return s ? s->type : 0;
}

int csock_protocol(const csock *s)
{
    return s ? s->protocol : 0;
}

int csock_detach(csock *s)
{
    int rc = csock__check(s, "detach");
    if (rc < 0) return rc;
    int fd = s->fd;
    if (s->layer)
        s->layer->ops->end(s, CSOCK__END_QUIET); /* the TLS session is dropped, as it is */
    if (s->timeout_ns > 0) {
        csock__set_kernel_timeout(fd, SO_RCVTIMEO, 0);
        csock__set_kernel_timeout(fd, SO_SNDTIMEO, 0);
    }
    s->fd = -1;
    if (csock__tracing()) csock__trace("detach -> fd %d", fd);
    return fd;
}

int csock_close(csock *s)
{
    if (!s) return csock__failf(CSOCK_EINVAL, "close: NULL socket");
    if (s->fd < 0) return 0;
    /* A TLS socket tells its peer it is ending (close_notify), and lingers if input is unread:
     * a close with input unread would reset the connection and lose what was sent. */
    if (s->layer) s->layer->ops->end(s, CSOCK__END_LINGER);
    /* The descriptor is released even when close reports an error (Linux never retries). */
    int fd = s->fd;
    int rc = close(fd) < 0 && errno != EINTR ? csock__errno() : 0;
    s->fd = -1;
    if (csock__tracing()) csock__trace("close fd %d -> %s", fd, csock__result_text(rc));
    if (rc < 0) return csock__fail(rc, "close", &s->peer);
    return 0;
}

int csock_shutdown(csock *s, int how)
{
    int rc = csock__check(s, "shutdown");
    if (rc < 0) return rc;
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
        return csock__failf(CSOCK_EINVAL, "shutdown %d: how is SHUT_RD, SHUT_WR or SHUT_RDWR", how);
    if (s->layer) return s->layer->ops->shutdown(s, how);
    rc = shutdown(s->fd, how) < 0 ? csock__errno() : 0;
    if (csock__tracing())
        csock__trace("shutdown %s -> %s",
                     how == SHUT_RD   ? "SHUT_RD"
                     : how == SHUT_WR ? "SHUT_WR"
                                      : "SHUT_RDWR",
                     csock__result_text(rc));
    return rc < 0 ? csock__fail(rc, "shutdown", &s->peer) : 0;
}

typedef int (*name_fn)(int, struct sockaddr *, socklen_t *);

static int get_name(csock *s, csock_addr *out, name_fn fn, const char *op)
{
    int rc = csock__check(s, op);
    if (rc < 0) return rc;
    if (!out) return csock__failf(CSOCK_EINVAL, "%s: NULL output", op);
    socklen_t len = sizeof out->ss;
    memset(out, 0, sizeof *out);
    rc = fn(s->fd, (struct sockaddr *)&out->ss, &len) < 0 ? csock__errno() : 0;
    out->len = rc == 0 ? len : 0;
    if (csock__tracing()) {
        char where[CSOCK_ADDRSTRLEN];
        csock__trace("%s -> %s", op, rc < 0 ? csock_strerror(rc) : csock__addr_text(out, where));
    }
    return rc < 0 ? csock__fail(rc, op, NULL) : 0;
}

int csock_getsockname(csock *s, csock_addr *out)
{
    return get_name(s, out, getsockname, "getsockname");
}

int csock_getpeername(csock *s, csock_addr *out)
{
    return get_name(s, out, getpeername, "getpeername");
}

int csock_close_gracefully(csock *s, double timeout)
{
    if (!s) return csock__failf(CSOCK_EINVAL, "close_gracefully: NULL socket");
    if (s->fd < 0) return 0;
    int64_t ns;
    int rc = csock__seconds_ns(timeout, CSOCK__TIMEOUT, "close_gracefully", &ns);
    if (rc < 0) return rc; /* the socket stays open */
    /* A TLS socket's close_notify goes before the end of stream. */
    if (s->layer) s->layer->ops->end(s, CSOCK__END_NOTIFY);
    int fd = s->fd;
    if (s->type == SOCK_STREAM || s->type == SOCK_SEQPACKET) rc = csock__drain_to_end(s, ns);
    if (csock__tracing())
        csock__trace("close_gracefully fd %d -> %s", fd,
                     rc == CSOCK_ETIMEOUT ? "the peer did not end" : csock__result_text(rc));
    int closed = csock_close(s);
    if (closed < 0) return closed;
    if (rc == CSOCK_ETIMEOUT) {
        char peer[CSOCK_ADDRSTRLEN];
        return csock__failf(rc, "close_gracefully %s: the peer did not end its side within %gs",
                            csock__addr_text(&s->peer, peer), timeout);
    }
    return rc < 0 ? csock__fail(rc, "close_gracefully", &s->peer) : 0;
}

void csock_free(csock *s)
{
    if (!s) return;
    if (s->fd >= 0) csock_close(s);
    free(s);
}
