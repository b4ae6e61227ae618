/* SPDX-License-Identifier: MIT */
/* The steps that set a socket's ends: bind, listen, accept, connect, shutdown, and the names. */
#include "internal.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Records "op host:port (resolved): reason" when the user gave a name that resolved to another
 * text, else "op resolved: reason"; why, if not NULL, follows the reason. */
static int fail_why(int rc, const char *op, const char *host, int port, const csock_addr *addr,
                    const char *why)
{
    char given[CSOCK_ADDRSTRLEN], resolved[CSOCK_ADDRSTRLEN], hosttext[CSOCK_ADDRSTRLEN];
    csock__addr_text(addr, resolved);
    if (host && *host && addr->ss.ss_family != AF_UNIX &&
        csock_addr_host(addr, hosttext, sizeof hosttext) >= 0 && strcmp(host, hosttext) != 0)
        return csock__failf(rc, "%s %s (%s): %s%s", op,
                            csock__hostport_text(host, port, given, sizeof given), resolved,
                            csock_strerror(rc), why ? why : "");
    return csock__failf(rc, "%s %s: %s%s", op, resolved, csock_strerror(rc), why ? why : "");
}

static int fail_at(int rc, const char *op, const char *host, int port, const csock_addr *addr)
{
    return fail_why(rc, op, host, port, addr, NULL);
}

