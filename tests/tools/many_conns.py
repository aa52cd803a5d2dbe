#!/usr/bin/env python3
"""Hold N TCP connections to HOST PORT open at the same time.

usage: many_conns.py HOST PORT N
Prints "held N" once all N are connected, checks each is still alive with one
round trip, then closes them. Exits 1 if any connection fails.
"""
import resource
import socket
import sys

host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 256)), hard))
conns = []
try:
    for i in range(n):
        conns.append(socket.create_connection((host, port), timeout=10))
    print(f"held {len(conns)}", flush=True)
    for c in conns:
        c.sendall(b"x")
    for c in conns:
        if c.recv(1) != b"x":
            raise OSError("bad echo")
    print(f"echoed {len(conns)}", flush=True)
except OSError as e:
    print(f"many_conns.py: connection {len(conns)}: {e}", file=sys.stderr)
    sys.exit(1)
finally:
    for c in conns:
        c.close()
