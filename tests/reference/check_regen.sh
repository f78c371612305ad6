#!/bin/sh
# check_regen.sh GENERATOR GOLDEN_DIR [IGNORED_FILE...]
# Regenerates golden vectors into a scratch directory and requires every committed file to come out
# byte-identical, so the C tests compare against what the reference computes today. Files named after
# GOLDEN_DIR are skipped (e.g. a SentencePiece model whose protobuf records the trainer's temp paths;
# the id table generated from it is still compared). Exit 77 (skip) without torch.
set -eu
gen=$1; dir=$2; shift 2
/usr/bin/python3 -c 'import torch, numpy' 2>/dev/null || exit 77
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$gen" --out "$tmp" >"$tmp.log" 2>&1 || { cat "$tmp.log"; rm -f "$tmp.log"; exit 1; }
rm -f "$tmp.log"
status=0
for f in $(cd "$dir" && find . -type f | sort); do
  skip=0
  for ign in "$@"; do [ "./$ign" = "$f" ] && skip=1; done
  [ $skip = 1 ] && continue
  if cmp -s "$dir/$f" "$tmp/$f"; then echo "same  $f"; else echo "STALE $f"; status=1; fi
done
exit $status
