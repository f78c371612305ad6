"""Reference tokenizer for wm's text encoder: HF tokenizer.json semantics in plain Python.

Why this exists: Sana loads Gemma-2's tokenizer through transformers' AutoTokenizer, i.e. the Rust
`tokenizers` library reading tokenizer.json. Neither transformers nor tokenizers is available here, so
this module re-implements the parts of tokenizer.json that Gemma uses, from their documented semantics:

  added tokens   split the raw text first (leftmost-longest, normalized=false tokens on the raw text,
                 normalized=true ones on the normalized text), honouring lstrip/rstrip/single_word;
  normalizer     Replace(String) / Prepend / Sequence (Gemma: Replace " " -> U+2581, nothing prepended);
  pre_tokenizer  Split(String, behavior) / Sequence (Gemma: Split(" ", merged_with_previous), a no-op
                 after the normalizer);
  model          BPE with ranked merges, byte_fallback (<0xXX> pieces), fuse_unk, ignore_merges;
  post_processor TemplateProcessing "single" (Gemma: "<bos> $A").

It also reads SentencePiece .model files with a minimal protobuf reader (no protobuf package needed) and
converts a BPE SentencePiece model into tokenizer.json the way transformers' GemmaConverter does
(vocab in piece order, merges = every split of every piece into two pieces, ordered by the merged
piece's score, control/unknown/user-defined pieces as added tokens). The C tokenizer (wm/text) mirrors
this file; tools/golden/gen_text_golden.py checks both against the sentencepiece library.
"""
import heapq
import json
import struct

SPM_NORMAL, SPM_UNKNOWN, SPM_CONTROL, SPM_USER_DEFINED, SPM_UNUSED, SPM_BYTE = 1, 2, 3, 4, 5, 6
GEMMA_SPECIAL_USER_PIECES = {"<start_of_turn>", "<end_of_turn>"}


# ----------------------------------------------------------------------------- protobuf (minimal)
def _varint(buf, i):
    shift = val = 0
    while True:
        b = buf[i]
        i += 1
        val |= (b & 0x7F) << shift
        if b < 0x80:
            return val, i
        shift += 7


def _fields(buf):
    """Yield (field_number, wire_type, value) of one protobuf message (value: int or bytes)."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        fn, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 2:
            n, i = _varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("unsupported protobuf wire type %d" % wt)
        yield fn, wt, v


def read_spm_model(path):
    """Pieces (piece, score, type), trainer spec and normalizer spec fields of a SentencePiece model."""
    data = open(path, "rb").read()
    pieces, trainer, normalizer = [], {}, {}
    for fn, wt, v in _fields(data):
        if fn == 1:
            piece, score, typ = "", 0.0, SPM_NORMAL
            for f2, w2, v2 in _fields(v):
                if f2 == 1:
                    piece = v2.decode("utf-8")
                elif f2 == 2:
                    score = struct.unpack("<f", v2)[0]
                elif f2 == 3:
                    typ = v2
            pieces.append((piece, score, typ))
        elif fn == 2:
            for f2, w2, v2 in _fields(v):
                trainer[f2] = v2
        elif fn == 3:
            for f2, w2, v2 in _fields(v):
                normalizer[f2] = v2
    return {"pieces": pieces,
            "model_type": trainer.get(3, 1),
            "byte_fallback": bool(trainer.get(35, 0)),
            "unk_piece": trainer.get(45, b"<unk>").decode(),
            "add_dummy_prefix": bool(normalizer.get(3, 1)),
            "remove_extra_whitespaces": bool(normalizer.get(4, 1)),
            "escape_whitespaces": bool(normalizer.get(5, 1)),
            "normalizer_name": normalizer.get(1, b"").decode()}


# ----------------------------------------------------------------------------- conversion
def spm_to_tokenizer_json(model, bos="<bos>"):
    """tokenizer.json dict for a BPE SentencePiece model, following transformers' GemmaConverter."""
    pieces = model["pieces"]
    vocab = {}
    for i, (p, _s, _t) in enumerate(pieces):
        vocab.setdefault(p, i)
    scores = {p: s for p, s, _t in pieces}
    merges = []
    for merged, score in ((p, s) for p, s, _t in pieces):
        local = []
        for k in range(1, len(merged)):
            l, r = merged[:k], merged[k:]
            if l in vocab and r in vocab:
                local.append((l, r, score))
        local.sort(key=lambda x: (vocab[x[0]], vocab[x[1]]))
        merges.extend(local)
    # stable sort: higher score first, then longer left / right part (transformers' generate_merges)
    merges.sort(key=lambda m: (m[2], len(m[0]), len(m[1])), reverse=True)
    added = []
    for i, (p, _s, t) in enumerate(pieces):
        if t in (SPM_CONTROL, SPM_UNKNOWN, SPM_USER_DEFINED):
            special = t != SPM_USER_DEFINED or p in GEMMA_SPECIAL_USER_PIECES
            added.append({"id": i, "content": p, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": special})
    bos_id = vocab[bos]
    _ = scores
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
        "pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious",
                          "invert": False},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos: {"id": bos, "ids": [bos_id], "tokens": [bos]}},
        },
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": model["unk_piece"],
                  "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": True,
                  "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": [[l, r] for l, r, _s in merges]},
    }


