#!/usr/bin/env python3
"""Speculative sockets: socket() served from libgraft's stock.

usage: spec_check.py MODE PEERPORT
Runs under libgraft.so in a namespace whose loopback is up, against the fake
broker, with GRAFT_EGRESS_CONVERT="127.0.0.1/32=ep-out 127.0.0.6/32=ep-out2
::1/128=ep-out6". PEERPORT: tests/tools/peer_server.py on the host, on
0.0.0.0 and ::1 ("peer ADDR PORT"). 127.0.0.3 is not mapped: it stays in the
namespace. Prints "ok WHAT" or "FAIL WHAT: DETAIL" per check.

  main    the checks below, one grafted process
  names   GRAFT_NAMES=host: getsockname() of a stocked socket is the host's
  never   no egress graft at all: sockets and local connections only
  adapt   after one graft, 120 sockets bound (each swapped back): the process
          stops speculating; prints "late stocked|namespace" for a socket
          made afterwards
  v4mapped  IPv6 sockets to ::ffff:127.0.0.1 (an IPv4 mapping): prints
          "v4mapped PEER1 STOCKED NAME PEER2"
  down    after one graft, waits for the file $SPEC_WAIT (the broker is stopped
          meanwhile) and for the stock to age out (2 s): prints "down
          STOCKED SECONDS" for the socket() that follows
Whether a socket is a stocked one is read with SIOCGSKNS (the namespace the
socket lives in), which libgraft does not hook; with GRAFT_BACKEND=kernel
(tests/kernel/test-spec.sh) a stocked socket is an AF_GRAFT one, bound to its
endpoint: one that answers a SOL_GRAFT option.
"""
import ctypes
import fcntl
import os
import socket
import sys
import time

SIOCGSKNS = 0x894C
SOL_GRAFT, GRAFT_NAME_TRANSPARENT = 256, 5
KERNEL = os.environ.get("GRAFT_BACKEND") == "kernel"
MODE, PEER = sys.argv[1], int(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
HERE = os.stat("/proc/self/ns/net").st_ino
failed = 0


def check(what, ok, detail=""):
    global failed
    if ok:
        print("ok  ", what, flush=True)
    else:
        failed += 1
        print("FAIL", f"{what}: {detail}", flush=True)


def stocked(fd):
    """Does fd live in another namespace than this process (the host)?"""
    if not isinstance(fd, int):
        fd = fd.fileno()
    if KERNEL:
        val, size = ctypes.c_int(0), ctypes.c_uint(4)
        return libc.getsockopt(fd, SOL_GRAFT, GRAFT_NAME_TRANSPARENT,
                               ctypes.byref(val), ctypes.byref(size)) == 0
    ns = fcntl.ioctl(fd, SIOCGSKNS)
    try:
        return os.fstat(ns).st_ino != HERE
    finally:
        os.close(ns)


def peer_of(s, dst):
    s.settimeout(5)
    s.connect(dst)
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(100)
        if not chunk:
            break
        data += chunk
    s.close()
    return data.decode().split()[1] if data else "nothing"


def prime():
    """One normal graft: arms speculation for this process."""
    return peer_of(socket.socket(), ("127.0.0.1", PEER))


def local_server():
    ls = socket.socket()
    ls.bind(("127.0.0.3", 0))
    ls.listen(8)
    ls.settimeout(5)
    return ls, ls.getsockname()[1]


def check_view_and_options():
    s = socket.socket()
    check("a socket() after a graft is a stocked host socket", stocked(s))
    check("getsockname() of a stocked socket is the program's 0.0.0.0:0",
          s.getsockname() == ("0.0.0.0", 0), s.getsockname())
    kind = (s.getsockopt(socket.SOL_SOCKET, socket.SO_DOMAIN),
            s.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL))
    check("SO_DOMAIN and SO_PROTOCOL of a stocked socket: AF_INET, TCP",
          kind == (socket.AF_INET, socket.IPPROTO_TCP), kind)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 50000)
    want = s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    s.settimeout(5)
    s.connect(("127.0.0.1", PEER))
    check("options set before connect() keep the stocked socket", stocked(s))
    nodelay = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    rcvbuf = s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    check("TCP_NODELAY and SO_RCVBUF set before connect() are in effect after it",
          nodelay == 1 and rcvbuf == want, f"nodelay {nodelay}, rcvbuf {rcvbuf} (set {want})")
    data = s.recv(100).decode().split()
    check("the stocked socket's connection leaves through ep-out (127.0.0.2)",
          data[1:2] == ["127.0.0.2"], data)
    s.close()


