#!/usr/bin/env bash
# bench/vm-crr.sh — what `rr crr` measures on each path, in the VM of
# scripts/vm-test (af_graft.ko loaded):
#     scripts/vm-test --kernel 6.12 -- bash bench/vm-crr.sh [--reps N]
#         [--secs S] [--threads C] [--paths "lo eg ..."] [--perf] [--stat]
#         [--sched] [--lib SO] [--lib2 SO] [--place free|cross|one]
# Against `rr server`s on the VM's loopback that sleep in epoll_wait() (as
# vm-bench.sh's crr), paths measured in an order turned every other
# repetition (--paths, default "lo eg"; C client threads, default 2):
#   lo    rr crr from the initial namespace (the VM's loopback)
#   eg    rr crr from a namespace with only lo, under libgraft (kernel
#         backend, egress mapping onto a dynamic endpoint into the initial
#         namespace): vm-bench.sh's graft-kernel-egress
#   ek    rr crr -G from that namespace: AF_GRAFT sockets bound to the
#         same endpoint by rr itself, no libgraft (the module's own cost)
#   lo1, eg1  lo and eg with one client thread
#   egnp  eg with GRAFT_POOL=0 (no speculative socket)
#   ea    eg with another build of libgraft (--lib SO, e.g. main's)
#   lw    lo started as eg is (ip netns exec, env) with libgraft preloaded,
#         no mapping (passes everything through)
#   lm    lw with an egress mapping that covers nothing it connects to
#   kp    kconn plain (one thread) from the initial namespace
#   kg    kconn graft (one thread, af_graft alone) from that namespace
#   kl    kconn plain (one thread) under libgraft as eg
#   ka    kl with the other build of libgraft (--lib)
#   eb, kb  ea and ka with a third build (--lib2)
#   both  lo and eg at once, each against its own server, started together
#         (the same moments of the machine for both)
#   X+Y   any two paths above at once, the same way (e.g. kl+ka: this
#         libgraft and the --lib one, one thread each): "GCRR" lines
#         "X+Y/X" and "X+Y/Y"
# --place: where the peers run. free (default) leaves it to the VM's
# scheduler; cross pins the rr servers to CPU 0 and every client to CPU 1;
# one pins servers and clients to CPU 0 (rr's -C for rr, taskset for kconn;
# the client's threads inherit it). On the host, `rr crr` on loopback made
# 43,000 connections/s with its threads on the server's CPU and 33,000 on
# the other one, and an unpinned run got either: a placement coin toss per
# measurement, which --place takes out.
# Each measurement prints one "GCRR {json}" line: the client's figures, the
# CPU time the whole VM spent meanwhile ([busy, system, softirq, idle]
# jiffies of /proc/stat, process start included; "pcpu": each CPU's busy
# jiffies), the TIME_WAIT sockets left
# and the TCP counters that mean a stall; GMARK lines around it let
# bench/vm-egress-host add QEMU's CPU time (GRAFT_EGRESS_SCRIPT=bench/vm-crr.sh).
# bench/vm-crr-ratios.py LOG gives the paired ratios. Once per path after
# the repetitions: --perf whole-VM cpu-clock samples ("perfd": per process
# and object, "perfc": system calls and af_graft functions with callees),
# --stat scheduler and interrupt events per connection ("pstat"), --sched
# the kernel stacks where the rr/kconn threads go to sleep ("sched", by
# bench/vm-crr-sched.py). Under TCG only ratios between paths of the same
# repetition mean anything.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
REPS=4 SECS=1.5 THREADS=2 PERF=0 SCHED=0 STAT=0 PATHS="lo eg" ALTLIB= ALTLIB2= PLACE=free
while (($#)); do
	case $1 in
	--reps) REPS=$2; shift 2 ;;
	--secs) SECS=$2; shift 2 ;;
	--threads) THREADS=$2; shift 2 ;;
	--perf) PERF=1; shift ;;
	--sched) SCHED=1; shift ;;
	--stat) STAT=1; shift ;;
	--paths) PATHS=$2; shift 2 ;;
	--lib) ALTLIB=$2; shift 2 ;;
	--lib2) ALTLIB2=$2; shift 2 ;;
	--place) PLACE=$2; shift 2 ;;
	*) echo "vm-crr: unknown option $1" >&2; exit 2 ;;
	esac
