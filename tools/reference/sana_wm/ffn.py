"""GLUMBConvTemp FFN (spec §2.6): per frame 1x1 conv C->2h + SiLU, depthwise 3x3 (zero pad 1) + bias,
GLU a * SiLU(g), 1x1 conv h->C (no bias) => y; then out = y + t_conv(y) with the (3,1) dense temporal
conv. Temporal context per chunk (a, b): frame t sees y[t-1] (the previous chunk's last frame when
t = a > 0; the streaming tail, slot 9, when t = 0 of a streaming chunk; else zero) and y[t+1] only
inside the chunk. A bidirectional forward is the single chunk [0, T)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class _Conv(nn.Module):
    def __init__(self, conv):
        super().__init__()
        self.conv = conv


class GLUMBConvTemp(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, Hd = cfg.hidden_size, cfg.mlp_hidden
        self.inverted_conv = _Conv(nn.Conv2d(C, 2 * Hd, 1, bias=True))
        self.depth_conv = _Conv(nn.Conv2d(2 * Hd, 2 * Hd, 3, padding=1, groups=2 * Hd, bias=True))
        self.point_conv = _Conv(nn.Conv2d(Hd, C, 1, bias=False))
        self.t_conv = nn.Conv2d(C, C, kernel_size=(cfg.t_conv_kernel, 1), padding=(1, 0), bias=False)

    def forward(self, x, T, H, W, chunks, left=None):
        """x (B,N,C); left (B,C,1,S) or None. Returns out (B,N,C), y (B,C,T,S) (t_conv input)."""
        B, N, C = x.shape
        S = H * W
        f = x.reshape(B * T, H, W, C).permute(0, 3, 1, 2)
        f = F.silu(self.inverted_conv.conv(f))
        f = self.depth_conv.conv(f)
        a, g = f.chunk(2, dim=1)
        f = self.point_conv.conv(a * F.silu(g))  # (B*T, C, H, W)
        y = f.reshape(B, T, C, S).permute(0, 2, 1, 3)  # (B,C,T,S)
        w = self.t_conv.weight[:, :, :, 0]  # (Cout, Cin, 3): tap j multiplies frame t-1+j
        out = y.clone()
        for a0, b0 in chunks:
            for t in range(a0, b0):
                if t - 1 >= 0:
                    prev = y[:, :, t - 1]
                elif left is not None:
                    prev = left[:, :, 0]
                else:
                    prev = torch.zeros_like(y[:, :, t])
                out[:, :, t] += torch.einsum("oc,bcs->bos", w[:, :, 0], prev)
                out[:, :, t] += torch.einsum("oc,bcs->bos", w[:, :, 1], y[:, :, t])
                if t + 1 < b0:
                    out[:, :, t] += torch.einsum("oc,bcs->bos", w[:, :, 2], y[:, :, t + 1])
        return out.permute(0, 2, 3, 1).reshape(B, N, C), y
