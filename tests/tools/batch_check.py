"""The broker's fast path for stock refills (native/batch.c), misused by clients.

    batch_check.py SOCKET STATE UID

Run as root, in the namespace whose endpoints fa (127.0.0.1, port dynamic)
and fb (127.0.0.2, port dynamic) the broker at SOCKET holds, its state in
the file STATE. Once the broker has made and sent a full batch of client
sockets (GRAFT_OP_SOCKETS) on a connection, its wait may make and send the
same batch again when that connection asks the same. Each check below fails
when the wait sends what the broker itself would not: another endpoint's,
another uid's or a stale endpoint's sockets, a second reply before the first
was read, or more undelivered sockets than a namespace may hold. Prints
"ok ..." or "FAIL ..." per check (exit status 1 on any failure), and
"reload" when it has redefined fa in STATE and wants the broker to read it
again (the caller answers with a line on stdin once it has).
"""
import os
import socket
import struct
import time

from grant_check import answered_in_wait, across_reload, check, finish, path, uid, wire

EAGAIN = 11
IP_BIND_ADDRESS_NO_PORT = 24
NS_INFLIGHT_MAX = 256  # cli/broker/server.ts
seq = 0


def ask(conn, ep, count=32):
    """Send one batch request (a new seq each time); its seq."""
    global seq
    seq += 1
    wire.send(conn, wire.socks_req(ep, count=count, seq=seq))
    return seq


def describe(fd):
    """(address, owner uid, IP_BIND_ADDRESS_NO_PORT) of a received socket, which is closed."""
    s = socket.socket(fileno=fd)
    try:
        return (s.getsockname(), os.fstat(fd).st_uid,
                s.getsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT))
    finally:
        s.close()


def answer(conn, want_seq):
    """(status, [describe() of each socket]) of the next reply."""
    data, fds = wire.recv(conn)
    status = wire.sock_status(data)[0]
    if struct.unpack_from("<I", data, 12)[0] != want_seq:
        for f in fds:
            os.close(f)
        return (-1, [])
    return (status, [describe(f) for f in fds])


def batch(conn, ep, count=32):
    return answer(conn, ask(conn, ep, count))


def all_like(reply, addr, owner, count=32):
    status, socks = reply
    return status == 0 and len(socks) == count and all(s == ((addr, 0), owner, 1) for s in socks)


conn = wire.connect(path)

# Refills asked again and again: sent by the wait, made as the broker makes them.
n0 = answered_in_wait()
got = [batch(conn, "fa") for _ in range(60)]
bad = sum(1 for g in got if not all_like(g, "127.0.0.1", 0))
n1 = answered_in_wait()
check(bad == 0, f"60 refills for fa: 32 of root's sockets each, bound to 127.0.0.1, no port reserved ({bad} wrong)")
check(n1 - n0 >= 50, f"the wait sent {n1 - n0} of them itself")

# Another count, another endpoint, on the granted connection: never the granted batch.
wrong = 0
for _ in range(30):
    wrong += not all_like(batch(conn, "fa"), "127.0.0.1", 0)
    wrong += not all_like(batch(conn, "fa", 5), "127.0.0.1", 0, 5)
    wrong += not all_like(batch(conn, "fb"), "127.0.0.2", 0)
check(wrong == 0, f"fa, fa x5 and fb in turn on one connection: each reply as asked ({wrong} wrong)")

# A second request before the first reply was read: refused, as the broker refuses it.
refused = served_twice = 0
for _ in range(30):
    batch(conn, "fa")
    batch(conn, "fa")  # granted, and sent by the wait
    s1 = ask(conn, "fa")
    s2 = ask(conn, "fa")
    time.sleep(0.02)  # both queued, the first reply unread
    st1, socks1 = answer(conn, s1)
    st2, socks2 = answer(conn, s2)
    refused += st1 == 0 and len(socks1) == 32 and st2 == EAGAIN and not socks2
    served_twice += st2 == 0
check(refused == 30 and served_twice == 0,
      f"a refill asked before the previous reply was read is refused with EAGAIN ({refused}/30, served {served_twice})")

# Another uid, same bytes, own connection: its own sockets.
def own_sockets():
    global seq
    c = wire.connect(path)
    seq = 1000
    return str(sum(all_like(batch(c, "fa"), "127.0.0.1", uid) for _ in range(20)))


mine = int(wire.as_uid(uid, own_sockets) or "0")
check(mine == 20, f"uid {uid} asking the same on its own connection gets its own sockets ({mine}/20)")

# Many granted connections that stop reading: the namespace's limit holds.
conns = [wire.connect(path) for _ in range(12)]
for c in conns:
    for _ in range(2):
        batch(c, "fa")  # granted, and read
for c in conns:
    ask(c, "fa")  # not read yet
time.sleep(0.3)
held = 0
for c in conns:
    c.settimeout(0.5)
    try:
        data, fds = wire.recv(c)
    except socket.timeout:
        continue
    held += len(fds)
    for f in fds:
        os.close(f)
    c.close()
check(held <= NS_INFLIGHT_MAX + len(conns),
      f"12 granted connections asking without reading hold {held} sockets (at most {NS_INFLIGHT_MAX} + 1 each)")

# fa redefined (state file read again) while this connection's refills are sent by the wait.
done, before, after, stale, served = across_reload(
    lambda: not all_like(batch(conn, "fa"), "127.0.0.3", 0), 5000, 40)
check(done and after == 40 and stale == 0,
      f"every refill after the reload has sockets bound to fa's new address ({stale} of {after} did not; {before} before)")
if done:
    check(served >= 30, f"the wait sent {served} of them itself (a new grant)")
conn.close()
finish()
