/* SPDX-License-Identifier: MIT */
/* Multicast: membership and options, and IPv4 multicast delivered on the loopback interface.
 * Runs under netns.sh, in a network namespace where lo is the only interface. (IPv6 multicast
 * needs a real link: multicast_veth.sh tests it between two namespaces.) */
#include "check.h"

static void ipv4_group_on_loopback(void)
{
    csock *r = csock_socket(AF_INET, SOCK_DGRAM, 0);
    CHECK_EQ(csock_bind(r, "0.0.0.0", 0), 0);
    csock_addr a;
    CHECK_EQ(csock_getsockname(r, &a), 0);
    int port = csock_addr_port(&a);
    CHECK_EQ(csock_join_group(r, "239.1.2.3", "lo"), 0);
    csock_settimeout(r, 5);

    csock *s = csock_socket(AF_INET, SOCK_DGRAM, 0);
    CHECK_EQ(csock_setmulticast_if(s, "lo"), 0);
    CHECK_EQ(csock_setmulticast_ttl(s, 0), 0);
    CHECK_EQ(csock_setmulticast_loop(s, 1), 0);
    csock_addr group;
    CHECK_EQ(csock_addr_make(&group, "239.1.2.3", port), 0);
    CHECK_EQ(csock_sendto(s, "hello group", 11, &group), 11);
    char buf[32] = {0}; /* compared below even when nothing arrived */
    CHECK_EQ(csock_recv(r, buf, sizeof buf), 11);
    CHECK(memcmp(buf, "hello group", 11) == 0);

    /* After leaving, nothing more arrives. */
    CHECK_EQ(csock_leave_group(r, "239.1.2.3", "lo"), 0);
    CHECK_EQ(csock_sendto(s, "gone", 4, &group), 4);
    csock_settimeout(r, 0.1);
    CHECK_EQ(csock_recv(r, buf, sizeof buf), CSOCK_ETIMEOUT);
    CHECK_EQ(csock_leave_group(r, "239.1.2.3", "lo"), CSOCK_EADDRNOTAVAIL);
    CHECK_ERROR(CSOCK_EADDRNOTAVAIL, "leave_group 239.1.2.3 on lo: ");
    csock_free(r);
    csock_free(s);
}

static void ipv6_membership_and_options(void)
{
    csock *r = csock_socket(AF_INET6, SOCK_DGRAM, 0);
    CHECK_EQ(csock_bind(r, "::", 0), 0);
    CHECK_EQ(csock_join_group(r, "ff02::1:3", "lo"), 0);
    CHECK_EQ(csock_leave_group(r, "ff02::1:3", "lo"), 0);
    CHECK_EQ(csock_setmulticast_if(r, "lo"), 0);
    CHECK_EQ(csock_setmulticast_ttl(r, 5), 0);
    int hops = 0;
    CHECK_EQ(csock_getsockopt_int(r, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops), 0);
    CHECK_EQ(hops, 5);
    CHECK_EQ(csock_setmulticast_loop(r, 0), 0);
    int loop = 1;
    CHECK_EQ(csock_getsockopt_int(r, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &loop), 0);
    CHECK_EQ(loop, 0);
    csock_free(r);
}

static void bad_groups_and_sockets(void)
{
    csock *u = csock_socket(AF_INET, SOCK_DGRAM, 0);
    CHECK_EQ(csock_join_group(u, "10.1.2.3", NULL), CSOCK_EINVAL);
    CHECK_STR(csock_lasterror(), "join_group 10.1.2.3: not a multicast address (224.0.0.0/4)");
    CHECK_EQ(csock_join_group(u, "ff02::1", NULL), CSOCK_EAFNOSUPPORT);
    CHECK_STR(csock_lasterror(), "join_group ff02::1: an IPv6 group for an IPv4 socket");
    CHECK_EQ(csock_join_group(u, "not-an-address", NULL), CSOCK_EINVAL);
    CHECK_STR(csock_lasterror(), "join_group not-an-address: not an IP address");
    CHECK_EQ(csock_join_group(u, "239.1.1.1", "nosuch0"), CSOCK_ENODEV);
    CHECK_STR(csock_lasterror(), "join_group 239.1.1.1 on nosuch0: No such device");
    CHECK_EQ(csock_join_group(u, NULL, NULL), CSOCK_EINVAL);
    CHECK_EQ(csock_setmulticast_ttl(u, 256), CSOCK_EINVAL);
    CHECK_STR(csock_lasterror(), "setsockopt multicast TTL 256: 0 to 255");
    CHECK_EQ(csock_setmulticast_if(u, "nosuch0"), CSOCK_ENODEV);
    csock_free(u);
    csock *v6 = csock_socket(AF_INET6, SOCK_DGRAM, 0);
    CHECK_EQ(csock_join_group(v6, "fe80::1", NULL), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "not a multicast address (ff00::/8)");
    csock_free(v6);
    csock *t = csock_socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(csock_join_group(t, "239.1.1.1", NULL), CSOCK_ENOPROTOOPT);
    CHECK_STR(csock_lasterror(), "join_group: multicast needs a datagram socket");
    csock_free(t);
    csock *x = csock_socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK_EQ(csock_setmulticast_loop(x, 1), CSOCK_EAFNOSUPPORT);
    CHECK_ERROR(CSOCK_EAFNOSUPPORT, "multicast needs an IPv4 or IPv6 socket, not AF_UNIX");
    csock_free(x);
}

static void broadcast_on_loopback(void)
{
    csock *r = csock_socket(AF_INET, SOCK_DGRAM, 0);
    CHECK_EQ(csock_bind(r, "0.0.0.0", 0), 0);
    csock_addr a;
    csock_getsockname(r, &a);
    csock_settimeout(r, 5);
    csock *s = csock_socket(AF_INET, SOCK_DGRAM, 0);
    csock_addr bcast;
    /* 127.255.255.255 is loopback's broadcast address: it never leaves the host. */
    CHECK_EQ(csock_addr_make(&bcast, "127.255.255.255", csock_addr_port(&a)), 0);
    CHECK_EQ(csock_sendto(s, "all", 3, &bcast), CSOCK_EACCES); /* needs SO_BROADCAST */
    CHECK_ERROR(CSOCK_EACCES, "sendto 127.255.255.255:");
    CHECK_EQ(csock_setbroadcast(s, 1), 0);
    CHECK_EQ(csock_sendto(s, "all", 3, &bcast), 3);
    char buf[8];
    CHECK_EQ(csock_recv(r, buf, sizeof buf), 3);
    csock_free(r);
    csock_free(s);
}

int main(void)
{
    check_watchdog(60);
    RUN(ipv4_group_on_loopback);
    RUN(ipv6_membership_and_options);
    RUN(bad_groups_and_sockets);
    RUN(broadcast_on_loopback);
    return check_done();
}
