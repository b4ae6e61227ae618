/* SPDX-License-Identifier: MIT */
/* ICMP echo: the checksum, building and parsing messages, and an echo to 127.0.0.1 and ::1 over
 * csock_icmp_socket. Runs under netns.sh, where only loopback exists. */
#include "check.h"

#include <arpa/inet.h>
#include <csock/icmp.h>

static void checksum(void)
{
    /* RFC 1071's example: the sum of these words is 0xddf2, so the checksum is 0x220d. */
    const unsigned char data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    CHECK_EQ(ntohs(csock_checksum(data, sizeof data)), 0x220d);
    /* An odd length pads with a zero byte. */
    const unsigned char odd[] = {0x01, 0x02, 0x03};
    CHECK_EQ(ntohs(csock_checksum(odd, 3)), (unsigned short)~(0x0102 + 0x0300));
    CHECK_EQ(csock_checksum(data, 0), 0xffff);
}

static void build_and_parse(void)
{
    unsigned char pkt[64];
    int n = csock_icmp_echo_request(pkt, sizeof pkt, AF_INET, 0x1234, 7, "hello", 5);
    CHECK_EQ(n, 13);
    CHECK_EQ(pkt[0], 8);
    CHECK_EQ(csock_checksum(pkt, (size_t)n), 0); /* a correct checksum sums to zero */
    csock_icmp_echo e;
    CHECK_EQ(csock_icmp_echo_parse(pkt, (size_t)n, AF_INET, 0, &e), 0);
    CHECK_EQ(e.type, 8);
    CHECK_EQ(e.id, 0x1234);
    CHECK_EQ(e.seq, 7);
    CHECK_EQ(e.payload_len, 5);
    CHECK(memcmp(e.payload, "hello", 5) == 0);
    CHECK_EQ(e.ttl, -1);

    /* The same behind an IPv4 header, as a raw socket receives it. */
    unsigned char ip[84] = {0x45, 0, 0, 0, 0, 0, 0, 0, 61, 1};
    memcpy(ip + 20, pkt, (size_t)n);
    CHECK_EQ(csock_icmp_echo_parse(ip, 20 + (size_t)n, AF_INET, 1, &e), 0);
    CHECK_EQ(e.ttl, 61);
    CHECK_EQ(e.seq, 7);

    pkt[9] ^= 1; /* damage a payload byte */
    CHECK_EQ(csock_icmp_echo_parse(pkt, (size_t)n, AF_INET, 0, &e), CSOCK_EINVAL);
    CHECK_STR(csock_lasterror(), "icmp_echo_parse: bad checksum");
    CHECK_EQ(csock_icmp_echo_parse(pkt, 5, AF_INET, 0, &e), CSOCK_EINVAL);
    CHECK_STR(csock_lasterror(), "icmp_echo_parse: 5 bytes, shorter than a header");
    CHECK_EQ(csock_icmp_echo_parse(ip, 10, AF_INET, 1, &e), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "not an IPv4 packet");
    unsigned char unreachable[8] = {3, 1};
    CHECK_EQ(csock_icmp_echo_parse(unreachable, 8, AF_INET, 0, &e), CSOCK_EINVAL);
    CHECK_STR(csock_lasterror(), "icmp_echo_parse: type 3 is not an echo message");
    CHECK_EQ(e.type, 3);

    n = csock_icmp_echo_request(pkt, sizeof pkt, AF_INET6, 1, 2, NULL, 0);
    CHECK_EQ(n, 8);
    CHECK_EQ(pkt[0], 128);
    CHECK_EQ(csock_icmp_echo_parse(pkt, 8, AF_INET6, 0, &e), 0);
    CHECK_EQ(e.seq, 2);

    CHECK_EQ(csock_icmp_echo_request(pkt, 10, AF_INET, 1, 1, "hello", 5), CSOCK_ENOSPC);
    CHECK_STR(csock_lasterror(), "icmp_echo_request: 13 bytes needed, buffer has 10");
    CHECK_EQ(csock_icmp_echo_request(pkt, sizeof pkt, AF_UNIX, 1, 1, NULL, 0), CSOCK_EINVAL);
    CHECK_EQ(csock_icmp_echo_request(pkt, sizeof pkt, AF_INET, 1, 1, NULL, 3), CSOCK_EINVAL);
}

