# SPDX-License-Identifier: MIT
"""A DNS server for the tests, on 127.0.0.1:53 in a network namespace of the test's own
(tests/own_dns.sh), answering over UDP:

  dN.test    A 127.0.0.1 at once, AAAA ::1 after N milliseconds
  anything else: NXDOMAIN

Prints "ready" on standard output once it listens; runs until killed."""
import heapq
import select
import socket
import struct
import sys
import time


def parse_question(packet):
    """The query's id, name (lower case, dots between labels), type, and the question's bytes."""
    qid, flags, qdcount = struct.unpack("!HHH", packet[:6])
    if flags & 0x8000 or qdcount != 1:
        return None
    labels, at = [], 12
    while True:
        n = packet[at]
        at += 1
        if n == 0:
            break
        if n & 0xC0:  # no compression in a question
            return None
        labels.append(packet[at:at + n].decode("ascii", "replace").lower())
        at += n
    qtype, qclass = struct.unpack("!HH", packet[at:at + 4])
    return qid, ".".join(labels), qtype, packet[12:at + 4]


def answer(qid, question, rcode, records):
    """A response: the question echoed, then each (type, rdata) as an answer for its name."""
    flags = 0x8180 | rcode  # a response, recursion desired and available
    out = struct.pack("!HHHHHH", qid, flags, 1, len(records), 0, 0) + question
    for rtype, rdata in records:
        out += struct.pack("!HHHIH", 0xC00C, rtype, 1, 60, len(rdata)) + rdata
    return out


A, AAAA = 1, 28


def respond(packet):
    """(delay in seconds, response) for a query, or None to drop it."""
    q = parse_question(packet)
    if not q:
        return None
    qid, name, qtype, question = q
    labels = name.split(".")
    if len(labels) != 2 or labels[1] != "test" or not labels[0][:1] == "d" or \
            not labels[0][1:].isdigit():
        return 0, answer(qid, question, 3, [])
    if qtype == A:
        return 0, answer(qid, question, 0, [(A, socket.inet_pton(socket.AF_INET, "127.0.0.1"))])
    if qtype == AAAA:
        delay = int(labels[0][1:]) / 1000
        return delay, answer(qid, question, 0, [(AAAA, socket.inet_pton(socket.AF_INET6, "::1"))])
    return 0, answer(qid, question, 0, [])


def main():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 53))
    print("ready", flush=True)
    due = []  # (when, sequence, response, address)
    seq = 0
    while True:
        wait = max(0, due[0][0] - time.monotonic()) if due else None
        if select.select([s], [], [], wait)[0]:
            packet, peer = s.recvfrom(4096)
            r = respond(packet)
            if r:
                seq += 1
                heapq.heappush(due, (time.monotonic() + r[0], seq, r[1], peer))
        while due and due[0][0] <= time.monotonic():
            _, _, response, peer = heapq.heappop(due)
            s.sendto(response, peer)


if __name__ == "__main__":
    sys.exit(main())
