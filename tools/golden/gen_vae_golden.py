"""Golden vectors for the LTX-2 VAE (tests/golden/vae/), from tools/reference/ltx2_vae.py.

    /usr/bin/python3 tools/golden/gen_vae_golden.py --out tests/golden/vae

Small width, same code as the real config: random weights (fixed seed) rounded to bf16 and stored as
BF16 under the official diffusers names; the reference runs in float64 on those values; every stored
float output is that result rounded to float32. Files (all safetensors):
  config.json            diffusers-style VAE config (the C loader parses it)
  weights.safetensors    BF16 weights + latents_mean / latents_std
  decode.safetensors     z (normalised latents), per-stage decoder outputs, pixels, u8 frames,
                         a non-causal decode, streaming chunk outputs
  encode.safetensors     image (uint8 HWC) -> x in [-1,1], per-stage encoder outputs, normalised mode
  preprocess.safetensors PIL LANCZOS resize-to-cover + centre crop (only if PIL is importable)
See docs/vae.md for the tolerances the C tests use.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reference"))
import ltx2_vae as R  # noqa: E402

# The real LTX-2 config with the widths and depths scaled down: same code path, small files.
CONFIG = dict(
    R.DEFAULT_CONFIG, latent_channels=16,
    block_out_channels=[16, 32, 64, 64],
    decoder_block_out_channels=[8, 16, 32],
    layers_per_block=[2, 1, 1, 1, 1],
    decoder_layers_per_block=[2, 1, 1, 1],
)
LAT_H, LAT_W, LAT_T = 2, 3, 3          # decode test: 3 latent frames -> 17 frames of 64 x 96
IMG_H, IMG_W = 64, 96
STREAM_CHUNKS = [(0, 1), (1, 3)]


def write_safetensors(path, tensors):
    """Minimal writer: {name: (dtype_str, np.ndarray)}; data little-endian, C order, sorted names."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        dt, arr = tensors[name]
        raw = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def f32(t):
    return ("F32", t.detach().to(torch.float32).numpy())


def bf16_bits(t):
    # bf16 bit pattern of an fp32 tensor that is already bf16-exact.
    u = t.detach().to(torch.float32).contiguous().numpy().view(np.uint32)
    return ("BF16", (u >> 16).astype(np.uint16))


def make_model(seed):
    torch.manual_seed(seed)
    vae = R.AutoencoderKLLTX2Video(CONFIG)
    with torch.no_grad():
        for name, p in vae.named_parameters():
            if name.endswith("weight") and p.dim() == 5:
                fan_in = p.shape[1] * p.shape[2] * p.shape[3] * p.shape[4]
                p.copy_(torch.randn_like(p) / fan_in ** 0.5)
            else:
                p.copy_(torch.randn_like(p) * 0.05)
        vae.latents_mean.copy_(torch.randn(CONFIG["latent_channels"]) * 0.5)
        vae.latents_std.copy_(torch.rand(CONFIG["latent_channels"]) + 0.5)
        for t in list(vae.parameters()) + list(vae.buffers()):
            t.copy_(t.to(torch.bfloat16).to(torch.float32))
    return vae.double()


