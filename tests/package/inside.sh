#!/bin/bash
# tests/package.sh, the part that runs inside the chroot (see there).
#   inside.sh VERSION NEXT_VERSION     the .debs are in /tmp/debs and /tmp/debs-next
set -uo pipefail
VERSION=$1
NEXT=$2
NS=pkgc1-$$
PY=/usr/bin/python3
export DEBIAN_FRONTEND=noninteractive
npass=0 nfail=0 nskip=0
PIDS=()
pass() { npass=$((npass + 1)); printf '  ok    %s\n' "$*"; }
fail() { nfail=$((nfail + 1)); printf '  FAIL  %s\n' "$*"; }
skip() { nskip=$((nskip + 1)); printf '  SKIP  %s\n' "$*"; }
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}
T=$(date +%s)
section() { printf '\n== %s  (+%d s)\n' "$*" $(($(date +%s) - T)); }
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	PIDS=()
	ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT
wait_for() { # SECONDS CMD...
	local n=$(($1 * 10))
	shift
	for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}
listening() { [[ -n $(ss -Hltn "src 127.0.0.1 and sport = :$1") ]]; }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Everything on this system before the packages, to compare with after the purge.
# dpkg's and debconf's own records, logs, caches and the mounts are left out.
snapshot() {
	find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp \
		-o -path /var/log -o -path /var/cache -o -path /var/lib/dpkg \) -prune -o -print |
		LC_ALL=C sort
}
section "install (dpkg -i)"
snapshot >/tmp/before.list
ls /lib/modules >/tmp/kernels
check "the chroot has a 6.1 and a 6.12 kernel's headers: $(tr '\n' ' ' </tmp/kernels)" \
	bash -c 'grep -q "^6\.1\." /tmp/kernels && grep -q "^6\.12\." /tmp/kernels'
if out=$(dpkg -i /tmp/debs/graft_"$VERSION"_*.deb /tmp/debs/af-graft-dkms_"$VERSION"_all.deb 2>&1); then
	pass "dpkg -i graft af-graft-dkms"
else
	fail "dpkg -i: $(tail -5 <<<"$out")"
fi
dpkg -L graft af-graft-dkms | LC_ALL=C sort -u >/tmp/owned.list
echo "  $(wc -l </tmp/owned.list) paths owned by the packages"

section "graft from the installed files"
check "graft on the PATH is /usr/bin/graft" test "$(command -v graft)" = /usr/bin/graft
check "no checkout here (nothing but the packages provides graft)" test ! -e /work
ver=$(graft version 2>&1)
sed 's/^/        /' <<<"$ver"
check "graft version says $VERSION" grep -q "^graft $VERSION\$" <<<"$ver"
check "the package ships the broker's /usr/lib/graft/libgraft-native.so" grep -qx /usr/lib/graft/libgraft-native.so /tmp/owned.list
check "graft version uses /usr/lib/graft/libgraft.so" grep -q "libgraft.so $VERSION (/usr/lib/graft/libgraft.so)" <<<"$ver"
check "man graft renders graft(8)" bash -c 'man -P cat graft 2>/dev/null | grep -q "graft container sockets onto the host"'
check "man page lists every command of graft help" bash -c '
	page=$(man -P cat graft 2>/dev/null)
	for c in $(graft help | sed -n "/^commands:/,/^\$/s/^  \([a-z-]*\).*/\1/p" | sort -u); do
		grep -q "graft $c" <<<"$page" || { echo "        missing: $c"; exit 1; }
	done'
complete_words() { # the completions bash offers for the words given
	bash -c 'source /usr/share/bash-completion/bash_completion
		source /usr/share/bash-completion/completions/graft
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_graft graft "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$@"
}
export -f complete_words
check "bash completes 'graft e' to ep and export" bash -c '[[ $(echo $(complete_words graft e)) == "ep export" ]]'
check "bash completes 'graft ep ' to add del show" bash -c '[[ $(echo $(complete_words graft ep "")) == "add del show" ]]'
if out=$(systemd-analyze verify /lib/systemd/system/graft.socket /lib/systemd/system/graft.service 2>&1); then
	pass "systemd-analyze verify graft.socket graft.service"
