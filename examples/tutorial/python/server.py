# SPDX-License-Identifier: MIT
# The tutorial's server, ported to Python 3. Usage: server.py [host] [port]
# (port 0 picks a free port; the line "listening on HOST:PORT" says which).
import socket
import sys

host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
port = int(sys.argv[2]) if len(sys.argv) > 2 else 8888
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
s.bind((host, port))
s.listen(5)
print("listening on %s:%d" % (host, s.getsockname()[1]), flush=True)
cs, address = s.accept()
print("got connected from", address)
cs.send(b"byebye")
ra = cs.recv(512)
print(ra.decode())
cs.close()
