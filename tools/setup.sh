#!/usr/bin/env bash
# Installs the Debian 12 packages wm needs (only the missing ones), then configures and builds it in
# build/. Called by tools/run.sh and tools/test.sh; safe to run again (a no-op when up to date).
# CUDA is used when nvcc is at /usr/local/cuda/bin/nvcc (or $WM_NVCC); otherwise a CPU-only build.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config
  libjansson-dev libyaml-dev                       # config.json / checkpoint headers, config.yaml
  libglfw3-dev libvulkan-dev mesa-vulkan-drivers glslc   # explorer window (lavapipe when no GPU)
  xvfb xauth                                        # display tests without a screen
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev   # MP4 recording
  libcglm-dev zlib1g-dev                           # camera math; PNG datasets
  python3-numpy python3-torch python3-sentencepiece python3-pil  # tools/: references, golden generators, agent client
  valgrind clang libclang-rt-14-dev                 # leak checks and fuzzing in the test suite
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

build=${WM_BUILD_DIR:-build}
cuda_args=()
nvcc=${WM_NVCC:-/usr/local/cuda/bin/nvcc}
if [ -x "$nvcc" ]; then cuda_args=(-DCMAKE_CUDA_COMPILER="$nvcc"); else cuda_args=(-DWM_CUDA=OFF); fi
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${cuda_args[@]}" ${WM_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j"$(nproc)"
