/* SPDX-License-Identifier: MIT */
/* Fuzzes the ICMP echo parser, csock_icmp_echo_parse, which reads what csock_icmp_recv receives
 * from the network: no input may crash it or read past the packet, and a packet it accepts must
 * agree with itself: an echo type of the family, a payload inside the packet after its header(s),
 * and (IPv4) a checksum that verifies. Built with -fsanitize=fuzzer when CSOCK_FUZZ is on.
 *
 * Input: a byte choosing the family (AF_INET or AF_INET6) and whether an IPv4 header comes
 * first, then the packet. */
#include <csock.h>
#include <csock/icmp.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int family = data[0] & 1 ? AF_INET6 : AF_INET;
    int ip_header = family == AF_INET && (data[0] & 2);
    size_t len = size - 1;
    /* A copy of exactly the packet's size, so that reading one byte past it is caught. */
    unsigned char *packet = malloc(len ? len : 1);
    if (!packet) return 0;
    memcpy(packet, data + 1, len);
    csock_icmp_echo e;
    memset(&e, 0xa5, sizeof e);
    if (csock_icmp_echo_parse(packet, len, family, ip_header, &e) == 0) {
        const unsigned char *p = e.payload;
        size_t ihl = ip_header ? (size_t)(packet[0] & 0x0f) * 4 : 0;
        if (p != packet + ihl + 8 || e.payload_len != len - ihl - 8) abort();
        if (family == AF_INET && e.type != 0 && e.type != 8) abort();
        if (family == AF_INET6 && e.type != 128 && e.type != 129) abort();
        if (ip_header ? e.ttl != packet[8] : e.ttl != -1) abort();
        if (family == AF_INET && csock_checksum(packet + ihl, len - ihl) != 0) abort();
        if (e.id != (packet[ihl + 4] << 8 | packet[ihl + 5])) abort();
        if (e.seq != (packet[ihl + 6] << 8 | packet[ihl + 7])) abort();
    } else {
        if (csock_lastcode() != CSOCK_EINVAL) abort();
        if (strncmp(csock_lasterror(), "icmp_echo_parse: ", 17) != 0) abort();
    }
    /* A request built here parses back as what was asked for. */
    if (len >= 4) {
        unsigned short id = (unsigned short)(data[1] << 8 | data[2]), seq = data[3];
        size_t plen = len - 4 > 256 ? 256 : len - 4;
        unsigned char buf[8 + 256];
        int n = csock_icmp_echo_request(buf, sizeof buf, family, id, seq, packet + 4, plen);
        if (n != (int)(8 + plen)) abort();
        if (csock_icmp_echo_parse(buf, (size_t)n, family, 0, &e) != 0 || e.id != id ||
            e.seq != seq || e.payload_len != plen || memcmp(e.payload, packet + 4, plen) != 0)
            abort();
    }
    free(packet);
    return 0;
}
