#!/usr/bin/python3
"""Compare two safetensors files tensor by tensor (e.g. a golden file and a C dump).

  /usr/bin/python3 tools/reference/compare.py REF.safetensors TEST.safetensors [--tol 1e-4] [--names a,b]

Metric per tensor: max|test - ref| / max|ref| (the GOLDEN.md criterion). Prints one line per common
tensor, lists tensors missing from TEST, exits 1 if any common tensor exceeds --tol or is not finite.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="compare safetensors files")
    ap.add_argument("ref")
    ap.add_argument("test")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--names", default="")
    a = ap.parse_args()
    r, t = st.load(a.ref), st.load(a.test)
    names = [n for n in a.names.split(",") if n] or sorted(r)
    bad = 0
    for n in names:
        if n not in t:
            print(f"missing  {n}")
            continue
        x, y = r[n].double(), t[n].double()
        if x.shape != y.shape:
            print(f"SHAPE    {n} {tuple(x.shape)} vs {tuple(y.shape)}")
            bad += 1
            continue
        e = ((y - x).abs().max() / x.abs().max().clamp_min(1e-30)).item() if x.numel() else 0.0
        ok = torch.isfinite(y).all().item() and e <= a.tol
        bad += not ok
        print(f"{'ok ' if ok else 'BAD'}      {n:50s} rel {e:.3e}")
    print(f"{bad} tensor(s) over tolerance {a.tol}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
