"""Flow-matching samplers (spec §5): sigma tables, per-token Euler update, the bidirectional CFG sampler,
the chunk-causal teacher's staggered schedule and the distilled 4-step streaming sampler with the t = 0
save pass and the sink + previous-chunk softmax window.

Scheduler arithmetic follows diffusers FlowMatchEulerDiscreteScheduler as used by SANA: sigmas in
float32, timesteps t = sigma * 1000 in float32, per-token sigma = t / 1000 in float32, next sigma = the
largest schedule sigma strictly below sigma - 1e-6 (0 if none), dt in float32; the latent update
x += (sigma_next - sigma) * v itself is done in float64 (the reference does not emulate bf16 latents).
"""
import numpy as np
import torch


def bidir_sigmas(steps, shift):
    """-> sigmas float32 (steps+1,) incl. trailing 0, timesteps float32 (steps,)."""
    tr = torch.from_numpy(np.linspace(1, 1000, 1000, dtype=np.float32)[::-1].copy()) / 1000.0
    tr = shift * tr / (1 + (shift - 1) * tr)  # float32, as the scheduler's __init__
    sigma_min, sigma_max = tr[-1].item(), tr[0].item()
    u = np.linspace(sigma_max * 1000, sigma_min * 1000, steps) / 1000.0  # float64
    s = shift * u / (1 + (shift - 1) * u)
    s = torch.from_numpy(s).to(torch.float32)
    ts = s * 1000.0
    return torch.cat([s, torch.zeros(1)]), ts


def distilled_sigmas(steps=(1000, 960, 889, 727)):
    s = torch.tensor([v / 1000.0 for v in steps], dtype=torch.float32)
    return torch.cat([s, torch.zeros(1)]), s * 1000.0


def teacher_start_steps(n_chunks, steps, interval_k=None):
    k = 1.0 / n_chunks if interval_k is None else interval_k
    starts = [int((i * k) * steps) for i in range(n_chunks)]
    return starts, starts[-1] + steps


def per_token_update(x, v, t_frames, sigmas):
    """x, v (B,C,T,H,W) float64; t_frames (B,1,T) float32; sigmas float32 schedule incl. 0."""
    cur = t_frames.to(torch.float32) / 1000.0  # (B,1,T)
    lower = torch.where(sigmas[:, None, None, None] < (cur - 1e-6)[None], sigmas[:, None, None, None],
                        torch.zeros(()))
    nxt = lower.max(dim=0).values
    dt = (cur - nxt).to(torch.float64)  # >= 0, float32 arithmetic
    return x - dt[:, :, :, None, None] * v


def _cat2(a, b):
    return torch.cat([a, b], dim=0)


def sample_bidirectional(model, x, z0, y, mask, y_u, mask_u, cam, plk, steps, shift, cfg_scale, rec=None):
    """x (1,C,T,H,W) initial latents with frame 0 = z0. CFG batch [uncond, cond]."""
    sigmas, ts = bidir_sigmas(steps, shift)
    T = x.shape[2]
    x = x.clone().to(torch.float64)
    for k in range(steps):
        t = torch.full((1, 1, T), ts[k].item(), dtype=torch.float32)
        t[..., 0] = 0.0
        v2, _ = model(_cat2(x, x), _cat2(t, t), _cat2(y_u, y), _cat2(mask_u, mask), _cat2(cam, cam),
                      _cat2(plk, plk), variant="bidirectional")
        v = v2[0:1] + cfg_scale * (v2[1:2] - v2[0:1])
        x = per_token_update(x, v, t, sigmas)
        x[:, :, 0:1] = z0
        if rec is not None:
            rec[f"step{k}.v"] = v
    return x, sigmas


def sample_teacher(model, x, z0, y, mask, y_u, mask_u, cam, plk, steps, shift, cfg_scale,
                   interval_k=None, rec=None):
    cfg = model.cfg
    T = x.shape[2]
    chunks = cfg.chunk_bounds(T)
    sigmas, ts = bidir_sigmas(steps, shift)
    starts, total = teacher_start_steps(len(chunks), steps, interval_k)
    x = x.clone().to(torch.float64)
    for gstep in range(total):
        active = [j for j in range(len(chunks)) if starts[j] <= gstep]
        end = chunks[active[-1]][1]
        t = torch.zeros(1, 1, end, dtype=torch.float32)
        for j in active:
            loc = gstep - starts[j]
            if loc < steps:
                a, b = chunks[j]
                t[..., a:b] = ts[loc].item()
        t[..., 0] = 0.0
        xa = x[:, :, :end]
        v2, _ = model(_cat2(xa, xa), _cat2(t, t), _cat2(y_u, y), _cat2(mask_u, mask),
                      _cat2(cam[:, :end], cam[:, :end]), _cat2(plk[:, :, :end], plk[:, :, :end]),
                      variant="chunk_causal")
        v = v2[0:1] + cfg_scale * (v2[1:2] - v2[0:1])
        if rec is not None:
            rec[f"step{gstep}.x_in"], rec[f"step{gstep}.timestep"], rec[f"step{gstep}.v"] = xa.clone(), t, v
        x[:, :, :end] = per_token_update(xa, v, t, sigmas)
        x[:, :, 0:1] = z0
    return x, starts, total


def stream_window(c):
    """retained chunk indices for chunk c (sink on, num_cached_blocks 2)."""
    if c == 0:
        return []
    return [0] if c == 1 else [0, c - 1]


def sample_streaming(model, noise, z0, y, mask, cam, plk, steps=(1000, 960, 889, 727), rec=None):
    cfg = model.cfg
    T = noise.shape[2]
    sigmas, ts = distilled_sigmas(steps)
    x = noise.clone().to(torch.float64)
    x[:, :, 0:1] = z0
    entries = []
    rec = {} if rec is None else rec
    for c, (s, e) in enumerate(cfg.chunk_bounds(T)):
        prev = entries[c - 1] if c > 0 else None
        window = [entries[j] for j in stream_window(c)]
        xc = x[:, :, s:e].clone()
        kw = dict(variant="streaming", start_f=s, prev=prev, window=window)
        for k in range(len(steps)):
            t = torch.full((1, 1, e - s), ts[k].item(), dtype=torch.float32)
            if c == 0:
                t[..., 0] = 0.0
            brec = {}
            v, _ = model(xc, t, y, mask, cam[:, s:e], plk[:, :, s:e], rec=brec, **kw)
            rec[f"chunk{c}.step{k}.x_in"], rec[f"chunk{c}.step{k}.timestep"] = xc.clone(), t
            rec[f"chunk{c}.step{k}.v"] = v
            if k == 0:
                for i in range(cfg.depth):
                    rec[f"chunk{c}.step0.blocks.{i}.out"] = brec[f"blocks.{i}.out"]
            xc = per_token_update(xc, v, t, sigmas)
            if c == 0:
                xc[:, :, 0:1] = z0
        rec[f"chunk{c}.x0"] = xc.clone()
        t0 = torch.zeros(1, 1, e - s, dtype=torch.float32)
        v, caches = model(xc, t0, y, mask, cam[:, s:e], plk[:, :, s:e], save=True, **kw)
        rec[f"chunk{c}.save.v"] = v
        for i, cache in enumerate(caches):
            for name, val in cache.items():
                rec[f"chunk{c}.save.blocks.{i}.{name}"] = val
        entries.append(caches)
        x[:, :, s:e] = xc
    rec["latents"] = x
    return x, entries
