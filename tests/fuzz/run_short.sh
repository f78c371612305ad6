#!/bin/sh
# run_short.sh BUILD_DIR SECONDS
# Configure a clang build with -DWM_FUZZ=ON in BUILD_DIR, build the libFuzzer harnesses and run each for
# SECONDS on a scratch copy of its seed corpus (tests/fuzz/corpus_<name>/; the repository copy is never
# modified). Exits non-zero if a harness crashes, leaks or times out; the reproducer is left in
# BUILD_DIR/fuzz-artifacts/. Example (CI): tests/fuzz/run_short.sh build-fuzz 20
set -eu
if [ $# -ne 2 ]; then echo "usage: $0 BUILD_DIR SECONDS" >&2; exit 2; fi
build=$1
secs=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$build"
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DWM_FUZZ=ON \
      -DWM_CUDA=OFF -DWM_VIEWER=OFF -DWM_FFMPEG=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/configure.log" 2>&1 \
  || { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j2 --target fuzz_safetensors fuzz_unpickle fuzz_config_yaml
mkdir -p "$build/fuzz-artifacts"
for h in safetensors unpickle config_yaml; do
  work=$(mktemp -d)
  cp "$src/tests/fuzz/corpus_$h"/* "$work"/
  echo "fuzz_$h: ${secs}s"
  if ! "$build/tests/fuzz/fuzz_$h" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$h-" "$work" 2>"$build/fuzz_$h.log"; then
    tail -n 60 "$build/fuzz_$h.log"
    echo "FAIL: fuzz_$h found a problem (reproducer in $build/fuzz-artifacts/)"
    rm -rf "$work"
    exit 1
  fi
  grep -E "stat::number_of_executed_runs|stat::new_units_added" "$build/fuzz_$h.log" || true
  rm -rf "$work"
done
echo "fuzz: all harnesses ran ${secs}s without findings"