done
case $PLACE in
free) SRV_PIN=() CCPU= ;;
cross) SRV_PIN=(-C 0) CCPU=1 ;;
one) SRV_PIN=(-C 0) CCPU=0 ;;
*) echo "vm-crr: --place free, cross or one, not $PLACE" >&2; exit 2 ;;
esac
G=vcr-$$ I=vci-$$
. bench/vm-lib.sh
vm_setup vm-crr "$G" "$I"
echo "vm-crr: $(uname -r), $(nproc) CPUs, ports $(sysctl -n net.ipv4.ip_local_port_range | tr '\t' -)," \
	"tcp_tw_reuse $(sysctl -n net.ipv4.tcp_tw_reuse), clocksource" \
	"$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)," \
	"placement $PLACE" >&2
for port in 7001 7002; do
	"$RR" server -b 127.0.0.1 -p $port -t 900 "${SRV_PIN[@]}" >"$T/rr-$port.log" 2>&1 &
	PIDS+=($!)
done
for _ in $(seq 100); do
	[[ -n $(ss -Hltn "sport = :7001") && -n $(ss -Hltn "sport = :7002") ]] && break
	sleep 0.1
done
echo "vm-crr: servers on CPUs $(for p in "${PIDS[@]}"; do taskset -cp "$p" | sed 's/.*: //'; done | tr '\n' ' ')" >&2
ip netns add "$G" && ip -n "$G" link set lo up
ip netns attach "$I" 1 # the initial namespace under a name, for ip netns exec
ip netns exec "$G" "$NL" add ep-out ipv4 127.0.0.1 dynamic || exit 1
genv=(env GRAFT_BACKEND=kernel LD_PRELOAD="$LIB" GRAFT_EGRESS_CONVERT=127.0.0.0/8=ep-out)

