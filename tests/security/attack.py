"""Attacks on the graft broker, each as the attacker would perform it.

    /usr/bin/python3 attack.py SUBCOMMAND SOCKET [ARGS...]

Every subcommand prints one line and exits 0 when the broker refused (or,
for `served`, when a normal client was served), 1 when the attack worked,
2 when the attack could not be set up. tests/security.sh runs them as the
right user in the right namespace.
"""
import ctypes
import errno
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wire  # noqa: E402


def out(verdict, line):
    print(f"{verdict}: {line}", flush=True)
    sys.exit({"REFUSED": 0, "SERVED": 0, "GRANTED": 1, "SLOW": 1, "SETUP": 2}[verdict])


def served(sock, ep, limit="2"):
    """A normal client: one socket from endpoint `ep` within `limit` seconds."""
    t0 = time.monotonic()
    try:
        status, msg, fd = wire.ask_socket(sock, ep, timeout=float(limit))
    except OSError as e:
        out("SLOW", f"no answer within {limit} s ({e})")
    ms = (time.monotonic() - t0) * 1000
    if fd is None:
        out("SLOW", f"refused after {ms:.0f} ms: status {status}: {msg}")
    os.close(fd)
    out("SERVED", f"socket from {ep} in {ms:.1f} ms")


def admin_ops(sock, victim_ns, userns=""):
    """Item 1: a process with uid 0 but no capabilities in the initial user namespace."""
    if os.geteuid() != 0:
        out("SETUP", f"euid is {os.geteuid()}, not 0")
    if userns:
        if str(os.stat("/proc/self/ns/user").st_ino) == os.environ.get("INIT_USERNS"):
            out("SETUP", "not in a new user namespace")
    elif wire.cap_eff() != 0:
        out("SETUP", f"CapEff is {wire.cap_eff():#x}, not 0")
    granted = []
    evil = {"name": "evil", "type": "ipv4", "addr": "0.0.0.0", "port": "dynamic"}
    r = wire.ask_json(sock, wire.OP_EP_ADD, {"endpoint": evil})
    if r.get("ok"):
        status, msg, fd = wire.ask_socket(sock, "evil", port=int(os.environ.get("LOWPORT", "1")))
        granted.append(f"EP_ADD 0.0.0.0 port dynamic in its own namespace (then a socket: status {status})")
        if fd is not None:
            os.close(fd)
    vfd = os.open(victim_ns, os.O_RDONLY)
    try:
        r = wire.ask_json(sock, wire.OP_EP_ADD, {"endpoint": dict(evil, name="evil2")}, [("act", vfd)])
        if r.get("ok"):
            granted.append("EP_ADD in another namespace")
        r = wire.ask_json(sock, wire.OP_EP_DEL, {"name": "ep-fixed"}, [("act", vfd)])
        if r.get("ok"):
            granted.append("EP_DEL of another namespace's endpoint")
        r = wire.ask_json(sock, wire.OP_EP_LIST, {}, [("act", vfd)])
        if r.get("ok") and any(e.get("name") == "ep-dyn" for e in r.get("endpoints", [])):
            granted.append("EP_LIST of another namespace")
    finally:
        os.close(vfd)
    r = wire.ask_json(sock, wire.OP_STATUS, {})
    if r.get("ok"):
        granted.append(f"STATUS ({len(r.get('namespaces', []))} namespaces)")
    if granted:
        out("GRANTED", "; ".join(granted))
    out("REFUSED", "EP_ADD (own and other namespace), EP_DEL, EP_LIST of others, STATUS")


