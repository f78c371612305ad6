#!/usr/bin/env bash
# Prepare what a device run carries: .devsrc/ = `git archive` of a commit (default HEAD) plus .commit with
# its short hash, so the run builds exactly that commit whatever state the shared working tree is in.
# Both .devsrc/ and .devdeps/ (jansson/yaml -dev .debs: apt-get download libjansson-dev libjansson4
# libyaml-dev libyaml-0-2) are ignored through .git/info/exclude and named in the run's `carry`.
set -euo pipefail
cd "$(dirname "$0")/../.."
rev=${1:-HEAD}
rm -rf .devsrc && mkdir -p .devsrc
git archive "$rev" | tar -x -C .devsrc
git rev-parse --short "$rev" >.devsrc/.commit
# Test data (golden vectors, fixtures) is not needed on the device and would push the transfer past its
# 64 MiB limit: drop large files under tests/ (sources and CMakeLists stay, so configure still works).
find .devsrc/tests -type f -size +64k ! -name '*.c' ! -name '*.h' ! -name CMakeLists.txt -delete
grep -qx '/.devsrc/' .git/info/exclude 2>/dev/null || echo /.devsrc/ >>.git/info/exclude
echo "snapshot of $(cat .devsrc/.commit): $(du -sh .devsrc | cut -f1)"
