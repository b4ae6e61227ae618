# SPDX-License-Identifier: MIT
# The tutorial's client, ported to Python 3. Usage: client.py [host] [port]
import socket
import sys

host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
port = int(sys.argv[2]) if len(sys.argv) > 2 else 8888
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
s.connect((host, port))
data = s.recv(512)
s.send(b"hihi")
s.close()
print("the data received is", data.decode())
