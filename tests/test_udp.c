/* SPDX-License-Identifier: MIT */
/* UDP over loopback, IPv4 and IPv6: unconnected and connected use. */
#include "check.h"

static void unconnected(const char *host, int family)
{
    csock *srv = csock_socket(family, SOCK_DGRAM, 0);
    csock *cli = csock_socket(family, SOCK_DGRAM, 0);
    CHECK_EQ(csock_bind(srv, host, 0), 0);
    csock_addr to, from, self;
    CHECK_EQ(csock_getsockname(srv, &to), 0);
    CHECK_EQ(csock_sendto(cli, "ping", 4, &to), 4);
    char buf[64];
    CHECK_EQ(csock_recvfrom(srv, buf, sizeof buf, &from), 4);
    CHECK(memcmp(buf, "ping", 4) == 0);
    CHECK_EQ(csock_getsockname(cli, &self), 0);
    CHECK_EQ(csock_addr_port(&from), csock_addr_port(&self));
    CHECK_EQ(csock_sendto(srv, "pong", 4, &from), 4);
    CHECK_EQ(csock_recvfrom(cli, buf, sizeof buf, NULL), 4);
    CHECK_EQ(csock_sendto(cli, "", 0, &to), 0); /* an empty datagram is a datagram */
    CHECK_EQ(csock_recv(srv, buf, sizeof buf), 0);
    csock_free(srv);
    csock_free(cli);
}

static void unconnected_ipv4(void)
{
    unconnected("127.0.0.1", AF_INET);
}

static void unconnected_ipv6(void)
{
    unconnected("::1", AF_INET6);
}

static void connected(void)
{
    csock *srv = csock_create_server("127.0.0.1", 0, &(csock_listen_options){.type = SOCK_DGRAM});
    CHECK(srv != NULL);
    csock_addr a;
    csock_getsockname(srv, &a);
    csock *cli = csock_socket(AF_INET, SOCK_DGRAM, 0);
    CHECK_EQ(csock_connect(cli, "127.0.0.1", csock_addr_port(&a)), 0);
    CHECK_EQ(csock_send(cli, "one", 3), 3);
    char buf[8];
    CHECK_EQ(csock_recv(srv, buf, sizeof buf), 3);
    csock_free(srv);
    /* With the server gone, the kernel reports the refusal on the next call. */
    CHECK_EQ(csock_settimeout(cli, 2), 0);
    ssize_t rc = csock_send(cli, "two", 3);
    if (rc == 3) rc = csock_recv(cli, buf, sizeof buf);
    CHECK_EQ(rc, CSOCK_ECONNREFUSED);
    CHECK_ERROR(CSOCK_ECONNREFUSED, "127.0.0.1:");
    csock_free(cli);
}

static void sendto_needs_an_address(void)
{
    csock *u = csock_socket(AF_INET, SOCK_DGRAM, 0);
    CHECK_EQ(csock_sendto(u, "x", 1, NULL), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "sendto: no address");
    CHECK_EQ(csock_send(u, "x", 1), CSOCK_EDESTADDRREQ);
    CHECK_ERROR(CSOCK_EDESTADDRREQ, "send: Destination address required");
    csock_addr big;
    csock_addr_parse(&big, "127.0.0.1:9");
    static char huge[70000];
    CHECK_EQ(csock_sendto(u, huge, sizeof huge, &big), CSOCK_EMSGSIZE);
    CHECK_ERROR(CSOCK_EMSGSIZE, "sendto 127.0.0.1:9: Message too long");
    csock_free(u);
}

/* An address of a family nothing knows: the message names the operation and says what the
 * address is, and reading it leaves the code as the call left it. */
static void unknown_family_is_said(void)
{
    csock *u = csock_socket(AF_INET, SOCK_DGRAM, 0);
    csock_addr odd = {.len = 16};
    odd.ss.ss_family = 12345;
    CHECK_EQ(csock_sendto(u, "x", 1, &odd), CSOCK_EAFNOSUPPORT);
    CHECK_EQ(csock_lastcode(), CSOCK_EAFNOSUPPORT);
    CHECK_STR(csock_lasterror(),
              "sendto (an address of family 12345): Address family not supported by protocol");
    CHECK_EQ(csock_lastcode(), CSOCK_EAFNOSUPPORT);
    csock_free(u);
}

int main(void)
{
    check_watchdog(60);
    RUN(unconnected_ipv4);
    RUN(unconnected_ipv6);
    RUN(connected);
    RUN(sendto_needs_an_address);
    RUN(unknown_family_is_said);
    return check_done();
}
