/* SPDX-License-Identifier: MIT */
/* Socket options: the typed setters, raw get/set, and options on the wrong kind of socket. */
#include "check.h"

#include <netinet/tcp.h>

static int get(csock *s, int level, int name)
{
    int v = -1;
    CHECK_EQ(csock_getsockopt_int(s, level, name, &v), 0);
    return v;
}

static void typed_setters(void)
{
    csock *s = csock_socket(AF_INET6, SOCK_STREAM, 0);
    CHECK_EQ(csock_setreuseaddr(s, 1), 0);
    CHECK(get(s, SOL_SOCKET, SO_REUSEADDR) != 0);
    CHECK_EQ(csock_setreuseport(s, 1), 0);
    CHECK(get(s, SOL_SOCKET, SO_REUSEPORT) != 0);
    CHECK_EQ(csock_setnodelay(s, 1), 0);
    CHECK(get(s, IPPROTO_TCP, TCP_NODELAY) != 0);
    CHECK_EQ(csock_setnodelay(s, 0), 0);
    CHECK_EQ(get(s, IPPROTO_TCP, TCP_NODELAY), 0);
    CHECK_EQ(csock_setv6only(s, 1), 0);
    CHECK(get(s, IPPROTO_IPV6, IPV6_V6ONLY) != 0);
    CHECK_EQ(csock_setrcvbuf(s, 65536), 0);
    CHECK(get(s, SOL_SOCKET, SO_RCVBUF) >= 65536);
    CHECK_EQ(csock_setsndbuf(s, 65536), 0);
    CHECK(get(s, SOL_SOCKET, SO_SNDBUF) >= 65536);
    CHECK_EQ(csock_setkeepalive(s, 1, 30, 5, 4), 0);
    CHECK(get(s, SOL_SOCKET, SO_KEEPALIVE) != 0);
    CHECK_EQ(get(s, IPPROTO_TCP, TCP_KEEPIDLE), 30);
    CHECK_EQ(get(s, IPPROTO_TCP, TCP_KEEPINTVL), 5);
    CHECK_EQ(get(s, IPPROTO_TCP, TCP_KEEPCNT), 4);
    CHECK_EQ(csock_setkeepalive(s, 0, 0, 0, 0), 0);
    CHECK_EQ(get(s, SOL_SOCKET, SO_KEEPALIVE), 0);
    CHECK_EQ(csock_setlinger(s, 1, 3), 0);
    struct linger l;
    socklen_t len = sizeof l;
    CHECK_EQ(csock_getsockopt(s, SOL_SOCKET, SO_LINGER, &l, &len), 0);
    CHECK(l.l_onoff && l.l_linger == 3);
    csock_free(s);

    csock *u = csock_socket(AF_INET, SOCK_DGRAM, 0);
    CHECK_EQ(csock_setbroadcast(u, 1), 0);
    CHECK(get(u, SOL_SOCKET, SO_BROADCAST) != 0);
    csock_free(u);
}

static void wrong_kind_of_socket(void)
{
    csock *v4 = csock_socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(csock_setv6only(v4, 1), CSOCK_EAFNOSUPPORT);
    CHECK_STR(csock_lasterror(), "setsockopt IPV6_V6ONLY: only for AF_INET6 sockets");
    CHECK_EQ(csock_setbroadcast(v4, 1), CSOCK_ENOPROTOOPT);
    CHECK_STR(csock_lasterror(), "setsockopt SO_BROADCAST: only for SOCK_DGRAM sockets");
    CHECK_EQ(csock_setrcvbuf(v4, 0), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "setsockopt SO_RCVBUF 0: size must be positive");
    CHECK_EQ(csock_setlinger(v4, 1, -1), CSOCK_EINVAL);
    CHECK_EQ(csock_setkeepalive(v4, 1, -1, 0, 0), CSOCK_EINVAL);
    CHECK_EQ(csock_setsockopt_int(v4, SOL_SOCKET, 99999, 1), CSOCK_ENOPROTOOPT);
    CHECK_STR(csock_lasterror(), "setsockopt level 1 name 99999: Protocol not available");
    CHECK_EQ(csock_setsockopt(v4, SOL_SOCKET, SO_REUSEADDR, NULL, 4), CSOCK_EINVAL);
    CHECK_EQ(csock_getsockopt(v4, SOL_SOCKET, SO_REUSEADDR, NULL, NULL), CSOCK_EINVAL);
    csock_free(v4);
    csock *un = csock_socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(csock_setnodelay(un, 1), CSOCK_EAFNOSUPPORT);
    CHECK_STR(csock_lasterror(), "setsockopt TCP_NODELAY: only for IPv4 and IPv6 sockets");
    CHECK_EQ(csock_setkeepalive(un, 1, 10, 0, 0), CSOCK_EAFNOSUPPORT);
    csock_free(un);
}

int main(void)
{
    check_watchdog(60);
    RUN(typed_setters);
    RUN(wrong_kind_of_socket);
    return check_done();
}
