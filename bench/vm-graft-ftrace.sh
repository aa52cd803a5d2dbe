#!/usr/bin/env bash
# bench/vm-graft-ftrace.sh — where af_graft's own calls spend their time per
# connection, in the VM of scripts/vm-test (af_graft.ko loaded):
#     scripts/vm-test --kernel 6.12 -- bash bench/vm-graft-ftrace.sh [-n CONNS]
#         [--raw LINES]
# `kconn graft` (bind to an endpoint back into the initial namespace,
# connect, a byte each way, SO_LINGER 0, close) and `kconn plain` make CONNS
# connections each (default 150) under the function_graph tracer limited to
# kconn's socket calls of both families (graft_create, graft_bind,
# graft_release; inet_create, inet_release for the plain socket) and their
# callees three levels down. Prints "GFTRACE TOP>CALLEE>CALLEE calls
# median_us" lines, the time per call of TOP (two callee levels at most,
# those seen in at least half the calls). Times are under tracing (each
# traced call adds its own overhead): compare callees with each other, not
# with untraced runs.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
N=150 RAW=0
while (($#)); do
	case $1 in
	-n) N=$2; shift 2 ;;
	--raw) RAW=$2; shift 2 ;;
	*) echo "vm-graft-ftrace: unknown option $1" >&2; exit 2 ;;
	esac
done
. bench/vm-lib.sh
vm_setup vm-graft-ftrace "vgf-$$" # (no namespace made: nothing to remove)
TR=/sys/kernel/tracing
[[ -e $TR/current_tracer ]] || mount -t tracefs nodev $TR 2>/dev/null
[[ -e $TR/available_tracers ]] && grep -qw function_graph $TR/available_tracers ||
	{ echo "vm-graft-ftrace: no function_graph tracer in this kernel" >&2; exit 77; }
"$RR" server -b 127.0.0.1 -p 7000 -t 300 >"$T/rr.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
	[[ -n $(ss -Hltn "sport = :7000") ]] && break
	sleep 0.1
done
"$NL" del ep-self >/dev/null 2>&1 # left by vm-egress.sh
"$NL" add ep-self ipv4 127.0.0.1 dynamic || exit 1
trace() { # trace MODE FUNCS...: CONNS connections of kconn MODE under the tracer
	local mode=$1
	shift
	echo nop >$TR/current_tracer
	echo >$TR/trace
	echo 4 >$TR/max_graph_depth
	printf '%s\n' "$@" >$TR/set_graph_function
	echo 8192 >$TR/buffer_size_kb
	echo 0 >$TR/tracing_on
	echo function_graph >$TR/current_tracer
	# The tracer's own options exist once it is the current one.
	echo funcgraph-tail >$TR/trace_options
	echo >$TR/trace
	echo 1 >$TR/tracing_on
	# Only kconn's calls (not the server's): its pid, set before it starts.
	bash -c 'echo $$ >'"$TR"'/set_ftrace_pid && exec "$@"' kconn \
		"$KC" "$mode" -e ep-self -H 127.0.0.1 -p 7000 -n "$N" >/dev/null
	echo 0 >$TR/tracing_on
	cp $TR/trace "$T/trace-$mode" # before the tracer changes: that empties it
	echo nop >$TR/current_tracer
	echo >$TR/set_ftrace_pid
	echo 1 >$TR/tracing_on
	echo >$TR/set_graph_function
}
trace graft graft_create graft_bind graft_release
trace plain inet_create inet_release
if ((RAW)); then
	for m in graft plain; do
		echo "vm-graft-ftrace: $m: $(wc -l <"$T/trace-$m") lines" >&2
		grep -v '^#' "$T/trace-$m" | head -n "$RAW" | sed "s/^/raw $m: /"
	done
fi
# Depth by indentation: a traced top function opens at some column, its
# callees one level (2 spaces) further in each. Medians per connection, so
# that the first (cold) calls and interrupts in the middle weigh nothing.
for m in graft plain; do
	python3 - "$T/trace-$m" <<'PY'
import re, statistics, sys
TOPS = {"graft_create", "graft_bind", "graft_release", "inet_create", "inet_release"}
DUR = re.compile(r"([0-9]+\.[0-9]+) us")
per = {}  # (top, path) -> [us per call of top]
stack, cur = [], None
for line in open(sys.argv[1], errors="replace"):
    if line.startswith("#") or "|" not in line:
        continue
    left, body = line.split("|", 1)
    body = re.sub(r" \[[^]]*\]", "", body.rstrip("\n"))
    ind = len(body) - len(body.lstrip(" "))
    name = body.strip()
    d = DUR.search(left)
    d = float(d.group(1)) if d else None
    if name.startswith("}"):
        fn = name[2:].strip("/* ").strip()
        if not stack:
            continue
        top_ind, f = stack.pop()
        if f == fn and d is not None:
            if cur is not None:
                cur.setdefault(tuple(x[1] for x in stack) + (f,), 0)
                cur[tuple(x[1] for x in stack) + (f,)] += d
        if not stack and cur is not None:
            for k, v in cur.items():
                per.setdefault(k, []).append(v)
            cur = None
        continue
    fn = name.split("(")[0]
    if not stack and fn not in TOPS:
        continue
    if not stack:
        cur = {}
    if name.endswith("{"):
        stack.append((ind, fn))
    elif d is not None and cur is not None:
        key = tuple(x[1] for x in stack) + (fn,)
        cur[key] = cur.get(key, 0) + d
        if not stack:
            for k, v in cur.items():
                per.setdefault(k, []).append(v)
            cur = None
for k in sorted(per):
    v = per[k]
    top = per.get((k[0],), v)
    if len(k) > 3 or len(v) < len(top) / 2:
        continue  # deeper than 2 callees, or in fewer than half the calls
    print("GFTRACE %-60s %5d %8.1f" % (">".join(k), len(v), statistics.median(v)))
PY
done
"$NL" del ep-self
echo "vm-graft-ftrace: $(uname -r), $N connections per mode" >&2
exit 0