# cpu: busy system softirq idle (jiffies) of the whole VM so far.
cpu() { awk '/^cpu / {print $2 + $3 + $4 + $6 + $7 + $8, $4, $8, $5 + $6}' /proc/stat; }
# pcpu: busy jiffies of each CPU so far, one per word.
pcpu() { awk '/^cpu[0-9]/ {printf "%d ", $2 + $3 + $4 + $6 + $7 + $8}' /proc/stat; }
client() { # client PATH: the command line of that path, placed (--place)
	local c
	c=$(client_free "$1") || return
	if [[ -z $CCPU ]]; then echo "$c"
	elif [[ " $c " == *" $RR crr "* ]]; then echo "$c -C $CCPU"
	else echo "taskset -c $CCPU $c"; fi
}
client_free() { # client_free PATH: that path's command line, unplaced
	case $1 in
	lo) echo "$RR" crr -c "$THREADS" ;;
	eg) echo ip netns exec "$G" "${genv[@]}" "$RR" crr -c "$THREADS" ;;
	ek) echo ip netns exec "$G" "$RR" crr -c "$THREADS" -G ep-out ;;
	lo1) echo "$RR" crr -c 1 ;;
	eg1) echo ip netns exec "$G" "${genv[@]}" "$RR" crr -c 1 ;;
	ea) echo ip netns exec "$G" "${genv[@]/#LD_PRELOAD=*/LD_PRELOAD=${ALTLIB:?--lib}}" "$RR" crr -c "$THREADS" ;;
	egnp) echo ip netns exec "$G" "${genv[@]}" GRAFT_POOL=0 "$RR" crr -c "$THREADS" ;;
	kp) echo "$KC" plain ;;
	kg) echo ip netns exec "$G" "$KC" graft -e ep-out ;;
	kl) echo ip netns exec "$G" "${genv[@]}" "$KC" plain ;;
	eb) echo ip netns exec "$G" "${genv[@]/#LD_PRELOAD=*/LD_PRELOAD=${ALTLIB2:?--lib2}}" "$RR" crr -c "$THREADS" ;;
	kb) echo ip netns exec "$G" "${genv[@]/#LD_PRELOAD=*/LD_PRELOAD=${ALTLIB2:?--lib2}}" "$KC" plain ;;
	ka) echo ip netns exec "$G" "${genv[@]/#LD_PRELOAD=*/LD_PRELOAD=${ALTLIB:?--lib}}" "$KC" plain ;;
	lw) echo ip netns exec "$I" env LD_PRELOAD="$LIB" "$RR" crr -c "$THREADS" ;;
	lm) echo ip netns exec "$I" env GRAFT_BACKEND=kernel LD_PRELOAD="$LIB" GRAFT_EGRESS_CONVERT=10.0.0.0/8=ep-out "$RR" crr -c "$THREADS" ;;
	*) echo "vm-crr: unknown path $1" >&2; exit 2 ;;
	esac
}
# at_once PREFIX REP X Y: paths X and Y at the same time, THREADS threads
# each, started together, each against its own server (7001 and 7002: one
# server thread for both would set both rates): both see the same moments
# of the machine, however the host's load changes (one "GCRR" line each,
# its path PREFIX followed by X or Y).
at_once() {
	local prefix=$1 rep=$2 c0 c1 i port=7001 w=()
	shift 2
	read -ra c0 <<<"$(cpu)"
	for i in 1 2; do
		read -ra cl <<<"$(client "${!i}")"
		"${cl[@]}" -H 127.0.0.1 -p $port -d "$SECS" >"$T/two-$i" 2>"$T/err-$i" &
		w+=($!)
		port=7002
	done
	wait "${w[@]}"
	read -ra c1 <<<"$(cpu)"
	for i in 1 2; do
		printf 'GCRR {"path": "%s%s", "rep": %d, "cpu": [%d, %d, %d, %d], "tw": 0, "nstat": "", "r": %s}\n' \
			"$prefix" "${!i}" "$rep" $((c1[0] - c0[0])) $((c1[1] - c0[1])) $((c1[2] - c0[2])) $((c1[3] - c0[3])) \
			"$(tail -n 1 "$T/two-$i")"
	done
}
run() { # run PATH REP
	local c0 c1 p0 p1 pc i out cl
	[[ $1 == both ]] && { at_once both- "$2" lo eg; return; }
	[[ $1 == *+* ]] && { at_once "$1/" "$2" "${1%+*}" "${1#*+}"; return; }
	read -ra cl <<<"$(client "$1")"
	nstat -n >/dev/null 2>&1
	read -ra c0 <<<"$(cpu)"
	read -ra p0 <<<"$(pcpu)"
	echo "GMARK begin"
	out=$("${cl[@]}" -H 127.0.0.1 -p 7001 -d "$SECS" 2>"$T/err" | tail -n 1)
	echo "GMARK end"
	read -ra c1 <<<"$(cpu)"
	read -ra p1 <<<"$(pcpu)"
	[[ -n $out ]] || { echo "vm-crr: $1 failed: $(head -c 200 "$T/err")" >&2; return; }
	pc=
	for i in "${!p1[@]}"; do pc+=${pc:+, }$((p1[i] - p0[i])); done
	printf 'GCRR {"path": "%s", "rep": %d, "cpu": [%d, %d, %d, %d], "pcpu": [%s], "tw": %d, "nstat": "%s", "r": %s}\n' \
		"$1" "$2" $((c1[0] - c0[0])) $((c1[1] - c0[1])) $((c1[2] - c0[2])) $((c1[3] - c0[3])) "$pc" \
		"$(ss -Htan state time-wait | wc -l)" \
		"$(nstat 2>/dev/null | awk '/SynRetrans|ListenDrops|ListenOverflows|RetransSegs|TCPTimeouts|TCPAbortOn/ {printf "%s %s ", $1, $2}')" \
		"$out"
}

