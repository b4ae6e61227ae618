/* SPDX-License-Identifier: MIT */
/* csock ICMP echo (ping), over raw or unprivileged ICMP datagram sockets. Implemented in
 * src/icmp.c.
 *
 * Build and parse echo messages, and send and receive them on a socket from csock_icmp_socket:
 * a raw socket where the process has CAP_NET_RAW, else an ICMP datagram socket where
 * net.ipv4.ping_group_range allows the process's group. Errors follow csock.h: a negative
 * CSOCK_E* code and a message from csock_lasterror(). */
#ifndef CSOCK_ICMP_H
#define CSOCK_ICMP_H

#include <csock.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The Internet checksum (RFC 1071) of len bytes: store the result in the packet as it is (it
 * is computed in the packet's own byte order). A packet holding its correct checksum sums to 0. */
unsigned short csock_checksum(const void *data, size_t len);

/* Opens a socket for ICMP echo of family AF_INET or AF_INET6: a raw socket where the process
 * may open one (CAP_NET_RAW), else an ICMP datagram socket where the system allows them for the
 * process's group (net.ipv4.ping_group_range). csock_type tells which. Returns the socket, or
 * NULL with CSOCK_EPERM or CSOCK_EACCES and a message naming what is missing. */
csock *csock_icmp_socket(int family);

/* An ICMP or ICMPv6 echo message. */
typedef struct csock_icmp_echo {
    int type;                     /* the ICMP type: 0/8 (IPv4 reply/request), 129/128 (IPv6) */
    unsigned short id, seq;       /* identifier and sequence number, in host byte order */
    const unsigned char *payload; /* points into the packet parsed */
    size_t payload_len;
    int ttl;         /* the IPv4 TTL or IPv6 hop limit it arrived with; -1 unknown */
    csock_addr from; /* who sent it (csock_icmp_recv) */
} csock_icmp_echo;

/* Writes an echo request into buf (size bytes): header, then len bytes of payload. The IPv4
 * checksum is filled in; for ICMPv6 the kernel computes it. Returns the packet's length, or
 * CSOCK_EINVAL (bad family, NULL payload with len > 0), CSOCK_ENOSPC (buf too small). */
int csock_icmp_echo_request(void *buf, size_t size, int family, unsigned short id,
                            unsigned short seq, const void *payload, size_t len);

/* Parses an echo request or reply of family from a packet as a socket received it; ip_header
 * says that it starts with an IPv4 header (as on a raw IPv4 socket), which is checked, skipped
 * and its TTL kept. Returns 0, or CSOCK_EINVAL with a message: too short, a bad checksum, or not
 * an echo message (out->type then says what it is, e.g. 3, destination unreachable). */
int csock_icmp_echo_parse(const void *packet, size_t len, int family, int ip_header,
                          csock_icmp_echo *out);

/* Sends an echo request with id, seq and payload to an address, on a socket from
 * csock_icmp_socket. (A datagram socket's kernel puts its own identifier in place of id.)
 * Returns the bytes sent, or as csock_sendto, plus CSOCK_EMSGSIZE for a payload over 65000. */
ssize_t csock_icmp_send(csock *s, const csock_addr *to, unsigned short id, unsigned short seq,
                        const void *payload, size_t len);

/* Waits within the socket's timeout (one deadline, however much other ICMP traffic is skipped)
 * for the next echo reply to id (on a datagram socket, to this socket) and fills out, with its
 * payload in buf (size bytes: room for the payload is enough, the headers are kept apart) and
 * its TTL. Returns 0, or CSOCK_ETIMEOUT, or as csock_recvmsg; CSOCK_EMSGSIZE for a payload
 * larger than buf ("icmp_recv 127.0.0.1:0: payload of 101 bytes does not fit in 100"; out
 * describes the payload's first size bytes). On any other failure out holds no reply: type and
 * ttl -1, payload NULL, payload_len 0, from empty. */
int csock_icmp_recv(csock *s, unsigned short id, void *buf, size_t size, csock_icmp_echo *out);

#ifdef __cplusplus
}
#endif

#endif /* CSOCK_ICMP_H */
