#!/usr/bin/env python3
"""Golden data for wm/text (tests/golden/text/), regenerated with

    /usr/bin/python3 tools/golden/gen_text_golden.py [--out tests/golden/text] [--part tok|gemma|prompt|all]

Tokenizer part ("tok"): the real Gemma-2 vocabulary (256k pieces, 34 MB tokenizer.json) cannot be
downloaded here, so we build a SMALL tokenizer with Gemma's exact training options (SentencePiece BPE,
byte_fallback, split_digits, identity normalisation, no dummy prefix, whitespace-only pieces allowed,
<pad>=0 <eos>=1 <bos>=2 <unk>=3, user-defined <start_of_turn>/<end_of_turn>/newline runs) on a synthetic
multilingual corpus, commit its tokenizer.model, convert it to tokenizer.json as transformers'
GemmaConverter does (tools/reference/tokenizer_ref.py), and record the ids the sentencepiece library
gives for >= 2,000 strings. Where HF semantics differ from plain sentencepiece (control tokens written
literally in the text are matched as added tokens by HF), the reference splits on added tokens first and
runs sentencepiece on the pieces in between, exactly like HF's added-vocabulary pass. The pure-Python
tokenizer.json implementation must agree with sentencepiece on every string (asserted here).

Table format (tok_table.tsv): one line per string: the UTF-8 bytes in lowercase hex ("-" for the empty
string), a TAB, then the ids without <bos> separated by spaces. Needs python3-sentencepiece (Debian).
"""
import argparse
import os
import random
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

import tokenizer_ref as tr  # noqa: E402

WORDS = ("the a an of to and in is it you that he was for on are with as I his they be at one have this "
         "from or had by hot word but what some we can out other were all there when up use your how said "
         "each she which do their time if will way about many then them write would like so these her long "
         "make thing see him two has look more day could go come did number sound no most people my over "
         "know water than call first who may down side been now find any new work part take get place made "
         "live where after back little only round man year came show every good me give our under name very "
         "through just form sentence great think say help low line differ turn cause much mean before move "
         "right boy old too same tell does set three want air well also play small end put home read hand "
         "port large spell add even land here must big high such follow act why ask men change went light "
         "kind off need house picture try us again animal point mother world near build self earth father "
         "camera forest river mountain castle dragon street city night rain snow sunset ocean robot village "
         "walking flying running glowing ancient futuristic cinematic detailed realistic colorful").split()
EXTRA = ("café naïve résumé über straße Ærø señor garçon façade déjà vu jalapeño Zürich Åland "
         "привет мир город река солнце Ελλάδα καλημέρα שלום עולם مرحبا بالعالم नमस्ते दुनिया "
         "สวัสดี 日本語 東京 大阪 漢字 中文 你好 世界 北京 上海 山 水 火 风 한국어 서울 안녕하세요 "
         "ひらがな カタカナ こんにちは").split()
PUNCT = list(".,;:!?-'\"()[]{}<>/\\@#$%^&*_+=~`|")
EMOJI = ["😀", "🚀", "🌲", "🏰", "🐉", "❤️", "👍🏽", "🇫🇷", "👨‍👩‍👧", "✨", "🔥", "🌊"]


def synth_line(rng):
    n = rng.randint(3, 25)
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.75:
            w = rng.choice(WORDS)
            if rng.random() < 0.1:
                w = w.capitalize()
        elif r < 0.85:
            w = rng.choice(EXTRA)
        elif r < 0.93:
            w = str(rng.randint(0, 10 ** rng.randint(1, 6)))
        elif r < 0.97:
            w = rng.choice(PUNCT)
        else:
            w = rng.choice(EMOJI)
        out.append(w)
    s = " ".join(out)
    if rng.random() < 0.1:
        s = s.replace(" ", "  ", 1)
    return s + rng.choice([".", "", "!", "?", " ..."])


USER_DEFINED = ["<mask>", "[@BOS@]", "<start_of_turn>", "<end_of_turn>"] + \
               ["<unused%d>" % i for i in range(8)] + ["\n", "\n\n", "\n\n\n", "\t", "\t\t", "<table>", "<tr>"]


def train_small(out_dir, rng):
    import sentencepiece as spm
    with tempfile.TemporaryDirectory() as td:
        corpus = os.path.join(td, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            for _ in range(20000):
                f.write(synth_line(rng) + "\n")
        prefix = os.path.join(td, "tok")
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=prefix, model_type="bpe", vocab_size=1500,
            character_coverage=0.995, byte_fallback=True, split_digits=True,
            allow_whitespace_only_pieces=True, normalization_rule_name="identity",
            add_dummy_prefix=False, remove_extra_whitespaces=False, split_by_whitespace=True,
            pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece="<pad>", eos_piece="<eos>",
            bos_piece="<bos>", unk_piece="<unk>", user_defined_symbols=USER_DEFINED,
            num_threads=2, minloglevel=2, seed_sentencepiece_size=100000, input_sentence_size=0)
        data = open(prefix + ".model", "rb").read()
    path = os.path.join(out_dir, "tokenizer.model")
    with open(path, "wb") as f:
        f.write(data)
    return path