read -ra order <<<"$PATHS"
for rep in $(seq "$REPS"); do
	if ((rep % 2)); then seq=("${order[@]}"); else
		seq=()
		for ((i = ${#order[@]} - 1; i >= 0; i--)); do seq+=("${order[i]}"); done
	fi
	for p in "${seq[@]}"; do run "$p" "$rep"; done
	echo "vm-crr: repetition $rep/$REPS done (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
done

if ((PERF)) && perf version >/dev/null 2>&1; then
	# Whole-VM cpu-clock samples per path: "perfd PATH CONNS ..." per
	# process and object, "perfc PATH CONNS SAMPLES SYMBOL" the samples in
	# each system call and af_graft function with what it calls (children).
	for p in "${order[@]}"; do
		[[ $p == both || $p == *+* ]] && continue
		read -ra cl <<<"$(client "$p")"
		out=$(perf record -q -F 2000 -e cpu-clock -a -g -o "$T/perf.data" -- \
			"${cl[@]}" -H 127.0.0.1 -p 7001 -d "$SECS" 2>/dev/null | tail -n 1)
		n=$(sed -n 's/.*"connections": \([0-9]*\).*/\1/p' <<<"$out")
		echo "perf $p: $out"
		perf report -q -i "$T/perf.data" --stdio -g none -n --no-children --sort comm,dso \
			2>/dev/null | grep -v '^$' | awk -v m="$p" -v n="${n:-0}" '{print "perfd", m, n, $0}' | head -n 12
		perf report -q -i "$T/perf.data" --stdio -g none -n --children --sort sym \
			--percent-limit 0.1 2>/dev/null | grep -v '^$' |
			awk -v m="$p" -v n="${n:-0}" '$NF ~ /^(__sys_|__x64_sys_|graft_|__sock_create|sock_alloc|sk_alloc|inet_create|sock_release|__fput|tcp_close|tcp_v4_connect|inet_stream_connect|sock_close|do_fcntl|ksys_|sock_recvmsg|sock_sendmsg|security_|tcp_disconnect|__inet_hash_connect|inet_bind|__inet_bind|kmem_cache|call_rcu|rcu_|mem_cgroup|__mutex|mutex_|do_exit|execve|handle_softirqs|pv_native_safe_halt|entry_SYSCALL|schedule|__schedule|ip_finish_output2|tcp_v4_rcv)/ {print "perfc", m, n, $3, $NF}' | head -n 90
	done
fi
if ((STAT)) && perf version >/dev/null 2>&1; then
	# Scheduler and interrupt events of the whole VM per connection:
	# "pstat PATH CONNS COUNT EVENT" (wake-ups, their IPIs, timers, RCU).
	ev=sched:sched_wakeup,sched:sched_switch,sched:sched_migrate_task,irq_vectors:reschedule_entry
	ev+=,irq_vectors:call_function_single_entry,irq_vectors:local_timer_entry,timer:hrtimer_start
	ev+=,ipi:ipi_send_cpu,irq:softirq_entry,power:cpu_idle,workqueue:workqueue_queue_work
	for p in "${order[@]}"; do
		[[ $p == both || $p == *+* ]] && continue
		read -ra cl <<<"$(client "$p")"
		out=$(perf stat -a -x, -e "$ev" -o "$T/stat" -- \
			"${cl[@]}" -H 127.0.0.1 -p 7001 -d "$SECS" 2>/dev/null | tail -n 1)
		n=$(sed -n 's/.*"connections": \([0-9]*\).*/\1/p' <<<"$out")
		echo "stat $p: $out"
		awk -F, -v m="$p" -v n="${n:-0}" '$3 != "" {print "pstat", m, n, $1, $3}' "$T/stat"
	done
fi
if ((SCHED)) && perf version >/dev/null 2>&1; then
	# Where the client and server threads go to sleep: the kernel stacks
	# of their context switches that leave them waiting ("sched PATH
	# CONNS SWITCHES STACK", the innermost frames past the scheduler).
	for p in "${order[@]}"; do
		[[ $p == both || $p == *+* ]] && continue
		read -ra cl <<<"$(client "$p")"
		out=$(perf record -q -e sched:sched_switch -a -g -o "$T/sched.data" -- \
			"${cl[@]}" -H 127.0.0.1 -p 7001 -d "$SECS" 2>/dev/null | tail -n 1)
		n=$(sed -n 's/.*"connections": \([0-9]*\).*/\1/p' <<<"$out")
		echo "sched $p: $out"
		perf script -i "$T/sched.data" -F comm,tid,event,trace,ip,sym 2>/dev/null |
			python3 "$ROOT/bench/vm-crr-sched.py" "$p" "${n:-0}"
	done
fi
exit 0