def inode_reuse(sock, ready_file, go_file):
    """Item 2: connect from a throwaway namespace that then dies; wait for its inode to be reused."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)  # created in the attacker's own namespace
    s.settimeout(5)
    uid, gid = os.getuid(), os.getgid()
    wire.unshare(wire.CLONE_NEWUSER | wire.CLONE_NEWNET)
    wire.map_root(uid, gid)
    ino = wire.netns_ino()
    s.connect(sock)
    time.sleep(0.5)  # the broker accepts and looks at /proc/PID/ns/net
    wire.unshare(wire.CLONE_NEWNET)  # leave: nothing holds the throwaway namespace any more
    with open(ready_file + ".tmp", "w") as f:
        f.write(str(ino))
    os.rename(ready_file + ".tmp", ready_file)
    alive = wire.deadline(40)
    seq = 1
    while alive() and not os.path.exists(go_file):
        time.sleep(1)
        seq += 1
        wire.send(s, wire.json_req(wire.OP_EP_LIST, {"fds": []}, seq))  # stay active
        wire.recv(s)
    if not os.path.exists(go_file):
        out("SETUP", "root never reused the namespace inode")
    ep = open(go_file).read().strip()
    wire.send(s, wire.json_req(wire.OP_EP_LIST, {"fds": []}, 100))
    listing = wire.json_body(wire.recv(s)[0])
    wire.send(s, wire.sock_req(ep, seq=101))
    data, fds = wire.recv(s)
    status, _fam, msg = wire.sock_status(data)
    for f in fds:
        os.close(f)
    names = [e.get("name") for e in listing.get("endpoints", [])]
    if status == 0 or ep in names:
        out("GRANTED", f"namespace {ino} reused: sees {names}, socket from {ep} status {status}")
    out("REFUSED", f"old connection of namespace {ino}: sees {names}; {ep}: status {status} ({msg})")


def pid_reuse(sock, pid_file, go_file, ep):
    """Item 2: the connecting process exits before accept; its PID goes to another namespace's process."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    child = os.fork()
    if child == 0:
        try:
            s.connect(sock)
        finally:
            os._exit(0)
    os.waitpid(child, 0)  # the PID is free now; the connection is the parent's
    with open(pid_file + ".tmp", "w") as f:
        f.write(str(child))
    os.rename(pid_file + ".tmp", pid_file)
    alive = wire.deadline(30)
    while alive() and not os.path.exists(go_file):
        time.sleep(0.1)
    if not os.path.exists(go_file):
        out("SETUP", "no process took the PID")
    wire.send(s, wire.sock_req(ep))
    data, fds = wire.recv(s)
    if not data:
        out("REFUSED", "the broker closed the connection")
    status, _fam, msg = wire.sock_status(data)
    for f in fds:
        os.close(f)
    if status == 0:
        out("GRANTED", f"PID {child} reused by a process in the victim namespace: socket from {ep}")
    out("REFUSED", f"{ep}: status {status} ({msg})")


def spawn_at_pid(pid, netns, seconds):
    """Root helper for pid_reuse: a process with exactly PID `pid` inside `netns`."""
    pid = int(pid)
    for _ in range(200):
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(pid - 1))
        c = os.fork()
        if c == 0:
            if os.getpid() != pid:
                os._exit(3)
            fd = os.open(netns, os.O_RDONLY)
            wire.setns(fd, wire.CLONE_NEWNET)
            os.close(fd)
            sys.stdout.flush()
            time.sleep(float(seconds))
            os._exit(0)
        if c == pid:
            print(c, flush=True)
            os._exit(0)  # the child lives on, reparented
        os.waitpid(c, 0)
    out("SETUP", f"could not get PID {pid}")


def main_thread_exit(sock, ep):
    """Item 2: a client whose main thread has exited (the thread group leader is a zombie)."""
    result = []

    def worker():
        time.sleep(0.3)
        try:
            status, msg, fd = wire.ask_socket(sock, ep)
            if fd is not None:
                os.close(fd)
            print(("SERVED" if status == 0 else "SLOW") + f": main thread gone: status {status} {msg}",
                  flush=True)
            os._exit(0 if status == 0 else 1)
        except OSError as e:
            print(f"SLOW: {e}", flush=True)
            os._exit(1)

    t = threading.Thread(target=worker)
    t.start()
    result.append(t)
    ctypes.CDLL(None).pthread_exit(None)


