# SPDX-License-Identifier: MIT
"""What the csock tool's tests share: running csock, and a csock that listens in the background,
started with -v so that its first line on standard error says where ("listening on HOST:PORT").
Every wait is bounded; a process still running at the end is killed."""
import os
import signal
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from checklib import check, done, end_process  # noqa: E402,F401

CSOCK = os.environ.get("CSOCK") or sys.argv[1]
TIMEOUT = 20


def run(args, data=b"", timeout=TIMEOUT, **kw):
    """Runs csock ARGS with data on standard input; returns the CompletedProcess (bytes)."""
    return subprocess.run([CSOCK] + args, input=data, capture_output=True, timeout=timeout, **kw)


class Drain(threading.Thread):
    """Reads a pipe to its end in the background, so that the process never blocks on it."""

    def __init__(self, pipe):
        super().__init__(daemon=True)
        self.pipe, self.data = pipe, bytearray()
        self.grew = threading.Condition()
        self.start()

    def run(self):
        for chunk in iter(lambda: self.pipe.read1(65536), b""):
            with self.grew:
                self.data += chunk
                self.grew.notify_all()
        with self.grew:
            self.ended = True
            self.grew.notify_all()

    def wait_for(self, want, timeout=TIMEOUT):
        """Waits until want (bytes) is in what was read, or the pipe ends; returns whether it
        is."""
        with self.grew:
            self.grew.wait_for(lambda: want in self.data or getattr(self, "ended", False),
                               timeout)
            return want in self.data

    def text(self):
        return self.data.decode(errors="replace")


class Csock:
    """csock ARGS in the background. With listening, waits for its "listening on" line and sets
    host and port. preexec_fn runs in the child before csock starts (to set a limit, say). Use with
    "with"."""

    def __init__(self, args, listening=True, stdin=subprocess.PIPE, pass_fds=(), env=None,
                 preexec_fn=None):
        self.proc = subprocess.Popen([CSOCK] + args, stdin=stdin, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, pass_fds=pass_fds, env=env,
                                     preexec_fn=preexec_fn)
        self.first = ""
        if listening:
            self.first = self.proc.stderr.readline().decode().strip()
            where = self.first.rsplit("listening on ", 1)[-1]
            self.address = where
            if where.startswith("["):
                self.host, self.port = where[1:].split("]:")[0], int(where.rsplit(":", 1)[1])
            elif ":" in where:
                self.host, self.port = where.rsplit(":", 1)[0], int(where.rsplit(":", 1)[1])
        self.out = Drain(self.proc.stdout)
        self.err = Drain(self.proc.stderr)

    def send(self, data):
        """Writes data to csock's standard input. csock may have ended already (a refusal
        ends it at once, however fast the test writes); its status and output then tell."""
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass

    def close_stdin(self):
        self.proc.stdin.close()

    def wait(self, timeout=TIMEOUT):
        """Waits for it to exit and for its output; returns the exit status."""
        rc = self.proc.wait(timeout)
        self.out.join(timeout)
        self.err.join(timeout)
        return rc

    def signal(self, signo=signal.SIGTERM):
        self.proc.send_signal(signo)
        return self.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        end_process(self.proc)


def recv_exactly(sock, n):
    """n bytes from a stream socket, however they are split; fewer only at end of file."""
    data = bytearray()
    while len(data) < n and (chunk := sock.recv(n - len(data))):
        data += chunk
    return bytes(data)


def recv_all(sock, timeout=TIMEOUT):
    """Everything a stream socket receives until end of file."""
    sock.settimeout(timeout)
    data = bytearray()
    while chunk := sock.recv(65536):
        data += chunk
    return bytes(data)


def refusing_port(host="127.0.0.1", family=socket.AF_INET):
    """A port on host where nothing listens: bound, never listening, so no other test takes it
    while the caller uses it. Returns (port, holder); close holder afterwards."""
    holder = socket.socket(family, socket.SOCK_STREAM)
    holder.bind((host, 0))
    return holder.getsockname()[1], holder
