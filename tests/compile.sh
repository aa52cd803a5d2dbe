#!/usr/bin/env bash
# The single-binary build: `deno task compile` with libgraft.so embedded, then
# the main end-to-end scenarios run with the compiled binary as $GRAFT.
# deno compile needs its runtime (denort); where DENORT_BIN is not set and it
# cannot be downloaded, this says so plainly and skips (exit 77).
set -uo pipefail
cd "$(dirname "$0")/.."
DENO=$PWD/.tools/bin/deno
if [[ -z ${DENORT_BIN:-} ]]; then
	echo "SKIP: deno compile needs its runtime (denort); DENORT_BIN is not set and this machine cannot download it"
	exit 77
fi
if [[ ! -x $DENORT_BIN ]]; then
	echo "FAIL: DENORT_BIN=$DENORT_BIN is not an executable" >&2
	exit 1
fi
OUT=$(mktemp -d /tmp/graft-compile.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
"$DENO" run --allow-all scripts/compile.ts --output "$OUT/graft" || exit 1
# The compiled binary must find its own preload, not the checkout's.
ver=$(cd / && env -u GRAFT_PRELOAD "$OUT/graft" version)
echo "$ver"
# version reads the compiled-in copy where it is; only commands that run a program write it out.
[[ $ver == *"libgraft.so 0."*"(embedded)"* ]] || { echo "FAIL: compiled graft did not find its own libgraft.so" >&2; exit 1; }
# ... unless GRAFT_PRELOAD names another one: the user's choice wins.
ver=$(cd / && GRAFT_PRELOAD=$PWD/preload/build/libgraft.so "$OUT/graft" version)
[[ $ver == *"$PWD/preload/build/libgraft.so"* ]] || { echo "FAIL: compiled graft ignored GRAFT_PRELOAD: $ver" >&2; exit 1; }
GRAFT="$OUT/graft" tests/e2e.sh --backend broker --quick || exit 1
# ... and its own graft-exec for seccomp mode (a static program, grafted).
GRAFT="$OUT/graft" tests/e2e.sh --backend broker --quick --mode seccomp --only ingress
