"""SANA-WM stage-1 DiT (spec §2): embedders, blocks, final layer; one forward for the three variants.

variant:
* "bidirectional": all frames one chunk [0, T).
* "chunk_causal":  chunks first_chunk_plus_one; forward GDN/short convs/t_conv across chunks, reverse
                   and right context isolated per chunk, block-causal softmax (teacher_chunk_mask).
* "streaming":     the frames of ONE chunk at absolute offset start_f; left context from `prev` (the
                   previous chunk's save-pass cache entry, list per block) and softmax keys/values
                   from `window` (entries of the retained chunks, in chunk order). With save=True the
                   pass returns this chunk's cache entry.
"""
import torch
import torch.nn as nn

from .block import CamCtrlBlock
from .camera import ucpe_mats
from .embedders import CaptionEmbedder, FinalLayer, PatchEmbed, RMSNorm, TimestepEmbedder, truncate_timestep
from .rope import rope_angles


class Ctx:
    def __init__(self, cfg, T, variant, start_f, cam, prev, window, save):
        self.T, self.H, self.W = T, cfg.latent_h, cfg.latent_w
        self.S = self.H * self.W
        self.variant, self.prev, self.window, self.save = variant, prev, window, save
        self.chunks = cfg.chunk_bounds(T) if variant == "chunk_causal" else [(0, T)]
        frames = list(range(start_f, start_f + T))
        self.rope = rope_angles(cfg.head_dim, frames, self.H, self.W, cfg.rope_theta)
        self.cam_rope = rope_angles(cfg.head_dim, frames, self.H, self.W, cfg.rope_theta, cam=True)
        self.P, self.PT, self.Pinv = ucpe_mats(cam, self.H, self.W)
        self.block_causal = variant == "chunk_causal" and cfg.teacher_chunk_mask

    def softmax_mask(self, n_prefix):
        """(N, n_prefix + N) bool, True = visible; None = everything visible."""
        if not self.block_causal:
            return None
        cid = torch.zeros(self.T, dtype=torch.long)
        for j, (a, b) in enumerate(self.chunks):
            cid[a:b] = j
        cid = cid.repeat_interleave(self.S)
        m = cid[None, :] <= cid[:, None]
        return torch.cat([torch.ones(m.shape[0], n_prefix, dtype=torch.bool), m], dim=1)


class SanaWM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C = cfg.hidden_size
        self.cfg = cfg
        self.x_embedder = PatchEmbed(cfg.in_channels, C)
        self.t_embedder = TimestepEmbedder(C, cfg.freq_dim)
        self.t_block = nn.Sequential(nn.SiLU(), nn.Linear(C, 6 * C))
        self.y_embedder = CaptionEmbedder(cfg.caption_channels, C, cfg.caption_length)
        self.attention_y_norm = RMSNorm(C, cfg.eps_y_norm)
        self.plucker_embedder = PatchEmbed(cfg.plucker_channels, C)
        self.raymap_embedder = PatchEmbed(3, C)  # unused with chunk Plücker (spec §4.8)
        self.blocks = nn.ModuleList([CamCtrlBlock(cfg, bool(cfg.is_softmax[i])) for i in range(cfg.depth)])
        self.final_layer = FinalLayer(C, cfg.out_channels, cfg.eps_layernorm)

    def forward(self, x, timestep, y, mask, camera_conditions, chunk_plucker, variant="bidirectional",
                start_f=0, prev=None, window=None, save=False, rec=None):
        """x (B,Cin,T,H,W), timestep (B,1,T) float32, y (B,1,L,Cc), mask (B,L), camera (B,T,20),
        plucker (B,48,T,H,W). Returns v (B,Cout,T,H,W) and the per-block cache entries (list)."""
        cfg = self.cfg
        dt = self.x_embedder.proj.weight.dtype
        B, _, T, H, W = x.shape
        rec = {} if rec is None else rec
        ctx = Ctx(cfg, T, variant, start_f, camera_conditions, prev, window, save)
        t = truncate_timestep(timestep.reshape(B, T)).to(dt)
        t_emb = self.t_embedder(t)  # (B,T,C)
        t0 = self.t_block(t_emb)  # (B,T,6C)
        xt = self.x_embedder(x.to(dt))
        y_emb = self.attention_y_norm(self.y_embedder(y[:, 0].to(dt)))
        plk = self.plucker_embedder(chunk_plucker.to(dt))
        rec.update({"t_emb": t_emb, "t0": t0, "x_emb": xt, "y_emb": y_emb, "plucker_emb": plk})
        caches = []
        for i, blk in enumerate(self.blocks):
            brec, cache = {}, {}
            xt = blk(xt, y_emb, mask, t0, plk, ctx, i, brec, cache)
            rec.update({f"blocks.{i}.{k}": v for k, v in brec.items()})
            caches.append(cache)
        out = self.final_layer(xt, t_emb, T)  # (B,N,Cout)
        v = out.reshape(B, T, H, W, -1).permute(0, 4, 1, 2, 3)
        rec["v"] = v
        return v, (caches if save else None)
