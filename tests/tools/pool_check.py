#!/usr/bin/env python3
"""Exercise libgraft's client-socket stock from one grafted process.

usage: pool_check.py HOST PORT WAITFILE
HOST:PORT is a peer_server.py (answers "peer ADDR PORT"). Prints one line per
step; exits 1 on any failure.
  1. connect once (fills the stock), print the source address;
  2. fork: parent and child each connect 20 times; every source port must be
     distinct (no socket is shared across the fork);
  3. wait until WAITFILE exists (the test redefines the endpoint meanwhile),
     sleep past the stock's lifetime, connect again, print the source address.
"""
import os
import socket
import sys
import time

host, port, waitfile = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def source():
    with socket.create_connection((host, port), timeout=5) as s:
        data = s.recv(100).decode().split()
        return data[1], int(data[2])


first = source()
print("first", first[0], flush=True)
r, w = os.pipe()
pid = os.fork()
ports = [source()[1] for _ in range(20)]
if pid == 0:
    os.write(w, (" ".join(map(str, ports)) + "\n").encode())
    os._exit(0)
os.waitpid(pid, 0)
child = [int(p) for p in os.read(r, 65536).decode().split()]
both = ports + child
if len(child) != 20 or len(set(both)) != len(both):
    print(f"pool_check.py: ports repeat across the fork: {sorted(both)}", file=sys.stderr)
    sys.exit(1)
print("fork ok", len(both), flush=True)
# Redefining the endpoint takes two graft commands: seconds each in a loaded VM.
for _ in range(600):
    if os.path.exists(waitfile):
        break
    time.sleep(0.1)
else:
    print("pool_check.py: WAITFILE never appeared", file=sys.stderr)
time.sleep(2.5)
print("after", source()[0], flush=True)
