"""Cross-attention to the text tokens (spec §2.5): q = q_norm(q_linear(x)), [k|v] = kv_linear(y) with
k = k_norm(k) (RMSNorm over full C, eps 1e-6), softmax over valid text tokens (mask), scale 1/sqrt(D),
proj. No RoPE, no modulation."""
import torch
import torch.nn as nn

from .embedders import RMSNorm


class MultiHeadCrossAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C = cfg.hidden_size
        self.heads = cfg.num_heads
        self.q_linear = nn.Linear(C, C)
        self.kv_linear = nn.Linear(C, 2 * C)
        self.q_norm = RMSNorm(C, cfg.eps_cross_norm)
        self.k_norm = RMSNorm(C, cfg.eps_cross_norm)
        self.proj = nn.Linear(C, C)

    def forward(self, x, y, mask):
        """x (B,N,C), y (B,L,C), mask (B,L) nonzero = valid."""
        B, N, C = x.shape
        L, Hh, D = y.shape[1], self.heads, C // self.heads
        q = self.q_norm(self.q_linear(x)).reshape(B, N, Hh, D).transpose(1, 2)
        k, v = self.kv_linear(y).chunk(2, dim=-1)
        k = self.k_norm(k).reshape(B, L, Hh, D).transpose(1, 2)
        v = v.reshape(B, L, Hh, D).transpose(1, 2)
        s = torch.einsum("bhnd,bhld->bhnl", q, k) / D ** 0.5
        s = s.masked_fill(~(mask != 0)[:, None, None, :], float("-inf"))
        o = torch.einsum("bhnl,bhld->bhnd", torch.softmax(s, dim=-1), v)
        return self.proj(o.transpose(1, 2).reshape(B, N, C))
