#!/usr/bin/python3
"""Re-save a .safetensors file as a streaming-style model.pt: {"generator": {"model." + key: tensor}}.

Usage: /usr/bin/python3 tests/io/st_to_pt.py IN.safetensors OUT.pt
Used by the CTest case inspect_pt_872 (only when torch is installed) to check that the PyTorch path
(zip + restricted unpickler, memo indices past 255, 872 storages) gives the same module-tree verdict as
the safetensors file it came from. F8_E4M3 tensors are stored as uint8 (torch 1.13 has no float8).
"""
import json
import struct
import sys

import numpy as np
import torch

DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16, "F64": torch.float64,
          "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
          "BOOL": torch.bool, "F8_E4M3": torch.uint8}


def main(src, dst):
    with open(src, "rb") as f:
        blob = f.read()
    (hlen,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + hlen])
    data = blob[8 + hlen:]
    sd = {}
    for name, rec in header.items():
        if name == "__metadata__":
            continue
        b, e = rec["data_offsets"]
        raw = torch.from_numpy(np.frombuffer(data[b:e], dtype=np.uint8).copy())
        sd["model." + name] = raw.view(DTYPES[rec["dtype"]]).reshape(rec["shape"])
    torch.save({"generator": sd, "step": 0}, dst)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