def pass_fd(sock, ready_file, linger):
    """Item 3: pass the broker a TCP socket whose close blocks (SO_LINGER, full send queue)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    c.connect(srv.getsockname())
    peer, _ = srv.accept()  # never read
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.setblocking(False)
    sent = 0
    try:
        for _ in range(100000):
            sent += c.send(b"x" * 65536)
    except BlockingIOError:
        pass
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, int(linger)))
    s = wire.connect(sock)
    verdict = "GRANTED"
    try:
        wire.send(s, wire.json_req(wire.OP_EP_LIST, {"fds": ["act"]}), [c.fileno()])
        what = f"the broker took a TCP socket with {sent} queued bytes and SO_LINGER {linger} s"
    except OSError as e:
        verdict, what = "REFUSED", f"sendmsg with SCM_RIGHTS: {e.strerror}"
    c.close()  # the broker's copy is now the last one
    with open(ready_file, "w") as f:
        f.write(what)
    time.sleep(float(linger) + 1)
    peer.close()
    out(verdict, what)


def low_port(sock, ep, port):
    """Item 4: a `port dynamic` endpoint asked for a port below ip_unprivileged_port_start."""
    status, msg, fd = wire.ask_socket(sock, ep, port=int(port))
    if fd is None:
        out("REFUSED", f"port {port}: status {status} ({msg})")
    s = socket.socket(fileno=fd)
    name = s.getsockname()
    s.listen(1)
    s.close()
    out("GRANTED", f"uid {os.getuid()} holds a host socket bound to {name[0]}:{name[1]} and listened")


def reuseport(sock, ep, port):
    """Item 4: join a root service's SO_REUSEPORT group through a `port dynamic` endpoint."""
    one = struct.pack("i", 1)
    status, msg, fd = wire.ask_socket(sock, ep, port=int(port),
                                      opts=[(socket.SOL_SOCKET, socket.SO_REUSEPORT, one)])
    if fd is None:
        out("REFUSED", f"SO_REUSEPORT on port {port}: status {status} ({msg})")
    s = socket.socket(fileno=fd)
    s.listen(8)
    s.close()
    out("GRANTED", f"uid {os.getuid()} joined the SO_REUSEPORT group on port {port} and listened")


def rebind(sock, ep, addr, port, reuseport=""):
    """Item 4: a client socket of a `port dynamic` endpoint (bound to its
    address, the port left to connect()) bound again elsewhere by its holder,
    then listening: an ingress into the target namespace nobody granted, or,
    with SO_REUSEPORT, a share of a root service's connections."""
    status, msg, fd = wire.ask_socket(sock, ep)
    if fd is None:
        out("SETUP", f"no client socket from {ep}: status {status} ({msg})")
    s = socket.socket(fileno=fd)
    was = s.getsockname()
    try:
        if reuseport:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind((addr, int(port)))
        s.listen(8)
    except OSError as e:
        out("REFUSED", f"the socket bound to {was[0]}:{was[1]} cannot be bound to {addr}:{port} "
            f"and listen ({e.strerror})")
    finally:
        s.close()
    out("GRANTED", f"uid {os.getuid()} bound its client socket of {ep} to {addr}:{port}"
        f"{' with SO_REUSEPORT' if reuseport else ''} and listened")


def pile(sock, ep, nconn, nreq, limit):
    """Item 5: GRAFT_OP_SOCKETS requests whose replies are never read."""
    conns = []
    sent = 0
    for _ in range(int(nconn)):
        s = wire.connect(sock)
        s.setblocking(False)
        for i in range(int(nreq)):
            try:
                wire.send(s, wire.socks_req(ep, 32, seq=i + 1))
                sent += 1
            except BlockingIOError:
                break
        conns.append(s)
    time.sleep(1.5)
    held = 0
    for s in conns:
        while True:
            try:
                data, fds = wire.recv(s)
            except (BlockingIOError, OSError):
                break
            if not data:
                break
            held += len(fds)
            for f in fds:
                os.close(f)
        s.close()
    verdict = "GRANTED" if held > int(limit) else "REFUSED"
    out(verdict, f"{sent} unread batch requests on {nconn} connections left {held} host sockets queued "
        f"(limit {limit})")


def unix_hang(sock, ep, path, seconds):
    """Item 6: a listener with backlog 0 that never accepts, on a unix endpoint's path."""
    lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lst.bind(path)
    lst.listen(0)
    filler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    filler.connect(path)  # the backlog is full now: the next connect() blocks
    s = wire.connect(sock)
    wire.send(s, wire.sock_req(ep))
    print(f"SENT: request for {ep} with {path} full", flush=True)
    time.sleep(float(seconds))
    lst.close()
    filler.close()
    s.settimeout(2)
    try:
        data, fds = wire.recv(s)
        for f in fds:
            os.close(f)
        status, _f, msg = wire.sock_status(data)
        out("REFUSED", f"{ep}: status {status} ({msg})")
    except OSError as e:
        out("REFUSED", f"{ep}: no answer ({e})")


