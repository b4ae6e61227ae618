/* SPDX-License-Identifier: MIT */
/* ICMP echo (ping): the Internet checksum, building and parsing echo messages, and sockets that
 * work with or without the privilege for raw sockets. */
#include "internal.h"

#include <csock/icmp.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ECHO_HEADER   8
#define MAX_PAYLOAD   65000
#define MAX_IP_HEADER 60 /* an IPv4 header with the most options its length field allows */

/* The ones'-complement sum of 16-bit words in memory order, not yet folded. */
static uint64_t sum_words(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t sum = 0;
    for (; len > 1; p += 2, len -= 2) {
        uint16_t w;
        memcpy(&w, p, 2);
        sum += w;
    }
    if (len) { /* an odd last byte counts as a word padded with a zero byte */
        uint16_t w = 0;
        memcpy(&w, p, 1);
        sum += w;
    }
    return sum;
}

static unsigned short fold(uint64_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (unsigned short)~sum;
}

unsigned short csock_checksum(const void *data, size_t len)
{
    return data ? fold(sum_words(data, len)) : 0xffff;
}

static int echo_type(int family, int reply)
{
    return family == AF_INET ? (reply ? 0 : 8) : (reply ? 129 : 128);
}

/* Fills the 8-byte echo header; the IPv4 checksum covers header and payload. */
static void fill_header(unsigned char h[ECHO_HEADER], int family, unsigned short id,
                        unsigned short seq, const void *payload, size_t len)
{
    uint16_t nid = htons(id), nseq = htons(seq), zero = 0;
    h[0] = (unsigned char)echo_type(family, 0);
    h[1] = 0;
    memcpy(h + 2, &zero, 2);
    memcpy(h + 4, &nid, 2);
    memcpy(h + 6, &nseq, 2);
    if (family == AF_INET) {
        unsigned short sum = fold(sum_words(h, ECHO_HEADER) + sum_words(payload, len));
        memcpy(h + 2, &sum, 2);
    }
}

static int check_echo_args(int family, const void *payload, size_t len, const char *op)
{
    if (family != AF_INET && family != AF_INET6)
        return csock__failf(CSOCK_EINVAL, "%s: family %d is neither AF_INET nor AF_INET6", op,
                            family);
    if (!payload && len > 0) return csock__failf(CSOCK_EINVAL, "%s: NULL payload", op);
    if (len > MAX_PAYLOAD)
        return csock__failf(CSOCK_EMSGSIZE, "%s: payload of %zu bytes, at most %d", op, len,
                            MAX_PAYLOAD);
    return 0;
}

int csock_icmp_echo_request(void *buf, size_t size, int family, unsigned short id,
                            unsigned short seq, const void *payload, size_t len)
{
    int rc = check_echo_args(family, payload, len, "icmp_echo_request");
    if (rc < 0) return rc;
    if (!buf || size < ECHO_HEADER + len)
        return csock__failf(CSOCK_ENOSPC, "icmp_echo_request: %zu bytes needed, buffer has %zu",
                            ECHO_HEADER + len, buf ? size : 0);
    unsigned char *p = buf;
    if (len) memmove(p + ECHO_HEADER, payload, len);
    fill_header(p, family, id, seq, p + ECHO_HEADER, len);
    return (int)(ECHO_HEADER + len);
}

/* Reads the echo header at the start of packet (len bytes: all of it, or as much as was kept)
 * into out, after checking and skipping an IPv4 header first if ip_header says there is one.
 * Returns the bytes before the payload, or a recorded CSOCK_EINVAL. The checksum is the
 * caller's to check. */
static int parse_header(const unsigned char *p, size_t len, int family, int ip_header,
                        csock_icmp_echo *out)
{
    out->ttl = -1;
    out->type = -1;
    size_t ihl = 0;
    if (ip_header) {
        ihl = len ? (size_t)(p[0] & 0x0f) * 4 : 0;
        if (len < 20 || (p[0] >> 4) != 4 || ihl < 20 || ihl > len)
            return csock__failf(CSOCK_EINVAL, "icmp_echo_parse: not an IPv4 packet (%zu bytes)",
                                len);
        out->ttl = p[8];
        p += ihl;
        len -= ihl;
    }
    if (len < ECHO_HEADER)
        return csock__failf(CSOCK_EINVAL, "icmp_echo_parse: %zu bytes, shorter than a header", len);
    out->type = p[0];
    if (out->type != echo_type(family, 0) && out->type != echo_type(family, 1))
        return csock__failf(CSOCK_EINVAL, "icmp_echo_parse: type %d is not an echo message",
                            out->type);
    uint16_t id, seq;
    memcpy(&id, p + 4, 2);
    memcpy(&seq, p + 6, 2);
    out->id = ntohs(id);
    out->seq = ntohs(seq);
    return (int)(ihl + ECHO_HEADER);
}

