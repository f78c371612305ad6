"""PyTorch reference of the LTX-2 video VAE (diffusers `AutoencoderKLLTX2Video`) and of the causal
streaming decode used by SANA-WM (`AutoencoderKLCausalLTX2Video.decode_per_frame_with_cache`).

Written for wm from public facts (spec /work/shared/docs/sana_wm_spec.md §1.4, §1.5, §1.5.1; the
diffusers and NVlabs/Sana sources were read, none copied). Module attribute names follow the official
ones so `state_dict()` keys equal the checkpoint's tensor names (encoder.down_blocks.0.resnets.0.conv1.
conv.weight, decoder.up_blocks.2.upsamplers.0.conv.conv.bias, latents_mean, ...). Every size comes from
a config dict with the diffusers config.json keys, so the golden tests run a small width with the same
code as the real model.

Numerics: the golden generator runs this module in float64 (weights are bf16-rounded values). The
streaming decode (`StreamingDecoder`) keeps, per temporal conv, the last (k_t - 1) frames of that conv's
input; the first call replicates the first frame (identical to full causal padding) and each depth-to-
space upsampler drops its first (stride_t - 1) output frames only on the first call. Chunked decoding is
therefore equal to one causal decode of the whole clip (checked by `self_check()`).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULT_CONFIG = dict(
    in_channels=3, out_channels=3, latent_channels=128,
    block_out_channels=[256, 512, 1024, 2048],
    decoder_block_out_channels=[256, 512, 1024],
    layers_per_block=[4, 6, 6, 2, 2],
    decoder_layers_per_block=[5, 5, 5, 5],
    spatio_temporal_scaling=[True, True, True, True],
    decoder_spatio_temporal_scaling=[True, True, True],
    decoder_inject_noise=[False, False, False, False],
    downsample_type=["spatial", "temporal", "spatiotemporal", "spatiotemporal"],
    upsample_type=["spatiotemporal", "spatiotemporal", "spatiotemporal"],
    upsample_residual=[True, True, True],
    upsample_factor=[2, 2, 2],
    timestep_conditioning=False,
    patch_size=4, patch_size_t=1, resnet_norm_eps=1e-6, scaling_factor=1.0,
    encoder_causal=True, decoder_causal=True,
    encoder_spatial_padding_mode="zeros", decoder_spatial_padding_mode="reflect",
)

STRIDES = {"spatial": (1, 2, 2), "temporal": (2, 1, 1), "spatiotemporal": (2, 2, 2)}


def rms_norm_channels(x, eps=1e-8):
    # PerChannelRMSNorm: x / sqrt(mean_c x^2 + eps), no weight.
    return x / torch.sqrt(torch.mean(x * x, dim=1, keepdim=True) + eps)


class StreamCache:
    """Per-layer state of a streaming decode, visited in a fixed order each call (slot = call order)."""

    def __init__(self):
        self.slots = []
        self.pos = 0

    def begin(self):
        self.pos = 0

    def next(self, default):
        if self.pos == len(self.slots):
            self.slots.append(default)
        i = self.pos
        self.pos += 1
        return i


class CausalConv3d(nn.Module):
    """Conv3d with replicate temporal padding (causal: k_t-1 copies of frame 0 on the left) and the
    configured spatial padding (zeros or reflect, k//2 each side)."""

    def __init__(self, cin, cout, k=3, padding_mode="zeros"):
        super().__init__()
        self.kt = k
        self.conv = nn.Conv3d(cin, cout, k, padding=(0, k // 2, k // 2), padding_mode=padding_mode)

    def forward(self, x, causal=True, cache=None):
        n = self.kt - 1
        if n == 0:
            return self.conv(x)
        if not causal:
            assert cache is None, "streaming needs a causal decoder"
            h = n // 2
            x = torch.cat([x[:, :, :1].repeat(1, 1, h, 1, 1), x, x[:, :, -1:].repeat(1, 1, h, 1, 1)], dim=2)
            return self.conv(x)
        if cache is None:
            left = x[:, :, :1].repeat(1, 1, n, 1, 1)
        else:
            i = cache.next(None)
            left = cache.slots[i]
            if left is None:
                left = x[:, :, :1].repeat(1, 1, n, 1, 1)
        xx = torch.cat([left, x], dim=2)
        if cache is not None:
            # The next call's left context: the last n frames of (context ++ input). With a one-frame
            # first call this is [x0, x0], exactly what causal padding of the whole clip sees.
            cache.slots[i] = xx[:, :, -n:].clone()
        return self.conv(xx)


class ResnetBlock3d(nn.Module):
    def __init__(self, cin, cout, eps, padding_mode):
        super().__init__()
        self.norm1 = nn.Identity()  # PerChannelRMSNorm (no parameters)
        self.conv1 = CausalConv3d(cin, cout, 3, padding_mode)
        self.norm2 = nn.Identity()
        self.conv2 = CausalConv3d(cout, cout, 3, padding_mode)
        self.norm3 = None
        self.conv_shortcut = None
        if cin != cout:
            self.norm3 = nn.LayerNorm(cin, eps=eps, elementwise_affine=True, bias=True)
            self.conv_shortcut = nn.Conv3d(cin, cout, 1)

    def forward(self, x, causal=True, cache=None):
        h = F.silu(rms_norm_channels(x))
        h = self.conv1(h, causal, cache)
        h = F.silu(rms_norm_channels(h))
        h = self.conv2(h, causal, cache)
        if self.norm3 is not None:
            x = self.norm3(x.movedim(1, -1)).movedim(-1, 1)
            x = self.conv_shortcut(x)
        return h + x


def space_to_depth(x, s):
    # (B, C, T*s0, H*s1, W*s2) -> (B, C*s0*s1*s2, T, H, W); channel = c*s0*s1*s2 + (i*s1 + j)*s2 + k.
    b, c, t, h, w = x.shape
    x = x.reshape(b, c, t // s[0], s[0], h // s[1], s[1], w // s[2], s[2])
    return x.permute(0, 1, 3, 5, 7, 2, 4, 6).reshape(b, c * s[0] * s[1] * s[2], t // s[0], h // s[1], w // s[2])


def depth_to_space(x, s):
    # Inverse of space_to_depth.
    b, c, t, h, w = x.shape
    n = s[0] * s[1] * s[2]
    x = x.reshape(b, c // n, s[0], s[1], s[2], t, h, w)
    return x.permute(0, 1, 5, 2, 6, 3, 7, 4).reshape(b, c // n, t * s[0], h * s[1], w * s[2])


class Downsampler3d(nn.Module):
    """Conv to cout/(s0 s1 s2) channels, then space-to-depth; residual = space-to-depth of the input,
    averaged over groups of `group_size` consecutive channels. (s0 - 1) copies of frame 0 are prepended."""

    def __init__(self, cin, cout, stride, padding_mode):
        super().__init__()
        self.stride = stride
        n = stride[0] * stride[1] * stride[2]
        self.group_size = cin * n // cout
        self.conv = CausalConv3d(cin, cout // n, 3, padding_mode)

    def forward(self, x, causal=True):
        x = torch.cat([x[:, :, : self.stride[0] - 1], x], dim=2)
        r = space_to_depth(x, self.stride)
        b, c, t, h, w = r.shape
        r = r.reshape(b, c // self.group_size, self.group_size, t, h, w).mean(dim=2)
        return space_to_depth(self.conv(x, causal), self.stride) + r


class Upsampler3d(nn.Module):
    """Conv to cin*s0*s1*s2/f channels, depth-to-space, drop the first (s0-1) frames; residual =
    depth-to-space of the input repeated (s0 s1 s2 / f) times along channels (tiled, not interleaved)."""

    def __init__(self, cin, stride, residual, factor, padding_mode):
        super().__init__()
        self.stride = stride
        self.residual = residual
        self.factor = factor
        n = stride[0] * stride[1] * stride[2]
        self.conv = CausalConv3d(cin, cin * n // factor, 3, padding_mode)

    def forward(self, x, causal=True, cache=None):
        trim = self.stride[0] - 1
        if cache is not None:
            i = cache.next(False)
            if cache.slots[i]:
                trim = 0            # only the first call of a stream drops frames
            cache.slots[i] = True
        n = self.stride[0] * self.stride[1] * self.stride[2]
        if self.residual:
            r = depth_to_space(x, self.stride).repeat(1, n // self.factor, 1, 1, 1)[:, :, trim:]
        y = depth_to_space(self.conv(x, causal, cache), self.stride)[:, :, trim:]
        return y + r if self.residual else y


class DownBlock3D(nn.Module):
    def __init__(self, cin, cout, layers, scale, dtype, eps, pm):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock3d(cin, cin, eps, pm) for _ in range(layers)])
        self.downsamplers = None
        if scale:
            self.downsamplers = nn.ModuleList([Downsampler3d(cin, cout, STRIDES[dtype], pm)])

    def forward(self, x, causal):
        for r in self.resnets:
            x = r(x, causal)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x, causal)
        return x


class MidBlock3d(nn.Module):
    def __init__(self, c, layers, eps, pm):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock3d(c, c, eps, pm) for _ in range(layers)])

    def forward(self, x, causal=True, cache=None):
        for r in self.resnets:
            x = r(x, causal, cache)
        return x


class UpBlock3d(nn.Module):
    def __init__(self, cin, cout, layers, scale, utype, residual, factor, eps, pm):
        super().__init__()
        self.conv_in = ResnetBlock3d(cin, cout, eps, pm) if cin != cout else None
        self.upsamplers = None
        if scale:
            self.upsamplers = nn.ModuleList([Upsampler3d(cout * factor, STRIDES[utype], residual, factor, pm)])
        self.resnets = nn.ModuleList([ResnetBlock3d(cout, cout, eps, pm) for _ in range(layers)])

    def forward(self, x, causal=True, cache=None):
        if self.conv_in is not None:
            x = self.conv_in(x, causal, cache)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x, causal, cache)
        for r in self.resnets:
            x = r(x, causal, cache)
        return x


class Encoder3d(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        p, pt = cfg["patch_size"], cfg["patch_size_t"]
        pm, eps = cfg["encoder_spatial_padding_mode"], cfg["resnet_norm_eps"]
        self.p, self.pt, self.causal = p, pt, cfg["encoder_causal"]
        lat = cfg["latent_channels"]
        self.conv_in = CausalConv3d(cfg["in_channels"] * p * p * pt, lat, 3, pm)
        blocks, c = [], lat
        for i, co in enumerate(cfg["block_out_channels"]):
            blocks.append(DownBlock3D(c, co, cfg["layers_per_block"][i], cfg["spatio_temporal_scaling"][i],
                                      cfg["downsample_type"][i], eps, pm))
            c = co
        self.down_blocks = nn.ModuleList(blocks)
        self.mid_block = MidBlock3d(c, cfg["layers_per_block"][-1], eps, pm)
        self.conv_out = CausalConv3d(c, lat + 1, 3, pm)

    def forward(self, x, stages=None):
        b, c, t, h, w = x.shape
        p, pt = self.p, self.pt
        # Patchify: channel = c*pt*p*p + it*p*p + iw*p + ih (width offset before height offset).
        x = x.reshape(b, c, t // pt, pt, h // p, p, w // p, p).permute(0, 1, 3, 7, 5, 2, 4, 6)
        x = x.reshape(b, c * pt * p * p, t // pt, h // p, w // p)
        rec = (lambda k, v: stages.__setitem__(k, v)) if stages is not None else (lambda k, v: None)
        rec("encoder.patchify", x)
        x = self.conv_in(x, self.causal)
        rec("encoder.conv_in", x)
        for i, blk in enumerate(self.down_blocks):
            x = blk(x, self.causal)
            rec(f"encoder.down_blocks.{i}", x)
        x = self.mid_block(x, self.causal)
        rec("encoder.mid_block", x)
        x = self.conv_out(F.silu(rms_norm_channels(x)), self.causal)
        rec("encoder.conv_out", x)
        # Channels [0, lat) are the posterior mean; the last channel is the shared log-variance that
        # diffusers repeats to build (mean, logvar). SANA-WM uses the mode = the mean.
        return x


class Decoder3d(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        pm, eps = cfg["decoder_spatial_padding_mode"], cfg["resnet_norm_eps"]
        self.p, self.pt, self.causal = cfg["patch_size"], cfg["patch_size_t"], cfg["decoder_causal"]
        boc = list(reversed(cfg["decoder_block_out_channels"]))
        scl = list(reversed(cfg["decoder_spatio_temporal_scaling"]))
        lpb = list(reversed(cfg["decoder_layers_per_block"]))
        res = list(reversed(cfg["upsample_residual"]))
        fac = list(reversed(cfg["upsample_factor"]))
        ut = list(reversed(cfg["upsample_type"]))
        c = boc[0]
        self.conv_in = CausalConv3d(cfg["latent_channels"], c, 3, pm)
        self.mid_block = MidBlock3d(c, lpb[0], eps, pm)
        blocks = []
        for i in range(len(boc)):
            cin, cout = c // fac[i], boc[i] // fac[i]
            blocks.append(UpBlock3d(cin, cout, lpb[i + 1], scl[i], ut[i], res[i], fac[i], eps, pm))
            c = cout
        self.up_blocks = nn.ModuleList(blocks)
        self.conv_out = CausalConv3d(c, cfg["out_channels"] * self.p * self.p * self.pt, 3, pm)

    def forward(self, z, causal=None, cache=None, stages=None):
        causal = self.causal if causal is None else causal
        rec = (lambda k, v: stages.__setitem__(k, v)) if stages is not None else (lambda k, v: None)
        x = self.conv_in(z, causal, cache)
        rec("decoder.conv_in", x)
        x = self.mid_block(x, causal, cache)
        rec("decoder.mid_block", x)
        for i, blk in enumerate(self.up_blocks):
            x = blk(x, causal, cache)
            rec(f"decoder.up_blocks.{i}", x)
        x = self.conv_out(F.silu(rms_norm_channels(x)), causal, cache)
        rec("decoder.conv_out", x)
        b, c, t, h, w = x.shape
        p, pt = self.p, self.pt
        # Unpatchify: channel = c*pt*p*p + it*p*p + iw*p + ih, as in the encoder's patchify.
        x = x.reshape(b, c // (pt * p * p), pt, p, p, t, h, w).permute(0, 1, 5, 2, 6, 4, 7, 3)
        return x.reshape(b, c // (pt * p * p), t * pt, h * p, w * p)


class AutoencoderKLLTX2Video(nn.Module):
    def __init__(self, cfg=None):
        super().__init__()
        full = dict(DEFAULT_CONFIG)
        full.update(cfg or {})
        self.cfg = full
        assert not full["timestep_conditioning"], "timestep_conditioning is not used by SANA-WM"
        assert not any(full["decoder_inject_noise"]), "decoder_inject_noise is not used by SANA-WM"
        self.encoder = Encoder3d(full)
        self.decoder = Decoder3d(full)
        lat = full["latent_channels"]
        self.register_buffer("latents_mean", torch.zeros(lat))
        self.register_buffer("latents_std", torch.ones(lat))

    # --- SANA-WM latent normalisation (spec §1.5) -------------------------------------------------
    def normalize(self, mu):
        v = lambda t: t.view(1, -1, 1, 1, 1)
        return (mu - v(self.latents_mean)) * self.cfg["scaling_factor"] / v(self.latents_std)

    def denormalize(self, z):
        v = lambda t: t.view(1, -1, 1, 1, 1)
        return z * v(self.latents_std) / self.cfg["scaling_factor"] + v(self.latents_mean)

    def encode_mode(self, x, stages=None):
        """x (B, 3, T, H, W) in [-1, 1] -> normalised posterior mode (B, lat, T', H/32, W/32)."""
        h = self.encoder(x, stages)
        return self.normalize(h[:, : self.cfg["latent_channels"]])

    def encode_mode_tiled(self, x, tile=512, stride=448):
        """Spatially tiled encode as diffusers `tiled_encode` with enable_tiling() (spec §1.5): tiles of
        `tile` px every `stride` px, each encoded alone; every tile is blended IN PLACE with its already
        blended upper then left neighbour over (tile-stride)/32 latent rows/columns (weight k/extent for
        the current tile), and the first stride/32 latent rows/columns of each are kept."""
        b, c, t, h, w = x.shape
        if h <= tile and w <= tile:
            return self.encode_mode(x)
        r = 32
        lt, ls = tile // r, stride // r
        ext = lt - ls
        rows = [[self.encoder(x[:, :, :, i:i + tile, j:j + tile]) for j in range(0, w, stride)]
                for i in range(0, h, stride)]
        out_rows = []
        for i, row in enumerate(rows):
            parts = []
            for j, cur in enumerate(row):
                if i > 0:
                    a = rows[i - 1][j]
                    e = min(a.shape[3], cur.shape[3], ext)
                    for y in range(e):
                        cur[:, :, :, y] = a[:, :, :, -e + y] * (1 - y / e) + cur[:, :, :, y] * (y / e)
                if j > 0:
                    a = row[j - 1]
                    e = min(a.shape[4], cur.shape[4], ext)
                    for q in range(e):
                        cur[:, :, :, :, q] = a[:, :, :, :, -e + q] * (1 - q / e) + cur[:, :, :, :, q] * (q / e)
                parts.append(cur[:, :, :, :ls, :ls])
            out_rows.append(torch.cat(parts, dim=4))
        enc = torch.cat(out_rows, dim=3)[:, :, :, : h // r, : w // r]
        return self.normalize(enc[:, : self.cfg["latent_channels"]])

    def decode_tiled(self, z, causal=None, tile=512, stride=448, tile_frames=96, stride_frames=64):
        """Bidirectional-pipeline decode with enable_tiling() + frame-wise decoding (spec §1.5), as in
        diffusers `_temporal_tiled_decode` / `tiled_decode`: temporal tiles of tile_frames/8 + 1 latent
        frames every stride_frames/8, later tiles drop their last frame, each tile blended in place with
        the previous (already blended) one over tile_frames - stride_frames pixel frames; spatial tiles
        of tile/32 latents every stride/32 (stopping before a tile that would lie inside the previous
        overlap), blended in place with the upper then left tile over tile - stride pixels."""
        t = z.shape[2]
        lt, ls = tile_frames // 8, stride_frames // 8
        if t <= lt:
            return self._decode_spatial_tiled(z, causal, tile, stride)
        out, prev = [], None
        for k, i in enumerate(range(0, t, ls)):
            cur = self._decode_spatial_tiled(z[:, :, i:i + lt + 1], causal, tile, stride)
            if k > 0:
                cur = cur[:, :, :-1]
                e = min(prev.shape[2], cur.shape[2], tile_frames - stride_frames)
                for x in range(e):
                    cur[:, :, x] = prev[:, :, -e + x] * (1 - x / e) + cur[:, :, x] * (x / e)
                out.append(cur[:, :, :stride_frames])
            else:
                out.append(cur[:, :, :stride_frames + 1])
            prev = cur
        return torch.cat(out, dim=2)[:, :, : 8 * (t - 1) + 1]

    def _decode_spatial_tiled(self, z, causal, tile, stride):
        h, w = z.shape[3], z.shape[4]
        lt, ls = tile // 32, stride // 32
        if h <= lt and w <= lt:
            return self.decode(z, causal)
        rows = [[self.decode(z[:, :, :, i:i + lt, j:j + lt], causal)
                 for j in range(0, max(w - (lt - ls), 1), ls)] for i in range(0, max(h - (lt - ls), 1), ls)]
        ext = tile - stride
        out_rows = []
        for i, row in enumerate(rows):
            parts = []
            for j, cur in enumerate(row):
                if i > 0:
                    a = rows[i - 1][j]
                    e = min(a.shape[3], cur.shape[3], ext)
                    for y in range(e):
                        cur[:, :, :, y] = a[:, :, :, -e + y] * (1 - y / e) + cur[:, :, :, y] * (y / e)
                if j > 0:
                    a = row[j - 1]
                    e = min(a.shape[4], cur.shape[4], ext)
                    for q in range(e):
                        cur[:, :, :, :, q] = a[:, :, :, :, -e + q] * (1 - q / e) + cur[:, :, :, :, q] * (q / e)
                parts.append(cur[:, :, :, : stride if i < len(rows) - 1 else None,
                                 : stride if j < len(row) - 1 else None])
            out_rows.append(torch.cat(parts, dim=4))
        return torch.cat(out_rows, dim=3)[:, :, :, : h * 32, : w * 32]

    def decode(self, z, causal=None, stages=None):
        """Normalised latents -> pixels in ~[-1, 1] (one full-clip decode)."""
        return self.decoder(self.denormalize(z), causal, None, stages)


class StreamingDecoder:
    """Chunk-streaming causal decode: any grouping of latent frames gives the same pixels."""

    def __init__(self, vae):
        assert vae.cfg["decoder_causal"] or True
        self.vae = vae
        self.cache = StreamCache()

    def decode_chunk(self, z_chunk):
        self.cache.begin()
        return self.vae.decoder(self.vae.denormalize(z_chunk), True, self.cache)


def to_uint8(x):
    """Spec §1.5: clamp(127.5 x + 127.5, 0, 255) truncated toward zero."""
    return torch.clamp(x * 127.5 + 127.5, 0, 255).to(torch.uint8)


# --- image preprocessing (spec §1.4) ------------------------------------------------------------------
def cover_crop_geometry(h0, w0, th, tw):
    """Resize-to-cover size and crop offsets: (rh, rw, top, left)."""
    s = max(th / h0, tw / w0)
    rw = max(tw, int(round(w0 * s)))
    rh = max(th, int(round(h0 * s)))
    return rh, rw, (rh - th) // 2, (rw - tw) // 2


def adjust_intrinsics(fx, fy, cx, cy, h0, w0, th, tw):
    rh, rw, top, left = cover_crop_geometry(h0, w0, th, tw)
    return fx * rw / w0, fy * rh / h0, cx * rw / w0 - left, cy * rh / h0 - top


def flops_decoder_per_call(cfg, lat_h, lat_w, frames_in, first_call):
    """Multiply-add x 2 FLOPs of all convolutions of one streaming decoder call (mirrors wm_vae_decode_flops)."""
    full = dict(DEFAULT_CONFIG)
    full.update(cfg)
    boc = list(reversed(full["decoder_block_out_channels"]))
    c, t, h, w = boc[0], frames_in, lat_h, lat_w
    conv = lambda ci, co, tt, hh, ww: 2 * ci * co * 27 * tt * hh * ww
    total = conv(full["latent_channels"], c, t, h, w)
    total += 2 * full["decoder_layers_per_block"][-1] * conv(c, c, t, h, w)
    fac = list(reversed(full["upsample_factor"]))
    lpb = list(reversed(full["decoder_layers_per_block"]))
    for i in range(len(boc)):
        total += conv(c, c * 8 // fac[i], t, h, w)
        t = 2 * t - (1 if first_call else 0)
        h, w, c = 2 * h, 2 * w, c // fac[i]
        total += 2 * lpb[i + 1] * conv(c, c, t, h, w)
    p = full["patch_size"]
    total += conv(c, full["out_channels"] * p * p, t, h, w)
    return total


def self_check():
    """Streaming decode equals a full causal decode (float64)."""
    torch.manual_seed(0)
    cfg = dict(latent_channels=8, block_out_channels=[8, 16, 16, 16], decoder_block_out_channels=[8, 16, 32],
               layers_per_block=[1, 1, 1, 1, 1], decoder_layers_per_block=[1, 1, 1, 1])
    vae = AutoencoderKLLTX2Video(cfg).double()
    z = torch.randn(1, 8, 5, 2, 3, dtype=torch.float64)
    with torch.no_grad():
        full = vae.decode(z, causal=True)
        sd = StreamingDecoder(vae)
        parts = [sd.decode_chunk(z[:, :, a:b]) for a, b in [(0, 1), (1, 2), (2, 5)]]
    got = torch.cat(parts, dim=2)
    assert got.shape == full.shape, (got.shape, full.shape)
    err = (got - full).abs().max().item()
    assert err < 1e-10, err
    return err


if __name__ == "__main__":
    print("streaming == full causal decode, max |diff| =", self_check())
