/* SPDX-License-Identifier: MIT */
/* Multicast membership and sending options, for IPv4 and IPv6 datagram sockets. */
#include "internal.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

/* Checks that s can do multicast at all. Returns 0 or a recorded failure. */
static int require_multicast(const csock *s, const char *op)
{
    int rc = csock__check(s, op);
    if (rc < 0) return rc;
    if (s->family != AF_INET && s->family != AF_INET6) {
        char fbuf[24];
        return csock__failf(CSOCK_EAFNOSUPPORT,
                            "%s: multicast needs an IPv4 or IPv6 socket, not %s", op,
                            csock__family_name(s->family, fbuf));
    }
    if (s->type != SOCK_DGRAM && s->type != SOCK_RAW)
        return csock__failf(CSOCK_ENOPROTOOPT, "%s: multicast needs a datagram socket", op);
    return 0;
}

/* The index of the interface named iface (0 for NULL). Returns it, or a recorded failure. */
static int interface_index(const char *iface, const char *op, const char *what)
{
    if (!iface || !*iface) return 0;
    unsigned index = if_nametoindex(iface);
    if (index == 0)
        return csock__failf(CSOCK_ENODEV, "%s %s on %.64s: No such device", op, what, iface);
    return (int)index;
}

/* Joins or leaves. */
static int membership(csock *s, const char *group, const char *iface, int join)
{
    const char *op = join ? "join_group" : "leave_group";
    int rc = require_multicast(s, op);
    if (rc < 0) return rc;
    if (!group) return csock__failf(CSOCK_EINVAL, "%s: NULL group", op);
    int index = interface_index(iface, op, group);
    if (index < 0) return index;
    struct in_addr v4;
    struct in6_addr v6;
    int is_v4 = inet_pton(AF_INET, group, &v4) == 1;
    int is_v6 = !is_v4 && inet_pton(AF_INET6, group, &v6) == 1;
    if (!is_v4 && !is_v6)
        return csock__failf(CSOCK_EINVAL, "%s %.64s: not an IP address", op, group);
    if ((s->family == AF_INET) != is_v4)
        return csock__failf(CSOCK_EAFNOSUPPORT, "%s %.64s: an %s group for an %s socket", op, group,
                            is_v4 ? "IPv4" : "IPv6", s->family == AF_INET ? "IPv4" : "IPv6");
    if (is_v4 ? !IN_MULTICAST(ntohl(v4.s_addr)) : !IN6_IS_ADDR_MULTICAST(&v6))
        return csock__failf(CSOCK_EINVAL, "%s %.64s: not a multicast address (%s)", op, group,
                            is_v4 ? "224.0.0.0/4" : "ff00::/8");
    if (is_v4) {
        struct ip_mreqn m = {.imr_multiaddr = v4, .imr_ifindex = index};
        rc = setsockopt(s->fd, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &m,
                        sizeof m);
    } else {
        struct ipv6_mreq m = {.ipv6mr_multiaddr = v6, .ipv6mr_interface = (unsigned)index};
        rc = setsockopt(s->fd, IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, &m,
                        sizeof m);
    }
    rc = rc < 0 ? csock__errno() : 0;
    if (csock__tracing())
        csock__trace("%s %s%s%s -> %s", op, group, iface ? " on " : "", iface ? iface : "",
                     csock__result_text(rc));
    if (rc < 0)
        return csock__failf(rc, "%s %.64s%s%.64s: %s", op, group, iface ? " on " : "",
                            iface ? iface : "", csock_strerror(rc));
    return 0;
}

int csock_join_group(csock *s, const char *group, const char *iface)
{
    return membership(s, group, iface, 1);
}

int csock_leave_group(csock *s, const char *group, const char *iface)
{
    return membership(s, group, iface, 0);
}

/* Sets an IPv4 or IPv6 multicast option, picking the option for the socket's family. */
static int set_by_family(csock *s, int v4_name, int v6_name, const void *v4_value, socklen_t v4_len,
                         int v6_value, const char *what)
{
    int rc = require_multicast(s, "setsockopt");
    if (rc < 0) return rc;
    if (s->family == AF_INET)
        rc = setsockopt(s->fd, IPPROTO_IP, v4_name, v4_value, v4_len);
    else
        rc = setsockopt(s->fd, IPPROTO_IPV6, v6_name, &v6_value, sizeof v6_value);
    rc = rc < 0 ? csock__errno() : 0;
    if (csock__tracing()) csock__trace("setsockopt %s -> %s", what, csock__result_text(rc));
    return rc < 0 ? csock__failf(rc, "setsockopt %s: %s", what, csock_strerror(rc)) : 0;
}

int csock_setmulticast_if(csock *s, const char *iface)
{
    int index = interface_index(iface, "setsockopt", "multicast interface");
    if (index < 0) return index;
    struct ip_mreqn m = {.imr_ifindex = index};
    return set_by_family(s, IP_MULTICAST_IF, IPV6_MULTICAST_IF, &m, sizeof m, index,
                         "multicast interface");
}

int csock_setmulticast_ttl(csock *s, int ttl)
{
    if (ttl < 0 || ttl > 255)
        return csock__failf(CSOCK_EINVAL, "setsockopt multicast TTL %d: 0 to 255", ttl);
    return set_by_family(s, IP_MULTICAST_TTL, IPV6_MULTICAST_HOPS, &ttl, sizeof ttl, ttl,
                         "multicast TTL");
}

int csock_setmulticast_loop(csock *s, int on)
{
    int v = !!on;
    return set_by_family(s, IP_MULTICAST_LOOP, IPV6_MULTICAST_LOOP, &v, sizeof v, v,
                         "multicast loop");
}
