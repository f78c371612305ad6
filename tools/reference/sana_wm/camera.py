"""Camera preprocessing (spec §4.1-§4.4, §4.7), float64.

* relative_poses: c2w_rel[i] = inv(c2w[0]) c2w[i] with the closed-form SE(3) inverse; frame 0 exact I.
* latent intrinsics: fx, cx * (Wl/W); fy, cy * (Hl/H)  (= 40/1280, 22/704 at 720p).
* camera_conditions (B,T,20): pose of raw frame 8i flattened row-major + (fx, fy, cx, cy) latent units.
* chunk_plucker (B,48,T,H,W): raw frames max(0,8i-7)..+7 (last repeated if short), per latent pixel
  (integer coordinates) d = normalize(R ((u-cx)/fx, (v-cy)/fy, 1)), m = t x d; channel 6k + j, (d, m).
* ucpe_mats: per token P = [[R_w2l, -R_w2l t], [0, 1]] with rows x_ray, y_ray, z_ray of the ray frame;
  returns P, P^T, P^-1 (closed form). apply_ucpe: 4x4 groups on the first half of a head, camera
  half-RoPE on the second half.
"""
import torch

from .rope import apply_rope


def se3_inverse(m):
    R, t = m[..., :3, :3], m[..., :3, 3:]
    out = torch.zeros_like(m)
    out[..., :3, :3] = R.transpose(-1, -2)
    out[..., :3, 3:] = -R.transpose(-1, -2) @ t
    out[..., 3, 3] = 1.0
    return out


def relative_poses(c2w):
    c2w = c2w.to(torch.float64)
    rel = se3_inverse(c2w[0])[None] @ c2w
    rel[0] = torch.eye(4, dtype=torch.float64)
    return rel


def latent_intrinsics(intr, image_hw, latent_hw):
    """intr (F,4) fx,fy,cx,cy pixels -> latent units."""
    H, W = image_hw
    Hl, Wl = latent_hw
    sx, sy = Wl / W, Hl / H
    intr = intr.to(torch.float64)
    return torch.stack([intr[:, 0] * sx, intr[:, 1] * sy, intr[:, 2] * sx, intr[:, 3] * sy], dim=-1)


def _pix_grid(Hl, Wl):
    v, u = torch.meshgrid(torch.arange(Hl, dtype=torch.float64), torch.arange(Wl, dtype=torch.float64),
                          indexing="ij")
    return u, v  # (Hl,Wl) each, integer coordinates, no +0.5


def _normalize(x):
    return x / torch.linalg.norm(x, dim=-1, keepdim=True)


def camera_conditions(rel, lintr, T, stride=8):
    idx = [stride * i for i in range(T)]
    return torch.cat([rel[idx].reshape(T, 16), lintr[idx]], dim=-1)[None]  # (1,T,20)


def chunk_plucker(rel, lintr, T, Hl, Wl, stride=8):
    F_ = rel.shape[0]
    u, v = _pix_grid(Hl, Wl)
    out = torch.zeros(1, 6 * stride, T, Hl, Wl, dtype=torch.float64)
    for i in range(T):
        s = max(0, stride * i - (stride - 1))
        for k in range(stride):
            r = min(s + k, F_ - 1)
            fx, fy, cx, cy = lintr[r]
            dc = torch.stack([(u - cx) / fx, (v - cy) / fy, torch.ones_like(u)], dim=-1)  # (Hl,Wl,3)
            d = _normalize(dc @ rel[r, :3, :3].t())
            o = rel[r, :3, 3].expand_as(d)
            m = torch.linalg.cross(o, d, dim=-1)
            out[0, 6 * k:6 * k + 6, i] = torch.cat([d, m], dim=-1).permute(2, 0, 1)
    return out


def ucpe_mats(cam, Hl, Wl):
    """cam (B,T,20) -> P, PT, Pinv each (B, T*Hl*Wl, 4, 4)."""
    cam = cam.to(torch.float64)
    B, T, _ = cam.shape
    c2w = cam[..., :16].reshape(B, T, 4, 4)
    fx, fy, cx, cy = [cam[..., 16 + j][:, :, None, None] for j in range(4)]
    u, v = _pix_grid(Hl, Wl)
    dc = _normalize(torch.stack([(u - cx) / fx, (v - cy) / fy, torch.ones_like(u - cx)], dim=-1))
    R = c2w[..., :3, :3][:, :, None, None]  # (B,T,1,1,3,3)
    t = c2w[..., :3, 3][:, :, None, None, :].expand(B, T, Hl, Wl, 3)
    z = _normalize((R @ dc[..., None])[..., 0])
    down = R[..., :, 1].expand(B, T, Hl, Wl, 3)
    x = _normalize(torch.linalg.cross(down, z, dim=-1))
    y = _normalize(torch.linalg.cross(z, x, dim=-1))
    Rw = torch.stack([x, y, z], dim=-2)  # rows
    P = torch.zeros(B, T, Hl, Wl, 4, 4, dtype=torch.float64)
    P[..., :3, :3] = Rw
    P[..., :3, 3] = -(Rw @ t[..., None])[..., 0]
    P[..., 3, 3] = 1.0
    bad = torch.isnan(z).any(-1)
    P[bad] = torch.eye(4, dtype=torch.float64)
    P = P.reshape(B, T * Hl * Wl, 4, 4)
    return P, P.transpose(-1, -2), se3_inverse(P)


def apply_ucpe(x, M, cam_ang, sign=1.0):
    """x (B,H,N,D); M (B,N,4,4); cam_ang (N, D/4). First half: out[g] = M @ in[g] per 4-group;
    second half: RoPE with sign*angle."""
    B, Hh, N, D = x.shape
    half = D // 2
    g = x[..., :half].reshape(B, Hh, N, half // 4, 4)
    g = torch.einsum("bnij,bhngj->bhngi", M, g).reshape(B, Hh, N, half)
    return torch.cat([g, apply_rope(x[..., half:], cam_ang, sign)], dim=-1)