# ----------------------------------------------------------------------------- tokenizer.json
def _is_word_char(c):
    return c.isalnum() or c == "_"


class HFTokenizer:
    """Encoder for the subset of tokenizer.json used by Gemma (see module docstring)."""

    def __init__(self, tj):
        m = tj["model"]
        if m.get("type", "BPE") != "BPE":
            raise ValueError("only BPE tokenizer.json models are supported")
        self.vocab = m["vocab"]
        self.merges = {}
        for rank, mg in enumerate(m.get("merges", [])):
            l, r = mg if isinstance(mg, list) else mg.split(" ", 1)
            if l + r in self.vocab:
                self.merges[(l, r)] = rank  # a repeated pair keeps its last rank, as in tokenizers
        self.byte_fallback = bool(m.get("byte_fallback", False))
        self.fuse_unk = bool(m.get("fuse_unk", False))
        self.ignore_merges = bool(m.get("ignore_merges", False))
        self.unk = self.vocab.get(m.get("unk_token")) if m.get("unk_token") is not None else None
        self.added = sorted(tj.get("added_tokens", []), key=lambda a: a["id"])
        self.norm = self._flatten(tj.get("normalizer"), "normalizers")
        self.pretok = self._flatten(tj.get("pre_tokenizer"), "pretokenizers")
        self.prefix, self.suffix = [], []
        pp = tj.get("post_processor")
        if pp and pp.get("type") == "TemplateProcessing":
            seen_a = False
            for item in pp["single"]:
                if "Sequence" in item:
                    seen_a = True
                else:
                    ids = pp["special_tokens"][item["SpecialToken"]["id"]]["ids"]
                    (self.suffix if seen_a else self.prefix).extend(ids)

    @staticmethod
    def _flatten(node, key):
        if node is None:
            return []
        if node["type"] == "Sequence":
            out = []
            for n in node[key]:
                out += HFTokenizer._flatten(n, key)
            return out
        return [node]

    @classmethod
    def from_file(cls, path):
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    # -- pipeline pieces
    def normalize(self, s):
        for n in self.norm:
            if n["type"] == "Replace":
                s = s.replace(n["pattern"]["String"], n["content"])
            elif n["type"] == "Prepend":
                s = n["prepend"] + s if s else s
            else:
                raise ValueError("unsupported normalizer " + n["type"])
        return s

    def pretokenize(self, s):
        words = [s]
        for p in self.pretok:
            if p["type"] != "Split" or "String" not in p["pattern"] or p.get("invert"):
                raise ValueError("unsupported pre_tokenizer")
            pat, beh = p["pattern"]["String"], p["behavior"]
            out = []
            for w in words:
                out += _split(w, pat, beh)
            words = out
        return words

    def _split_added(self, text, normalized):
        """[(token_id or None, segment)] splitting text on added tokens of the given normalized flag."""
        toks = [a for a in self.added if bool(a.get("normalized", False)) == normalized]
        if not toks or not text:
            return [(None, text)]
        by_len = sorted(toks, key=lambda a: -len(a["content"]))
        out, start, i = [], 0, 0
        while i < len(text):
            hit = None
            for a in by_len:
                c = a["content"]
                if c and text.startswith(c, i):
                    hit = a
                    break
            if hit is None:
                i += 1
                continue
            s, e = i, i + len(hit["content"])
            if hit.get("single_word"):
                if (s > 0 and _is_word_char(text[s - 1])) or (e < len(text) and _is_word_char(text[e])):
                    i = e
                    continue
            if hit.get("lstrip"):
                while s > start and text[s - 1].isspace():
                    s -= 1
            if hit.get("rstrip"):
                while e < len(text) and text[e].isspace():
                    e += 1
            if start < s:
                out.append((None, text[start:s]))
            out.append((hit["id"], text[s:e]))
            start = i = e
        if start < len(text):
            out.append((None, text[start:]))
        return out

    def bpe(self, word):
        if self.ignore_merges and word in self.vocab:
            return [self.vocab[word]]
        syms = []  # [text, id or None(byte/unk: frozen), alive]
        for ch in word:
            if ch in self.vocab:
                syms.append([ch, self.vocab[ch]])
                continue
            bts = ["<0x%02X>" % b for b in ch.encode("utf-8")]
            if self.byte_fallback and all(b in self.vocab for b in bts):
                syms += [[None, self.vocab[b]] for b in bts]
            elif self.fuse_unk and syms and syms[-1][0] is None and syms[-1][1] == self.unk and self.unk is not None:
                continue
            else:
                syms.append([None, self.unk])
        n = len(syms)
        nxt, prv = list(range(1, n + 1)), list(range(-1, n - 1))
        heap = []

        def push(i):
            j = nxt[i]
            if j >= n or syms[i][0] is None or syms[j][0] is None:
                return
            r = self.merges.get((syms[i][0], syms[j][0]))
            if r is not None:
                heapq.heappush(heap, (r, i, syms[i][0], syms[j][0]))

        for i in range(n - 1):
            push(i)
        while heap:
            r, i, l, rt = heapq.heappop(heap)
            j = nxt[i] if i < n else n
            if syms[i][0] != l or j >= n or syms[j][0] != rt:
                continue  # stale
            syms[i] = [l + rt, self.vocab[l + rt]]
            syms[j][0] = "\0dead"
            nxt[i] = nxt[j]
            if nxt[j] < n:
                prv[nxt[j]] = i
            if prv[i] >= 0:
                push(prv[i])
            push(i)
        out, i = [], 0
        while i < n:
            out.append(syms[i][1])
            i = nxt[i]
        if any(x is None for x in out):
            raise ValueError("unknown character and no <unk> token")
        return out

    def encode(self, text, add_special_tokens=True):
        ids = []
        for tid, seg in self._split_added(text, False):
            if tid is not None:
                ids.append(tid)
                continue
            for tid2, seg2 in self._split_added(self.normalize(seg), True):
                if tid2 is not None:
                    ids.append(tid2)
                    continue
                for w in self.pretokenize(seg2):
                    if w:
                        ids += self.bpe(w)
        return (self.prefix + ids + self.suffix) if add_special_tokens else ids


