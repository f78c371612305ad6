#!/usr/bin/python3
"""Golden outputs of the DiT's version switches (spec §3.2, §3.8, §4.6), from the PyTorch reference in
tools/reference with the golden weights/inputs of tests/golden/dit (GOLDEN.md):
  A.v        bidirectional forward, first-release settings: post_ucpe_renorm = 1, softmax scales 1/sqrt(128)
  B.v        chunk-causal forward without the block-causal softmax mask (teacher_chunk_mask = 0, #404)
  C.latents  distilled streaming sampler with the June-release uncached camera conv (cam_conv_cache = 0)
Usage: /usr/bin/python3 tests/dit/gen_switch_golden.py   (writes tests/dit/data/switches.safetensors; ~1 min
of CPU). Read by tests/dit/test_dit_switches.c.
"""
import dataclasses
import math
import os
import sys

import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
import st  # noqa: E402
from sana_wm import SanaWM, golden_config  # noqa: E402
from sana_wm import sampler as sm  # noqa: E402

OUT = os.path.join(ROOT, "tests", "dit", "data", "switches.safetensors")


def main():
    torch.set_num_threads(2)
    W = st.load(os.path.join(ROOT, "tests/golden/dit/weights.safetensors"))
    I = st.load(os.path.join(ROOT, "tests/golden/dit/inputs.safetensors"))

    def model(**kw):
        cfg = dataclasses.replace(golden_config(), **kw)
        m = SanaWM(cfg)
        m.load_state_dict({k: v.to(torch.float64) for k, v in W.items()})
        return m.double().eval()

    def f64(k):
        return I[k].to(torch.float64)

    out = {}
    args = (f64("x"), I["timestep"], I["y"], I["mask"], f64("camera_conditions"), f64("chunk_plucker"))
    with torch.no_grad():
        m = model(post_ucpe_renorm=1, softmax_scale_main=1 / math.sqrt(128), softmax_scale_cam=1 / math.sqrt(128))
        out["A.v"], _ = m(*args, variant="bidirectional")
        out["B.v"], _ = model(teacher_chunk_mask=0)(*args, variant="chunk_causal")
        x, _ = sm.sample_streaming(model(cam_conv_cache=0), f64("stream.noise"), f64("stream.z0"), I["stream.y"],
                                   I["stream.mask"], f64("stream.camera_conditions"), f64("stream.chunk_plucker"))
        out["C.latents"] = x
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    st.save(OUT, {k: v.to(torch.float32) for k, v in out.items()})


if __name__ == "__main__":
    main()
