#!/usr/bin/env bash
# bench/vm-egress.sh — where a grafted connect() spends its time, in the VM of
# scripts/vm-test (af_graft.ko loaded):
#     scripts/vm-test --kernel 6.1 -- bash bench/vm-egress.sh [--reps N] [--secs S]
#         [--strace] [--perf] [--pair-only] [--alt-ko KO] [--alt-lib SO]
# Against an `rr server` on the VM's loopback, in interleaved repetitions, one
# thread each (bench/kconn.c says what each mode does):
#   loopback   kconn plain from the init namespace
#   module     kconn graft from a namespace with a dynamic endpoint: af_graft only
#   emulate    kconn emulate there: libgraft's system calls by hand
#   libgraft   kconn plain there under libgraft (kernel backend, egress mapping)
#   pair       kconn pair in the init namespace: a plain and an af_graft
#              connection in turn (endpoint ep-self back into it), per
#              connection paired: the module's own cost, whatever the load
# --pair-only runs pair (and crr) only. --alt-ko KO: each repetition
# measures again with the module KO loaded instead (rmmod/insmod, endpoints
# made again): "pair-alt"; --alt-lib SO: crr-libgraft again with that
# libgraft ("crr-libgraft-alt"). Paired before/after comparisons, one boot.
# Prints one "GBENCH {json}" line per measurement and the TIME_WAIT count each
# path leaves (SO_LINGER 0 closes should leave none). Under TCG only ratios
# and differences mean anything.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
REPS=3 STRACE=0 PERF=0 SECS=2 PAIRONLY=0 ALTKO= ALTLIB=
while (($#)); do
	case $1 in
	--reps) REPS=$2; shift 2 ;;
	--secs) SECS=$2; shift 2 ;;
	--strace) STRACE=1; shift ;;
	--perf) PERF=1; shift ;;
	--pair-only) PAIRONLY=1; shift ;;
	--alt-ko) ALTKO=$2; shift 2 ;;
	--alt-lib) ALTLIB=$2; shift 2 ;;
	*) echo "vm-egress: unknown option $1" >&2; exit 2 ;;
	esac
done
G=vbe-$$
. bench/vm-lib.sh
vm_setup vm-egress "$G"
"$RR" server -b 127.0.0.1 -p 7000 -t 900 >"$T/rr.log" 2>&1 &
PIDS+=($!)
"$RR" server -b 127.0.0.1 -p 7001 -t 900 -S >"$T/rr-spin.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
	[[ -n $(ss -Hltn "sport = :7000") && -n $(ss -Hltn "sport = :7001") ]] && break
	sleep 0.1
done
ip netns add "$G" && ip -n "$G" link set lo up
endpoints() {
	ip netns exec "$G" "$NL" add ep-out ipv4 127.0.0.1 dynamic &&
		"$NL" add ep-self ipv4 127.0.0.1 dynamic
}
endpoints || exit 1
genv=(env GRAFT_BACKEND=kernel LD_PRELOAD="$LIB" GRAFT_EGRESS_CONVERT=127.0.0.0/8=ep-out)
galt=(env GRAFT_BACKEND=kernel LD_PRELOAD="$ALTLIB" GRAFT_EGRESS_CONVERT=127.0.0.0/8=ep-out)
swap_ko() { # swap_ko KO: that module in place of the loaded one
	rmmod af_graft && insmod "$1" && endpoints ||
		{ echo "vm-egress: cannot load $1" >&2; exit 1; }
}

