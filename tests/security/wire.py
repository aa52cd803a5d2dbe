"""The graft broker wire protocol (preload/graft_proto.h), spoken byte by byte.

Used by tests/security/attack.py: the attacks talk to the broker as an
attacker would, with hand-built packets, no graft code in between. Standard
library only, so it runs as any user with /usr/bin/python3.
"""
import array
import ctypes
import json
import os
import sys
import socket
import struct
import time

MAGIC = 0x54465247
VERSION = 1
OP_SOCKET, OP_EP_ADD, OP_EP_DEL, OP_EP_LIST, OP_STATUS, OP_SOCKETS = 1, 2, 3, 4, 5, 6
HDR = struct.Struct("<IHHII")  # magic, version, op, len, seq
SOCK_REQ = struct.Struct("<16siiiHH")  # after the header: ep, family, type, protocol, port, nopts
SOCKOPT = struct.Struct("<iiI32s")
SOCK_RESP_LEN = 284
MAX_FDS = 64

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000


def hdr(op, length, seq=1):
    return HDR.pack(MAGIC, VERSION, op, length, seq)


def sock_req(ep, family=socket.AF_INET, type_=socket.SOCK_STREAM, proto=0, port=0, opts=(), seq=1):
    """A GRAFT_OP_SOCKET request; opts are (level, name, bytes) triples."""
    body = SOCK_REQ.pack(ep.encode(), family, type_, proto, port, len(opts))
    for level, name, val in opts:
        body += SOCKOPT.pack(level, name, len(val), val)
    return hdr(OP_SOCKET, HDR.size + len(body), seq) + body


def socks_req(ep, count=32, family=socket.AF_INET, seq=1):
    """A GRAFT_OP_SOCKETS request for `count` client sockets."""
    body = SOCK_REQ.pack(ep.encode(), family, socket.SOCK_STREAM, 0, 0, 0) + struct.pack("<II", count, 0)
    return hdr(OP_SOCKETS, HDR.size + len(body), seq) + body


def json_req(op, body, seq=1):
    data = json.dumps(body).encode()
    return hdr(op, HDR.size + len(data), seq) + data


def connect(path, timeout=5.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(timeout)
    s.connect(path)
    return s


def send(s, pkt, fds=()):
    if fds:
        return s.sendmsg([pkt], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
    return s.send(pkt)


def recv(s, size=1 << 20):
    """One packet: (bytes, [fds]); (b"", []) when the broker closed."""
    data, anc, _flags, _ = s.recvmsg(size, socket.CMSG_SPACE(MAX_FDS * 4))
    fds = []
    for level, typ, d in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            a = array.array("i")
            a.frombytes(d[: len(d) - len(d) % 4])
            fds.extend(a)
    return data, fds


def sock_status(data):
    """(status, family, msg) of a GRAFT_OP_SOCKET(S) reply."""
    if len(data) != SOCK_RESP_LEN:
        raise ValueError(f"reply of {len(data)} bytes")
    status, family = struct.unpack_from("<ii", data, 16)
    msg = data[156:284].split(b"\0", 1)[0].decode(errors="replace")
    return status, family, msg


def json_body(data):
    return json.loads(data[HDR.size:].decode())


def ask_socket(path, ep, timeout=5.0, **kw):
    """One socket request on a new connection: (status, msg, fd or None)."""
    s = connect(path, timeout)
    try:
        send(s, sock_req(ep, **kw))
        data, fds = recv(s)
        if not data:
            for f in fds:
                os.close(f)
            return (-1, "connection closed", None)
        status, _fam, msg = sock_status(data)
        for f in fds[1:]:
            os.close(f)
        return (status, msg, fds[0] if fds and status == 0 else None)
    finally:
        s.close()


def ask_json(path, op, body, fds=(), timeout=5.0):
    """A JSON request; descriptors refused by the broker (SO_PASSRIGHTS) after
    a first request without them count as a refusal."""
    s = connect(path, timeout)
    try:
        body = dict(body)
        body.setdefault("fds", [lbl for lbl, _ in fds])
        try:
            send(s, json_req(op, body), [f for _, f in fds])
        except PermissionError:
            send(s, json_req(OP_EP_LIST, {"fds": []}))  # as graft's client does: then again
            recv(s)
            try:
                send(s, json_req(op, body), [f for _, f in fds])
            except PermissionError:
                return {"ok": False, "error": "the broker refuses descriptors from this client"}
        data, rfds = recv(s)
        for f in rfds:
            os.close(f)
        return json_body(data) if data else {"ok": False, "error": "connection closed"}
    finally:
        s.close()


def as_uid(uid, work, hold=0.0):
    """work() run in a child as uid (and gid uid); the text it returns, or "" when it failed
    (said on stderr). The child stays hold seconds after answering (its sockets with it)."""
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(r)
        try:
            os.setgid(uid)
            os.setuid(uid)
            os.write(w, work().encode())
            time.sleep(hold)
        except Exception as e:  # noqa: BLE001 (said, then answered with nothing)
            print(f"uid {uid}: {e}", file=sys.stderr)
        finally:
            os._exit(0)
    os.close(w)
    try:
        return os.read(r, 1000).decode()
    finally:
        os.close(r)
        os.waitpid(child, 0)


def cap_eff():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return -1


def unshare(flags):
    if libc.unshare(flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), "unshare")


def setns(fd, nstype=0):
    if libc.setns(fd, nstype) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), "setns")


def map_root(uid, gid):
    """After unshare(CLONE_NEWUSER): become root of the new user namespace."""
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"0 {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"0 {gid} 1")


def netns_ino():
    return os.stat("/proc/thread-self/ns/net").st_ino


def deadline(seconds):
    end = time.monotonic() + seconds
    return lambda: time.monotonic() < end
