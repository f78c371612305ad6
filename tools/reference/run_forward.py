#!/usr/bin/python3
"""One reference DiT forward from safetensors files (the Python twin of `wm dit-forward`).

  /usr/bin/python3 tools/reference/run_forward.py --weights W --inputs I --out O
      [--variant bidirectional|chunk_causal] [--dump-blocks] [--config config.json]

The architecture is inferred from the checkpoint's names and shapes (hidden size, depth, heads, softmax
blocks = blocks without attn.conv_k, MLP width, caption size); the latent grid from `x`. Weights may be
f32/bf16/f16 (and `pos_embed` is ignored). Inputs use the official argument names: x, timestep, y, mask,
camera_conditions, chunk_plucker; or c2w_raw (F,4,4) + intrinsics_raw (F,4) px + image_hw (2,) instead
of the last two. Output: v, plus every intermediate with --dump-blocks (names as tools/reference/GOLDEN.md).
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from sana_wm import DitConfig, SanaWM  # noqa: E402
from sana_wm import camera as cam  # noqa: E402


def infer_config(w, x_shape):
    depth = len({k.split(".")[1] for k in w if k.startswith("blocks.") and k.endswith("scale_shift_table")})
    return DitConfig(
        hidden_size=w["x_embedder.proj.weight"].shape[0], depth=depth,
        num_heads=w["blocks.0.attn.beta_proj.weight"].shape[0],
        in_channels=w["x_embedder.proj.weight"].shape[1], out_channels=w["final_layer.linear.weight"].shape[0],
        mlp_hidden=w["blocks.0.mlp.point_conv.conv.weight"].shape[1],
        caption_channels=w["y_embedder.y_proj.fc1.weight"].shape[1],
        caption_length=w["y_embedder.y_embedding"].shape[0],
        plucker_channels=w["plucker_embedder.proj.weight"].shape[1],
        latent_h=x_shape[3], latent_w=x_shape[4],
        is_softmax=[0 if f"blocks.{i}.attn.conv_k.weight" in w else 1 for i in range(depth)])


def main():
    ap = argparse.ArgumentParser(description="reference SANA-WM DiT forward")
    ap.add_argument("--weights", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--variant", default="bidirectional", choices=["bidirectional", "chunk_causal", "chunk-causal"])
    ap.add_argument("--dump-blocks", action="store_true")
    ap.add_argument("--config", help="config.json overriding inferred fields (e.g. version switches)")
    a = ap.parse_args()
    w = {k: v for k, v in st.load(a.weights).items() if k != "pos_embed"}
    inp = st.load(a.inputs)
    x = inp["x"].to(torch.float64)
    cfg = infer_config(w, x.shape)
    if a.config:
        with open(a.config) as f:
            for k, v in json.load(f).items():
                if hasattr(cfg, k):
                    setattr(cfg, k, v)
    model = SanaWM(cfg)
    model.load_state_dict({k: v.to(torch.float64) for k, v in w.items()})
    model = model.double().eval()
    T = x.shape[2]
    if "camera_conditions" in inp:
        cc, plk = inp["camera_conditions"].to(torch.float64), inp["chunk_plucker"].to(torch.float64)
    else:
        hw = tuple(int(v) for v in inp["image_hw"].tolist())
        rel = cam.relative_poses(inp["c2w_raw"].to(torch.float64))
        lint = cam.latent_intrinsics(inp["intrinsics_raw"], hw, (cfg.latent_h, cfg.latent_w))
        cc = cam.camera_conditions(rel, lint, T, cfg.vae_stride_t)
        plk = cam.chunk_plucker(rel, lint, T, cfg.latent_h, cfg.latent_w, cfg.vae_stride_t)
    rec = {}
    with torch.no_grad():
        v, _ = model(x, inp["timestep"], inp["y"].to(torch.float64), inp["mask"], cc, plk,
                     variant=a.variant.replace("-", "_"), rec=rec)
    st.save(a.out, rec if a.dump_blocks else {"v": v})


if __name__ == "__main__":
    main()