def flags(fd):
    return (bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC),
            bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK))


def check_flags():
    plain = libc.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
    nb = libc.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK, 0)
    both = libc.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK |
                       socket.SOCK_CLOEXEC, 0)
    check("flags: the three sockets are stocked ones",
          all(stocked(fd) for fd in (plain, nb, both)))
    check("flags: socket(SOCK_STREAM) has neither FD_CLOEXEC nor O_NONBLOCK",
          flags(plain) == (False, False), flags(plain))
    check("flags: SOCK_NONBLOCK alone gives O_NONBLOCK without FD_CLOEXEC",
          flags(nb) == (False, True), flags(nb))
    check("flags: SOCK_NONBLOCK|SOCK_CLOEXEC gives both",
          flags(both) == (True, True), flags(both))
    return plain, nb, both


def inheritable():
    """This process's descriptors without FD_CLOEXEC, 0-2 aside."""
    fds = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            if int(name) > 2 and not fcntl.fcntl(int(name), fcntl.F_GETFD) & fcntl.FD_CLOEXEC:
                fds.add(int(name))
        except OSError:
            pass  # the listing's own
    return fds


def child_fds(how):
    """Descriptors a fork+exec'd (or posix_spawn'ed) ls sees, 0-2 aside."""
    r, w = os.pipe()
    argv = ["ls", "/proc/self/fd"]
    env = {"PATH": "/usr/bin:/bin"}
    if how == "fork":
        pid = os.fork()
        if pid == 0:
            os.dup2(w, 1)
            os.execve("/bin/ls", argv, env)
    else:
        pid = os.posix_spawn("/bin/ls", argv, env, file_actions=[(os.POSIX_SPAWN_DUP2, w, 1)])
    os.close(w)
    out = b""
    while chunk := os.read(r, 4096):
        out += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return set(int(x) for x in out.split() if int(x) > 2)


def check_exec(plain, nb):
    want = inheritable()
    for how in ("fork", "posix_spawn"):
        got = child_fds(how)
        # ls's own directory descriptor: the lowest one free.
        extra = sorted(got - want)[1:]
        check(f"{how}+exec: the child holds no stocked socket ({len(extra)} extra descriptors)",
              not extra, extra)
        check(f"{how}+exec: the sockets made without SOCK_CLOEXEC are inherited",
              {plain, nb} <= got, (plain, nb, sorted(got)))


def check_swap_backs():
    s = socket.socket()
    s.bind(("127.0.0.3", 0))
    check("bind(): the stocked socket becomes a namespace socket", not stocked(s))
    s.listen(4)
    c = socket.socket()
    c.settimeout(5)
    c.connect(s.getsockname())
    a, _ = s.accept()
    check("bind(): it listens and accepts in the namespace (127.0.0.3)",
          not stocked(c) and a.getpeername() == c.getsockname())
    for x in (a, c, s):
        x.close()
    s = socket.socket()
    s.listen(4)
    port = s.getsockname()[1]
    c = socket.create_connection(("127.0.0.3", port), 5)
    check("listen() without bind(): a namespace listener on a port of its own",
          not stocked(s) and port != 0 and s.accept()[0].getpeername() == c.getsockname())
    c.close()
    s.close()
    ls, port = local_server()
    s = socket.socket()
    check("uncovered: the socket was a stocked one", stocked(s))
    s.settimeout(5)
    s.connect(("127.0.0.3", port))
    a, peer = ls.accept()
    check("uncovered: connect() to 127.0.0.3 reaches the namespace's own server",
          not stocked(s) and peer == s.getsockname(), (peer, s.getsockname()))
    for x in (a, s, ls):
        x.close()
    s = socket.socket()
    s.setsockopt(socket.SOL_IP, 15, 1)  # IP_FREEBIND: must precede the bind
    check("an option that must precede the bind swaps the stocked socket back",
          not stocked(s) and s.getsockopt(socket.SOL_IP, 15) == 1)
    s.close()
    s = socket.socket()
    d = os.dup(s.fileno())
    check("dup(): both numbers hold the namespace socket", not stocked(s) and not stocked(d))
    os.close(d)
    s.close()


