#!/usr/bin/env bash
# One device-machine session in one call: build the GPU pieces, run the CUDA parity tests, run the
# benchmarks, print a short summary last. Full logs go to $OUT (the device tool brings them back).
#
#   tools/device/run.sh [steps...]      steps: env build test gemm ops dit top model vae text session baseline ncu
#                                       (default: env build test gemm ops dit top; model/vae/text use the
#                                       top-level build, so they need top; baseline = the official PyTorch
#                                       pipeline, needs .baseline/ carried, see docs/perf_baseline.md)
#
# Source: .devsrc/ when present (a `git archive` of the commit under test, so the numbers belong to one
# commit even while the shared working tree is mid-edit), else the working tree. Build: the standalone
# project tools/device/CMakeLists.txt (needs only nvcc/cmake); "top" also tries the top-level build with
# jansson/yaml taken from the .devdeps/*.deb files carried along (the device image lacks their -dev
# packages), reporting the result without failing the run.
set -u
OUT=${OUT:-/tmp/wm_out}
mkdir -p "$OUT"
SRC=$PWD
[ -d .devsrc ] && SRC=$PWD/.devsrc
B=/tmp/wm_dev_build
J=$(nproc)
STEPS=${*:-env build test gemm ops dit top}
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }
has() { case " $STEPS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1

say "== wm device run: $(date -u +%FT%TZ) src=$SRC commit=$(cat "$SRC/.commit" 2>/dev/null || git rev-parse --short HEAD 2>/dev/null)"
if has env; then
  { nvidia-smi; nvcc --version; cmake --version | head -1; uname -a; } >"$OUT/env.txt" 2>&1
  say "cudnn: $(ls /usr/local/cuda/lib64 /usr/lib/x86_64-linux-gnu 2>/dev/null | grep -c 'libcudnn') libs, header: $(ls /usr/local/cuda/include/cudnn.h /usr/include/cudnn.h /usr/include/x86_64-linux-gnu/cudnn*.h 2>/dev/null | head -2 | tr '\n' ' ')"
  say "device: $(nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader 2>&1)"
fi

if has build; then
  t0=$(date +%s)
  { cmake -S "$SRC/tools/device" -B $B -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build $B -j"$J"; } >"$OUT/build.log" 2>&1
  rc=$?
  say "build: rc=$rc in $(( $(date +%s) - t0 )) s (registers/spills in build.log)"
  grep -E 'spill (stores|loads)' "$OUT/build.log" | grep -v ' 0 bytes spill' | sort | uniq -c | head -5 | tee -a "$SUMMARY"
  [ $rc -ne 0 ] && { grep -E "error" "$OUT/build.log" | head -10 | tee -a "$SUMMARY"; STEPS=$(echo " $STEPS " | sed "s/ test / /; s/ gemm / /; s/ ops / /; s/ dit / /"); }
fi

if has test; then
  : >"$OUT/tests.log"
  for t in $B/test_*; do
    [ -x "$t" ] || continue
    t0=$(date +%s)
    timeout 150 "$t" >>"$OUT/tests.log" 2>&1
    rc=$?
    say "test $(basename "$t"): rc=$rc ($(tail -1 "$OUT/tests.log")) $(( $(date +%s) - t0 )) s"
  done
  grep -E 'FAIL|error' "$OUT/tests.log" | head -20 | tee -a "$SUMMARY"
fi

for b in gemm ops dit; do
  if has $b; then
    "$B/wmbench" $b >"$OUT/bench_$b.log" 2>&1
    say "bench $b: rc=$?"
    cat "$OUT/bench_$b.log" | tee -a "$SUMMARY" >/dev/null
  fi
done

if has top; then
  R=/tmp/devroot
  TOP_TESTS=""
  has vae && TOP_TESTS="$TOP_TESTS test_vae_cuda test_cuda_vae_ops"
  has text && [ -f "$SRC/tests/text/test_text_cuda.c" ] && TOP_TESTS="$TOP_TESTS test_text_cuda"
  has session && TOP_TESTS="$TOP_TESTS test_session_cuda"
  mkdir -p $R
  for f in "$SRC"/.devdeps/*.deb "$PWD"/.devdeps/*.deb; do [ -f "$f" ] && dpkg -x "$f" $R; done
  # The .pc files say prefix=/usr: point pkg-config at the unpacked tree instead.
  for pc in $R/usr/lib/x86_64-linux-gnu/pkgconfig/*.pc; do sed -i "s|^prefix=.*|prefix=$R/usr|" "$pc"; done
  export PKG_CONFIG_PATH=$R/usr/lib/x86_64-linux-gnu/pkgconfig LD_LIBRARY_PATH=$R/usr/lib/x86_64-linux-gnu
  { cmake -S "$SRC" -B /tmp/wm_top -DWM_VIEWER=OFF -DWM_FFMPEG=OFF && cmake --build /tmp/wm_top -j"$J" --target wm test_cuda_common test_cuda_dit_golden $TOP_TESTS; } >"$OUT/top.log" 2>&1
  rc=$?
  say "top-level build (wm + test_cuda_common): rc=$rc"
  [ $rc -eq 0 ] && { /tmp/wm_top/wm/cli/wm bench --help >/dev/null 2>&1; say "top-level wm bench --help: rc=$?"; }
  [ $rc -ne 0 ] && grep -E 'error|Error' "$OUT/top.log" | head -8 | tee -a "$SUMMARY"
  if [ $rc -eq 0 ] && has model; then  # the real wm/dit forward: golden parity on CUDA, then its benchmark
    timeout 120 /tmp/wm_top/tests/kernels/test_cuda_dit_golden >"$OUT/golden.log" 2>&1
    say "test_cuda_dit_golden: rc=$? ($(tail -1 "$OUT/golden.log"))"
    grep -E 'rel_l2|FAIL' "$OUT/golden.log" | head -6 | tee -a "$SUMMARY"
    timeout 200 /tmp/wm_top/wm/cli/wm bench dit --model ${MODEL_ARGS:-} >"$OUT/bench_model.log" 2>&1
    say "wm bench dit --model: rc=$?"
    cat "$OUT/bench_model.log" | tee -a "$SUMMARY" >/dev/null
    # MODEL_VARIANTS="WM_DIT_UNFUSED=1 WM_DIT_UNFUSED=dw": the same benchmark (10 chunks) with each switch
    for v in ${MODEL_VARIANTS:-}; do
      env "$v" timeout 120 /tmp/wm_top/wm/cli/wm bench dit --model --chunks 10 --warmup 2 >"$OUT/bench_model_$v.log" 2>&1
      say "wm bench dit --model with $v: rc=$? $(grep -m1 'p50' "$OUT/bench_model_$v.log")"
    done
  fi
fi

# The top-level programs below run from the repository root: golden data is there, not in .devsrc.
W=/tmp/wm_top
if has vae && [ -x $W/wm/cli/wm ]; then
  timeout 150 $W/tests/kernels/test_cuda_vae_ops >"$OUT/vae_ops_test.log" 2>&1
  say "test_cuda_vae_ops: rc=$? ($(tail -1 "$OUT/vae_ops_test.log"))"
  grep -E 'FAIL' "$OUT/vae_ops_test.log" | head -8 | tee -a "$SUMMARY"
  timeout 150 $W/tests/vae/test_vae_cuda >"$OUT/vae_test.log" 2>&1
  say "test_vae_cuda: rc=$? ($(tail -1 "$OUT/vae_test.log"))"
  grep -E 'FAIL|rel' "$OUT/vae_test.log" | head -12 | tee -a "$SUMMARY"
  timeout 240 $W/wm/cli/wm bench vae >"$OUT/bench_vae.log" 2>&1
  say "wm bench vae: rc=$?"
  cat "$OUT/bench_vae.log" | tee -a "$SUMMARY" >/dev/null
fi
if has text && [ -x $W/wm/cli/wm ]; then
  if [ -x $W/tests/text/test_text_cuda ]; then
    timeout 120 $W/tests/text/test_text_cuda >"$OUT/text_test.log" 2>&1
    say "test_text_cuda: rc=$? ($(tail -1 "$OUT/text_test.log"))"
    grep -E 'FAIL|rel' "$OUT/text_test.log" | head -12 | tee -a "$SUMMARY"
  fi
  timeout 120 $W/wm/cli/wm bench text >"$OUT/bench_text.log" 2>&1
  say "wm bench text: rc=$?"
  cat "$OUT/bench_text.log" | tee -a "$SUMMARY" >/dev/null
fi
if has session && [ -x $W/tests/session/test_session_cuda ]; then
  timeout 120 $W/tests/session/test_session_cuda >"$OUT/session_test.log" 2>&1
  say "test_session_cuda: rc=$? ($(tail -1 "$OUT/session_test.log"))"
  grep -E 'FAIL|chunk|memory' "$OUT/session_test.log" | head -12 | tee -a "$SUMMARY"
fi
if has baseline; then
  if [ -d .baseline/Sana ]; then
    export PYTHONUNBUFFERED=1
    timeout ${BASELINE_TIMEOUT:-300} python3 tools/bench/official_streaming_baseline.py --sana-repo .baseline/Sana \
        --pythonpath .baseline/pylib --json-out "$OUT/baseline.json" 2>&1 \
      | grep -v -E 'ptxas|Compiling entry|Used [0-9]+ registers|bytes stack frame' >"$OUT/baseline.log"
    say "official baseline: rc=${PIPESTATUS[0]}"
    tail -25 "$OUT/baseline.log" | tee -a "$SUMMARY" >/dev/null
  else
    say "official baseline: .baseline/ not carried"
  fi
fi

if has ncu; then
  # NCU_KERNELS: kernel-name regexes (default: the flash-attention kernel); the first launch of each
  : >"$OUT/ncu.log"
  for k in ${NCU_KERNELS:-flash_attn}; do
    ncu --clock-control none --kernel-name "regex:$k" --launch-count 1 --section SpeedOfLight \
        --section Occupancy --section LaunchStats "$B/wmbench" ops >>"$OUT/ncu.log" 2>&1
    say "ncu $k: rc=$?"
  done
  grep -E '^  [a-z_]+.*\(|Duration|Compute \(SM\)|Memory Throughput|Achieved Occupancy|Block Limit (Registers|Shared)|Registers Per' \
      "$OUT/ncu.log" | head -60 | tee -a "$SUMMARY"
fi
echo "================ summary"
cat "$SUMMARY"
