"""A long-lived TCP client for the lab namespace: connect, send half a request, wait for a stop file."""
import os
import socket
import sys
import time

vip, port, stop_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sock = socket.create_connection((vip, port), timeout=30)
sock.sendall(b"GET / HTTP/1.1\r\nHost: lab\r\n")  # no blank line: the server keeps waiting
deadline = time.monotonic() + 600
while not os.path.exists(stop_file) and time.monotonic() < deadline:
    time.sleep(0.2)
sock.close()
