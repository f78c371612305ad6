"""DiT configuration dataclass: every dimension and version switch of the model (spec §2.1, §3.8, §4.6).

Field names equal those of `wm_dit_config` (wm/dit/config.h) so config.json written from here can be
read by the C side field by field. Defaults are the released 2.66B model with the newest upstream
behaviour (#415+): softmax scale 1/sqrt(head_dim) everywhere, no post-UCPE renorm, cached camera conv in
streaming, block-causal teacher softmax.
"""
import dataclasses
import json
import math
from dataclasses import dataclass, field


def _softmax_every(depth, n):
    return [1 if (i + 1) % n == 0 else 0 for i in range(depth)]


@dataclass
class DitConfig:
    hidden_size: int = 2240
    depth: int = 20
    num_heads: int = 20
    in_channels: int = 128
    out_channels: int = 128
    mlp_hidden: int = 6720
    caption_channels: int = 2304
    caption_length: int = 300
    plucker_channels: int = 48
    conv_kernel_size: int = 4
    t_conv_kernel: int = 3
    freq_dim: int = 256
    chunk_size: int = 3
    latent_h: int = 22
    latent_w: int = 40
    vae_stride_t: int = 8
    rope_theta: float = 10000.0
    eps_layernorm: float = 1e-6
    eps_qk_norm: float = 1e-5
    eps_cross_norm: float = 1e-6
    eps_y_norm: float = 1e-5
    eps_gdn: float = 1e-8
    is_softmax: list = field(default_factory=lambda: _softmax_every(20, 4))
    # version switches (0 scale = 1/sqrt(head_dim))
    softmax_scale_main: float = 0.0
    softmax_scale_cam: float = 0.0
    post_ucpe_renorm: int = 0
    cam_conv_cache: int = 1
    teacher_chunk_mask: int = 1

    @property
    def head_dim(self):
        return self.hidden_size // self.num_heads

    @property
    def S(self):
        return self.latent_h * self.latent_w

    def scale_main(self):
        return self.softmax_scale_main or 1.0 / math.sqrt(self.head_dim)

    def scale_cam(self):
        return self.softmax_scale_cam or 1.0 / math.sqrt(self.head_dim)

    def chunk_bounds(self, T):
        """first_chunk_plus_one split: [0, 1+cs), then cs frames each (last may be shorter)."""
        b = [0]
        nxt = min(T, 1 + self.chunk_size)
        while b[-1] < T:
            b.append(nxt)
            nxt = min(T, nxt + self.chunk_size)
        return [(b[i], b[i + 1]) for i in range(len(b) - 1)]

    def to_json(self, extra=None):
        d = dataclasses.asdict(self)
        d.update(extra or {})
        return json.dumps(d, indent=1, sort_keys=True) + "\n"


def released_config():
    return DitConfig()


def golden_config():
    return DitConfig(hidden_size=224, depth=2, num_heads=2, mlp_hidden=672, caption_channels=64,
                     caption_length=8, latent_h=4, latent_w=6, is_softmax=[0, 1])
