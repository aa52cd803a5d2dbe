#!/usr/bin/env python3
"""Make a `runc spec` config.json into a grafted container's (tests/containers.sh).

usage: oci_config.py CONFIG GRAFT HOSTPORT [--preload RUNDIR] [--seccomp-listener PATH] -- ARGS...

The process runs ARGS without a terminal. The graft OCI hook (GRAFT, the
graft binary) runs at createRuntime and poststop, with GRAFT_SOCKET,
GRAFT_ATTACH_DIR and PATH from this environment (a runtime passes hooks no
environment of its own). The annotations ask for endpoint web on
127.0.0.1:HOSTPORT and the ingress mapping 0.0.0.0:80=web.
  --preload RUNDIR         LD_PRELOAD=/graft/libgraft.so, the broker's directory
                           RUNDIR at /run/graft, a writable root
  --seccomp-listener PATH  bind() and connect() notified to the seccomp agent at PATH
"""
import json
import os
import sys

args = sys.argv[1:]
if "--" not in args or len(args) < 5:
    sys.exit(__doc__.split("\n\n")[1])
path, graft, hostport, *opts = args[: args.index("--")]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = args[args.index("--") + 1 :]
c["annotations"] = {
    "graft.endpoints": f"web type ipv4 addr 127.0.0.1 port {hostport}",
    "graft.ingress": "0.0.0.0:80=web",
}
env = [f"{k}={os.environ[k]}" for k in ("GRAFT_SOCKET", "GRAFT_ATTACH_DIR", "PATH")]
c["hooks"] = {
    stage: [{"path": graft, "args": ["graft", "oci-hook", stage], "env": env}]
    for stage in ("createRuntime", "poststop")
}
while opts:
    opt, value, *opts = opts
    if opt == "--preload":
        c["process"]["env"] += ["LD_PRELOAD=/graft/libgraft.so", "GRAFT_SOCKET=/run/graft/graft.sock"]
        c["root"]["readonly"] = False
        c["mounts"].append({"destination": "/run/graft", "type": "bind", "source": value, "options": ["bind"]})
    elif opt == "--seccomp-listener":
        c["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": value,
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["bind", "connect"], "action": "SCMP_ACT_NOTIFY"}],
        }
    else:
        sys.exit(f"oci_config.py: unknown option {opt}")
json.dump(c, open(path, "w"), indent=1)
