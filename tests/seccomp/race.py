#!/usr/bin/python3
"""The TOCTOU attack on the seccomp supervisor: one thread connects, again
and again, with a sockaddr another thread keeps flipping between a mapped
destination (MAPPED, grafted onto the endpoint) and an unmapped one (OTHER,
left in the namespace). Whatever the supervisor read, the connection either
stays in the namespace or leaves from the endpoint's address: the host
server (which records its peers) must never see anything else.

usage: race.py MAPPED_IP OTHER_IP PORT ROUNDS   prints "ok N failed M"
"""
import ctypes, os, socket, struct, sys, threading

libc = ctypes.CDLL(None, use_errno=True)
mapped, other, port, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])


def sin(ip):
    return struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + socket.inet_aton(ip) + bytes(8)


A, B = sin(mapped), sin(other)
buf = ctypes.create_string_buffer(A, 16)
stop = False


def flipper():
    while not stop:
        ctypes.memmove(buf, B, 16)
        ctypes.memmove(buf, A, 16)


t = threading.Thread(target=flipper, daemon=True)
t.start()
ok = failed = 0
for _ in range(rounds):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(None)
    if libc.connect(s.fileno(), buf, 16) == 0:
        ok += 1
        s.sendall(b"x")
    else:
        failed += 1
    s.close()
stop = True
print(f"ok {ok} failed {failed}")
