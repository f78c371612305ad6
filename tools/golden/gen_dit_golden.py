#!/usr/bin/python3
"""Generate the DiT golden vectors (tests/golden/dit/) from the PyTorch reference.

Usage: /usr/bin/python3 tools/golden/gen_dit_golden.py --out tests/golden/dit [--only NAME,...] [--check]
(--check regenerates into a temporary directory and exits 1 unless --out is byte-identical)

Random weights (fixed seed, scaled by fan-in so activations stay O(1), GDN gates in a meaningful range)
are rounded to bf16 and stored as bf16 under the official key names; the reference then runs in float64
with exactly those values. File contract: tools/reference/GOLDEN.md. Deterministic: re-running gives
byte-identical files.
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import st  # noqa: E402
from sana_wm import SanaWM, golden_config  # noqa: E402
from sana_wm import camera as cam  # noqa: E402
from sana_wm import rope as rp  # noqa: E402
from sana_wm import sampler as sm  # noqa: E402

SEED = 20260523
T_FWD, T_STREAM = 7, 10
IMAGE_HW = (128, 192)


def init_weights(model, gen):
    """Deterministic random init in state_dict key order; returns {key: bf16 tensor}."""
    out = {}
    for name, p in model.state_dict().items():
        shp = p.shape

        def rn(*s):
            return torch.randn(*s, generator=gen, dtype=torch.float64)

        if name.endswith("recall_gate"):
            w = torch.zeros(shp, dtype=torch.float64)
        elif name.endswith("A_log"):
            w = torch.log(0.5 + 1.5 * torch.rand(shp, generator=gen, dtype=torch.float64))
        elif name.endswith("dt_bias"):
            w = -2.0 + 2.0 * torch.rand(shp, generator=gen, dtype=torch.float64)
        elif "conv_k" in name:  # (C,1,K): near-identity causal kernel (last tap = current frame)
            w = 0.2 * rn(*shp)
            w[:, 0, -1] += 1.0
        elif "norm" in name:  # RMSNorm weights
            w = 1.0 + 0.1 * rn(*shp)
        elif "scale_shift_table" in name:
            w = 0.2 * rn(*shp)
        elif name.endswith("y_embedding"):
            w = rn(*shp)
        elif name.endswith("bias"):
            w = (0.5 if "beta_proj" in name else 0.02) * rn(*shp)
        else:  # weights: fan-in scaling
            fan_in = math.prod(shp[1:])
            gain = {"t_block": 2.0, "t_conv": 0.5, "depth_conv": 2.0, "point_conv": 2.0}.get(
                next((g for g in ("t_block", "t_conv", "depth_conv", "point_conv") if g in name), ""), 1.0)
            w = gain * rn(*shp) / math.sqrt(fan_in)
        out[name] = w.to(torch.bfloat16)
    return out


def rot(axis, ang):
    a = torch.tensor(axis, dtype=torch.float64)
    a = a / a.norm()
    K = torch.tensor([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]], dtype=torch.float64)
    return torch.eye(3, dtype=torch.float64) + math.sin(ang) * K + (1 - math.cos(ang)) * K @ K


def make_trajectory(F_, gen):
    base = torch.eye(4, dtype=torch.float64)
    base[:3, :3] = rot([0.3, -1.0, 0.2], 0.7)
    base[:3, 3] = torch.tensor([1.5, -0.4, 2.0], dtype=torch.float64)
    c2w = torch.zeros(F_, 4, 4, dtype=torch.float64)
    intr = torch.zeros(F_, 4, dtype=torch.float64)
    ph = torch.rand(3, generator=gen, dtype=torch.float64) * 6.28
    for i in range(F_):
        s = i / 8.0
        R = rot([0, 1, 0], 0.25 * math.sin(0.4 * s + ph[0])) @ rot([1, 0, 0], 0.15 * math.sin(0.3 * s + ph[1])) \
            @ rot([0, 0, 1], 0.05 * math.sin(0.5 * s + ph[2]))
        loc = torch.eye(4, dtype=torch.float64)
        loc[:3, :3] = R
        loc[:3, 3] = torch.tensor([0.3 * math.sin(0.2 * s), 0.05 * s, 0.4 * s], dtype=torch.float64)
        c2w[i] = base @ loc
        fx = 160.0 * (1 + 0.05 * math.sin(0.3 * s))
        intr[i] = torch.tensor([fx, 1.02 * fx, 96.0 + 2 * math.sin(0.2 * s), 64.0 + 1.5 * math.cos(0.25 * s)])
    return c2w.to(torch.float32), intr.to(torch.float32)


def build_camera(c2w32, intr32, T, cfg):
    rel = cam.relative_poses(c2w32.to(torch.float64))
    lint = cam.latent_intrinsics(intr32, IMAGE_HW, (cfg.latent_h, cfg.latent_w))
    cc = cam.camera_conditions(rel, lint, T, cfg.vae_stride_t)
    plk = cam.chunk_plucker(rel, lint, T, cfg.latent_h, cfg.latent_w, cfg.vae_stride_t)
    return rel, lint, cc, plk


def camera_file(prefix, rel, lint, cc, plk, T, cfg):
    cc32 = cc.to(torch.float32).to(torch.float64)  # the forwards see the stored float32 tensor
    P, PT, Pinv = cam.ucpe_mats(cc32, cfg.latent_h, cfg.latent_w)
    a = rp.rope_angles(cfg.head_dim, list(range(T)), cfg.latent_h, cfg.latent_w, cfg.rope_theta)
    ac = rp.rope_angles(cfg.head_dim, list(range(T)), cfg.latent_h, cfg.latent_w, cfg.rope_theta, cam=True)
    return {prefix + "c2w_rel": rel, prefix + "intrinsics_latent": lint, prefix + "camera_conditions": cc,
            prefix + "chunk_plucker": plk, prefix + "ucpe.P": P[0], prefix + "ucpe.PT": PT[0],
            prefix + "ucpe.Pinv": Pinv[0], prefix + "rope.cos": torch.cos(a), prefix + "rope.sin": torch.sin(a),
            prefix + "rope_cam.cos": torch.cos(ac), prefix + "rope_cam.sin": torch.sin(ac)}


def switch_outputs(model, x, ts, y, mask, cc, plk, noise, z0, cc_s, plk_s):
    """Outputs with the release-era version switches (one switch at a time, then the June streaming set),
    so a port can test each switch; defaults are restored afterwards."""
    cfg, out = model.cfg, {}
    s128 = 1.0 / math.sqrt(128.0)
    single = [("scale128_main", "softmax_scale_main", s128, "bidirectional"),
              ("scale128_cam", "softmax_scale_cam", s128, "bidirectional"),
              ("renorm", "post_ucpe_renorm", 1, "bidirectional"),
              ("nomask", "teacher_chunk_mask", 0, "chunk_causal")]
    with torch.no_grad():
        for tag, field, val, variant in single:
            old = getattr(cfg, field)
            setattr(cfg, field, val)
            v, _ = model(x, ts, y, mask, cc, plk, variant=variant)
            setattr(cfg, field, old)
            out[f"{tag}.{variant}.v"] = v
        saved = (cfg.softmax_scale_main, cfg.softmax_scale_cam, cfg.cam_conv_cache)
        cfg.softmax_scale_main, cfg.softmax_scale_cam, cfg.cam_conv_cache = s128, s128, 0
        rec = {}
        sm.sample_streaming(model, noise.to(torch.float64), z0.to(torch.float64), y, mask, cc_s, plk_s, rec=rec)
        cfg.softmax_scale_main, cfg.softmax_scale_cam, cfg.cam_conv_cache = saved
    out["june_streaming.chunk1.step0.v"] = rec["chunk1.step0.v"]
    out["june_streaming.latents"] = rec["latents"]
    # Combinations a port must also get right: the first release's attention (renorm after UCPE and
    # 1/sqrt(128) on both branches at once) and the uncached camera conv alone in the streaming sampler.
    with torch.no_grad():
        saved = (cfg.post_ucpe_renorm, cfg.softmax_scale_main, cfg.softmax_scale_cam)
        cfg.post_ucpe_renorm, cfg.softmax_scale_main, cfg.softmax_scale_cam = 1, s128, s128
        out["first_release.bidirectional.v"], _ = model(x, ts, y, mask, cc, plk, variant="bidirectional")
        cfg.post_ucpe_renorm, cfg.softmax_scale_main, cfg.softmax_scale_cam = saved
        saved = cfg.cam_conv_cache
        cfg.cam_conv_cache = 0
        lat, _ = sm.sample_streaming(model, noise.to(torch.float64), z0.to(torch.float64), y, mask, cc_s, plk_s)
        cfg.cam_conv_cache = saved
    out["uncached_cam_conv.latents"] = lat
    return out


def f32(x):
    """round an input to float32 and return it as float64 (what every consumer sees)."""
    return x.to(torch.float32).to(torch.float64)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="", help="comma list of: weights,inputs,camera,bidirectional,"
                    "chunk_causal,streaming,switches,samplers,sampler_runs")
    ap.add_argument("--check", action="store_true",
                    help="regenerate into a temporary directory and verify --out is byte-identical")
    args = ap.parse_args()
    if args.check:
        return check_dir(args.out, args.only)
    only = set(filter(None, args.only.split(",")))

    def want(n):
        return not only or n in only

    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(2)
    cfg = golden_config()
    gen = torch.Generator().manual_seed(SEED)
    model = SanaWM(cfg)
    wbf = init_weights(model, gen)
    model.load_state_dict({k: v.to(torch.float64) for k, v in wbf.items()})
    model = model.double().eval()

    C, L, Cc, H, W = cfg.hidden_size, cfg.caption_length, cfg.caption_channels, cfg.latent_h, cfg.latent_w
    x = torch.randn(1, cfg.in_channels, T_FWD, H, W, generator=gen).to(torch.float32)
    y = torch.randn(1, 1, L, Cc, generator=gen).to(torch.float32)
    y_u = torch.randn(1, 1, L, Cc, generator=gen).to(torch.float32)
    mask = torch.tensor([[1] * 5 + [0] * (L - 5)], dtype=torch.int64)
    mask_u = torch.tensor([[1] + [0] * (L - 1)], dtype=torch.int64)
    ts = torch.tensor([[[0.0] + [500.9] * 3 + [937.7] * 3]], dtype=torch.float32)
    noise = torch.randn(1, cfg.in_channels, T_STREAM, H, W, generator=gen).to(torch.float32)
    z0 = torch.randn(1, cfg.in_channels, 1, H, W, generator=gen).to(torch.float32)
    F_s = cfg.vae_stride_t * (T_STREAM - 1) + 1
    F_f = cfg.vae_stride_t * (T_FWD - 1) + 1
    c2w_s, intr_s = make_trajectory(F_s, gen)
    c2w_f, intr_f = c2w_s[:F_f].clone(), intr_s[:F_f].clone()
    rel_f, lint_f, cc_f, plk_f = build_camera(c2w_f, intr_f, T_FWD, cfg)
    rel_s, lint_s, cc_s, plk_s = build_camera(c2w_s, intr_s, T_STREAM, cfg)
    cc_f, plk_f, cc_s, plk_s = f32(cc_f), f32(plk_f), f32(cc_s), f32(plk_s)

    out = args.out
    if want("weights"):
        extra = {"image_h": IMAGE_HW[0], "image_w": IMAGE_HW[1], "T_forward": T_FWD, "T_stream": T_STREAM,
                 "seed": SEED}
        with open(os.path.join(out, "config.json"), "w") as f:
            f.write(cfg.to_json(extra))
        st.save(os.path.join(out, "weights.safetensors"), wbf)
    if want("inputs"):
        st.save(os.path.join(out, "inputs.safetensors"), {
            "x": x, "timestep": ts, "y": y, "mask": mask, "camera_conditions": cc_f, "chunk_plucker": plk_f,
            "c2w_raw": c2w_f, "intrinsics_raw": intr_f, "image_hw": torch.tensor(IMAGE_HW),
            "y_uncond": y_u, "mask_uncond": mask_u,
            "stream.noise": noise, "stream.z0": z0, "stream.y": y, "stream.mask": mask,
            "stream.c2w_raw": c2w_s, "stream.intrinsics_raw": intr_s, "stream.camera_conditions": cc_s,
            "stream.chunk_plucker": plk_s})
    if want("camera"):
        d = camera_file("", rel_f, lint_f, cc_f, plk_f, T_FWD, cfg)
        d.update(camera_file("stream.", rel_s, lint_s, cc_s, plk_s, T_STREAM, cfg))
        st.save(os.path.join(out, "camera.safetensors"), d)
    xd, tsd = x.to(torch.float64), ts
    for variant in ("bidirectional", "chunk_causal"):
        if want(variant):
            rec = {}
            with torch.no_grad():
                model(xd, tsd, y, mask, cc_f, plk_f, variant=variant, rec=rec)
            st.save(os.path.join(out, f"out_{variant}.safetensors"), rec)
    if want("streaming"):
        rec = {}
        with torch.no_grad():
            sm.sample_streaming(model, noise.to(torch.float64), z0.to(torch.float64), y, mask, cc_s, plk_s,
                                rec=rec)
        st.save(os.path.join(out, "out_streaming.safetensors"), rec)
    if want("switches"):
        st.save(os.path.join(out, "out_switches.safetensors"),
                switch_outputs(model, xd, tsd, y, mask, cc_f, plk_f, noise, z0, cc_s, plk_s))
    if want("samplers"):
        s, t = sm.bidir_sigmas(60, 9.8)
        starts, total = sm.teacher_start_steps(40, 60)
        ds, dts = sm.distilled_sigmas()
        bounds = [a for a, _ in cfg.chunk_bounds(121)] + [121]
        st.save(os.path.join(out, "samplers.safetensors"), {
            "bidir.sigmas": s, "bidir.timesteps": t, "bidir.timesteps_long": t.long(),
            "teacher.T121.chunk_starts": torch.tensor(bounds), "teacher.T121.start_steps": torch.tensor(starts),
            "teacher.T121.total_steps": torch.tensor([total]), "distilled.sigmas": ds,
            "distilled.timesteps": dts, "distilled.timesteps_long": dts.long()})
    if want("sampler_runs"):
        rec, rt = {}, {}
        x0 = xd.clone()
        z = x0[:, :, 0:1].clone()
        with torch.no_grad():
            xb, sig = sm.sample_bidirectional(model, x0, z, y, mask, y_u, mask_u, cc_f, plk_f, 4, 9.8, 5.0, rec=rec)
            xt, _, _ = sm.sample_teacher(model, x0, z, y, mask, y_u, mask_u, cc_f, plk_f, 4, 9.8, 5.0,
                                         interval_k=0.5, rec=rt)
        d = {f"bidir.{k}": v for k, v in rec.items()}
        d.update({"bidir.sigmas": sig, "bidir.latents": xb, "teacher.latents": xt})
        d.update({f"teacher.{k}": v for k, v in rt.items()})
        st.save(os.path.join(out, "sampler_runs.safetensors"), d)
    print(json.dumps({f: os.path.getsize(os.path.join(out, f)) for f in sorted(os.listdir(out))}))


def check_dir(out, only):
    import filecmp
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, os.path.abspath(__file__), "--out", tmp] + (["--only", only] if only else [])
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        bad = [f for f in sorted(os.listdir(tmp))
               if not os.path.exists(os.path.join(out, f)) or not filecmp.cmp(os.path.join(tmp, f),
                                                                              os.path.join(out, f), shallow=False)]
    print("golden files up to date" if not bad else f"golden files differ from the generator: {bad}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
