#!/usr/bin/python3
"""Hand the broker's seccomp socket something that is not a valid listener
handover, as an attacker would: a pipe instead of a seccomp listener, or
bytes that are not JSON. Prints the broker's one-line answer.

usage: handover.py SOCKET pipe|garbage
"""
import os, socket, sys

path, kind = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(path)
r, w = os.pipe()
if kind == "pipe":
    state = b'{"ociVersion":"1.0.2","fds":["seccompFd"],"pid":1,"metadata":"","state":{"id":"x"}}'
    s.sendmsg([state], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, r.to_bytes(4, "little"))])
else:
    s.sendall(b"\x00\xffnot json at all")
s.shutdown(socket.SHUT_WR)
print(s.recv(512).decode().strip())