tw() { ss -Htan state time-wait | wc -l; }
# GMARK lines let bench/vm-egress-host read QEMU's CPU time around each one.
run() { # run PATH CMD...: one measurement
	local path=$1 out
	shift
	nstat -n >/dev/null 2>&1
	echo "GMARK begin"
	out=$("$@" 2>&1 | tail -n 1)
	echo "GMARK end"
	printf 'GBENCH {"path": "%s", "rep": %d, "tw": %d, "r": %s}\n' "$path" "$rep" "$(tw)" "${out:-null}"
	# TCP events of the run: retransmitted SYNs or listen drops are stalls.
	nstat 2>/dev/null | awk -v p="$path" -v r="$rep" \
		'/Retrans|Listen|SynRetrans|Timeouts|Drop|Overflow|Reset|Abort/ {printf "GNSTAT %s %s %s %s\n", p, r, $1, $2}'
}
echo "GBENCH {\"null\": $("$KC" null -n 20000)}"
for rep in $(seq "$REPS"); do
	run pair "$KC" pair -e ep-self -H 127.0.0.1 -p 7000 -d "$SECS"
	if [[ -n $ALTKO ]]; then
		swap_ko "$ALTKO"
		run pair-alt "$KC" pair -e ep-self -H 127.0.0.1 -p 7000 -d "$SECS"
		swap_ko "$GRAFT_VM_KO"
	fi
	if [[ -n $ALTLIB ]]; then
		# Both libgrafts, against a server that sleeps and one that
		# spins (-S, as vm-bench.sh's), in an order turned every time.
		order=(lo lib alt lo-spin lib-spin alt-spin)
		((rep % 2)) || order=(alt-spin lib-spin lo-spin alt lib lo)
		for w in "${order[@]}"; do
			p=7000
			[[ $w == *-spin ]] && p=7001
			case ${w%-spin} in
			lo) run "crr-loopback${w#lo}" "$RR" crr -H 127.0.0.1 -p $p -d "$SECS" -c 2 ;;
			lib) run "crr-libgraft${w#lib}" ip netns exec "$G" "${genv[@]}" "$RR" crr -H 127.0.0.1 -p $p -d "$SECS" -c 2 ;;
			alt) run "crr-libgraft-alt${w#alt}" ip netns exec "$G" "${galt[@]}" "$RR" crr -H 127.0.0.1 -p $p -d "$SECS" -c 2 ;;
			esac
		done
		run libgraft ip netns exec "$G" "${genv[@]}" "$KC" plain -H 127.0.0.1 -p 7000 -d "$SECS"
		run libgraft-alt ip netns exec "$G" "${galt[@]}" "$KC" plain -H 127.0.0.1 -p 7000 -d "$SECS"
		run module ip netns exec "$G" "$KC" graft -e ep-out -H 127.0.0.1 -p 7000 -d "$SECS"
	fi
	((PAIRONLY)) && continue
	run loopback "$KC" plain -H 127.0.0.1 -p 7000 -d "$SECS"
	run module ip netns exec "$G" "$KC" graft -e ep-out -H 127.0.0.1 -p 7000 -d "$SECS"
	run emulate ip netns exec "$G" "$KC" emulate -e ep-out -H 127.0.0.1 -p 7000 -d "$SECS"
	run libgraft ip netns exec "$G" "${genv[@]}" "$KC" plain -H 127.0.0.1 -p 7000 -d "$SECS"
	run crr-loopback "$RR" crr -H 127.0.0.1 -p 7000 -d "$SECS" -c 2
	run crr-libgraft ip netns exec "$G" "${genv[@]}" "$RR" crr -H 127.0.0.1 -p 7000 -d "$SECS" -c 2
done
if ((STRACE)) && command -v strace >/dev/null; then
	for m in loopback libgraft; do
		echo "vm-egress: strace -c, $m, 300 connections" >&2
		if [[ $m == loopback ]]; then
			strace -f -c -o "$T/st" "$KC" plain -H 127.0.0.1 -p 7000 -n 300 >/dev/null
		else
			ip netns exec "$G" strace -f -c -o "$T/st" "${genv[@]}" "$KC" plain -H 127.0.0.1 -p 7000 -n 300 >/dev/null
		fi
		sed "s/^/strace $m: /" "$T/st"
	done
fi
if ((PERF)) && perf version >/dev/null 2>&1; then
	# Whole-VM cpu-clock samples (2 kHz) per path, idle left out:
	# "perfn PATH CONNS SAMPLES SYMBOL" (self) and "perfc PATH CONNS
	# TOTAL PERCENT SYMBOL" (with callees) lines, which
	# bench/vm-egress-perf.py turns into samples per connection.
	for m in loopback module libgraft crr-loopback crr-libgraft; do
		echo "vm-egress: perf, $m" >&2
		case $m in
		loopback) cl=("$KC" plain) ;;
		module) cl=(ip netns exec "$G" "$KC" graft -e ep-out) ;;
		libgraft) cl=(ip netns exec "$G" "${genv[@]}" "$KC" plain) ;;
		crr-loopback) cl=("$RR" crr -c 2) ;;
		crr-libgraft) cl=(ip netns exec "$G" "${genv[@]}" "$RR" crr -c 2) ;;
		esac
		out=$(perf record -q -F 2000 -e cpu-clock -a -g -o "$T/perf.data" -- \
			"${cl[@]}" -H 127.0.0.1 -p 7000 -d "$SECS" 2>/dev/null | tail -n 1)
		n=$(sed -n 's/.*"connections": \([0-9]*\).*/\1/p' <<<"$out")
		echo "perf $m: $out"
		rep() { perf report -q -i "$T/perf.data" --stdio -g none -n "$@" 2>/dev/null | grep -v '^$'; }
		total=$(rep --no-children --sort cpu | awk '{s += $2} END {print s + 0}')
		rep --no-children --sort sym --percent-limit 0.2 | grep -v safe_halt |
			awk -v m="$m" -v n="${n:-0}" '{print "perfn", m, n, $2, $NF}' | head -n 80
		rep --children --sort sym --percent-limit 0.5 |
			awk -v m="$m" -v n="${n:-0}" -v t="$total" '{sub("%", "", $1); print "perfc", m, n, t, $1, $NF}' | head -n 150
	done
fi
exit 0
