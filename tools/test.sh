#!/usr/bin/env bash
# Set up (packages + build) and run the whole test suite: every CPU test, the display tests under a
# virtual X server with the lavapipe software Vulkan driver, and a short fuzz run. GPU tests (label gpu)
# are skipped here; they run on a CUDA machine with tools/device scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
build=${WM_BUILD_DIR:-build}
# A short coverage-guided fuzz run of the untrusted-format parsers (safetensors, pickle, YAML) first,
# so that ctest's summary stays the last thing printed.
tests/fuzz/run_short.sh "$build-fuzz" "${WM_FUZZ_SECONDS:-20}"
export VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json   # software Vulkan, reproducible
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
chmod 700 "$XDG_RUNTIME_DIR"
xvfb-run -a -s "-screen 0 1280x1024x24" \
  ctest --test-dir "$build" -LE gpu --output-on-failure -j"$(nproc)" --timeout 600
