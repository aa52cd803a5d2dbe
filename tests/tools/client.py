#!/usr/bin/env python3
"""Connect (TCP) or send (UDP) to HOST PORT and print what comes back.

usage: client.py tcp|udp HOST PORT [PAYLOAD]
Exits 1 on any error, with the error on stderr.
"""
import socket
import sys

proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
payload = (sys.argv[4] if len(sys.argv) > 4 else "ping").encode()
family = socket.AF_INET6 if ":" in host else socket.AF_INET
try:
    if proto == "tcp":
        s = socket.create_connection((host, port), timeout=5)
        data = s.makefile("rb").read()
    else:
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.settimeout(5)
        s.sendto(payload, (host, port))
        data, _ = s.recvfrom(65536)
    sys.stdout.write(data.decode().strip() + "\n")
except OSError as e:
    print(f"client.py: {e}", file=sys.stderr)
    sys.exit(1)
