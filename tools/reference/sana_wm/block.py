"""One DiT block (spec §2.3): per-frame adaLN-single modulation, self-attention (GDN or softmax, with
the camera branch) + gate, Plücker injection, cross-attention, FFN + gate. Intermediates are recorded
into `rec` under the names of tools/reference/GOLDEN.md; caches of a save pass into `cache`."""
import torch
import torch.nn as nn

from .attention import CamCtrlAttention
from .cross_attn import MultiHeadCrossAttention
from .embedders import layer_norm
from .ffn import GLUMBConvTemp


class CamCtrlBlock(nn.Module):
    def __init__(self, cfg, softmax):
        super().__init__()
        C = cfg.hidden_size
        self.cfg = cfg
        self.scale_shift_table = nn.Parameter(torch.zeros(6, C))
        self.attn = CamCtrlAttention(cfg, softmax)
        self.plucker_proj = nn.Linear(C, C)
        self.cross_attn = MultiHeadCrossAttention(cfg)
        self.mlp = GLUMBConvTemp(cfg)

    def forward(self, x, y, mask, t0, plucker_emb, ctx, i, rec, cache):
        B, N, C = x.shape
        T, S = ctx.T, ctx.S
        mod = self.scale_shift_table[None, None] + t0.reshape(B, T, 6, C)
        sh_msa, sc_msa, g_msa, sh_mlp, sc_mlp, g_mlp = [mod[:, :, j, None, :] for j in range(6)]

        def modulate(z, sh, sc):
            return (layer_norm(z, self.cfg.eps_layernorm).reshape(B, T, S, C) * (1 + sc) + sh).reshape(B, N, C)

        h = modulate(x, sh_msa, sc_msa)
        rec["attn_in"] = h
        a = self.attn(h, ctx, i, rec, cache)
        x = x + (g_msa * a.reshape(B, T, S, C)).reshape(B, N, C)
        rec["after_attn"] = x
        x = x + self.plucker_proj(plucker_emb)
        rec["after_plucker"] = x
        x = x + self.cross_attn(x, y, mask)
        rec["after_cross"] = x
        h = modulate(x, sh_mlp, sc_mlp)
        left = ctx.prev[i]["slot9"] if ctx.prev is not None else None
        m, ybuf = self.mlp(h, T, self.cfg.latent_h, self.cfg.latent_w, ctx.chunks, left)
        cache["slot9"] = ybuf[:, :, -1:]
        rec["mlp.out"] = m
        x = x + (g_mlp * m.reshape(B, T, S, C)).reshape(B, N, C)
        rec["out"] = x
        return x