def rand_codepoint(rng):
    ranges = [(0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF), (0x900, 0x97F),
              (0xE00, 0xE7F), (0x3040, 0x30FF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0x1F300, 0x1FAFF),
              (0x2000, 0x206F), (0xE000, 0xF8FF), (0x10000, 0x10FFFF), (0x0, 0x1F)]
    lo, hi = rng.choice(ranges)
    while True:
        c = rng.randint(lo, hi)
        if not 0xD800 <= c <= 0xDFFF and c != 0:
            return chr(c)


def test_strings(rng, chi):
    s = ["", " ", "  ", "   ", "\n", "\n\n", "\n\n\n\n", "\t", " \t \n ", "\r\n", "a", "A", "0", "007",
         "3.14159", "1,000,000", "2024-06-01", "hello", " hello", "hello ", "hello  world", "Hello World!",
         "<bos>", "<eos>", "<pad>", "<unk>", "<mask>", "[@BOS@]", "<start_of_turn>user\nhi<end_of_turn>",
         "<start_of_tur", "<<bos>>", "a<eos>b", "\u2581", "\u2581\u2581 x", "\u00a0", "\ufeffbom", "\u200b\u200d",
         "\ufffd", "\uffff", "\U0010ffff", "e\u0301", "👨‍👩‍👧‍👦", "🇯🇵🇺🇸", "👍🏿", "日本語のテキスト", "中文 文本",
         "한국어 텍스트", "mixed English 日本 русский עברית 123", "tab\tseparated\tvalues", "x" * 300,
         " " * 40, "\n" * 30, "9" * 50, "ab" * 200, chi, chi + "A cat walking in a forest.",
         "User Prompt: ", "<table><tr>", "\x01\x02\x1f\x7f", "\u0085\u2028\u2029"]
    for _ in range(900):
        s.append(synth_line(rng))
    for _ in range(500):
        s.append("".join(rand_codepoint(rng) for _ in range(rng.randint(1, 30))))
    toks = ["<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>", "\n", " ", "  ", "\t", "12", "🚀", "<unused3>"]
    for _ in range(400):
        parts = [rng.choice(toks) if rng.random() < 0.4 else synth_line(rng)[: rng.randint(1, 20)]
                 for _ in range(rng.randint(1, 6))]
        s.append("".join(parts))
    for _ in range(200):
        line = synth_line(rng)
        ws = rng.choice([" ", "  ", "\t", "\n", " \n", "\n\n ", "   "])
        s.append(ws.join(line.split(" ")))
    for _ in range(30):
        s.append(" ".join(synth_line(rng) for _ in range(rng.randint(20, 60))))
    return s


def spm_reference_ids(sp, hf, text):
    """HF semantics with sentencepiece doing the BPE: split on added tokens first (raw text, leftmost-
    longest, all Gemma added tokens are normalized=false), encode the rest with sentencepiece."""
    ids = []
    for tid, seg in hf._split_added(text, False):
        if tid is not None:
            ids.append(tid)
        elif seg:
            ids += sp.encode(seg)
    return ids


def gen_tok(out_dir, chi):
    import sentencepiece as spm
    rng = random.Random(1234)
    model_path = train_small(out_dir, rng)
    model = tr.read_spm_model(model_path)
    tj = tr.spm_to_tokenizer_json(model)
    import json
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False, indent=1)
        f.write("\n")
    sp = spm.SentencePieceProcessor(model_file=model_path)
    hf = tr.HFTokenizer(tj)
    strings = test_strings(rng, chi)
    bad = 0
    lines = []
    for text in strings:
        ref = spm_reference_ids(sp, hf, text)
        mine = hf.encode(text, add_special_tokens=False)
        if mine != ref:
            bad += 1
            if bad < 10:
                print("MISMATCH %r\n  spm %s\n  ref %s" % (text[:80], ref[:40], mine[:40]))
        hx = text.encode("utf-8").hex() or "-"
        lines.append(hx + "\t" + " ".join(str(i) for i in ref) + "\n")
    with open(os.path.join(out_dir, "tok_table.tsv"), "w") as f:
        f.writelines(lines)
    print("tokenizer: %d pieces, %d strings, %d mismatches python-ref vs sentencepiece"
          % (len(model["pieces"]), len(strings), bad))
    if bad:
        sys.exit(1)


