#!/usr/bin/env python3
"""THREADS threads create, connect, use and close TCP sockets for SECONDS.

usage: churn.py HOST PORT THREADS SECONDS
Prints "rounds R fds_before B fds_after A". Exits 1 on any failure or if the
process holds more descriptors at the end than at the start.
"""
import os
import socket
import sys
import threading
import time

host, port, nthreads, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
def count_fds():
    """Descriptors held, minus libgraft's broker connections (one per grafting
    thread, closed when the thread exits, which can be just after join())."""
    seqpacket = set()
    try:
        with open("/proc/net/unix") as f:
            next(f)
            for line in f:
                cols = line.split()
                if len(cols) >= 7 and cols[4] == "0005":
                    seqpacket.add(cols[6])
    except OSError:
        pass
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:[") and (link[8:-1] in seqpacket or pooled(int(fd))):
            continue
        n += 1
    return n


def pooled(fd):
    """A socket in libgraft's client stock: TCP, bound to an address with no
    port yet, not connected (bounded per thread, closed when it exits)."""
    try:
        s = socket.socket(fileno=os.dup(fd))
    except OSError:
        return False
    try:
        if s.type != socket.SOCK_STREAM or s.family not in (socket.AF_INET, socket.AF_INET6):
            return False
        if s.getsockname()[1] != 0:
            return False
        try:
            s.getpeername()
            return False
        except OSError:
            return True
    finally:
        s.close()


fds_before = count_fds()
deadline = time.monotonic() + seconds
rounds = [0] * nthreads
errors = []

def work(i):
    while time.monotonic() < deadline and not errors:
        try:
            s = socket.create_connection((host, port), timeout=10)
            s.sendall(b"hello")
            if s.recv(5) != b"hello":
                raise OSError("bad echo")
            s.close()
            rounds[i] += 1
        except OSError as e:
            errors.append(f"thread {i}: {e}")

threads = [threading.Thread(target=work, args=(i,)) for i in range(nthreads)]
for t in threads:
    t.start()
for t in threads:
    t.join()
fds_after = count_fds()
print(f"rounds {sum(rounds)} fds_before {fds_before} fds_after {fds_after}", flush=True)
if errors:
    print("churn.py: " + errors[0], file=sys.stderr)
    sys.exit(1)
if fds_after > fds_before:
    print(f"churn.py: descriptor leak: {fds_before} -> {fds_after}", file=sys.stderr)
    sys.exit(1)
