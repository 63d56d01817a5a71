"""The tiny model's file: one safetensors file holding fp32 weights and, as JSON metadata, config + vocabulary.

This module owns where the shipped files lie, how :func:`save_tiny` writes one, and how
:func:`read_header` / :func:`read_meta` check one before a tensor is read (anything else is a
TraceInputError naming ``path``). :mod:`.tiny_gpt` loads the model from it.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict
from pathlib import Path

import torch

from ..engine.errors import describe, fail
from .tiny_model import TinyGPT, TinyGPTConfig
from .tokenizer import UNK, WordTokenizer

WEIGHTS_PATH = Path(__file__).with_name("tiny_gpt.safetensors")
WEIGHTS = {"en": WEIGHTS_PATH, "zh": WEIGHTS_PATH.with_name("tiny_gpt_zh.safetensors")}  # load_tiny(lang)
MAX_FILE_BYTES = 2 * 1024 * 1024
META_KEY = "tiny_gpt"


def save_tiny(model: TinyGPT, tok: WordTokenizer, path=WEIGHTS_PATH, extra: dict | None = None) -> int:
    """Write weights (fp32) + config + vocabulary to one safetensors file; returns its size in bytes.

    Config, vocabulary and provenance travel as one JSON string under the metadata key ``tiny_gpt``
    (safetensors writes several metadata keys in a random order; one key keeps the file
    byte-for-byte reproducible). Example: ``save_tiny(model, tok, "/tmp/tiny.safetensors")``
    """
    from safetensors.torch import save_file

    # lm_head.weight is the same tensor as wte.weight; safetensors refuses shared storage, so store it once
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous()
               for k, v in model.state_dict().items() if k != "lm_head.weight"}
    meta = {"config": asdict(model.config), "vocab": tok.vocab,
            "tokenizer": tok.description,
            **(extra or {})}
    save_file(tensors, str(path), metadata={META_KEY: json.dumps(meta, sort_keys=True)})
    return Path(path).stat().st_size


_SAFETENSORS_FLOATS = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}  # dtype -> bytes per element
MAX_HEADER_BYTES = 100 * 1024 * 1024  # safetensors' own limit


def not_tiny(path, why: str) -> None:
    """Raise the TraceInputError for a file that is not a tiny-model safetensors file, saying ``why``.

    Example::

        try:
            not_tiny("notes.txt", "has no safetensors header")
        except tr_widgets.TraceInputError as e:
            assert "notes.txt" in str(e)
    """
    fail("path", "a tiny-model safetensors file (an 8-byte header length, a JSON header, the tensors)",
         f"{str(path)!r}, which {why}", "pass a file written by tr_widgets.models.save_tiny (scripts/train_tiny.py), "
         "or leave path out for the shipped model")


def _file_of(path) -> Path:
    """``path`` (None: the shipped file) as an existing regular file, or a TraceInputError naming ``path``."""
    if path is None:
        return WEIGHTS_PATH
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        fail("path", "a str or os.PathLike naming a .safetensors file (or None for the shipped model)",
             describe(path), "pass e.g. path='tiny_gpt.safetensors'")
    p = Path(path).expanduser()
    if not p.is_file():
        fail("path", "an existing tiny_gpt.safetensors file",
             f"{str(p)!r}, which {'is a directory' if p.is_dir() else 'does not exist'}",
             "run scripts/train_tiny.py to create one, or leave path out for the shipped model")
    return p


def read_header(path=None) -> tuple[Path, dict]:
    """The file and its safetensors JSON header, checked here (no tensor is read): every entry a float
    tensor whose bytes lie inside the file. Anything else is a TraceInputError naming ``path``.

    Example: ``read_header()[1]["wte.weight"]["shape"]  # [vocab_size, n_embd]``
    """
    p = _file_of(path)
    size = p.stat().st_size
    with open(p, "rb") as f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else -1
        if not 2 <= n <= min(size - 8, MAX_HEADER_BYTES):
            not_tiny(p, f"is {size} bytes with no safetensors header (it starts {head[:8]!r})")
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        header = None
    if not isinstance(header, dict):
        not_tiny(p, "has a header that is not a JSON object")
    data = size - 8 - n
    for name, entry in header.items():
        if name == "__metadata__":
            if not (isinstance(entry, dict) and all(isinstance(v, str) for v in entry.values())):
                not_tiny(p, "has __metadata__ that is not a dict of strings")
            continue
        ok = (isinstance(entry, dict) and entry.get("dtype") in _SAFETENSORS_FLOATS
              and isinstance(entry.get("shape"), list) and all(isinstance(d, int) and d >= 0 for d in entry["shape"])
              and isinstance(entry.get("data_offsets"), list) and len(entry["data_offsets"]) == 2
              and all(isinstance(o, int) for o in entry["data_offsets"])
              and 0 <= entry["data_offsets"][0] <= entry["data_offsets"][1] <= data
              and entry["data_offsets"][1] - entry["data_offsets"][0]
              == math.prod(entry["shape"]) * _SAFETENSORS_FLOATS[entry["dtype"]])
        if not ok:
            not_tiny(p, f"has a tensor entry {name!r} that is not a float tensor inside the file")
    return p, header


def read_meta(path=None) -> dict:
    """The JSON metadata of a tiny-model file (config, vocab, seed, steps...), without loading weights.

    Example: ``read_meta()["config"]["n_layer"] == 2``
    """
    p, header = read_header(path)
    meta = header.get("__metadata__") or {}
    if META_KEY not in meta:
        fail("path", f"a safetensors file with {META_KEY!r} metadata", f"{str(p)!r} with metadata keys {sorted(meta)}",
             "create it with tr_widgets.models.save_tiny (scripts/train_tiny.py)")
    try:
        info = json.loads(meta[META_KEY])
    except ValueError:
        info = None
    fields = set(TinyGPTConfig.__dataclass_fields__)
    config = info.get("config") if isinstance(info, dict) else None
    vocab = info.get("vocab") if isinstance(info, dict) else None
    if not (isinstance(config, dict) and "vocab_size" in config and set(config) <= fields
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in config.values())
            and isinstance(vocab, list) and len(vocab) == config["vocab_size"]
            and all(isinstance(w, str) for w in vocab) and vocab[:1] == [UNK] and len(set(vocab)) == len(vocab)):
        not_tiny(p, f"has {META_KEY!r} metadata without a valid config (positive ints: {sorted(fields)}) "
                     f"and a vocabulary of vocab_size distinct words starting with {UNK!r}")
    return info
