# SPDX-License-Identifier: MIT
"""csock forward under load: 200 clients at once, each sending 5 MiB up and getting 5 MiB down
through the forwarder (1000 MiB each way in all), every byte checked (CRC-32 and length per
connection, both ends), and every session ended cleanly (-v's closing line for each).
Usage: forward_bulk.py CSOCK"""
import socket
import threading
import zlib

from clilib import Csock, TIMEOUT, check, done

CLIENTS = 200
BLOCK = 64 * 1024
BLOCKS = 80  # 5 MiB a connection, each way


def block(seed):
    return bytes((seed * 7 + i * 13 + (i >> 8)) & 0xFF for i in range(BLOCK))


DOWN = block(255)
DOWN_CRC, DOWN_LEN = zlib.crc32(DOWN * BLOCKS), BLOCK * BLOCKS


def drain(conn):
    """Reads to the end: (crc, length)."""
    crc, n = 0, 0
    while data := conn.recv(256 * 1024):
        crc, n = zlib.crc32(data, crc), n + len(data)
    return crc, n


def pour(conn, data):
    for _ in range(BLOCKS):
        conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)


class Target:
    """Sends DOWN to each connection while reading what comes (its CRC and length kept)."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=CLIENTS)
        self.port = self.sock.getsockname()[1]
        self.got, self.errors, self.threads = [], [], []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(TIMEOUT)
            t = threading.Thread(target=self.one, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def one(self, conn):
        try:
            sender = threading.Thread(target=pour, args=(conn, DOWN), daemon=True)
            sender.start()
            self.got.append(drain(conn))
            sender.join(TIMEOUT)
        except OSError as e:
            self.errors.append(repr(e))
        finally:
            conn.close()


target = Target()
ups = [block(i) for i in range(CLIENTS)]
want_up = sorted((zlib.crc32(u * BLOCKS), BLOCK * BLOCKS) for u in ups)
with Csock(["-v", "forward", "127.0.0.1:0", "127.0.0.1:%d" % target.port]) as f:
    results, errors = [], []

    def one_client(i):
        try:
            with socket.create_connection(("127.0.0.1", f.port), timeout=TIMEOUT) as c:
                sender = threading.Thread(target=pour, args=(c, ups[i]), daemon=True)
                sender.start()
                results.append(drain(c))
                sender.join(TIMEOUT)
        except OSError as e:
            errors.append("client %d: %r" % (i, e))

    clients = [threading.Thread(target=one_client, args=(i,)) for i in range(CLIENTS)]
    for t in clients:
        t.start()
    for t in clients:
        t.join(4 * TIMEOUT)
    for t in list(target.threads):
        t.join(TIMEOUT)
    check("forward: %d clients at once, 5 MiB down to each, every byte (CRC-32, length)"
          % CLIENTS, results == [(DOWN_CRC, DOWN_LEN)] * CLIENTS and not errors,
          (len(results), sum(r != (DOWN_CRC, DOWN_LEN) for r in results), errors[:3]))
    check("forward: 5 MiB up from each, every byte reached the target",
          sorted(target.got) == want_up and not target.errors,
          (len(target.got), target.errors[:3]))
    with f.err.grew:
        f.err.grew.wait_for(lambda: f.err.data.count(b"closed by both sides") >= CLIENTS, TIMEOUT)
    check("forward -v: every session closed by both sides",
          f.err.data.count(b"closed by both sides") == CLIENTS,
          f.err.data.count(b"closed by both sides"))
target.sock.close()
done()
