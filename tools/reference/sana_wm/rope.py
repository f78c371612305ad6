"""3-D RoPE (spec §2.7) and the camera half-RoPE slice (§4.4).

Angles per token and complex pair: [time f (t_dim/2) | row r (h_dim/2) | column c (w_dim/2)] with
h_dim = w_dim = 2*floor(D/6), t_dim = D - 2*h_dim, angle = p * theta^(-2i/d_axis). Pairs are interleaved
(x[2i], x[2i+1]). The camera table takes the FIRST half of each axis's frequencies of these full-head
tables ([t10 | h9 | w9] for D = 112), not tables rebuilt for a D/2 head.
"""
import torch


def axis_dims(head_dim):
    h = 2 * (head_dim // 6)
    return head_dim - 2 * h, h, h  # t, h, w


def _freqs(d, theta):
    return 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d)


def rope_angles(head_dim, frames, H, W, theta=10000.0, cam=False):
    """frames: list/1-D tensor of absolute frame indices. -> (len(frames)*H*W, P) angles, token order
    frame-major raster; P = head_dim/2 (main) or head_dim/4 (cam)."""
    td, hd, wd = axis_dims(head_dim)
    ft, fh, fw = _freqs(td, theta), _freqs(hd, theta), _freqs(wd, theta)
    if cam:
        ft, fh, fw = ft[: len(ft) // 2], fh[: len(fh) // 2], fw[: len(fw) // 2]
    f = torch.as_tensor(frames, dtype=torch.float64)
    F_, P = len(f), len(ft) + len(fh) + len(fw)
    r = torch.arange(H, dtype=torch.float64)
    c = torch.arange(W, dtype=torch.float64)
    at = (f[:, None] * ft)[:, None, None, :].expand(F_, H, W, len(ft))
    ah = (r[:, None] * fh)[None, :, None, :].expand(F_, H, W, len(fh))
    aw = (c[:, None] * fw)[None, None, :, :].expand(F_, H, W, len(fw))
    return torch.cat([at, ah, aw], dim=-1).reshape(F_ * H * W, P)


def apply_rope(x, ang, sign=1.0):
    """x (..., N, 2P) interleaved pairs; ang (N, P). Rotates each pair by sign*angle."""
    c, s = torch.cos(ang), sign * torch.sin(ang)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    y0 = x0 * c - x1 * s
    y1 = x0 * s + x1 * c
    return torch.stack([y0, y1], dim=-1).flatten(-2)
