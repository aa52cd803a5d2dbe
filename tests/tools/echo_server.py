#!/usr/bin/env python3
"""TCP echo server for many simultaneous clients (selectors), bounded lifetime.

usage: echo_server.py HOST PORT [SECONDS]   prints "ready" once listening.
"""
import resource
import selectors
import socket
import sys
import time

host, port = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + (float(sys.argv[3]) if len(sys.argv) > 3 else 120)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
sel = selectors.DefaultSelector()
ls = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, port))
ls.listen(4096)
ls.setblocking(False)
sel.register(ls, selectors.EVENT_READ, None)
print("ready", flush=True)
while time.monotonic() < deadline:
    for key, _ in sel.select(0.5):
        if key.data is None:
            try:
                while True:
                    c, _ = ls.accept()
                    c.setblocking(False)
                    sel.register(c, selectors.EVENT_READ, "c")
            except BlockingIOError:
                pass
        else:
            c = key.fileobj
            try:
                data = c.recv(65536)
            except OSError:
                data = b""
            if data:
                try:
                    c.sendall(data)
                except OSError:
                    pass
            else:
                sel.unregister(c)
                c.close()