def test_image(h, w, seed):
    g = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([128 + 100 * np.sin(xx / 7.0 + c) * np.cos(yy / 5.0 - c) for c in range(3)], -1)
    img += g.normal(0, 25, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def gen_decode(vae):
    g = torch.Generator().manual_seed(7)
    z = torch.randn(1, CONFIG["latent_channels"], LAT_T, LAT_H, LAT_W, generator=g, dtype=torch.float64)
    out = {"z": f32(z)}
    z = z.to(torch.float32).double()  # the C side reads the float32 z
    with torch.no_grad():
        stages = {}
        x = vae.decode(z, causal=True, stages=stages)
        for k, v in stages.items():
            if k != "decoder.conv_out":   # = pixels before the 4x4 unpatchify; not stored (size)
                out[k] = f32(v)
        out["pixels"] = f32(x)
        out["u8"] = ("U8", R.to_uint8(x.to(torch.float32))[0].permute(1, 2, 3, 0).contiguous().numpy())
        out["noncausal.pixels"] = f32(vae.decode(z[:, :, :2], causal=False))
        # Tiled bidirectional-pipeline decode, scaled down. Spatial: 3x3 latents, 64-px tiles every
        # 32 px (2x2 tiles, 32-px blends), one latent frame. Temporal: 2x2 latents, T = 3, tiles of
        # 16/8 + 1 = 3 latent frames every 1 (3 tiles; the last decodes to 0 frames), 8-frame blends.
        g2 = torch.Generator().manual_seed(8)
        zs = torch.randn(1, CONFIG["latent_channels"], 1, 3, 3, generator=g2, dtype=torch.float64)
        zs = zs.to(torch.float32).double()
        out["tiled_s.z"] = f32(zs)
        out["tiled_s.pixels"] = f32(vae.decode_tiled(zs, False, 64, 32, 16, 8))
        zt = torch.randn(1, CONFIG["latent_channels"], 3, 2, 2, generator=g2, dtype=torch.float64)
        zt = zt.to(torch.float32).double()
        out["tiled_t.z"] = f32(zt)
        out["tiled_t.pixels"] = f32(vae.decode_tiled(zt, False, 64, 32, 16, 8))
        # Streaming == full causal decode is checked by R.self_check() (float64) and by the C test
        # (bit-exact against the C full decode); the chunks themselves are not stored (size).
        sd = R.StreamingDecoder(vae)
        parts = [sd.decode_chunk(z[:, :, a:b]) for a, b in STREAM_CHUNKS]
        err = (torch.cat(parts, dim=2) - x).abs().max().item()
        assert err < 1e-9, err
    return out


def gen_encode(vae):
    img = test_image(IMG_H, IMG_W, 3)
    x = torch.from_numpy(img.astype(np.float32) / 255.0 * 2 - 1).permute(2, 0, 1)[None, :, None].double()
    out = {"image": ("U8", img), "x": f32(x)}
    with torch.no_grad():
        stages = {}
        mode = vae.encode_mode(x, stages)
        for k, v in stages.items():
            out[k] = f32(v)
        out["latent"] = f32(mode)
        # A 9-frame clip exercises the temporal downsamplers with T > 1 (frame-0 prefix, stride 2).
        clip = np.stack([test_image(IMG_H, IMG_W, 20 + i) for i in range(9)])
        xc = torch.from_numpy(clip.astype(np.float32) / 255.0 * 2 - 1).permute(3, 0, 1, 2)[None].double()
        out["clip.image"] = ("U8", clip)
        out["clip.latent"] = f32(vae.encode_mode(xc))
        # Tiled encode (diffusers enable_tiling, scaled down: 128-px tiles every 64 px) of a 192 x 256
        # image: 3 x 4 tiles, 2-latent blends, the last row/column of tiles only 64 px.
        big = test_image(192, 256, 30)
        xb = torch.from_numpy(big.astype(np.float32) / 255.0 * 2 - 1).permute(2, 0, 1)[None, :, None].double()
        out["tiled.image"] = ("U8", big)
        out["tiled.latent"] = f32(vae.encode_mode_tiled(xb, 128, 64))
        out["tiled.untiled_latent"] = f32(vae.encode_mode(xb))
    return out


def gen_preprocess():
    try:
        from PIL import Image
    except ImportError:
        print("PIL not available: preprocess.safetensors not written", file=sys.stderr)
        return None
    out = {}
    for i, (h0, w0) in enumerate([(50, 70), (150, 170), (64, 96), (41, 200)]):
        img = test_image(h0, w0, 10 + i)
        rh, rw, top, left = R.cover_crop_geometry(h0, w0, IMG_H, IMG_W)
        res = np.asarray(Image.fromarray(img).resize((rw, rh), Image.LANCZOS))
        out[f"case{i}.src"] = ("U8", img)
        out[f"case{i}.resized"] = ("U8", res)
        out[f"case{i}.cropped"] = ("U8", np.ascontiguousarray(res[top:top + IMG_H, left:left + IMG_W]))
        k = R.adjust_intrinsics(0.9 * w0, 0.8 * w0, 0.5 * w0 + 1.25, 0.5 * h0 - 0.75, h0, w0, IMG_H, IMG_W)
        out[f"case{i}.geometry"] = ("I64", np.array([rh, rw, top, left], dtype=np.int64))
        out[f"case{i}.intrinsics_in"] = ("F64", np.array([0.9 * w0, 0.8 * w0, 0.5 * w0 + 1.25, 0.5 * h0 - 0.75]))
        out[f"case{i}.intrinsics_out"] = ("F64", np.array(k, dtype=np.float64))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/golden/vae")
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(2)
    vae = make_model(a.seed)
    cfg = dict(CONFIG)
    cfg["_class_name"] = "AutoencoderKLLTX2Video"
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    sd = {k: bf16_bits(v.float()) for k, v in vae.state_dict().items()}
    write_safetensors(os.path.join(a.out, "weights.safetensors"), sd)
    write_safetensors(os.path.join(a.out, "decode.safetensors"), gen_decode(vae))
    write_safetensors(os.path.join(a.out, "encode.safetensors"), gen_encode(vae))
    pre = gen_preprocess()
    if pre is not None:
        write_safetensors(os.path.join(a.out, "preprocess.safetensors"), pre)
    flops = {f"{first}": R.flops_decoder_per_call(CONFIG, LAT_H, LAT_W, 3, first) for first in (True, False)}
    real = {f"{first}": R.flops_decoder_per_call({}, 22, 40, 3, first) for first in (True, False)}
    with open(os.path.join(a.out, "flops.json"), "w") as f:
        json.dump({"golden_3frames": flops, "real_22x40_3frames": real}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
