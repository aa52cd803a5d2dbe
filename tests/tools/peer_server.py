#!/usr/bin/env python3
"""TCP or UDP server that answers each client with the client's address.

usage: peer_server.py tcp|udp HOST PORT [SECONDS]
TCP: accepts, writes "peer HOST PORT\n", closes. UDP: replies to each
datagram with "peer HOST PORT <payload>". Exits after SECONDS (default 60).
Prints "ready" on stdout once listening.
"""
import socket
import sys
import time

proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
deadline = time.monotonic() + (float(sys.argv[4]) if len(sys.argv) > 4 else 60)
family = socket.AF_INET6 if ":" in host else socket.AF_INET
kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
s = socket.socket(family, kind)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port))
if proto == "tcp":
    s.listen(1024)
s.settimeout(0.5)
print("ready", flush=True)
while time.monotonic() < deadline:
    try:
        if proto == "tcp":
            c, addr = s.accept()
            c.sendall(f"peer {addr[0]} {addr[1]}\n".encode())
            c.close()
        else:
            data, addr = s.recvfrom(65536)
            s.sendto(f"peer {addr[0]} {addr[1]} ".encode() + data, addr)
    except socket.timeout:
        pass
