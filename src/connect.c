/* SPDX-License-Identifier: MIT */
/* Connecting: connect, connect_addr and connect_ex, finishing an interrupted connect, and refusing
 * a TCP connection that reached itself. The messages of the steps that take an address (bind
 * uses them too) are written here. */
#include "internal.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Records "op host:port (resolved): reason" when the user gave a name that resolved to another
 * text, else "op resolved: reason"; why, if not NULL, follows the reason. */
int csock__fail_why(int rc, const char *op, const char *host, int port, const csock_addr *addr,
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

int csock__check_addr(const csock *s, const csock_addr *addr, const char *op)
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

/* Waits for an interrupted connect to finish, as connect(2) says to: poll for writability, then
 * read SO_ERROR. An AF_UNIX connect is abandoned by a signal instead, leaving the socket
 * unconnected (and writable, error-free): then connecting again is what goes on waiting. */
static int finish_connect(csock *s, const csock_addr *addr, csock__deadline *d)
{
    for (;;) {
        int rc = csock__deadline_wait(d, POLLOUT);
        if (rc < 0) return rc;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return csock__errno();
        if (err || s->family != AF_UNIX) return -err;
        struct sockaddr_storage peer;
        if (getpeername(s->fd, (struct sockaddr *)&peer, &(socklen_t){sizeof peer}) == 0) return 0;
        if (connect(s->fd, (const struct sockaddr *)&addr->ss, addr->len) == 0) return 0;
        if (errno != EINTR) return csock__deadline_error(d, errno);
    }
}

const char csock__reached_itself_text[] = " (the connection reached itself: nothing listens there)";

int csock__reached_itself(const csock *s, const csock_addr *addr)
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
    csock__deadline d = csock__deadline_begin(s, SO_SNDTIMEO, 0);
    int rc = 0;
    if (connect(s->fd, (const struct sockaddr *)&addr->ss, addr->len) < 0) {
        if (errno == EINTR)
            rc = finish_connect(s, addr, &d);
        else if (errno == EINPROGRESS && d.at)
            rc = CSOCK_ETIMEOUT; /* the kernel's SO_SNDTIMEO ran out */
        else
            rc = csock__deadline_error(&d, errno);
    }
    if (rc == 0 && csock__reached_itself(s, addr)) {
        /* Undone (connect to AF_UNSPEC dissolves it), so the socket is as a refused one is. */
        struct sockaddr none = {.sa_family = AF_UNSPEC};
        connect(s->fd, &none, sizeof none);
        rc = CSOCK_ECONNREFUSED;
        *why = csock__reached_itself_text;
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
        csock__fail_why(rc, "connect", host, port, &addr, why);
    return rc;
}

int csock__connect_addr(csock *s, const csock_addr *addr, const char **why)
{
    *why = NULL;
    int rc = csock__check(s, "connect");
    if (rc == 0) rc = csock__check_addr(s, addr, "connect");
    if (rc == 0 && (rc = connect_resolved(s, addr, why)) < 0)
        csock__fail_why(rc, "connect", NULL, 0, addr, *why);
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
    if (rc < 0) csock__fail_why(rc, "connect_ex", host, port, &addr, why);
    /* Errors of connect(2) itself come back as positive errno values; a timeout keeps its own
     * code, CSOCK_ETIMEOUT, since no errno means "timed out". */
    return (rc < 0 && rc >= CSOCK_ERRNO_LAST) ? -rc : rc;
}
