#!/bin/sh
# run_inspect.sh WM EXPECTED_RC PATH [wm inspect args...] -- PATTERN...
# Runs `wm inspect PATH args`, prints its output, and fails unless the exit code is EXPECTED_RC and every
# PATTERN occurs (fixed strings) in stdout+stderr. Used by the CTest cases in tests/io/CMakeLists.txt.
wm=$1; want=$2; shift 2
args=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do args="$args $1"; shift; done
[ "$1" = "--" ] && shift
out=$("$wm" inspect $args 2>&1); rc=$?
printf '%s\n' "$out" | tail -n 40
[ "$rc" -eq "$want" ] || { echo "FAIL: exit $rc, expected $want"; exit 1; }
for p in "$@"; do
  printf '%s\n' "$out" | grep -qF -- "$p" || { echo "FAIL: output lacks: $p"; exit 1; }
done
echo "ok: exit $rc and all $# patterns found"