def unix_symlink(sock, ep, link, target):
    """Item 6: a directory on a unix endpoint's path replaced by a symlink to a root directory."""
    os.rmdir(link)
    os.symlink(target, link)
    status, msg, fd = wire.ask_socket(sock, ep)
    if fd is None:
        out("REFUSED", f"{ep} through a symlinked directory: status {status} ({msg})")
    s = socket.socket(fileno=fd)
    name = s.getsockname()
    s.close()
    out("GRANTED", f"uid {os.getuid()} got a socket bound at {name!r} through the symlink")


def abstract(sock, ep, name):
    """Item 7: through a unix endpoint, reach an abstract socket of the target namespace."""
    reached = []
    for typ in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        status, msg, fd = wire.ask_socket(sock, ep, type_=typ)
        if fd is None:
            continue
        s = socket.socket(fileno=fd)
        try:
            if typ == socket.SOCK_STREAM:
                s.connect("\0" + name)
            else:
                s.sendto(b"hello", "\0" + name + "-dgram")
            reached.append("stream" if typ == socket.SOCK_STREAM else "datagram")
        except OSError:
            pass
        finally:
            s.close()
    if reached:
        out("GRANTED", f"reached the target namespace's abstract socket @{name} ({', '.join(reached)})")
    out("REFUSED", f"no abstract address of the target namespace reachable through {ep}")