def check_other_endpoint():
    s = socket.socket()
    was = stocked(s)
    got = peer_of(s, ("127.0.0.6", PEER))
    check("another endpoint's mapping: grafted onto ep-out2 (127.0.0.4) instead",
          was and got == "127.0.0.4", (was, got))
    s = socket.socket()
    was = stocked(s)
    got = peer_of(s, ("127.0.0.6", PEER))
    check("the next socket() speculates on ep-out2, the endpoint used last",
          was and got == "127.0.0.4", (was, got))


def check_ipv6():
    got = peer_of(socket.socket(socket.AF_INET6), ("::1", PEER))
    s = socket.socket(socket.AF_INET6)
    check("IPv6: after an IPv6 graft a socket(AF_INET6) is stocked (ep-out6)", stocked(s) and got == "::1")
    check("IPv6: getsockname() shows [::]:0", s.getsockname()[:2] == ("::", 0), s.getsockname())
    check("IPv6: its connection goes through ep-out6", peer_of(s, ("::1", PEER)) == "::1")


def main():
    check("a first connect() is grafted the normal way", prime() == "127.0.0.2")
    check_view_and_options()
    plain, nb, both = check_flags()
    check_exec(plain, nb)
    for fd in (plain, nb, both):
        os.close(fd)
    check_swap_backs()
    check_other_endpoint()
    check_ipv6()


def never():
    ls, port = local_server()
    for _ in range(50):
        s = socket.socket()
        s.settimeout(5)
        s.connect(("127.0.0.3", port))
        ls.accept()[0].close()
        s.close()
    print("never done", flush=True)


def adapt():
    prime()
    stocked_n = 0
    for _ in range(120):
        s = socket.socket()
        stocked_n += stocked(s)
        s.bind(("0.0.0.0", 0))
        s.close()
    s = socket.socket()
    print("stocked", stocked_n, flush=True)
    print("late", "stocked" if stocked(s) else "namespace", flush=True)


def v4mapped():
    dst = ("::ffff:127.0.0.1", PEER)
    first = peer_of(socket.socket(socket.AF_INET6), dst)
    s = socket.socket(socket.AF_INET6)
    was, name = stocked(s), s.getsockname()[:2]
    print("v4mapped", first, was, *name, peer_of(s, dst), flush=True)


def down(waitfile):
    prime()
    print("primed", flush=True)
    for _ in range(100):
        if os.path.exists(waitfile):
            break
        time.sleep(0.1)
    time.sleep(2.3)
    t0 = time.monotonic()
    s = socket.socket()
    print("down", stocked(s), "%.2f" % (time.monotonic() - t0), flush=True)


if MODE == "main":
    main()
elif MODE == "names":
    prime()
    s = socket.socket()
    print("names", *s.getsockname(), stocked(s), flush=True)
elif MODE == "once":
    print("once", prime(), flush=True)
elif MODE == "never":
    never()
elif MODE == "adapt":
    adapt()
elif MODE == "v4mapped":
    v4mapped()
elif MODE == "down":
    down(os.environ["SPEC_WAIT"])
sys.exit(1 if failed else 0)
