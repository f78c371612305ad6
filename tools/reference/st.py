"""Minimal safetensors reader/writer (numpy/torch) for the reference and golden scripts.

Why not the `safetensors` package: it is not a Debian package, and the format is tiny (8-byte
little-endian header length, JSON header with dtype/shape/data_offsets, raw little-endian data).
bf16 is stored as raw uint16 bit patterns (truncation-free: the callers only store tensors that are
already exactly bf16-representable). Writing is deterministic: keys sorted, header padded with spaces
to a multiple of 8, no metadata except an optional fixed "__metadata__" dict, so regenerating the
golden files gives byte-identical output.
"""
import json
import struct

import numpy as np
import torch

_NP_OF = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
          "U8": np.uint8, "I8": np.int8, "BOOL": np.bool_}


def _bf16_bits(t):
    """(torch bf16 tensor) -> numpy uint16 array of its bit patterns."""
    return t.contiguous().view(torch.int16).numpy().view(np.uint16)


def save(path, tensors, metadata=None):
    """tensors: dict name -> torch.Tensor or np.ndarray. Float64 is stored as F32 unless the value is a
    torch bf16 tensor (stored BF16). Ints stored as I64 unless uint8."""
    items = []
    for name in sorted(tensors):
        v = tensors[name]
        if isinstance(v, torch.Tensor) and v.dtype == torch.bfloat16:
            arr, dt = _bf16_bits(v.detach().cpu()), "BF16"
        else:
            arr = v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
            if arr.dtype in (np.float64, np.float32, np.float16):
                arr, dt = arr.astype(np.float32), "F32"
            elif arr.dtype == np.uint8:
                dt = "U8"
            elif arr.dtype == np.bool_:
                arr, dt = arr.astype(np.uint8), "U8"
            else:
                arr, dt = arr.astype(np.int64), "I64"
        items.append((name, dt, np.ascontiguousarray(arr)))
    header, off = {}, 0
    if metadata:
        header["__metadata__"] = {str(k): str(metadata[k]) for k in sorted(metadata)}
    for name, dt, arr in items:
        n = arr.nbytes
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + n]}
        off += n
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for _, _, arr in items:
            f.write(arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes())
    import os
    os.replace(tmp, path)


def load(path):
    """-> dict name -> torch.Tensor (BF16 -> torch.bfloat16, others their dtype)."""
    with open(path, "rb") as f:
        data = f.read()
    (hl,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + hl])
    base = 8 + hl
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = data[base + a: base + b]
        shape = info["shape"]
        if info["dtype"] == "BF16":
            arr = np.frombuffer(raw, dtype="<u2").reshape(shape).copy()
            out[name] = torch.from_numpy(arr.view(np.int16)).view(torch.bfloat16)
        else:
            arr = np.frombuffer(raw, dtype=np.dtype(_NP_OF[info["dtype"]]).newbyteorder("<"))
            out[name] = torch.from_numpy(arr.reshape(shape).astype(_NP_OF[info["dtype"]]))
    return out
