#!/usr/bin/env python3
"""Listen on several TCP ports at once and report each bound address.

usage: listen_many.py HOST PORT [PORT...] -- stays up SECONDS (env, default 30)
Each accepted connection gets "port PORT\n" (the port the app asked for).
"""
import os
import selectors
import socket
import sys
import time

host, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
family = socket.AF_INET6 if ":" in host else socket.AF_INET
sel = selectors.DefaultSelector()
for p in ports:
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, p))
    s.listen(16)
    sel.register(s, selectors.EVENT_READ, p)
print("ready", flush=True)
deadline = time.monotonic() + float(os.environ.get("SECONDS_UP", "30"))
while time.monotonic() < deadline:
    for key, _ in sel.select(0.5):
        c, _ = key.fileobj.accept()
        c.sendall(f"port {key.data}\n".encode())
        c.close()
