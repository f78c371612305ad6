#!/usr/bin/env bash
# Set up (packages + build) and run wm. With no arguments: the explorer on the embedded default world.
# Any arguments are passed to wm, e.g. tools/run.sh explore --seed 7, tools/run.sh inspect model.pt
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
exec "${WM_BUILD_DIR:-build}/wm/cli/wm" "$@"