static int bind_resolved(csock *s, const csock_addr *addr, const char *host, int port)
{
    int rc = bind(s->fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 ? csock__errno() : 0;
    if (csock__tracing()) {
        char where[CSOCK_ADDRSTRLEN];
        csock__trace("bind %s -> %s", csock__addr_text(addr, where), csock__result_text(rc));
    }
    return rc < 0 ? fail_at(rc, "bind", host, port, addr) : 0;
}

int csock_bind(csock *s, const char *host, int port)
{
    csock_addr addr;
    int rc = csock__check(s, "bind");
    if (rc == 0) rc = csock__lookup(&addr, host, port, s->family, s->type, 1, "bind");
    return rc < 0 ? rc : bind_resolved(s, &addr, host, port);
}

static int check_addr(const csock *s, const csock_addr *addr, const char *op)
{
    if (!addr || addr->len == 0) return csock__failf(CSOCK_EINVAL, "%s: no address", op);
    int rc = csock__addr_check(addr, op);
    if (rc < 0) return rc;
    if (addr->ss.ss_family != s->family) {
        char where[CSOCK_ADDRSTRLEN];
        return csock__failf(CSOCK_EAFNOSUPPORT,
                            "%s %s: address family %d does not match the socket's (%d)", op,
                            csock__addr_text(addr, where), addr->ss.ss_family, s->family);
    }
    return 0;
}

int csock_bind_addr(csock *s, const csock_addr *addr)
{
    int rc = csock__check(s, "bind");
    if (rc == 0) rc = check_addr(s, addr, "bind");
    return rc < 0 ? rc : bind_resolved(s, addr, NULL, 0);
}

int csock_listen(csock *s, int backlog)
{
    int rc = csock__check(s, "listen");
    if (rc < 0) return rc;
    if (backlog < 0) backlog = 0;
    rc = listen(s->fd, backlog) < 0 ? csock__errno() : 0;
    if (csock__tracing()) csock__trace("listen %d -> %s", backlog, csock__result_text(rc));
    if (rc < 0) {
        csock_addr self;
        socklen_t len = sizeof self.ss;
        self.len = getsockname(s->fd, (struct sockaddr *)&self.ss, &len) == 0 ? len : 0;
        return csock__fail(rc, "listen", &self);
    }
    return 0;
}

/* Gives an accepted descriptor the kernel timeouts of its own timeout. Linux copies the
 * listener's SO_RCVTIMEO and SO_SNDTIMEO into each connection when its handshake completes, so
 * a listener that ever had a timeout may have handed one on (perhaps since changed, or lowered
 * for an interrupted call) to a socket meant to block or to have another. A listener that never
 * had one hands on zeros, and then nothing needs doing for a socket without a timeout. */
static int own_timeout(const csock *listener, int fd, int64_t timeout)
{
    if (!listener->had_timeout && timeout <= 0) return 0;
    int64_t wanted = timeout > 0 ? timeout : 0;
    int rc = csock__set_kernel_timeout(fd, SO_RCVTIMEO, wanted);
    return rc < 0 ? rc : csock__set_kernel_timeout(fd, SO_SNDTIMEO, wanted);
}

csock *csock_accept(csock *s, csock_addr *peer)
{
    if (csock__check(s, "accept") < 0) return NULL;
    csock_addr from;
    int64_t timeout = csock__default_timeout_ns();
    int64_t deadline = csock__deadline(s, 0);
    int lowered = 0, rc = 0, fd;
    for (;;) {
        socklen_t len = sizeof from.ss;
        fd = accept4(s->fd, (struct sockaddr *)&from.ss, &len,
                     SOCK_CLOEXEC | (timeout == 0 ? SOCK_NONBLOCK : 0));
        if (fd >= 0) {
            from.len = len;
            break;
        }
        /* A connection that died while queued is not this listener's failure: wait for the
         * next one, as Python and Go do. */
        if (errno == EINTR || errno == ECONNABORTED) {
            if ((rc = csock__wait_again(s, SO_RCVTIMEO, deadline, &lowered)) < 0) break;
            continue;
        }
        rc = csock__wait_error(s, errno, 0);
        break;
    }
    csock__restore_timeout(s, SO_RCVTIMEO, lowered);
    if (rc == 0 && (rc = own_timeout(s, fd, timeout)) < 0) close(fd);
    if (csock__tracing()) {
        char where[CSOCK_ADDRSTRLEN];
        csock__trace("accept -> %s", rc < 0 ? csock_strerror(rc) : csock__addr_text(&from, where));
    }
    if (rc < 0) {
        csock_addr self;
        socklen_t len = sizeof self.ss;
        self.len = getsockname(s->fd, (struct sockaddr *)&self.ss, &len) == 0 ? len : 0;
        csock__fail(rc, "accept", &self);
        return NULL;
    }
    csock *conn = csock__new(fd, s->family, s->type, s->protocol, timeout);
    if (!conn) {
        close(fd);
        return NULL;
    }
    conn->peer = from;
    if (peer) *peer = from;
    return conn;
}

/* Waits for an interrupted connect to finish, as connect(2) says to: poll for writability, then
 * read SO_ERROR. An AF_UNIX connect is abandoned by a signal instead, leaving the socket
 * unconnected (and writable, error-free): then connecting again is what goes on waiting. */
static int finish_connect(csock *s, const csock_addr *addr, int64_t deadline)
{
    struct pollfd p = {.fd = s->fd, .events = POLLOUT};
    for (;;) {
        int ms = -1;
        if (deadline) {
            int64_t left = deadline - csock__now();
            if (left <= 0) return CSOCK_ETIMEOUT;
            ms = (int)((left + 999999) / 1000000);
        }
        int n = poll(&p, 1, ms);
        if (n < 0 && errno != EINTR) return csock__errno();
        if (n <= 0) continue;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return csock__errno();
        if (err || s->family != AF_UNIX) return -err;
        struct sockaddr_storage peer;
        if (getpeername(s->fd, (struct sockaddr *)&peer, &(socklen_t){sizeof peer}) == 0) return 0;
        if (connect(s->fd, (const struct sockaddr *)&addr->ss, addr->len) == 0) return 0;
        if (errno != EINTR)
            return errno == EAGAIN && s->timeout_ns > 0 ? CSOCK_ETIMEOUT : csock__errno();
    }
}

static const char reached_itself_text[] = " (the connection reached itself: nothing listens there)";

/* Whether a TCP connect that succeeded met its own socket. With nothing listening on a local port
 * in the range source ports come from, a connect that happens to be given that very port as its
 * source reaches itself (a "simultaneous open") and succeeds, talking to itself. Go's net
 * refuses such a connection as well. One getsockname, after a connect that succeeded only. */
static int reached_itself(const csock *s, const csock_addr *addr)
{
    if (s->type != SOCK_STREAM || (s->family != AF_INET && s->family != AF_INET6)) return 0;
    struct sockaddr_storage self;
    socklen_t len = sizeof self;
    if (getsockname(s->fd, (struct sockaddr *)&self, &len) < 0 ||
        self.ss_family != addr->ss.ss_family)
        return 0;
    if (self.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)&self, *b = (const void *)&addr->ss;
        return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *a = (const void *)&self, *b = (const void *)&addr->ss;
    return a->sin6_port == b->sin6_port &&
           memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0;
}

/* Connects to addr within s's timeout. Returns 0 or a code (nothing recorded); *why is set to a
 * text that follows the reason in the message, or NULL. */
static int connect_resolved(csock *s, const csock_addr *addr, const char **why)
{
    *why = NULL;
    int64_t deadline = csock__deadline(s, 0);
    int rc = 0;
    if (connect(s->fd, (const struct sockaddr *)&addr->ss, addr->len) < 0) {
        if (errno == EINTR)
            rc = finish_connect(s, addr, deadline);
        else if ((errno == EINPROGRESS || errno == EAGAIN) && s->timeout_ns > 0)
            rc = CSOCK_ETIMEOUT; /* the kernel's SO_SNDTIMEO ran out */
        else
            rc = csock__errno();
    }
    if (rc == 0 && reached_itself(s, addr)) {
        /* Undone (connect to AF_UNSPEC dissolves it), so the socket is as a refused one is. */
        struct sockaddr none = {.sa_family = AF_UNSPEC};
        connect(s->fd, &none, sizeof none);
        rc = CSOCK_ECONNREFUSED;
        *why = reached_itself_text;
    }
    /* Kept for messages, also when a non-blocking connect is still in progress. */
    if (rc == 0 || rc == CSOCK_EINPROGRESS) s->peer = *addr;
    if (csock__tracing()) {
        char where[CSOCK_ADDRSTRLEN];
        csock__trace("connect %s -> %s", csock__addr_text(addr, where), csock__result_text(rc));
    }
    return rc;
}

int csock_connect(csock *s, const char *host, int port)
{
    csock_addr addr;
    int rc = csock__check(s, "connect");
    if (rc == 0) rc = csock__lookup(&addr, host, port, s->family, s->type, 0, "connect");
    const char *why;
    if (rc == 0 && (rc = connect_resolved(s, &addr, &why)) < 0)
        fail_why(rc, "connect", host, port, &addr, why);
    return rc;
}

int csock__connect_addr(csock *s, const csock_addr *addr, const char **why)
{
    *why = NULL;
    int rc = csock__check(s, "connect");
    if (rc == 0) rc = check_addr(s, addr, "connect");
    if (rc == 0 && (rc = connect_resolved(s, addr, why)) < 0)
        fail_why(rc, "connect", NULL, 0, addr, *why);
    return rc;
}

int csock_connect_addr(csock *s, const csock_addr *addr)
{
    const char *why;
    return csock__connect_addr(s, addr, &why);
}

int csock_connect_ex(csock *s, const char *host, int port)
{
    csock_addr addr;
    int rc = csock__check(s, "connect_ex");
    if (rc == 0) rc = csock__lookup(&addr, host, port, s->family, s->type, 0, "connect_ex");
    if (rc < 0) return rc;
    const char *why;
    rc = connect_resolved(s, &addr, &why);
    if (rc < 0) fail_why(rc, "connect_ex", host, port, &addr, why);
    /* Errors of connect(2) itself come back as positive errno values; a timeout keeps its own
     * code, CSOCK_ETIMEOUT, since no errno means "timed out". */
    return (rc < 0 && rc >= CSOCK_ERRNO_LAST) ? -rc : rc;
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