else
	fail "systemd-analyze verify: $out"
fi

section "the egress example (README) with the installed graft"
mkdir -p /tmp/www && echo "hello from the host $$" >/tmp/www/hello
PORT=$(free_port)
$PY -m http.server "$PORT" --bind 127.0.0.1 --directory /tmp/www >/dev/null 2>&1 &
PIDS+=($!)
ip netns add "$NS" && ip -n "$NS" link set lo up
# The daemon as graft.service starts it (without --state where this graft has none yet).
exec_start=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/graft.service)
read -ra daemon <<<"$exec_start"
STATE=1
if ! graft help 2>&1 | grep -q -- "--state"; then
	STATE=0
	daemon=("${daemon[@]:0:2}")
	skip "graft daemon has no --state yet (issue 14): the unit's '$exec_start' cannot run; started as '${daemon[*]}'"
fi
"${daemon[@]}" 2>/tmp/daemon.log &
DAEMON=$!
PIDS+=($DAEMON)
check "the broker listens on /run/graft/graft.sock" wait_for 30 test -S /run/graft/graft.sock
check "http server on 127.0.0.1:$PORT" wait_for 30 listening "$PORT"
check "without graft, $NS cannot reach 127.0.0.1:$PORT" \
	bash -c "! ip netns exec $NS curl -sS --max-time 5 http://127.0.0.1:$PORT/hello 2>/dev/null"
graft -n "$NS" ep add ep-out type ipv4 addr 127.0.0.1 port dynamic
check "ep show: ep-out" test "$(graft -n "$NS" ep show)" = "ep-out type ipv4 addr 127.0.0.1 port dynamic"
got=$(timeout 60 graft -n "$NS" run -e 0.0.0.0/0=ep-out -- curl -sS --max-time 20 "http://127.0.0.1:$PORT/hello" 2>&1)
check "grafted curl in $NS reaches the host's server: '$got'" test "$got" = "hello from the host $$"

section "af-graft-dkms: a module for every kernel"
for k in $(cat /tmp/kernels); do
	ko=$(ls /lib/modules/"$k"/updates/dkms/af_graft.ko* 2>/dev/null | head -1)
	if [[ -n $ko ]]; then
		pass "dkms built and installed $ko ($(modinfo -F vermagic "$ko" | cut -d' ' -f1))"
	else
		fail "no af_graft.ko for $k: $(dkms status af-graft 2>&1 | tr '\n' ' ')"
	fi
done
dkms status af-graft 2>/dev/null | sed 's/^/        /'
# A new kernel: its headers' postinst runs dkms's hook, which builds the module.
K612=$(grep '^6\.12\.' /tmp/kernels | head -1)
dkms remove "af-graft/$VERSION" -k "$K612" >/dev/null 2>&1
check "removed from $K612 by hand" bash -c "! ls /lib/modules/$K612/updates/dkms/af_graft.ko* 2>/dev/null"
dpkg-reconfigure "linux-headers-$K612" >/tmp/reconf.log 2>&1
check "linux-headers-$K612's postinst (as on a kernel upgrade) rebuilt it" \
	bash -c "ls /lib/modules/$K612/updates/dkms/af_graft.ko* >/dev/null 2>&1"