/* ICMPv6's checksum covers a pseudo-header that only the kernel knows; it checked it. */
static int bad_checksum(int family, uint64_t sum)
{
    return family == AF_INET && fold(sum) != 0
               ? csock__failf(CSOCK_EINVAL, "icmp_echo_parse: bad checksum")
               : 0;
}

int csock_icmp_echo_parse(const void *packet, size_t len, int family, int ip_header,
                          csock_icmp_echo *out)
{
    if (!packet || !out) return csock__failf(CSOCK_EINVAL, "icmp_echo_parse: NULL argument");
    const unsigned char *p = packet;
    int before = parse_header(p, len, family, ip_header, out);
    if (before < 0) return before;
    size_t ihl = (size_t)before - ECHO_HEADER;
    if (bad_checksum(family, sum_words(p + ihl, len - ihl)) < 0) return CSOCK_EINVAL;
    out->payload = p + before;
    out->payload_len = len - (size_t)before;
    return 0;
}

/* What /proc says of who may open ICMP datagram sockets, for the message. */
static const char *ping_group_range(char *buf, size_t size)
{
    FILE *f = fopen("/proc/sys/net/ipv4/ping_group_range", "re");
    snprintf(buf, size, "unknown");
    if (f) {
        if (fgets(buf, (int)size, f)) buf[strcspn(buf, "\n")] = '\0';
        for (char *t = strchr(buf, '\t'); t; t = strchr(t, '\t'))
            *t = ' ';
        fclose(f);
    }
    return buf;
}

