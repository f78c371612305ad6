#!/usr/bin/python3
"""Write the PyTorch .pt fixtures the checkpoint tests read (tests/io/test_pt.c).

Usage: /usr/bin/python3 tests/io/make_pt_fixtures.py OUTDIR

The committed copies in tests/io/data/ were made by this script (so CI without torch still exercises
the unpickler); the test suite also runs it at test time when torch is importable, so the reader is
checked against whatever torch version is installed. Values are deterministic (arange-based) and
test_pt.c checks them. The malicious pickle is assembled from raw opcodes and is never loaded here.
"""
import io
import os
import sys
import zipfile

import torch


def expected_tensors():
    big = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    return {
        "model.a.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3),
        "model.b": (torch.arange(3, dtype=torch.float32) * 0.5).to(torch.bfloat16),
        "model.c": torch.nn.Parameter(torch.arange(4, dtype=torch.float32).to(torch.float16)),
        "model.row2": big[2],  # a view: storage offset 12 in a 24-element storage
        "model.idx": torch.arange(3, dtype=torch.int64),
        "model.scalar": torch.tensor(7.25, dtype=torch.float64),
        "not_prefixed": torch.ones(1, 2, 1, 1, 1),
    }


def rewrite_zip(src, dst, compress_name=None, replace=None):
    """Copy a torch zip, optionally deflating one entry or replacing an entry's bytes."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if replace and info.filename.endswith(replace[0]):
                data = replace[1]
            method = zipfile.ZIP_DEFLATED if compress_name and info.filename.endswith(compress_name) else zipfile.ZIP_STORED
            zout.writestr(zipfile.ZipInfo(info.filename), data, compress_type=method)


def main(out):
    torch.manual_seed(0)
    os.makedirs(out, exist_ok=True)
    p = lambda n: os.path.join(out, n)
    torch.save({"generator": expected_tensors(), "step": 5, "note": "fixture"}, p("small.pt"))
    torch.save({"generator": expected_tensors()}, p("small_p4.pt"), pickle_protocol=4)
    torch.save(torch.nn.Linear(3, 2).state_dict(), p("linear.pt"))  # OrderedDict root, no generator
    torch.save({"w": torch.arange(6, dtype=torch.float32).reshape(2, 3).t()}, p("noncontig.pt"))
    # os.system as a global: GLOBAL 'os system', the argument tuple, REDUCE, STOP. Raw bytes, never loaded.
    evil = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."
    rewrite_zip(p("small.pt"), p("evil_global.pt"), replace=("data.pkl", evil))
    rewrite_zip(p("small.pt"), p("compressed.pt"), compress_name="data.pkl")
    with open(p("small.pt"), "rb") as f:
        blob = f.read()
    with open(p("truncated.pt"), "wb") as f:
        f.write(blob[: len(blob) // 2])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
