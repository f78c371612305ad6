"""PyTorch reference of the SANA-WM stage-1 DiT (spec /work/shared/docs/sana_wm_spec.md §2-§5).

Written from the spec in the plainest form (explicit per-frame recurrences, float64 math) so that it
can serve as ground truth for the C implementation; module and parameter names are the official ones,
so `SanaWM(cfg).state_dict()` has exactly the official checkpoint keys. See docs/model.md for the
choices made where the spec leaves room, and tools/reference/GOLDEN.md for the golden-file contract.
"""
from .config import DitConfig, golden_config, released_config  # noqa: F401
from .model import SanaWM  # noqa: F401
