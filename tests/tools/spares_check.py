"""The broker's prepared spare sockets, seen from a client and from /proc.

    spares_check.py SOCKET BROKER_PID ADDR ADDR2 UID

Run as root inside a client namespace with no endpoint named ep-prep. A
client socket with port 0 (TCP or UDP, no options) is made ahead by the
broker, with its options set and bound to the endpoint's address, and handed
out by a later request of the same kind. Checks, each printed as "ok ..." or
"FAIL ..." (exit status 1 on any failure):
  - the sockets handed out are bound to the endpoint's address (getsockname;
    UDP with the port the kernel picked, TCP with IP_BIND_ADDRESS_NO_PORT);
  - after a first request the broker holds prepared spares of that kind in
    its descriptor table, and the next request gets one of them (same inode);
  - a request of another owner (UID) never gets root's: its socket is its own;
  - deleting the endpoint closes them at once (no spare bound to ADDR left),
    and the endpoint defined again at ADDR2 hands out sockets bound there.
Speaks the wire protocol directly (tests/security/wire.py); the endpoint is
added and deleted through the broker's JSON requests, as graft does.
"""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "security"))
import wire  # noqa: E402

IP_BIND_ADDRESS_NO_PORT = 24
path, pid, addr, addr2, uid = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
failed = 0


def check(ok, what):
    global failed
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    failed += 0 if ok else 1


def ep_add(a):
    r = wire.ask_json(path, wire.OP_EP_ADD,
                      {"endpoint": {"name": "ep-prep", "type": "ipv4", "addr": a, "port": "dynamic"}})
    if not r.get("ok"):
        sys.exit(f"cannot add ep-prep at {a}: {r}")


def ep_del():
    r = wire.ask_json(path, wire.OP_EP_DEL, {"name": "ep-prep"})
    if not r.get("ok"):
        sys.exit(f"cannot delete ep-prep: {r}")


def broker_sockets():
    """Inodes of the broker's socket descriptors."""
    out = set()
    d = f"/proc/{pid}/fd"
    for name in os.listdir(d):
        try:
            link = os.readlink(f"{d}/{name}")
        except OSError:
            continue
        if link.startswith("socket:["):
            out.add(int(link[8:-1]))
    return out


def udp_bound(a):
    """(inode, uid) of the UDP sockets bound to a in the broker's (target) namespace."""
    want = "%08X" % struct.unpack("<I", socket.inet_aton(a))[0]
    rows = []
    with open(f"/proc/{pid}/net/udp") as f:
        for line in f.readlines()[1:]:
            p = line.split()
            if p[1].split(":")[0] == want:
                rows.append((int(p[9]), int(p[7])))
    return rows


def settled(fn, want, secs=1.0):
    """fn() once it equals want (or the last value after secs)."""
    end = time.monotonic() + secs
    v = fn()
    while v != want and time.monotonic() < end:
        time.sleep(0.01)
        v = fn()
    return v


def graft(conn, type_):
    wire.send(conn, wire.sock_req("ep-prep", type_=type_))
    data, fds = wire.recv(conn)
    status, _fam, msg = wire.sock_status(data)
    if status != 0 or len(fds) != 1:
        sys.exit(f"graft refused ({status}): {msg}")
    return fds[0]


def as_uid(u, type_):
    """(inode, bound address) of a socket grafted by uid u, in a child."""

    held = []  # the connection and the socket, open until the child exits

    def work():
        c = wire.connect(path)
        s = socket.socket(fileno=graft(c, type_))
        held.extend((c, s))
        return f"{os.fstat(s.fileno()).st_ino} {s.getsockname()[0]}"

    got = wire.as_uid(u, work, hold=0.2).split()  # the child holds it while the parent looks
    return int(got[0]), got[1]


ep_add(addr)
conn = wire.connect(path)

# UDP: the first request is made there and then; spares follow, bound to ADDR.
u1 = socket.socket(fileno=graft(conn, socket.SOCK_DGRAM))
name = u1.getsockname()
check(name[0] == addr and name[1] != 0, f"a UDP socket handed out is bound to {addr} with a port ({name})")
rows = settled(lambda: len(udp_bound(addr)), 3)
check(rows >= 2, f"the broker holds prepared UDP spares bound to {addr} ({rows - 1} besides ours)")
spares = {ino for ino, _ in udp_bound(addr)} - {os.fstat(u1.fileno()).st_ino}
u2 = socket.socket(fileno=graft(conn, socket.SOCK_DGRAM))
check(os.fstat(u2.fileno()).st_ino in spares, "the next UDP request gets one of them")
check(u2.getsockname()[0] == addr, f"it is bound to {addr} ({u2.getsockname()})")
ino, where = as_uid(uid, socket.SOCK_DGRAM)
check(ino not in spares and where == addr, f"uid {uid} gets a socket of its own, not root's spare")
owners = {i: o for i, o in udp_bound(addr)}
check(all(owners[i] == 0 for i in spares if i in owners), "root's spares belong to root")

# TCP: bound to the address with no port reserved; the next one is a spare too.
before = broker_sockets()
t1 = socket.socket(fileno=graft(conn, socket.SOCK_STREAM))
nport = t1.getsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT)
check(t1.getsockname() == (addr, 0) and nport == 1,
      f"a TCP socket handed out is bound to {addr}, port left to connect() ({t1.getsockname()}, NO_PORT {nport})")
made = settled(lambda: len(broker_sockets() - before) >= 2, True)
tspares = broker_sockets() - before
check(made, f"the broker holds prepared TCP spares ({len(tspares)} new sockets)")
t2 = socket.socket(fileno=graft(conn, socket.SOCK_STREAM))
check(os.fstat(t2.fileno()).st_ino in tspares, "the next TCP request gets one of them")

# Deleting the endpoint drops them at once (well within their 1 s).
held = (spares | tspares) & broker_sockets()
check(len(held) > 0, f"spares held before the deletion ({len(held)})")
t0 = time.monotonic()
ep_del()
left = settled(lambda: len(held & broker_sockets()), 0, 0.5)
check(left == 0, f"deleting ep-prep closed its spares ({left} left after {time.monotonic() - t0:.2f} s)")
ours = {os.fstat(s.fileno()).st_ino for s in (u1, u2)}
check(settled(lambda: {i for i, _ in udp_bound(addr)} - ours, set(), 0.5) == set(),
      f"no spare bound to {addr} is left")
ep_add(addr2)
u3 = socket.socket(fileno=graft(conn, socket.SOCK_DGRAM))
u4 = socket.socket(fileno=graft(conn, socket.SOCK_DGRAM))
check(u3.getsockname()[0] == addr2 and u4.getsockname()[0] == addr2,
      f"defined again at {addr2}, it hands out sockets bound there ({u3.getsockname()}, {u4.getsockname()})")
ep_del()
for s in (u1, u2, u3, u4, t1, t2):
    s.close()
conn.close()
sys.exit(1 if failed else 0)