section "upgrade to $NEXT: state and running grafts survive"
P2=$(free_port)
if ((STATE)); then
	graft -n "$NS" ep add ep-in type ipv4 addr 127.0.0.1 port "$P2"
	graft -n "$NS" run -i 0.0.0.0:8080=ep-in -- $PY -m http.server 8080 --bind 0.0.0.0 \
		--directory /tmp/www >/dev/null 2>&1 &
	PIDS+=($!)
	check "grafted server in $NS listens on the host's 127.0.0.1:$P2" wait_for 60 listening "$P2"
	sum_before=$(md5sum </var/lib/graft/state.json)
	out=$(dpkg -i /tmp/debs-next/graft_"$NEXT"_*.deb 2>&1) && pass "dpkg -i graft $NEXT" || fail "dpkg -i graft $NEXT: $out"
	check "dpkg has graft $NEXT installed" test "$(dpkg-query -W -f='${Version}' graft)" = "$NEXT"
	check "the state file is kept as it was" test "$(md5sum </var/lib/graft/state.json)" = "$sum_before"
	check "the grafted server still answers" bash -c "curl -sS --max-time 10 http://127.0.0.1:$P2/hello | grep -q host"
	# No systemd in the chroot: do what the postinst's try-restart does.
	kill "$DAEMON" && wait "$DAEMON" 2>/dev/null
	"${daemon[@]}" 2>>/tmp/daemon.log &
	PIDS+=($!)
	check "the restarted broker listens" wait_for 30 test -S /run/graft/graft.sock
	check "the restarted broker has both endpoints back" \
		bash -c "[[ \$(graft -n $NS ep show | cut -d' ' -f1 | tr '\n' ' ') == 'ep-in ep-out ' ]]"
	got=$(timeout 60 graft -n "$NS" run -e 0.0.0.0/0=ep-out -- curl -sS --max-time 20 "http://127.0.0.1:$PORT/hello" 2>&1)
	check "grafted curl after the upgrade: '$got'" test "$got" = "hello from the host $$"
else
	skip "upgrade with state: graft daemon has no --state yet (issue 14)"
	out=$(dpkg -i /tmp/debs-next/graft_"$NEXT"_*.deb 2>&1) && pass "dpkg -i graft $NEXT" || fail "dpkg -i graft $NEXT: $out"
	check "dpkg has graft $NEXT installed" test "$(dpkg-query -W -f='${Version}' graft)" = "$NEXT"
fi
dpkg -L graft af-graft-dkms | LC_ALL=C sort -u >>/tmp/owned.list
cleanup

section "purge"
out=$(dpkg --purge graft af-graft-dkms 2>&1) && pass "dpkg --purge graft af-graft-dkms" || fail "dpkg --purge: $out"
left=""
while IFS= read -r p; do
	[[ -e $p || -L $p ]] || continue
	# A directory shared with other packages (/usr/bin, /lib, ...) stays.
	[[ -d $p ]] && { dpkg -S "$p" >/dev/null 2>&1 || [[ -n $(ls -A "$p") ]]; } && continue
	left+=" $p"
done </tmp/owned.list
check "no path dpkg -L listed remains${left:+:$left}" test -z "$left"
snapshot >/tmp/after.list
new=$(comm -13 /tmp/before.list /tmp/after.list)
# dkms's signing key is made by its first build ever; it belongs to dkms. The
# depmod indexes of a kernel installed without its image (6.1 here: headers
# only) are made by dkms's depmod and are the kernel's, not the packages'.
new=$(grep -v -e '^/var/lib/dkms/mok\.' -e '^/usr/lib/modules/[^/]*/modules\.[a-z.]*$' <<<"$new")
check "nothing on the filesystem that was not there before the install${new:+: $(echo $new)}" test -z "$new"
check "no af_graft.ko under /lib/modules" bash -c '! find /lib/modules -name "af_graft.ko*" | grep -q .'
check "no /var/lib/graft, /var/lib/dkms/af-graft, /usr/src/af-graft-*" \
	bash -c '! ls -d /var/lib/graft /var/lib/dkms/af-graft /usr/src/af-graft-* 2>/dev/null | grep -q .'
check "no unit enablement left" bash -c '! find /etc/systemd /var/lib/systemd -name "*graft*" | grep -q .'

printf '\n%d passed, %d failed, %d skipped in %d s\n' "$npass" "$nfail" "$nskip" $(($(date +%s) - T))
# A partial skip (no --state yet) is counted above, not turned into exit 77:
# the rest of the suite ran and passed.
((nfail == 0)) || exit 1
exit 0
