"""Global embedders and norms (spec §2.2, §2.8, §2.9): patch / Plücker embedders (1x1x1 Conv3d),
sinusoidal timestep embedding with `.long()` truncation, t_embedder / t_block MLPs, caption MLP
(GELU-tanh) + attention_y_norm, and the final layer. Module names mirror upstream so state_dict keys
are the official ones (x_embedder.proj, t_embedder.mlp.0/2, t_block.1, y_embedder.y_proj.fc1/fc2, ...).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    """x * rsqrt(mean(x^2) + eps) * weight over the last dim (full C, shared across heads)."""

    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def layer_norm(x, eps):
    """LayerNorm without affine over the last dim."""
    mu = x.mean(-1, keepdim=True)
    var = (x - mu).pow(2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps)


class PatchEmbed(nn.Module):
    """Conv3d kernel=stride=(1,1,1): (B,Cin,T,H,W) -> (B, T*H*W, C), frame-major raster."""

    def __init__(self, cin, c):
        super().__init__()
        self.proj = nn.Conv3d(cin, c, kernel_size=1, stride=1, bias=True)

    def forward(self, x):
        B, Cin, T, H, W = x.shape
        tok = x.permute(0, 2, 3, 4, 1).reshape(B, T * H * W, Cin)
        w = self.proj.weight.reshape(self.proj.weight.shape[0], Cin)
        return tok @ w.t() + self.proj.bias


def timestep_sinusoid(t, dim):
    """t: float tensor (...) already truncated. -> (..., dim) = [cos(t f_i), sin(t f_i)], f_i =
    exp(-ln(10000) i / (dim/2))."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / half)
    args = t.to(torch.float64)[..., None] * freqs
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def truncate_timestep(t):
    """The model's `timestep.long()` then float: truncation toward zero of the float32 input."""
    return t.to(torch.float32).long().to(torch.float64)


class TimestepEmbedder(nn.Module):
    def __init__(self, c, freq_dim):
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, c), nn.SiLU(), nn.Linear(c, c))

    def forward(self, t):
        return self.mlp(timestep_sinusoid(t, self.freq_dim).to(self.mlp[0].weight.dtype))


class Mlp(nn.Module):
    def __init__(self, cin, c):
        super().__init__()
        self.fc1 = nn.Linear(cin, c)
        self.fc2 = nn.Linear(c, c)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class CaptionEmbedder(nn.Module):
    def __init__(self, cin, c, length):
        super().__init__()
        self.y_proj = Mlp(cin, c)
        self.register_buffer("y_embedding", torch.zeros(length, cin))  # training null caption, unused

    def forward(self, y):
        return self.y_proj(y)


class FinalLayer(nn.Module):
    """LN (no affine) -> per-frame shift = sst[0] + t_emb_f, scale = sst[1] + t_emb_f -> linear."""

    def __init__(self, c, cout, eps):
        super().__init__()
        self.eps = eps
        self.linear = nn.Linear(c, cout)
        self.scale_shift_table = nn.Parameter(torch.zeros(2, c))

    def forward(self, x, t_emb, T):
        # x (B,N,C), t_emb (B,T,C)
        B, N, C = x.shape
        S = N // T
        shift = (self.scale_shift_table[0] + t_emb)[:, :, None, :]  # (B,T,1,C)
        scale = (self.scale_shift_table[1] + t_emb)[:, :, None, :]
        h = layer_norm(x, self.eps).reshape(B, T, S, C) * (1 + scale) + shift
        return self.linear(h.reshape(B, N, C))
