"""Self-attention module of a block: main branch + UCPE camera branch, shared output gate and proj
(spec §3 header, §3.1-§3.9, §4.5, §4.6). One class holds the official parameter names for both block
kinds; GDN blocks additionally own conv_k / conv_k_cam.

Forward context `ctx` (see model.Ctx): frames of this forward, chunk ranges, RoPE/UCPE tables, and for
streaming the previous chunk's cache entry (`ctx.prev[i]`), the softmax window entries
(`ctx.window[*][i]`) and whether to write this pass's cache (`ctx.save`).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .camera import apply_ucpe
from .embedders import RMSNorm
from .gdn import delta_scan, frame_gates, from_heads, short_conv, to_heads
from .rope import apply_rope
from .softmax_attn import attend, post_ucpe_renorm


def _tail(left, x, K):
    """last K-1 frames of [left || x] as (B*S, K-1, C), oldest first. x (B,T,S,C)."""
    B, T, S, C = x.shape
    if left is None:
        left = torch.zeros(B, K - 1, S, C, dtype=x.dtype)
    t = torch.cat([left, x], dim=1)[:, -(K - 1):]
    return t.permute(0, 2, 1, 3).reshape(B * S, K - 1, C)


def _untail(tail, B, S):
    """(B*S, K-1, C) -> (B, K-1, S, C)."""
    return tail.reshape(B, S, tail.shape[1], tail.shape[2]).permute(0, 2, 1, 3)


def _flat(x):
    """(B,H,T,S,D) -> (B,H,N,D)."""
    B, H, T, S, D = x.shape
    return x.reshape(B, H, T * S, D)


class CamCtrlAttention(nn.Module):
    def __init__(self, cfg, softmax):
        super().__init__()
        C, Hh, K = cfg.hidden_size, cfg.num_heads, cfg.conv_kernel_size
        self.cfg, self.softmax, self.heads = cfg, softmax, Hh
        self.qkv = nn.Linear(C, 3 * C, bias=False)
        self.q_norm = RMSNorm(C, cfg.eps_qk_norm)
        self.k_norm = RMSNorm(C, cfg.eps_qk_norm)
        if not softmax:
            self.conv_k = nn.Conv1d(C, C, K, groups=C, bias=False)
        self.beta_proj = nn.Linear(C, Hh)
        self.gate_proj = nn.Linear(C, Hh)
        self.A_log = nn.Parameter(torch.zeros(Hh))
        self.dt_bias = nn.Parameter(torch.zeros(Hh))
        self.register_buffer("recall_gate", torch.zeros(1))
        self.output_gate = nn.Linear(C, C)
        self.proj = nn.Linear(C, C)
        self.q_proj_cam = nn.Linear(C, C)
        self.k_proj_cam = nn.Linear(C, C)
        self.v_proj_cam = nn.Linear(C, C)
        self.out_proj_cam = nn.Linear(C, C)
        self.q_norm_cam = RMSNorm(C, cfg.eps_qk_norm)
        self.k_norm_cam = RMSNorm(C, cfg.eps_qk_norm)
        if not softmax:
            self.conv_k_cam = nn.Conv1d(C, C, K, groups=C, bias=False)

    # ---------------------------------------------------------------- GDN
    def _gdn(self, h, ctx, i, rec, cache):
        cfg, Hh = self.cfg, self.heads
        B, N, C = h.shape
        T, S, K = ctx.T, ctx.S, cfg.conv_kernel_size
        D = C // Hh
        prev = ctx.prev[i] if ctx.prev is not None else None
        kscale = (D * S) ** -0.5
        # main branch
        q, k, v = self.qkv(h).chunk(3, dim=-1)
        k4 = k.reshape(B, T, S, C)
        left = _untail(prev["slot4"], B, S) if prev is not None else None
        kc = short_conv(k4, self.conv_k.weight[:, 0, :], ctx.chunks, left).reshape(B, N, C)
        cache["slot4"] = _tail(left, k4, K)
        q = F.relu(self.q_norm(q))
        k = F.relu(self.k_norm(kc)) * kscale
        qh, kh, vh = to_heads(q, T, Hh), to_heads(k, T, Hh), to_heads(v, T, Hh)
        qr = apply_rope(_flat(qh), ctx.rope).reshape(qh.shape)
        kr = apply_rope(_flat(kh), ctx.rope).reshape(kh.shape)
        beta, g = frame_gates(h, T, Hh, self.beta_proj, self.gate_proj, self.A_log, self.dt_bias)
        M0 = prev["slot0"] if prev is not None else None
        z0 = prev["slot1"][..., 0] if prev is not None else None
        num, den, M, z = delta_scan(qr, kr, vh, beta, g, ctx.chunks, q=qh, k=kh, M0=M0, z0=z0)
        main_raw = from_heads(num / (den[..., None] + cfg.eps_gdn))
        cache["slot0"], cache["slot1"] = M, z[..., None]
        # camera branch
        qc, kc_raw, vc = self.q_proj_cam(h), self.k_proj_cam(h), self.v_proj_cam(h)
        k4c = kc_raw.reshape(B, T, S, C)
        use_tail = prev is not None and cfg.cam_conv_cache
        leftc = _untail(prev["slot3"], B, S) if use_tail else None
        kcc = short_conv(k4c, self.conv_k_cam.weight[:, 0, :], ctx.chunks, leftc).reshape(B, N, C)
        cache["slot3"] = _tail(leftc, k4c, K)
        qc = _flat(to_heads(F.relu(self.q_norm_cam(qc)), T, Hh))
        kc = _flat(to_heads(F.relu(self.k_norm_cam(kcc)) * kscale, T, Hh))
        vc = _flat(to_heads(vc, T, Hh))
        qt = apply_ucpe(qc, ctx.PT, ctx.cam_rope)
        kt = apply_ucpe(kc, ctx.Pinv, ctx.cam_rope)
        vt = apply_ucpe(vc, ctx.Pinv, ctx.cam_rope)
        infl = (kt.pow(2).sum(-1) / kc.pow(2).sum(-1)).reshape(B, Hh, T, S).mean(-1)  # (B,H,T)
        beta_cam = beta / infl.clamp_min(1.0)[..., None]
        shp = (B, Hh, T, S, D)
        numc, _, Mc, _ = delta_scan(qt.reshape(shp), kt.reshape(shp), vt.reshape(shp), beta_cam, g,
                                    ctx.chunks, M0=prev["slot2"] if prev is not None else None)
        cam_raw = from_heads(apply_ucpe(_flat(numc), ctx.P, ctx.cam_rope, sign=-1.0).reshape(shp))
        cache["slot2"] = Mc
        cache["slot6"] = torch.ones(1, dtype=h.dtype)
        rec["attn.beta"], rec["attn.g"], rec["attn.beta_cam"] = beta, g, beta_cam
        return main_raw, cam_raw

    # ---------------------------------------------------------------- softmax
    def _sm(self, h, ctx, i, rec, cache):
        cfg, Hh = self.cfg, self.heads
        B, N, C = h.shape
        T = ctx.T
        win = [w[i] for w in ctx.window] if ctx.window else []
        q, k, v = self.qkv(h).chunk(3, dim=-1)
        qh = _flat(to_heads(self.q_norm(q), T, Hh))
        kh = _flat(to_heads(self.k_norm(k), T, Hh))
        vh = _flat(to_heads(v, T, Hh))
        qr, kr = apply_rope(qh, ctx.rope), apply_rope(kh, ctx.rope)
        cache["slot0"], cache["slot1"] = kr, vh
        keys = torch.cat([e["slot0"] for e in win] + [kr], dim=2)
        vals = torch.cat([e["slot1"] for e in win] + [vh], dim=2)
        mask = ctx.softmax_mask(keys.shape[2] - N)
        o = attend(qr, keys, vals, cfg.scale_main(), mask)
        main_raw = o.permute(0, 2, 1, 3).reshape(B, N, C)
        qc = _flat(to_heads(self.q_norm_cam(self.q_proj_cam(h)), T, Hh))
        kc = _flat(to_heads(self.k_norm_cam(self.k_proj_cam(h)), T, Hh))
        vc = _flat(to_heads(self.v_proj_cam(h), T, Hh))
        qt = apply_ucpe(qc, ctx.PT, ctx.cam_rope)
        kt = apply_ucpe(kc, ctx.Pinv, ctx.cam_rope)
        vt = apply_ucpe(vc, ctx.Pinv, ctx.cam_rope)
        if cfg.post_ucpe_renorm:
            qt, kt, vt = post_ucpe_renorm(qc, qt), post_ucpe_renorm(kc, kt), post_ucpe_renorm(vc, vt)
        cache["slot2"], cache["slot3"] = kt, vt
        keys = torch.cat([e["slot2"] for e in win] + [kt], dim=2)
        vals = torch.cat([e["slot3"] for e in win] + [vt], dim=2)
        oc = attend(qt, keys, vals, cfg.scale_cam(), mask)
        oc = apply_ucpe(oc, ctx.P, ctx.cam_rope, sign=-1.0)
        cam_raw = oc.permute(0, 2, 1, 3).reshape(B, N, C)
        cache["slot6"] = torch.zeros(1, dtype=h.dtype)
        return main_raw, cam_raw

    def forward(self, h, ctx, i, rec, cache):
        main_raw, cam_raw = (self._sm if self.softmax else self._gdn)(h, ctx, i, rec, cache)
        combined = main_raw + self.out_proj_cam(cam_raw)
        out = self.proj(combined * F.silu(self.output_gate(h)))
        rec["attn.main_raw"], rec["attn.cam_raw"], rec["attn.out"] = main_raw, cam_raw, out
        return out
