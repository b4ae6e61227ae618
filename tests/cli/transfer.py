# SPDX-License-Identifier: MIT
"""100 MiB of random bytes through csock in both directions at once, and to and from socat; the
checksums of what was sent and what arrived must match. Usage: transfer.py CSOCK"""
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading

from clilib import CSOCK, TIMEOUT, check, done

SIZE = 100 * 1024 * 1024
tmp = tempfile.mkdtemp(prefix="csock-transfer-")


def random_file(name, seed):
    """A file of SIZE pseudo-random bytes; returns its path and SHA-256."""
    path = os.path.join(tmp, name)
    h = hashlib.sha256()
    block = hashlib.sha256(seed).digest() * 2048  # 64 KiB
    with open(path, "wb") as f:
        for i in range(SIZE // len(block)):
            chunk = hashlib.sha256(block[:64] + i.to_bytes(8, "big")).digest() * 2048
            f.write(chunk)
            h.update(chunk)
    return path, h.hexdigest()


def digest_of(pipe, result):
    h, n = hashlib.sha256(), 0
    for chunk in iter(lambda: pipe.read1(1 << 20), b""):
        h.update(chunk)
        n += len(chunk)
    result[:] = [h.hexdigest(), n]


def run_pair(listen_cmd, connect_cmd, first_line_port, file_l, file_c):
    """Starts the listener (its stdin file_l), reads its port, starts the client (stdin file_c);
    returns (listener rc, client rc, listener's output digest and size, client's)."""
    with open(file_l, "rb") as fl, open(file_c, "rb") as fc:
        l = subprocess.Popen(listen_cmd, stdin=fl, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        port = first_line_port(l.stderr)
        c = subprocess.Popen(connect_cmd(port), stdin=fc, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        got_l, got_c = [], []
        threads = [threading.Thread(target=digest_of, args=(l.stdout, got_l)),
                   threading.Thread(target=digest_of, args=(c.stdout, got_c))]
        for t in threads:
            t.start()
        rc_c, rc_l = c.wait(120), l.wait(120)
        for t in threads:
            t.join(TIMEOUT)
        return rc_l, rc_c, got_l, got_c, c.stderr.read() + l.stderr.read()


def csock_port(err):
    return int(err.readline().decode().rsplit(":", 1)[1])


a, sum_a = random_file("a", b"a")
b, sum_b = random_file("b", b"b")
rc_l, rc_c, got_l, got_c, err = run_pair([CSOCK, "-v", "listen", "127.0.0.1:0"],
                                         lambda p: [CSOCK, "connect", f"127.0.0.1:{p}"], csock_port,
                                         a, b)
check("100 MiB each way at once, csock to csock: both checksums match, both exit 0",
      rc_l == 0 and rc_c == 0 and got_l == [sum_b, SIZE] and got_c == [sum_a, SIZE],
      (rc_l, rc_c, got_l[1:], got_c[1:], err))

if shutil.which("socat"):
    empty = os.path.join(tmp, "empty")
    open(empty, "wb").close()
    rc_l, rc_c, got_l, got_c, err = run_pair(
        [CSOCK, "-v", "listen", "127.0.0.1:0"],
        lambda p: ["socat", "-u", "-", f"TCP:127.0.0.1:{p}"], csock_port, empty, a)
    check("100 MiB from socat to csock: checksum matches", rc_l == 0 and got_l == [sum_a, SIZE],
          (rc_l, rc_c, got_l[1:], err))

    def socat_port(err):
        import re
        while line := err.readline().decode():
            if m := re.search(r"listening on AF=2 127\.0\.0\.1:(\d+)", line):
                return int(m.group(1))

    rc_l, rc_c, got_l, got_c, err = run_pair(
        ["socat", "-d", "-d", "-u", "TCP-LISTEN:0,bind=127.0.0.1", "-"],
        lambda p: [CSOCK, "connect", f"127.0.0.1:{p}"], socat_port, empty, b)
    check("100 MiB from csock to socat: checksum matches", rc_c == 0 and got_l == [sum_b, SIZE],
          (rc_l, rc_c, got_l[1:], err))
shutil.rmtree(tmp)
done()
