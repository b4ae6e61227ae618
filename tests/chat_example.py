# SPDX-License-Identifier: MIT
"""The chat example with several Python clients: joins are announced, every line reaches every
other client (and not its sender), a line over the limit is refused, departures are announced,
SIGTERM ends the server with status 0. Usage: chat_example.py BUILD_DIR"""
import os
import socket
import sys

from checklib import Program, check, done

SERVER = os.path.join(sys.argv[1], "examples/chat/chat-server")
TIMEOUT = 30


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.file = self.sock.makefile("rb")
        self.name = "%s:%d" % self.sock.getsockname()

    def say(self, text):
        self.sock.sendall(text)

    def line(self):
        return self.file.readline().decode()

    def ended(self):
        """End of file; or a reset, when the server closed with bytes of ours unread."""
        try:
            return self.line() == ""
        except ConnectionResetError:
            return True


def main():
    with Program([SERVER, "127.0.0.1:0"]) as p:
        port = p.port
        a = Client(port)
        b = Client(port)
        check("a hears b join", a.line() == f"* {b.name} joined\n")
        c = Client(port)
        check("a and b hear c join",
              a.line() == f"* {c.name} joined\n" and b.line() == f"* {c.name} joined\n")
        a.say(b"hello everyone\n")
        check("b and c get a's line, with a's address",
              b.line() == f"[{a.name}] hello everyone\n" and
              c.line() == f"[{a.name}] hello everyone\n")
        c.say(b"one\ntwo\n")
        check("two lines in one send arrive as two lines, in order",
              [a.line(), a.line()] == [f"[{c.name}] one\n", f"[{c.name}] two\n"] and
              [b.line(), b.line()] == [f"[{c.name}] one\n", f"[{c.name}] two\n"])
        b.say(b"x" * 2000)
        check("a line over 1024 bytes is refused and its sender closed",
              b.line() == "* line too long: the limit is 1024 bytes\n" and b.ended())
        check("the others hear b leave",
              a.line() == f"* {b.name} left\n" and c.line() == f"* {b.name} left\n")
        a.say(b"still here\n")
        check("the rest still talk", c.line() == f"[{a.name}] still here\n")
        rc = p.stop()
        check("SIGTERM: status 0, clients see end of file", rc == 0 and a.ended(),
              f"rc={rc} {p.stderr()}")
    done()


if __name__ == "__main__":
    main()