def _split(s, pat, behavior):
    """tokenizers' Split with a string pattern and one of its SplitDelimiterBehavior values."""
    if not pat:
        return [s]
    parts, i = [], 0
    while True:
        j = s.find(pat, i)
        if j < 0:
            break
        parts.append((s[i:j], False))
        parts.append((pat, True))
        i = j + len(pat)
    parts.append((s[i:], False))
    parts = [(p, d) for p, d in parts if p]
    b = behavior.lower().replace("_", "")
    out, prev = [], False
    if b == "removed":
        out = [p for p, d in parts if not d]
    elif b == "isolated":
        out = [p for p, _d in parts]
    elif b == "mergedwithprevious":
        for p, d in parts:
            if d and not prev and out:
                out[-1] += p
            else:
                out.append(p)
            prev = d
    elif b == "mergedwithnext":
        for p, d in reversed(parts):
            if d and not prev and out:
                out[-1] = p + out[-1]
            else:
                out.append(p)
            prev = d
        out.reverse()
    elif b == "contiguous":
        for p, d in parts:
            if d == prev and out:
                out[-1] += p
            else:
                out.append(p)
            prev = d
    else:
        raise ValueError("unsupported split behavior " + behavior)
    return [p for p in out if p]


def load_tokenizer(path):
    """HFTokenizer for a tokenizer.json, a tokenizer.model (converted as GemmaConverter does), or a folder
    holding one of them (tokenizer.json first, also in a tokenizer/ subfolder) — the lookup wm uses."""
    import os
    if os.path.isdir(path):
        for name in ("tokenizer.json", "tokenizer/tokenizer.json", "tokenizer.model", "tokenizer/tokenizer.model"):
            if os.path.exists(os.path.join(path, name)):
                return load_tokenizer(os.path.join(path, name))
        raise FileNotFoundError(path + ": no tokenizer.json or tokenizer.model")
    if path.endswith(".json"):
        return HFTokenizer.from_file(path)
    return HFTokenizer(spm_to_tokenizer_json(read_spm_model(path)))


if __name__ == "__main__":
    import sys
    if len(sys.argv) != 3:
        sys.exit("usage: tokenizer_ref.py TOKENIZER_PATH TEXT   (prints the ids with <bos>)")
    print(" ".join(str(i) for i in load_tokenizer(sys.argv[1]).encode(sys.argv[2])))
