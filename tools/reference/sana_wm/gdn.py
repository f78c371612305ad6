"""Frame-wise Gated DeltaNet math (spec §3.1-§3.7, §4.5), written as explicit per-frame loops.

Tensors: per-head layout (B, H, T, S, D); beta (B, H, T, S); decay g (B, H, T).
Chunks are (start, end) frame ranges RELATIVE to the frames of this forward; a bidirectional forward is
the single chunk [0, T). Streaming passes the previous chunk's clean-pass state/tails as left context.

* short_conv: y = y_f + y_b - w[K-1] x, y_f = causal conv over [left tail || x] (crosses chunks),
  y_b = the same kernel on the time-reversed frames of each chunk only.
* frame_gates: beta = sigmoid(beta_proj(h)) per token, g = exp(-exp(A_log) softplus(gate_proj(mean_S h)
  + dt_bias)) per frame.
* delta_scan: forward inclusive over all frames from (M0, z0); reverse exclusive inside each chunk:
    M_t = g_t (I - P~_t) M_{t-1} + A~_t,  num_f = M_t^T q~   (z likewise with P_t, b_t; den_f = z_t^T q)
    R_t = g_{t+1} (I - P~_{t+1}) R_{t+1} + A~_{t+1} (R = 0 at the chunk's last frame)
"""
import torch
import torch.nn.functional as F


def short_conv(x, w, chunks, left=None):
    """x (B,T,S,C); w (C,K); left (B,K-1,S,C) or None (zeros). -> (B,T,S,C)."""
    B, T, S, C = x.shape
    K = w.shape[1]
    if left is None:
        left = torch.zeros(B, K - 1, S, C, dtype=x.dtype)
    xp = torch.cat([left, x], dim=1)
    y = torch.zeros_like(x)
    for t in range(T):
        for j in range(K):  # tap j multiplies frame t-(K-1)+j
            y[:, t] += w[:, j] * xp[:, t + j]
    for a, b in chunks:
        for t in range(a, b):
            for j in range(K):  # reversed causal conv: tap j multiplies frame t+(K-1)-j
                s = t + (K - 1) - j
                if s < b:
                    y[:, t] += w[:, j] * x[:, s]
    return y - w[:, K - 1] * x


def frame_gates(h, T, heads, beta_proj, gate_proj, A_log, dt_bias):
    """h (B,N,C) modulated input -> beta (B,H,T,S), g (B,H,T)."""
    B, N, C = h.shape
    S = N // T
    beta = torch.sigmoid(beta_proj(h)).reshape(B, T, S, heads).permute(0, 3, 1, 2)
    a = gate_proj(h.reshape(B, T, S, C).mean(dim=2))  # (B,T,H)
    g = torch.exp(-torch.exp(A_log) * F.softplus(a + dt_bias))
    return beta, g.permute(0, 2, 1)


def delta_scan(qr, kr, v, beta, g, chunks, q=None, k=None, M0=None, z0=None):
    """Numerator (rotated q~, k~) and optional denominator (unrotated q, k) streams.
    Returns num (B,H,T,S,D), den (B,H,T,S) or None, final M (B,H,D,D), final z (B,H,D) or None."""
    B, H, T, S, D = qr.shape
    Dv = v.shape[-1]
    with_den = q is not None
    M = torch.zeros(B, H, D, Dv, dtype=qr.dtype) if M0 is None else M0.clone()
    z = (torch.zeros(B, H, D, dtype=qr.dtype) if z0 is None else z0.clone()) if with_den else None
    I = torch.eye(D, dtype=qr.dtype)

    def grams(t):
        bt = beta[:, :, t]
        Pr = torch.einsum("bhs,bhsi,bhsj->bhij", bt, kr[:, :, t], kr[:, :, t])
        Ar = torch.einsum("bhs,bhsi,bhsj->bhij", bt, kr[:, :, t], v[:, :, t])
        if not with_den:
            return Pr, Ar, None, None
        Pu = torch.einsum("bhs,bhsi,bhsj->bhij", bt, k[:, :, t], k[:, :, t])
        bu = torch.einsum("bhs,bhsi->bhi", bt, k[:, :, t])
        return Pr, Ar, Pu, bu

    num = torch.zeros(B, H, T, S, Dv, dtype=qr.dtype)
    den = torch.zeros(B, H, T, S, dtype=qr.dtype) if with_den else None
    for t in range(T):  # forward, inclusive
        Pr, Ar, Pu, bu = grams(t)
        gt = g[:, :, t, None, None]
        M = gt * ((I - Pr) @ M) + Ar
        num[:, :, t] += torch.einsum("bhsi,bhij->bhsj", qr[:, :, t], M)
        if with_den:
            z = g[:, :, t, None] * ((I - Pu) @ z[..., None])[..., 0] + bu
            den[:, :, t] += torch.einsum("bhsi,bhi->bhs", q[:, :, t], z)
    for a, b in chunks:  # reverse, exclusive, isolated per chunk
        R = torch.zeros(B, H, D, Dv, dtype=qr.dtype)
        y = torch.zeros(B, H, D, dtype=qr.dtype)
        for t in range(b - 2, a - 1, -1):
            Pr, Ar, Pu, bu = grams(t + 1)
            gt = g[:, :, t + 1, None, None]
            R = gt * ((I - Pr) @ R) + Ar
            num[:, :, t] += torch.einsum("bhsi,bhij->bhsj", qr[:, :, t], R)
            if with_den:
                y = g[:, :, t + 1, None] * ((I - Pu) @ y[..., None])[..., 0] + bu
                den[:, :, t] += torch.einsum("bhsi,bhi->bhs", q[:, :, t], y)
    return num, den, M, z


def to_heads(x, T, heads):
    """(B,N,C) -> (B,H,T,S,D)."""
    B, N, C = x.shape
    return x.reshape(B, T, N // T, heads, C // heads).permute(0, 3, 1, 2, 4)


def from_heads(x):
    """(B,H,T,S,D) -> (B,N,C)."""
    B, H, T, S, D = x.shape
    return x.permute(0, 2, 3, 1, 4).reshape(B, T * S, H * D)
