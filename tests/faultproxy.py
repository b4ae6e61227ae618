# SPDX-License-Identifier: MIT
"""A fault-injecting TCP proxy for Python tests, like faultproxy.c: it listens on 127.0.0.1 port 0
and relays each connection to a target, cutting what it relays into pieces of random size (down
to one byte), holding each piece back up to max_delay seconds, and shutting a direction down or
resetting the connection (SO_LINGER 0) after a chosen number of bytes. The choices come from a
seeded generator per connection and direction. Use with "with"; every thread is a daemon, and
stop() closes everything."""
import random
import socket
import struct
import threading
import time

UP, DOWN = 0, 1  # client to target, target to client


class FaultProxy:
    def __init__(self, target, seed=0, max_piece=0, max_delay=0.0, shut_after=(0, 0),
                 reset_after=(0, 0)):
        self.target, self.seed = target, seed
        self.max_piece, self.max_delay = max_piece, max_delay
        self.shut_after, self.reset_after = shut_after, reset_after
        self.relayed = [0, 0]
        self.lock = threading.Lock()
        self.socks = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.socks += [client, upstream]
                n = self.accepted
                self.accepted += 1
            pair = [client, upstream, False]  # the two ends, and whether it was reset
            for d, (src, dst) in enumerate(((client, upstream), (upstream, client))):
                rng = random.Random(self.seed * 1000003 + n * 2 + d)
                threading.Thread(target=self._relay, args=(d, src, dst, rng, pair),
                                 daemon=True).start()

    def _reset(self, pair):
        # A socket another thread is reading is not released by close() until that read
        # returns: shutting down its reading side first wakes the reader, which sees the flag
        # and leaves without a word, and the last close then resets the connection.
        pair[2] = True
        for s in pair[:2]:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.shutdown(socket.SHUT_RD)
            except OSError:
                pass
            s.close()

    def _relay(self, d, src, dst, rng, pair):
        sent, shut, reset = 0, self.shut_after[d], self.reset_after[d]
        dropping = False
        try:
            while (data := src.recv(65536)) and not pair[2]:
                while data and not dropping:
                    n = min(len(data), rng.randint(1, self.max_piece)) if self.max_piece else \
                        len(data)
                    limit = shut or reset
                    if limit:
                        n = min(n, limit - sent)
                    if self.max_delay:
                        time.sleep(rng.uniform(0, self.max_delay))
                    dst.sendall(data[:n])
                    data, sent = data[n:], sent + n
                    with self.lock:
                        self.relayed[d] += n
                    if reset and sent >= reset:
                        self._reset(pair)
                        return
                    if shut and sent >= shut:
                        dst.shutdown(socket.SHUT_WR)
                        dropping = True
            if not dropping and not pair[2]:
                dst.shutdown(socket.SHUT_WR)
        except OSError:
            if not pair[2]:
                self._reset(pair)  # one end failed: the other learns at once

    def stop(self):
        self.listener.close()
        with self.lock:
            for s in self.socks:
                try:
                    s.close()
                except OSError:
                    pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
