#!/usr/bin/env python3
"""Hold N TCP connections to HOST PORT (an echo server) open at the same time.

usage: many_conns.py HOST PORT N [GO]
Prints "held N pid PID" once all N are connected; with GO, waits (60 s at
most) for the file GO to exist. Then each connection sends its own 4 bytes
and must get those back (not another connection's): "echoed N". Closes them
all. Exits 1 if any connection fails.
"""
import os
import resource
import socket
import sys
import time

host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
go = sys.argv[4] if len(sys.argv) > 4 else None
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 1024)), hard))
conns = []
try:
    for _ in range(n):
        conns.append(socket.create_connection((host, port), timeout=10))
    print(f"held {len(conns)} pid {os.getpid()}", flush=True)
    end = time.monotonic() + 60
    while go and not os.path.exists(go) and time.monotonic() < end:
        time.sleep(0.05)
    for i, c in enumerate(conns):
        c.sendall(i.to_bytes(4, "big"))
    for i, c in enumerate(conns):
        got = b""
        while len(got) < 4:
            b = c.recv(4 - len(got))
            if not b:
                raise OSError(f"connection {i} closed early")
            got += b
        if got != i.to_bytes(4, "big"):
            raise OSError(f"connection {i}: got another connection's bytes")
    print(f"echoed {len(conns)}", flush=True)
except OSError as e:
    print(f"many_conns.py: connection {len(conns)}: {e}", file=sys.stderr)
    sys.exit(1)
finally:
    for c in conns:
        c.close()
