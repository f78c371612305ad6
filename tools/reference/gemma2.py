"""PyTorch reference of the Gemma-2 text encoder and of SANA-WM's prompt procedure.

Written from the spec (/work/shared/docs/sana_initializers_spec.md §3, sana_wm_spec.md §1.7), not from
transformers (not installed here). It computes in float64 by default so golden vectors carry no error
of their own; the C side (fp32) is compared with a tolerance.

Model (Gemma2Model.forward, what Sana uses as last_hidden_state):
    h = embed[ids] * sqrt(hidden)
    per layer i (sliding window on even i, global on odd i):
        h = h + post_attn_norm(attn(input_norm(h)))
        h = h + post_ffn_norm(down(gelu_tanh(gate(m)) * up(m))),  m = pre_ffn_norm(h)
    out = final_norm(h)
    norm(x; w) = x * rsqrt(mean(x^2) + eps) * (1 + w)
    attn: q,k,v = Linear (no bias); rotate-half RoPE (theta, positions 0..T-1); GQA (query head j uses kv
          head j // (H / Hkv)); logits = q.k * query_pre_attn_scalar^-0.5; logits = cap * tanh(logits/cap);
          causal mask, key padding mask, sliding window (key j visible from i iff i - j < window);
          softmax; o_proj.
Prompt procedure (SANA-WM _encode_prompts): see encode_prompt() below.
"""
import math

import torch

# Complex human instruction, verbatim from NVlabs/Sana configs/sana_wm/sana_wm_1600m_720p.yaml
# (text_encoder.chi_prompt, 8 lines joined by "\n"; the last line ends with one space).
CHI_LINES = [
    'Given a user prompt, generate an "Enhanced prompt" that provides detailed visual descriptions suitable '
    'for image generation. Evaluate the level of detail in the user prompt:',
    '- If the prompt is simple, focus on adding specifics about colors, shapes, sizes, textures, and spatial '
    'relationships to create vivid and concrete scenes.',
    '- If the prompt is already detailed, refine and enhance the existing details slightly without '
    'overcomplicating.',
    'Here are examples of how to transform or refine prompts:',
    '- User Prompt: A cat sleeping -> Enhanced: A small, fluffy white cat curled up in a round shape, sleeping '
    'peacefully on a warm sunny windowsill, surrounded by pots of blooming red flowers.',
    '- User Prompt: A busy city street -> Enhanced: A bustling city street scene at dusk, featuring glowing '
    'street lamps, a diverse crowd of people in colorful clothing, and a double-decker bus passing by '
    'towering glass skyscrapers.',
    'Please generate only the enhanced description for the prompt below and avoid including any additional '
    'commentary or evaluations:',
    'User Prompt: ',
]
CHI_TEXT = "\n".join(CHI_LINES)

REAL_CONFIG = dict(vocab_size=256000, hidden_size=2304, num_hidden_layers=26, num_attention_heads=8,
                   num_key_value_heads=4, head_dim=256, intermediate_size=9216, rms_norm_eps=1e-6,
                   rope_theta=10000.0, query_pre_attn_scalar=256, attn_logit_softcapping=50.0,
                   sliding_window=4096, hidden_activation="gelu_pytorch_tanh")


def key_names(i):
    p = "layers.%d." % i
    return {"in_norm": p + "input_layernorm.weight", "q": p + "self_attn.q_proj.weight",
            "k": p + "self_attn.k_proj.weight", "v": p + "self_attn.v_proj.weight",
            "o": p + "self_attn.o_proj.weight", "post_attn_norm": p + "post_attention_layernorm.weight",
            "pre_ffn_norm": p + "pre_feedforward_layernorm.weight", "gate": p + "mlp.gate_proj.weight",
            "up": p + "mlp.up_proj.weight", "down": p + "mlp.down_proj.weight",
            "post_ffn_norm": p + "post_feedforward_layernorm.weight"}