static void echo(int family, const char *host)
{
    csock *s = csock_icmp_socket(family);
    if (!s) { /* neither raw nor datagram ICMP sockets: the message says which privilege */
        printf("SKIP echo to %s: %s\n", host, csock_lasterror());
        CHECK(csock_lastcode() == CSOCK_EPERM || csock_lastcode() == CSOCK_EACCES);
        CHECK(strstr(csock_lasterror(), "ping_group_range") != NULL);
        return;
    }
    csock_addr to;
    CHECK_EQ(csock_addr_make(&to, host, 0), 0);
    CHECK_EQ(csock_settimeout(s, 5), 0);
    for (unsigned short seq = 1; seq <= 3; seq++) {
        CHECK_EQ(csock_icmp_send(s, &to, 0x4242, seq, "payload!", 8), 16);
        unsigned char buf[128];
        csock_icmp_echo r;
        int rc = csock_icmp_recv(s, 0x4242, buf, sizeof buf, &r);
        CHECK_EQ(rc, 0);
        if (rc < 0) break; /* r holds no reply */
        CHECK_EQ(r.type, family == AF_INET ? 0 : 129);
        CHECK_EQ(r.seq, seq);
        CHECK_EQ(r.payload_len, 8);
        CHECK(r.payload_len == 8 && memcmp(r.payload, "payload!", 8) == 0);
        CHECK(r.ttl > 0);
        char text[CSOCK_ADDRSTRLEN];
        csock_addr_host(&r.from, text, sizeof text);
        CHECK_STR(text, host);
    }
    /* Nothing more comes: the timeout holds. */
    CHECK_EQ(csock_settimeout(s, 0.05), 0);
    unsigned char buf[128];
    csock_icmp_echo r;
    memset(&r, 0xa5, sizeof r); /* whatever the caller's memory held */
    CHECK_EQ(csock_icmp_recv(s, 0x4242, buf, sizeof buf, &r), CSOCK_ETIMEOUT);
    CHECK_ERROR(CSOCK_ETIMEOUT, "icmp_recv");
    /* A failure leaves no reply behind: nothing in r points anywhere or claims any bytes. */
    CHECK(r.payload == NULL);
    CHECK_EQ(r.payload_len, 0);
    CHECK_EQ(r.type, -1);
    CHECK_EQ(r.ttl, -1);
    CHECK_EQ(r.from.len, 0);
    CHECK_EQ(csock_icmp_send(s, NULL, 1, 1, NULL, 0), CSOCK_EINVAL);
    CHECK_EQ(csock_icmp_send(s, &to, 1, 1, buf, 70000), CSOCK_EMSGSIZE);
    CHECK_STR(csock_lasterror(), "icmp_send: payload of 70000 bytes, at most 65000");
    csock_free(s);
}

static void echo_ipv4(void)
{
    echo(AF_INET, "127.0.0.1");
}

static void echo_ipv6(void)
{
    echo(AF_INET6, "::1");
}

/* csock_icmp_recv needs room for the payload only: the headers, the IP header of a raw IPv4
 * socket among them, are kept apart. A payload that fills the buffer exactly fits; one byte more
 * is cut and said so. */
static void reply_needs_room_for_its_payload_only(void)
{
    static const int families[] = {AF_INET, AF_INET6};
    static const char *const hosts[] = {"127.0.0.1", "::1"};
    unsigned char payload[101];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (unsigned char)(i * 7 + 1);
    for (size_t f = 0; f < 2; f++) {
        csock *s = csock_icmp_socket(families[f]);
        if (!s) {
            printf("SKIP reply to %s: %s\n", hosts[f], csock_lasterror());
            continue;
        }
        csock_addr to;
        CHECK_EQ(csock_addr_make(&to, hosts[f], 0), 0);
        CHECK_EQ(csock_settimeout(s, 5), 0);
        unsigned char buf[100];
        csock_icmp_echo r;
        CHECK_EQ(csock_icmp_send(s, &to, 0x4343, 1, payload, 100), 108);
        CHECK_EQ(csock_icmp_recv(s, 0x4343, buf, sizeof buf, &r), 0);
        CHECK_EQ(r.seq, 1);
        CHECK(r.payload == buf);
        CHECK_EQ(r.payload_len, 100);
        CHECK(r.payload_len == 100 && memcmp(r.payload, payload, 100) == 0);
        CHECK(r.ttl > 0);

        CHECK_EQ(csock_icmp_send(s, &to, 0x4343, 2, payload, 101), 109);
        CHECK_EQ(csock_icmp_recv(s, 0x4343, buf, sizeof buf, &r), CSOCK_EMSGSIZE);
        /* A datagram socket's kernel does not tell a cut reply's full size. */
        CHECK_ERROR(CSOCK_EMSGSIZE, csock_type(s) == SOCK_RAW
                                        ? ": payload of 101 bytes does not fit in 100"
                                        : ": payload of more than 100 bytes does not fit in 100");
        CHECK_EQ(r.seq, 2);
        CHECK(r.payload == buf);
        CHECK_EQ(r.payload_len, 100);
        CHECK(r.payload_len == 100 && memcmp(r.payload, payload, 100) == 0);
        csock_free(s);
    }
}

static void bad_family(void)
{
    CHECK(csock_icmp_socket(AF_UNIX) == NULL);
    CHECK_ERROR(CSOCK_EAFNOSUPPORT, "icmp socket: family 1 is neither AF_INET nor AF_INET6");
}

int main(void)
{
    check_watchdog(60);
    RUN(checksum);
    RUN(build_and_parse);
    RUN(echo_ipv4);
    RUN(echo_ipv6);
    RUN(reply_needs_room_for_its_payload_only);
    RUN(bad_family);
    return check_done();
}