/* Asks the kernel to report each datagram's TTL or hop limit (for raw IPv4 it is in the header). */
static int want_ttl(csock *s)
{
    if (s->family == AF_INET6) return csock_setsockopt_int(s, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
    return s->type == SOCK_RAW ? 0 : csock_setsockopt_int(s, IPPROTO_IP, IP_RECVTTL, 1);
}

csock *csock_icmp_socket(int family)
{
    if (family != AF_INET && family != AF_INET6) {
        csock__failf(CSOCK_EAFNOSUPPORT, "icmp socket: family %d is neither AF_INET nor AF_INET6",
                     family);
        return NULL;
    }
    int proto = family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
    csock *s = csock_socket(family, SOCK_RAW, proto);
    int raw = s ? 0 : csock_lastcode();
    if (!s && (raw == CSOCK_EPERM || raw == CSOCK_EACCES))
        s = csock_socket(family, SOCK_DGRAM, proto);
    if (s) {
        if (want_ttl(s) < 0) {
            csock_free(s);
            return NULL;
        }
        return s;
    }
    if (raw != CSOCK_EPERM && raw != CSOCK_EACCES) return NULL; /* not a question of privilege */
    char range[64];
    csock__failf(raw,
                 "icmp socket %s: raw sockets need CAP_NET_RAW (%s), and ICMP datagram sockets "
                 "are not allowed for group %d (net.ipv4.ping_group_range is \"%s\")",
                 family == AF_INET ? "AF_INET" : "AF_INET6", csock_strerror(raw), (int)getgid(),
                 ping_group_range(range, sizeof range));
    return NULL;
}

ssize_t csock_icmp_send(csock *s, const csock_addr *to, unsigned short id, unsigned short seq,
                        const void *payload, size_t len)
{
    int rc = csock__check(s, "icmp_send");
    if (rc == 0) rc = check_echo_args(s->family, payload, len, "icmp_send");
    if (rc == 0 && (!to || to->len == 0)) rc = csock__failf(CSOCK_EINVAL, "icmp_send: no address");
    if (rc < 0) return rc;
    /* Header and payload go out as two buffers: nothing is copied. */
    unsigned char header[ECHO_HEADER];
    fill_header(header, s->family, id, seq, payload, len);
    struct iovec iov[2] = {{header, ECHO_HEADER}, {(void *)payload, len}};
    csock_msg m = {.iov = iov, .iovcnt = len ? 2 : 1, .addr = (csock_addr *)to};
    return csock__sendmsg(s, &m, 0, "icmp_send");
}

/* The TTL or hop limit the kernel reported in a received message's control data, or -1. */
static int control_ttl(const void *control, size_t controllen)
{
    struct msghdr h = {.msg_control = (void *)control, .msg_controllen = controllen};
    for (struct cmsghdr *c = controllen ? CMSG_FIRSTHDR(&h) : NULL; c; c = CMSG_NXTHDR(&h, c)) {
        if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
            (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
            int ttl;
            memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
            return ttl;
        }
    }
    return -1;
}

/* Where a reply's payload goes: buf, which needs room for the payload only. Its first bytes may
 * have arrived in head (after the headers, which took before of its got bytes), the rest at the
 * start of buf (in_buf bytes). Moves them into place, the payload's first size bytes, and
 * returns how many bytes it has in all. */
static size_t place_payload(unsigned char *buf, size_t size, const unsigned char *head, size_t got,
                            size_t before, size_t in_buf)
{
    size_t in_head = got - before, total = in_head + in_buf;
    size_t kept = total < size ? total : size;
    if (kept > in_head) memmove(buf + in_head, buf, kept - in_head);
    memcpy(buf, head + before, in_head < kept ? in_head : kept);
    return total;
}

int csock_icmp_recv(csock *s, unsigned short id, void *buf, size_t size, csock_icmp_echo *out)
{
    int rc = csock__check(s, "icmp_recv");
    if (rc == 0 && (!buf || !out || size == 0))
        rc = csock__failf(CSOCK_EINVAL, "icmp_recv: NULL or empty buffer, or NULL output");
    if (rc < 0) return rc;
    int ip_header = s->type == SOCK_RAW && s->family == AF_INET;
    int reply = echo_type(s->family, 1);
    /* The headers arrive apart from the payload, so that buf needs room for the payload only:
     * head takes the echo header, and on a raw IPv4 socket the IP header before it, which
     * options may make up to 60 bytes long. Behind a shorter IP header, the payload's first
     * bytes land in head too; place_payload moves them to buf. */
    unsigned char head[MAX_IP_HEADER + ECHO_HEADER];
    size_t head_size = ip_header ? sizeof head : ECHO_HEADER;
    /* One deadline for the call, however many packets that are not ours go by. */
    csock__deadline d = csock__deadline_begin(s, SO_RCVTIMEO, 0);
    int replied = 0;
    union {
        char buf[CMSG_SPACE(sizeof(int)) * 2];
        struct cmsghdr align;
    } control;
    for (;;) {
        struct iovec iov[2] = {{head, head_size}, {buf, size}};
        csock_msg m = {.iov = iov,
                       .iovcnt = 2,
                       .addr = &out->from,
                       .control = control.buf,
                       .controllen = sizeof control};
        ssize_t n = csock__recvmsg(s, &m, 0, "icmp_recv");
        if (n < 0) {
            rc = (int)n;
            break;
        }
        size_t got = m.len < head_size ? m.len : head_size, in_buf = m.len - got;
        int before = parse_header(head, got, s->family, ip_header, out);
        /* A raw socket sees every ICMP packet for the host, our own requests included; a
         * datagram socket sees only replies to it, with the kernel's identifier. */
        int ours = before >= 0 && out->type == reply && (s->type == SOCK_DGRAM || out->id == id);
        if (ours && !(m.flags & MSG_TRUNC)) {
            /* A cut reply's checksum cannot be checked. The part in head ends at an even offset
             * whenever more follows in buf (an IP header is a multiple of 4 bytes long), so the
             * two sums add up to the packet's. */
            size_t ihl = (size_t)before - ECHO_HEADER;
            ours = bad_checksum(s->family,
                                sum_words(head + ihl, got - ihl) + sum_words(buf, in_buf)) == 0;
        }
        if (ours) {
            replied = 1;
            size_t total = place_payload(buf, size, head, got, (size_t)before, in_buf);
            out->payload = buf;
            out->payload_len = total < size ? total : size;
            if ((m.flags & MSG_TRUNC) || total > size) {
                /* An ICMP datagram socket's kernel gives a cut reply's stored size, not its
                 * full one, whatever MSG_TRUNC asks: then only "more than" is known. */
                int known = m.size > m.len || !(m.flags & MSG_TRUNC);
                char where[CSOCK_ADDRSTRLEN];
                rc = csock__failf(CSOCK_EMSGSIZE,
                                  "icmp_recv %s: payload of %s%zu bytes does not fit in %zu",
                                  csock__addr_text(&out->from, where), known ? "" : "more than ",
                                  known ? m.size - (size_t)before : size, size);
            } else if (out->ttl < 0) {
                out->ttl = control_ttl(control.buf, m.controllen);
            }
            break;
        }
        if ((rc = csock__deadline_again(&d)) < 0) {
            csock__fail(rc, "icmp_recv", &s->peer);
            break;
        }
    }
    csock__deadline_end(&d);
    /* No reply accepted: out must not describe some other packet or hold the caller's garbage. */
    if (!replied) *out = (csock_icmp_echo){.type = -1, .ttl = -1};
    return rc;
}
