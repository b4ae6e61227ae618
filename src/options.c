/* SPDX-License-Identifier: MIT */
/* Socket options: raw setsockopt/getsockopt and typed setters for the common ones. */
#include "internal.h"

#include <netinet/tcp.h>
#include <stdio.h>

static int set_opt(csock *s, int level, int name, const void *value, socklen_t len,
                   const char *what)
{
    int rc = csock__check(s, "setsockopt");
    if (rc < 0) return rc;
    if (!value && len > 0) return csock__failf(CSOCK_EINVAL, "setsockopt %s: NULL value", what);
    rc = setsockopt(s->fd, level, name, value, len) < 0 ? csock__errno() : 0;
    if (csock__tracing()) csock__trace("setsockopt %s -> %s", what, csock__result_text(rc));
    return rc < 0 ? csock__failf(rc, "setsockopt %s: %s", what, csock_strerror(rc)) : 0;
}

static int set_int(csock *s, int level, int name, int value, const char *what)
{
    return set_opt(s, level, name, &value, sizeof value, what);
}

/* Options that belong to one family or type fail clearly on others, before the kernel is asked
 * (it would answer with a bare ENOPROTOOPT, or accept an option it then ignores). */
static int require(const csock *s, int family, int type, const char *what)
{
    int rc = csock__check(s, "setsockopt");
    if (rc < 0) return rc;
    int inet = s->family == AF_INET || s->family == AF_INET6;
    if (family == AF_INET6 && s->family != AF_INET6)
        return csock__failf(CSOCK_EAFNOSUPPORT, "setsockopt %s: only for AF_INET6 sockets", what);
    if (family == AF_INET && !inet)
        return csock__failf(CSOCK_EAFNOSUPPORT, "setsockopt %s: only for IPv4 and IPv6 sockets",
                            what);
    if (type && s->type != type)
        return csock__failf(CSOCK_ENOPROTOOPT, "setsockopt %s: only for %s sockets", what,
                            type == SOCK_STREAM ? "SOCK_STREAM" : "SOCK_DGRAM");
    return 0;
}

int csock_setsockopt(csock *s, int level, int name, const void *value, socklen_t len)
{
    char what[48];
    snprintf(what, sizeof what, "level %d name %d", level, name);
    return set_opt(s, level, name, value, len, what);
}

int csock_getsockopt(csock *s, int level, int name, void *value, socklen_t *len)
{
    int rc = csock__check(s, "getsockopt");
    if (rc < 0) return rc;
    if (!value || !len)
        return csock__failf(CSOCK_EINVAL, "getsockopt level %d name %d: NULL value or length",
                            level, name);
    rc = getsockopt(s->fd, level, name, value, len) < 0 ? csock__errno() : 0;
    if (csock__tracing())
        csock__trace("getsockopt level %d name %d -> %s", level, name, csock__result_text(rc));
    return rc < 0 ? csock__failf(rc, "getsockopt level %d name %d: %s", level, name,
                                 csock_strerror(rc))
                  : 0;
}

int csock_setsockopt_int(csock *s, int level, int name, int value)
{
    return csock_setsockopt(s, level, name, &value, sizeof value);
}

int csock_getsockopt_int(csock *s, int level, int name, int *value)
{
    socklen_t len = sizeof *value;
    return csock_getsockopt(s, level, name, value, &len);
}

int csock_setreuseaddr(csock *s, int on)
{
    return set_int(s, SOL_SOCKET, SO_REUSEADDR, !!on, "SO_REUSEADDR");
}

int csock_setreuseport(csock *s, int on)
{
    return set_int(s, SOL_SOCKET, SO_REUSEPORT, !!on, "SO_REUSEPORT");
}

int csock_setnodelay(csock *s, int on)
{
    int rc = require(s, AF_INET, SOCK_STREAM, "TCP_NODELAY");
    return rc < 0 ? rc : set_int(s, IPPROTO_TCP, TCP_NODELAY, !!on, "TCP_NODELAY");
}

int csock_setbroadcast(csock *s, int on)
{
    int rc = require(s, AF_INET, SOCK_DGRAM, "SO_BROADCAST");
    return rc < 0 ? rc : set_int(s, SOL_SOCKET, SO_BROADCAST, !!on, "SO_BROADCAST");
}

int csock_setv6only(csock *s, int on)
{
    int rc = require(s, AF_INET6, 0, "IPV6_V6ONLY");
    return rc < 0 ? rc : set_int(s, IPPROTO_IPV6, IPV6_V6ONLY, !!on, "IPV6_V6ONLY");
}

static int set_size(csock *s, int name, int bytes, const char *what)
{
    if (bytes <= 0)
        return csock__failf(CSOCK_EINVAL, "setsockopt %s %d: size must be positive", what, bytes);
    return set_int(s, SOL_SOCKET, name, bytes, what);
}

int csock_setrcvbuf(csock *s, int bytes)
{
    return set_size(s, SO_RCVBUF, bytes, "SO_RCVBUF");
}

int csock_setsndbuf(csock *s, int bytes)
{
    return set_size(s, SO_SNDBUF, bytes, "SO_SNDBUF");
}

int csock_setlinger(csock *s, int on, int seconds)
{
    if (seconds < 0)
        return csock__failf(CSOCK_EINVAL, "setsockopt SO_LINGER %d: seconds must be >= 0", seconds);
    struct linger l = {.l_onoff = !!on, .l_linger = seconds};
    return set_opt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l, "SO_LINGER");
}

int csock_setkeepalive(csock *s, int on, int idle, int interval, int count)
{
    if (idle < 0 || interval < 0 || count < 0)
        return csock__failf(CSOCK_EINVAL,
                            "setsockopt SO_KEEPALIVE: idle, interval and count must be >= 0");
    int rc = set_int(s, SOL_SOCKET, SO_KEEPALIVE, !!on, "SO_KEEPALIVE");
    if (rc < 0 || !on || (idle == 0 && interval == 0 && count == 0)) return rc;
    if ((rc = require(s, AF_INET, SOCK_STREAM, "TCP_KEEPIDLE")) < 0) return rc;
    if (idle && (rc = set_int(s, IPPROTO_TCP, TCP_KEEPIDLE, idle, "TCP_KEEPIDLE")) < 0) return rc;
    if (interval && (rc = set_int(s, IPPROTO_TCP, TCP_KEEPINTVL, interval, "TCP_KEEPINTVL")) < 0)
        return rc;
    if (count && (rc = set_int(s, IPPROTO_TCP, TCP_KEEPCNT, count, "TCP_KEEPCNT")) < 0) return rc;
    return 0;
}