def random_weights(cfg, seed=0):
    """Random bf16 weights with Gemma-like magnitudes (norm weights around 0 since the model uses 1 + w)."""
    g = torch.Generator().manual_seed(seed)
    H, D, Hq, Hk, F = (cfg["hidden_size"], cfg["head_dim"], cfg["num_attention_heads"],
                       cfg["num_key_value_heads"], cfg["intermediate_size"])

    def rnd(*shape, scale):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(torch.bfloat16)

    w = {"embed_tokens.weight": rnd(cfg["vocab_size"], H, scale=1.0 / math.sqrt(H)),
         "norm.weight": rnd(H, scale=0.3)}
    for i in range(cfg["num_hidden_layers"]):
        k = key_names(i)
        w[k["q"]] = rnd(Hq * D, H, scale=1.0 / math.sqrt(H))
        w[k["k"]] = rnd(Hk * D, H, scale=1.0 / math.sqrt(H))
        w[k["v"]] = rnd(Hk * D, H, scale=1.0 / math.sqrt(H))
        w[k["o"]] = rnd(H, Hq * D, scale=1.0 / math.sqrt(Hq * D))
        w[k["gate"]] = rnd(F, H, scale=1.0 / math.sqrt(H))
        w[k["up"]] = rnd(F, H, scale=1.0 / math.sqrt(H))
        w[k["down"]] = rnd(H, F, scale=1.0 / math.sqrt(F))
        for n in ("in_norm", "post_attn_norm", "pre_ffn_norm", "post_ffn_norm"):
            w[k[n]] = rnd(H, scale=0.3)
    return w


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * (1.0 + w)


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def rope(x, theta):
    """x (T, heads, D): rotate-half RoPE at positions 0..T-1, frequencies over all D dims."""
    T, _, D = x.shape
    inv = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]          # (T, D/2)
    cos = torch.cat([ang.cos(), ang.cos()], -1)[:, None, :].to(x.dtype)
    sin = torch.cat([ang.sin(), ang.sin()], -1)[:, None, :].to(x.dtype)
    x1, x2 = x[..., : D // 2], x[..., D // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def attention(x, w, k, cfg, mask, layer):
    T = x.shape[0]
    Hq, Hk, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    q = (x @ w[k["q"]].T).view(T, Hq, D)
    kk = (x @ w[k["k"]].T).view(T, Hk, D)
    v = (x @ w[k["v"]].T).view(T, Hk, D)
    q, kk = rope(q, cfg["rope_theta"]), rope(kk, cfg["rope_theta"])
    rep = Hq // Hk
    kk = kk.repeat_interleave(rep, dim=1)                                       # (T, Hq, D)
    v = v.repeat_interleave(rep, dim=1)
    logits = torch.einsum("ihd,jhd->hij", q, kk) * cfg["query_pre_attn_scalar"] ** -0.5
    cap = cfg["attn_logit_softcapping"]
    if cap:
        logits = cap * torch.tanh(logits / cap)
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    allowed = (j <= i) & (mask[None, :] != 0)
    if layer % 2 == 0 and cfg.get("sliding_window"):
        allowed = allowed & (i - j < cfg["sliding_window"])
    logits = logits.masked_fill(~allowed[None], float("-inf"))
    # A query that sees no key at all (only possible for a pad row whose whole sliding window is padding,
    # i.e. never with the real window 4096 > sequence length) gets zeros, the convention of the C op.
    # HF's eager path would instead average v over every key (all logits equal dtype-min).
    p = torch.softmax(logits, dim=-1).nan_to_num(0.0)
    o = torch.einsum("hij,jhd->ihd", p, v).reshape(T, Hq * D)
    return o @ w[k["o"]].T


def forward(ids, mask, w, cfg, dtype=torch.float64, return_layers=False):
    """ids, mask: (T,) int tensors. Returns last_hidden_state (T, hidden) [and the per-layer inputs]."""
    W = {n: t.to(dtype) for n, t in w.items()}
    eps = cfg["rms_norm_eps"]
    h = W["embed_tokens.weight"][ids] * torch.tensor(math.sqrt(cfg["hidden_size"]), dtype=dtype)
    layers = [h.clone()]
    for li in range(cfg["num_hidden_layers"]):
        k = key_names(li)
        a = attention(rms_norm(h, W[k["in_norm"]], eps), W, k, cfg, mask, li)
        h = h + rms_norm(a, W[k["post_attn_norm"]], eps)
        m = rms_norm(h, W[k["pre_ffn_norm"]], eps)
        f = (gelu_tanh(m @ W[k["gate"]].T) * (m @ W[k["up"]].T)) @ W[k["down"]].T
        h = h + rms_norm(f, W[k["post_ffn_norm"]], eps)
        layers.append(h.clone())
    out = rms_norm(h, W["norm.weight"], eps)
    return (out, layers) if return_layers else out


def tokenize_padded(tok, text, max_length, pad_id=0):
    """HF tokenizer(text, max_length, padding='max_length', truncation=True), right padding."""
    ids = tok.encode(text, add_special_tokens=True)[:max_length]
    n = len(ids)
    return ids + [pad_id] * (max_length - n), [1] * n + [0] * (max_length - n)


def encode_prompt(tok, w, cfg, prompt, use_chi=True, max_length=300, chi=CHI_TEXT, dtype=torch.float64):
    """SANA-WM _encode_prompts for one prompt: returns y (max_length, hidden), mask (max_length,), ids.
    With CHI: tokenise chi + prompt to L = len(tokens(chi)) + max_length - 2 (tokens(chi) includes <bos>),
    run Gemma, keep position 0 and the last max_length - 1 positions. Without CHI (the negative prompt):
    tokenise to max_length, keep everything."""
    if use_chi:
        L = len(tok.encode(chi, add_special_tokens=True)) + max_length - 2
        ids, mask = tokenize_padded(tok, chi + prompt, L)
    else:
        L = max_length
        ids, mask = tokenize_padded(tok, prompt, L)
    h = forward(torch.tensor(ids), torch.tensor(mask), w, cfg, dtype=dtype)
    if use_chi:
        sel = [0] + list(range(L - (max_length - 1), L))
        return h[sel], torch.tensor(mask)[sel], ids
    return h, torch.tensor(mask), ids


# ----------------------------------------------------------------------------- real checkpoints
def load_model_dir(d):
    """config.json + weights of a Gemma-2 folder (single .safetensors or a sharded index), keys with or
    without the "model." prefix (lm_head dropped) -> (cfg, weights). The same inputs `wm encode-text` takes."""
    import glob
    import json
    import os
    import st
    if os.path.exists(os.path.join(d, "text_encoder", "config.json")):
        d = os.path.join(d, "text_encoder")
    raw = json.load(open(os.path.join(d, "config.json")))
    cfg = dict(REAL_CONFIG)
    cfg.update({k: raw[k] for k in REAL_CONFIG if k in raw and raw[k] is not None})
    for k in ("attn_logit_softcapping", "sliding_window"):
        if k in raw and raw[k] is None:
            cfg[k] = 0
    idx = glob.glob(os.path.join(d, "*.safetensors.index.json"))
    files = sorted(set(json.load(open(idx[0]))["weight_map"].values())) if idx else \
        [os.path.basename(p) for p in glob.glob(os.path.join(d, "*.safetensors"))]
    w = {}
    for f in files:
        for k, v in st.load(os.path.join(d, f)).items():
            k = k[6:] if k.startswith("model.") else k
            if not k.startswith("lm_head"):
                w[k] = v
    return cfg, w


def main():
    """python3 tools/reference/gemma2.py --model DIR [--tokenizer PATH] "prompt" -o ref.safetensors
    [--no-chi] [--negative TEXT] [--dtype float32|float64]: the reference's y / mask (and neg_y /
    neg_mask) in the layout `wm encode-text` writes, for parity checks on real weights."""
    import argparse
    import os
    import st
    import tokenizer_ref as tr
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokenizer")
    ap.add_argument("prompt")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--no-chi", action="store_true")
    ap.add_argument("--negative")
    ap.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    a = ap.parse_args()
    tok = tr.load_tokenizer(a.tokenizer or a.model)
    cfg, w = load_model_dir(a.model)
    dt = getattr(torch, a.dtype)

    def enc(text, use_chi):
        y, m, _ids = encode_prompt(tok, w, cfg, text, use_chi=use_chi, dtype=dt)
        return y[None, None].float(), m[None].float()  # mask as F32 0/1, the layout wm encode-text writes

    out = {}
    out["y"], out["mask"] = enc(a.prompt, not a.no_chi)
    if a.negative is not None:
        out["neg_y"], out["neg_mask"] = enc(a.negative, False)
    st.save(a.out, out, metadata={"prompt": a.prompt})
    print("wrote", os.path.abspath(a.out))


if __name__ == "__main__":
    main()