SMALL_CONFIG = dict(vocab_size=1500, hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
                    num_key_value_heads=2, head_dim=16, intermediate_size=160, rms_norm_eps=1e-6,
                    rope_theta=10000.0, query_pre_attn_scalar=24, attn_logit_softcapping=5.0,
                    final_logit_softcapping=30.0, sliding_window=8, hidden_activation="gelu_pytorch_tanh",
                    model_type="gemma2", torch_dtype="bfloat16", max_position_embeddings=8192)


def write_small_model(out_dir):
    """gemma_small/: config.json + model.safetensors, random bf16 weights saved the way a
    Gemma2ForCausalLM checkpoint is (keys under "model."), so the C loader's prefix handling is exercised;
    Sana's own text_encoder/ folder has no prefix (tests cover it by re-saving)."""
    import json
    import gemma2
    import st
    d = os.path.join(out_dir, "gemma_small")
    os.makedirs(d, exist_ok=True)
    cfg = dict(SMALL_CONFIG)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1, sort_keys=True)
        f.write("\n")
    w = gemma2.random_weights(cfg, seed=7)
    st.save(os.path.join(d, "model.safetensors"), {"model." + k: v for k, v in w.items()})
    return cfg, w


def gen_gemma(out_dir):
    import torch
    import gemma2
    import st
    cfg, w = write_small_model(out_dir)
    tok = tr.HFTokenizer.from_file(os.path.join(out_dir, "tokenizer.json"))
    ids, mask = gemma2.tokenize_padded(tok, "A glowing castle above the ocean at night, 42 ships.", 24)
    assert 0 in mask, "the golden sequence must include padding"
    ids_t, mask_t = torch.tensor(ids), torch.tensor(mask)
    out, layers = gemma2.forward(ids_t, mask_t, w, cfg, return_layers=True)
    st.save(os.path.join(out_dir, "gemma_golden.safetensors"),
            {"ids": ids_t.to(torch.int64), "mask": mask_t.to(torch.uint8),
             "layers": torch.stack(layers), "out": out})
    print("gemma: T=%d (%d real), %d layers, |out| max %.3f" % (len(ids), sum(mask), cfg["num_hidden_layers"],
                                                                  out.abs().max().item()))


PROMPTS = ["A cat walking in a forest.", "a robot  exploring\nan ancient city at sunset, cinematic",
           "", " ".join(["the dragon flies over the mountain"] * 60)]


def gen_prompt(out_dir):
    """SANA-WM's prompt procedure on the small model: y (300, C) and mask for each prompt with the CHI
    prefix, and the empty negative prompt without it. Prompt 3 is over-long (truncated by the reference)."""
    import torch
    import gemma2
    import st
    cfg, w = write_small_model(out_dir)
    tok = tr.HFTokenizer.from_file(os.path.join(out_dir, "tokenizer.json"))
    t = {}
    for i, p in enumerate(PROMPTS):
        y, m, ids = gemma2.encode_prompt(tok, w, cfg, p, use_chi=True)
        t["cond%d_y" % i], t["cond%d_mask" % i] = y, m.to(torch.uint8)
        t["cond%d_ids" % i] = torch.tensor(ids, dtype=torch.int64)
        t["cond%d_text" % i] = torch.tensor(list(p.encode("utf-8")) or [0], dtype=torch.uint8)
    y, m, ids = gemma2.encode_prompt(tok, w, cfg, "", use_chi=False)
    t["uncond_y"], t["uncond_mask"], t["uncond_ids"] = y, m.to(torch.uint8), torch.tensor(ids, dtype=torch.int64)
    n_chi = len(tok.encode(gemma2.CHI_TEXT))
    t["chi_text"] = torch.tensor(list(gemma2.CHI_TEXT.encode("utf-8")), dtype=torch.uint8)
    st.save(os.path.join(out_dir, "prompt_golden.safetensors"), t,
            metadata={"n_prompts": len(PROMPTS), "n_chi_tokens": n_chi})
    print("prompt: %d prompts, CHI = %d tokens (with <bos>), L = %d" % (len(PROMPTS), n_chi, n_chi + 298))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "tests", "golden", "text"))
    ap.add_argument("--part", default="all", choices=["tok", "gemma", "prompt", "all"])
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    import gemma2
    if a.part in ("tok", "all"):
        gen_tok(a.out, gemma2.CHI_TEXT)
    if a.part in ("gemma", "all"):
        gen_gemma(a.out)
    if a.part in ("prompt", "all"):
        gen_prompt(a.out)


if __name__ == "__main__":
    main()
