/* SPDX-License-Identifier: MIT */
/* Taking connections: bind, listen, accept, and giving an accepted socket its own timeout. */
#include "internal.h"

#include <unistd.h>

static int fail_at(int rc, const char *op, const char *host, int port, const csock_addr *addr)
{
    return csock__fail_why(rc, op, host, port, addr, NULL);
}

static int bind_resolved(csock *s, const csock_addr *addr, const char *host, int port)
{
    int rc = bind(s->fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 ? csock__errno() : 0;
    if (csock__tracing()) {
        char where[CSOCK_ADDRSTRLEN];
        csock__trace("bind %s -> %s", csock__addr_text(addr, where), csock__result_text(rc));
    }
    if (rc < 0) {
        fail_at(rc, "bind", host, port, addr);
        char buf[CSOCK__HINT_MAX];
        csock__explain(csock__hint(s, rc, "bind", addr, buf));
    }
    return rc;
}

int csock_bind(csock *s, const char *host, int port)
{
    csock_addr addr;
    int rc = csock__check(s, "bind");
    if (rc == 0) rc = csock__lookup(&addr, host, port, s->family, s->type, 1, "bind");
    return rc < 0 ? rc : bind_resolved(s, &addr, host, port);
}

int csock_bind_addr(csock *s, const csock_addr *addr)
{
    int rc = csock__check(s, "bind");
    if (rc == 0) rc = csock__check_addr(s, addr, "bind");
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
    csock__deadline d = csock__deadline_begin(s, SO_RCVTIMEO, 0);
    int rc = 0, fd;
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
            if ((rc = csock__deadline_again(&d)) < 0) break;
            continue;
        }
        rc = csock__deadline_error(&d, errno);
        break;
    }
    csock__deadline_end(&d);
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
        char buf[CSOCK__HINT_MAX];
        csock__explain(csock__hint(s, rc, "accept", NULL, buf));
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