def ioctl_ifdown(sock, ep, ifname):
    """Item 7: SIOCSIFFLAGS through a grafted socket by a client with CAP_NET_ADMIN only."""
    import fcntl
    status, msg, fd = wire.ask_socket(sock, ep, type_=socket.SOCK_DGRAM)
    if fd is None:
        out("REFUSED", f"{ep}: status {status} ({msg})")
    SIOCGIFFLAGS, SIOCSIFFLAGS = 0x8913, 0x8914
    req = struct.pack("16sh14x", ifname.encode(), 0)
    try:
        flags = struct.unpack_from("16sh", fcntl.ioctl(fd, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(fd, SIOCSIFFLAGS, struct.pack("16sh14x", ifname.encode(), flags & ~1))
    except OSError as e:
        os.close(fd)
        out("REFUSED", f"SIOCSIFFLAGS on {ifname}: {e.strerror}")
    os.close(fd)
    out("GRANTED", f"took {ifname} down in the endpoint's target namespace")


def evict(sock, ep, nconn, ready_file, stop_file):
    """Item 8: one uid opens connections until the broker's --max is reached."""
    conns = []
    for _ in range(int(nconn)):
        try:
            conns.append(wire.connect(sock))
        except OSError:
            break
    time.sleep(0.5)  # the broker accepts them all
    with open(ready_file, "w") as f:
        f.write(f"{len(conns)} connections")
    alive = wire.deadline(20)
    while alive() and not os.path.exists(stop_file):
        time.sleep(0.1)
    open_ = 0
    for s in conns:
        s.setblocking(False)
        try:
            open_ += s.recv(1) != b""
        except BlockingIOError:
            open_ += 1
        except OSError:
            pass
        s.close()
    out("REFUSED", f"opened {len(conns)} connections, {open_} still open")


def victim_conn(sock, ep, ready_file, go_file):
    """Item 8: a client of another uid that connected first and uses its connection after the flood."""
    s = wire.connect(sock)
    wire.send(s, wire.sock_req(ep, seq=1))
    data, fds = wire.recv(s)
    for f in fds:
        os.close(f)
    with open(ready_file, "w") as f:
        f.write("connected")
    alive = wire.deadline(20)
    while alive() and not os.path.exists(go_file):
        time.sleep(0.1)
    try:
        wire.send(s, wire.sock_req(ep, seq=2))
        data, fds = wire.recv(s)
    except OSError as e:
        out("GRANTED", f"the other uid's connections evicted this one ({e.strerror})")
    if not data:
        out("GRANTED", "the other uid's connections evicted this one")
    for f in fds:
        os.close(f)
    status, _f, msg = wire.sock_status(data)
    out("REFUSED" if status == 0 else "SETUP", f"connection kept through the flood: status {status}")


def dup3_race(sock, ready_file, port, scratch):
    """Item 12: another thread reuses a descriptor number while libgraft grafts it."""
    s = socket.socket()
    fd = s.fileno()
    res = {}

    def grafting():
        try:
            s.connect(("127.0.0.1", int(port)))
            res["a"] = "connected"
        except OSError as e:
            res["a"] = e.strerror

    with open(ready_file + ".start", "w") as f:
        f.write("up")
    time.sleep(1)  # the broker gets stopped meanwhile
    t = threading.Thread(target=grafting)
    t.start()
    time.sleep(0.5)  # the graft is waiting for the (stopped) broker
    os.close(fd)
    f = os.open(scratch, os.O_RDWR | os.O_CREAT, 0o600)
    if f != fd:
        os.dup2(f, fd)
        os.close(f)
    ino = os.fstat(fd).st_ino
    with open(ready_file, "w") as f:
        f.write("reopened")
    t.join(20)
    s.detach()
    st = os.fstat(fd)
    if st.st_ino != ino:
        kind = "a socket" if (st.st_mode & 0o170000) == 0o140000 else "something else"
        out("GRANTED", f"fd {fd}, reopened as a file by another thread, is now {kind} "
            f"(connect: {res.get('a')})")
    out("REFUSED", f"fd {fd} still holds the other thread's file (connect: {res.get('a')})")


def fork_leak(sock, port):
    """Item 12: a thread's broker connection and socket stock must not leak into a forked child."""
    conns = []
    done = threading.Event()
    connected = threading.Event()

    def grafting():
        c = socket.socket()
        c.connect(("127.0.0.1", int(port)))
        conns.append(c)
        connected.set()
        done.wait(20)  # this thread stays alive, holding its broker connection and stock

    t = threading.Thread(target=grafting)
    t.start()
    connected.wait(10)
    if not conns:
        out("SETUP", "the grafting thread did not connect")
    mine = {0, 1, 2, conns[0].fileno()}
    r, w = os.pipe()
    mine |= {r, w}
    child = os.fork()
    if child == 0:
        extra = []
        for name in os.listdir("/proc/self/fd"):
            n = int(name)
            try:
                if n not in mine and (os.fstat(n).st_mode & 0o170000) == 0o140000:
                    extra.append(n)
            except OSError:
                pass
        os.write(w, str(len(extra)).encode())
        os._exit(0)
    os.close(w)
    n = int(os.read(r, 64) or b"-1")
    os.waitpid(child, 0)
    done.set()
    t.join()
    if n > 0:
        out("GRANTED", f"the forked child inherited {n} sockets of another thread (broker connection, stock)")
    out("REFUSED", "the forked child holds only the application's own sockets")


COMMANDS = {
    "served": served,
    "admin-ops": admin_ops,
    "inode-reuse": inode_reuse,
    "pid-reuse": pid_reuse,
    "spawn-at-pid": lambda _sock, *a: spawn_at_pid(*a),
    "main-thread-exit": main_thread_exit,
    "pass-fd": pass_fd,
    "low-port": low_port,
    "reuseport": reuseport,
    "rebind": rebind,
    "pile": pile,
    "unix-hang": unix_hang,
    "unix-symlink": unix_symlink,
    "abstract": abstract,
    "ioctl-ifdown": ioctl_ifdown,
    "evict": evict,
    "victim-conn": victim_conn,
    "dup3-race": dup3_race,
    "fork-leak": fork_leak,
}

if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in COMMANDS:
        print(f"usage: {sys.argv[0]} {'|'.join(COMMANDS)} SOCKET [ARGS...]", file=sys.stderr)
        sys.exit(2)
    try:
        COMMANDS[sys.argv[1]](sys.argv[2], *sys.argv[3:])
    except OSError as e:
        if e.errno in (errno.ECONNRESET, errno.EPIPE):
            out("REFUSED", f"the broker closed the connection ({e.strerror})")
        raise
