"""The broker's fast path (native/fast.c), from clients that try to misuse it.

    fast_check.py SOCKET STATE UID

Run as root, in the namespace whose endpoints fa (127.0.0.1, port dynamic)
and fb (127.0.0.2, port dynamic) the broker at SOCKET holds, with the
broker's spin window long enough for this interpreter (--spin-us 1000) and
its state in the file STATE. The broker's wait answers a connection's
request itself when the broker granted that connection the same request
before; each check below fails when it answers one it must not. Prints
"ok ..." or "FAIL ..." per check (exit status 1 on any failure), and
"reload" when it has redefined fa in STATE and wants the broker to read it
again (the caller answers with a line on stdin once it has).
"""
import os
import socket
import struct
import time

from grant_check import answered_in_wait, across_reload, check, finish, path, stats, uid, wire

EAGAIN = 11
seq = 0


def refusal_after(before, secs=1.0):
    """Wait until the broker counted a refusal more than before (or secs passed)."""
    end = time.monotonic() + secs
    while stats()["refused"] <= before and time.monotonic() < end:
        time.sleep(0.001)


def ask(conn, ep, type_=socket.SOCK_STREAM):
    """Send one request for ep (a new seq each time); its seq."""
    global seq
    seq += 1
    wire.send(conn, wire.sock_req(ep, type_=type_, seq=seq))
    return seq


def said(data):
    """The IPv4 address a reply says its socket is bound to."""
    port, = struct.unpack_from(">H", data, 30)
    return (socket.inet_ntoa(data[32:36]), port)


def answer(conn, want_seq, replied=None):
    """(status, bound address, owner uid) of the next reply; the socket is closed."""
    data, fds = wire.recv(conn)
    status, _fam, _msg = wire.sock_status(data)
    got_seq = struct.unpack_from("<I", data, 12)[0]
    if got_seq != want_seq:
        return (-1, f"seq {got_seq} for {want_seq}", -1)
    if status != 0 or len(fds) != 1:
        for f in fds:
            os.close(f)
        return (status, None, -1)
    s = socket.socket(fileno=fds[0])
    where, owner = s.getsockname(), os.fstat(s.fileno()).st_uid
    s.close()
    if replied is not None:
        replied.append(said(data))
    return (0, where, owner)


def graft(conn, ep):
    return answer(conn, ask(conn, ep))


conn = wire.connect(path)

# A repeated request: answered in the wait, with sockets like the broker's own.
n0 = answered_in_wait()
got = [graft(conn, "fa") for _ in range(300)]
bad = [g for g in got if g != (0, ("127.0.0.1", 0), 0)]
n1 = answered_in_wait()
check(not bad, f"300 repeated requests for fa: root's sockets bound to 127.0.0.1 (wrong: {bad[:3]})")
check(n1 - n0 > 100, f"the wait answered {n1 - n0} of them itself")

# A socket answered in the wait, connected and closed by the client: closed for
# real (the peer reads its end) once the client stops asking, so the broker
# keeps no copy of what it sent past its wait.
def graft_fd(conn, ep):
    """The socket of the next reply to a request for ep (root's, bound), or None."""
    ask(conn, ep)
    data, fds = wire.recv(conn)
    if wire.sock_status(data)[0] != 0 or len(fds) != 1:
        for f in fds:
            os.close(f)
        return None
    return socket.socket(fileno=fds[0])


lsn = socket.socket()
lsn.bind(("127.0.0.1", 0))
lsn.listen(64)
n8 = answered_in_wait()
ended = 0
for _ in range(40):
    for _ in range(5):
        graft(conn, "fa")  # the grafts before it go on: it is not the first after a pause
    c = graft_fd(conn, "fa")
    if c is None:
        break
    c.connect(lsn.getsockname())
    peer, _ = lsn.accept()
    c.close()
    peer.settimeout(0.5)
    try:
        ended += peer.recv(1) == b""
    except socket.timeout:
        pass
    peer.close()
n9 = answered_in_wait()
lsn.close()
check(ended == 40, f"a socket closed by its client ends its connection at once: {ended}/40 peers read the end within 0.5 s")
check(n9 - n8 > 100, f"meanwhile the wait answered {n9 - n8} requests itself")

# Another endpoint on the same, granted, connection: never fa's sockets.
wrong = 0
for _ in range(100):
    for ep, want in (("fa", "127.0.0.1"), ("fa", "127.0.0.1"), ("fa", "127.0.0.1"), ("fb", "127.0.0.2")):
        st, where, _ = graft(conn, ep)
        wrong += st != 0 or where[0] != want
n2 = answered_in_wait()
check(wrong == 0, f"fa and fb in turn on one connection: every socket bound to its own endpoint ({wrong} wrong)")
check(n2 - n1 > 50, f"meanwhile the wait answered {n2 - n1} fa requests itself")

# A second request before the previous reply was read: refused (one reply at a time).
refused = served_twice = 0
for _ in range(50):
    for _ in range(3):
        graft(conn, "fa")
    r0 = stats()["refused"]
    for _ in range(3):
        graft(conn, "fa")  # answered in the wait again (the status request above was not)
    s1 = ask(conn, "fa")
    s2 = ask(conn, "fa")
    refusal_after(r0)  # the reply to s1 stays unread here until s2 was refused (or served: 1 s)
    st1, _, _ = answer(conn, s1)
    st2, _, _ = answer(conn, s2)
    refused += st1 == 0 and st2 == EAGAIN
    served_twice += st2 == 0
n3 = answered_in_wait()
check(refused == 50 and served_twice == 0,
      f"a request sent before the previous reply was read is refused with EAGAIN ({refused}/50, served {served_twice})")
check(n3 - n2 > 50, f"meanwhile the wait answered {n3 - n2} requests itself")

# Another uid, same bytes, own connection: its own sockets, never root's spares.
def own_sockets():
    """As uid: 200 grafts of the same request on its own connection, how many its own."""
    global seq
    c = wire.connect(path)
    seq = 1000
    out = [graft(c, "fa") for _ in range(200)]
    return str(sum(1 for g in out if g == (0, ("127.0.0.1", 0), uid)))


mine = int(wire.as_uid(uid, own_sockets) or "0")
graft(conn, "fa")  # root's connection granted again, and served last
check(mine == 200, f"uid {uid} asking the same on its own connection gets its own sockets ({mine}/200)")

# UDP: the kernel picks each socket's port; the reply says the one of the socket it carries.
n6 = answered_in_wait()
replied = []
got = [answer(conn, ask(conn, "fa", socket.SOCK_DGRAM), replied) for _ in range(200)]
match = sum(1 for g, r in zip(got, replied) if g[0] == 0 and g[1] == r and r[0] == "127.0.0.1" and r[1] != 0)
n7 = answered_in_wait()
check(match == 200, f"200 UDP requests: each reply gives its own socket's address and port ({match}/200)")
check(n7 - n6 > 100, f"the wait answered {n7 - n6} of them itself")

# fa redefined (state file read again) while this connection is being answered in the wait.
def stale_graft():
    st, where, _ = graft(conn, "fa")
    return st != 0 or where[0] != "127.0.0.3"


done, before, after, stale, served = across_reload(stale_graft, 20000, 300)
check(done and after == 300 and stale == 0,
      f"every request after the reload gets a socket bound to fa's new address ({stale} of {after} did not; {before} before)")
if done:
    check(served > 100, f"the wait answered {served} of them itself (a new grant)")
conn.close()
finish()
