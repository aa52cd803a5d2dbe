#!/usr/bin/env bash
# The Debian packages, built by scripts/package, installed with dpkg -i into a
# throwaway Debian 12 chroot, used from the installed files only, upgraded, and
# purged:
#
#   host (untouched but for .tools/pkg-chroot and a scratch dir)
#   └─ unshare -m: private mounts (proc, sys, dev, tmpfs /run and /tmp)
#      └─ chroot .tools/pkg-chroot  bookworm + dkms + headers 6.1 and 6.12 (bpo)
#           dpkg -i graft af-graft-dkms
#           graft daemon (the unit's ExecStart)   ns pkgc1-PID ─ graft run ─ curl
#           python3 http.server 127.0.0.1:PORT  <──────────────────────┘
#           dkms: af_graft.ko for every kernel; again after a kernel's postinst
#           dpkg -i (newer version): state and a grafted server survive
#           dpkg --purge: nothing of either package left (dpkg -L before, find after)
#
# The chroot is made once with mmdebstrap (about 10 minutes on a busy 2-core
# machine, packages from Debian's archive) and reused; everything the test
# adds to it is removed again. The mount namespace dies with the test, taking
# its mounts, network namespace and processes' /run with it.
#
#   tests/package.sh [--rebuild-chroot]
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CHROOT=$ROOT/.tools/pkg-chroot
# Bump when the recipe below changes: a chroot made by another recipe is remade.
RECIPE=2
REBUILD=0
for a in "$@"; do
	case $a in
	--rebuild-chroot) REBUILD=1 ;;
	*) echo "usage: tests/package.sh [--rebuild-chroot]" >&2; exit 2 ;;
	esac
done
[[ $(id -u) -eq 0 ]] || { echo "tests/package.sh: needs root (chroot, mounts)" >&2; exit 1; }
T0=$SECONDS

# make_chroot: bookworm minbase with what the packages and the test need, and
# the newest 6.12 kernel (image + headers) from bookworm-backports.
make_chroot() {
	command -v mmdebstrap >/dev/null || apt-get install -y -qq mmdebstrap >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq mmdebstrap >/dev/null; } || return 1
	rm -rf "$CHROOT" "$CHROOT.new"
	local mirror=http://deb.debian.org/debian
	# INITRD=No: the kernels are there for their headers; no initramfs is made.
	# shellcheck disable=SC2016 # $1 is mmdebstrap's, expanded by its hook shell
	mmdebstrap --mode=root --variant=minbase --dpkgopt=force-unsafe-io \
		--aptopt='APT::Install-Recommends "false"' --aptopt='Acquire::Languages "none"' \
		--include=dkms,linux-headers-amd64,curl,iproute2,procps,python3,man-db,bash-completion \
		--customize-hook='bpo=$(chroot "$1" apt-cache depends -t bookworm-backports linux-headers-amd64 |
			sed -n "s/^ *Depends: \(linux-headers-6\.12[^ ]*\)$/\1/p" | head -1) &&
			[ -n "$bpo" ] && chroot "$1" env INITRD=No DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq -t bookworm-backports "$bpo"' \
		bookworm "$CHROOT.new" \
		"deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
		"deb $mirror-security bookworm-security main" "deb $mirror bookworm-backports main" ||
		return 1
	echo "$RECIPE" >"$CHROOT.new/.graft-recipe"
	mv "$CHROOT.new" "$CHROOT"
}

echo "== the chroot"
if ((REBUILD)) || [[ $(cat "$CHROOT/.graft-recipe" 2>/dev/null) != "$RECIPE" ]]; then
	echo "  making $CHROOT (once; reused by later runs)"
	t=$SECONDS
	if ! make_chroot >"$ROOT/.tools/pkg-chroot.log" 2>&1; then
		echo "  FAIL  mmdebstrap failed; the end of .tools/pkg-chroot.log:"
		tail -5 "$ROOT/.tools/pkg-chroot.log" | sed 's/^/        /'
		rm -rf "$CHROOT.new"
		echo
		echo "0 passed, 1 failed"
		exit 1
	fi
	echo "  made in $((SECONDS - t)) s"
else
	echo "  reusing $CHROOT"
fi

echo "== the packages"
TMP=$(mktemp -d /tmp/graft-package.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
VERSION=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' deno.json | head -1)
t=$SECONDS
./scripts/package --out "$TMP/debs" || { echo "0 passed, 1 failed"; exit 1; }
# The same tree as a later version, to upgrade to.
./scripts/package --out "$TMP/debs-next" --version "$VERSION+next1" >/dev/null ||
	{ echo "0 passed, 1 failed"; exit 1; }
echo "  built in $((SECONDS - t)) s"

# In a mount namespace of its own: the chroot's mounts, /run and /tmp are
# private and vanish when this ends, whatever happens inside.
unshare --mount --propagation private -- bash -c '
	set -e
	C=$1 TMP=$2
	mount --bind "$C" "$C" # the chroot'"'"'s / is a mount point, as ip netns wants
	mount -t proc proc "$C/proc"
	mount -t sysfs sysfs "$C/sys"
	mount --rbind /dev "$C/dev"
	mount -t tmpfs -o mode=0755 tmpfs "$C/run"
	mount -t tmpfs -o mode=1777 tmpfs "$C/tmp"
	cp -r "$TMP/debs" "$TMP/debs-next" "$C/tmp/"
	cp "$3" "$C/tmp/inside.sh"
	shift 3
	exec chroot "$C" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb \
		LANG=C.UTF-8 /bin/bash /tmp/inside.sh "$@"
' _ "$CHROOT" "$TMP" "$ROOT/tests/package/inside.sh" "$VERSION" "$VERSION+next1"
rc=$?
# Leak check: no process may still run inside the chroot.
left=$(for p in /proc/[0-9]*; do
	[[ $(readlink "$p/root" 2>/dev/null) == "$CHROOT" ]] && echo "${p#/proc/}"
done)
if [[ -n $left ]]; then
	echo "  FAIL  processes left in the chroot: $left"
	kill -KILL $left 2>/dev/null
	rc=1
else
	echo "  ok    no process left in the chroot"
fi
echo "  (whole test: $((SECONDS - T0)) s)"
exit $rc
