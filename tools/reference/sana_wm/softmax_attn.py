"""Softmax attention helpers (spec §3.8, §3.9, §4.6): plain scaled-dot-product attention with an
optional boolean (query, key) mask, and the first-release post-UCPE re-normalisation (switch, off by
default: per vector min(1, RMS_pre / RMS_post), RMS over the head dim, eps 1e-6)."""
import torch


def attend(q, k, v, scale, mask=None):
    """q (B,H,Nq,D), k/v (B,H,Nk,D), mask (Nq,Nk) bool (True = visible) or None."""
    s = torch.einsum("bhqd,bhkd->bhqk", q, k) * scale
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    return torch.einsum("bhqk,bhkd->bhqd", torch.softmax(s, dim=-1), v)


def post_ucpe_renorm(pre, post, eps=1e-6):
    rp = torch.sqrt(pre.pow(2).mean(-1, keepdim=True) + eps)
    rq = torch.sqrt(post.pow(2).mean(-1, keepdim=True) + eps)
    return post * torch.clamp(rp / rq, max=1.0)
