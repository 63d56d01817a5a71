"""TinyGPT: a nanoGPT-style decoder small enough to ship inside the package, with a KV cache.

Architecture ("Attention Is All You Need", decoder only, pre-LN as in GPT-2 / karpathy/nanoGPT):
token + learned position embeddings -> n_layer x [x + attn(ln_1(x)); x + mlp(ln_2(x))] -> ln_f ->
lm_head (tied to the token embedding). Attention always goes through
``torch.nn.functional.scaled_dot_product_attention`` with q, k, v shaped [B, n_head, T, head_dim], so
a TorchFunctionMode (tr_widgets' capture) sees every call with the real tensors.

This module owns :func:`load_tiny`; the model lives in :mod:`.tiny_model` and the file format in
:mod:`.tiny_file`, both re-exported here (``from tr_widgets.models.tiny_gpt import ...`` keeps working).
"""
from __future__ import annotations

import re

import torch

from ..engine.errors import describe, fail
from .char_tokenizer import CharTokenizer
from .tiny_file import (MAX_FILE_BYTES, MAX_HEADER_BYTES, META_KEY, WEIGHTS, WEIGHTS_PATH, not_tiny, read_header,
                        read_meta, save_tiny)
from .tiny_model import Block, CausalSelfAttention, TinyGPT, TinyGPTConfig, TinyGPTOutput
from .tokenizer import WordTokenizer

__all__ = ["Block", "CausalSelfAttention", "MAX_FILE_BYTES", "MAX_HEADER_BYTES", "META_KEY", "TinyGPT",
           "TinyGPTConfig", "TinyGPTOutput", "WEIGHTS", "WEIGHTS_PATH", "load_tiny", "not_tiny", "read_header",
           "read_meta", "save_tiny"]


def _available(dev: torch.device) -> bool:
    if dev.type == "cuda":
        return torch.cuda.is_available() and (dev.index or 0) < torch.cuda.device_count()
    backend = getattr(torch.backends, dev.type, None) if dev.type == "mps" else getattr(torch, dev.type, None)
    return dev.type == "cpu" or bool(backend is not None and backend.is_available())


def _check_device(device) -> torch.device:
    """``device`` as a torch.device that exists on this machine (not meta: it would drop the weights)."""
    dev = device if isinstance(device, torch.device) else None
    if isinstance(device, str) and re.fullmatch(r"(cpu|cuda|mps|xpu)(:\d+)?", device):
        dev = torch.device(device)
    if dev is None or not _available(dev):
        fail("device", "'cpu' or an available accelerator (e.g. 'cuda' where CUDA is available)", describe(device),
             "pass device='cpu'" + (" or device='cuda'" if torch.cuda.is_available() else ""))
    return dev


def load_tiny(lang="en", device="cpu", path=None) -> tuple[TinyGPT, WordTokenizer | CharTokenizer]:
    """A tiny language model shipped with tr_widgets, and its tokenizer. No pickle, no download.

    ``lang="en"``: the word-level English model (a :class:`WordTokenizer`); ``lang="zh"``: the
    character-level Chinese model (a :class:`CharTokenizer`, one token per character), trained the
    same way by scripts/train_tiny.py --lang zh. ``path`` loads another file written by ``save_tiny``
    instead (its metadata says which tokenizer it has). ``load_tiny("cuda")`` still means the English
    model on that device.

    Weights are read with ``safetensors.torch.load_file``, after the file's header is checked (a file
    that is not a tiny-model safetensors file is a TraceInputError naming ``path``); the model comes back
    in eval mode.

    Example:
        >>> model, tok = load_tiny()
        >>> ids = torch.tensor([tok.encode("The cat sat on the")])
        >>> tok.tokens([model(ids).logits[0, -1].argmax()])
        ['mat']
    """
    from safetensors.torch import load_file

    if device == "cpu" and (isinstance(lang, torch.device) or isinstance(lang, str) and lang not in WEIGHTS
                            and re.fullmatch(r"(cpu|cuda|mps|xpu)(:\d+)?", lang)):
        lang, device = "en", lang  # the older form load_tiny(device)
    if not (isinstance(lang, str) and lang in WEIGHTS):
        fail("lang", f"one of {sorted(WEIGHTS)} (the tiny models shipped with tr_widgets)", describe(lang),
             "pass lang='en' (word-level English) or lang='zh' (character-level Chinese)")
    path = WEIGHTS[lang] if path is None else path
    dev = _check_device(device)
    meta = read_meta(path)
    p, header = read_header(path)
    config = TinyGPTConfig(**meta["config"])
    if config.n_embd % config.n_head:
        not_tiny(p, f"has n_embd={config.n_embd}, not a multiple of n_head={config.n_head}")
    with torch.device("meta"):  # the shapes the config implies, allocating nothing
        want = {k: list(v.shape) for k, v in TinyGPT(config).state_dict().items() if k != "lm_head.weight"}
    have = {k: v["shape"] for k, v in header.items() if k != "__metadata__"}
    if want != have:
        diff = sorted(set(want) ^ set(have)) or [k for k in want if want[k] != have[k]]
        not_tiny(p, f"holds tensors that do not fit its config (first difference: {diff[0]!r})")
    with torch.random.fork_rng(devices=[]):  # the initial weights are overwritten: leave the user's random stream
        model = TinyGPT(config)
    try:
        chars = str(meta.get("tokenizer", "")).startswith("character-level")
        tok = CharTokenizer(meta["vocab"]) if chars else WordTokenizer(meta["vocab"])
    except ValueError as e:
        not_tiny(p, f"has a vocabulary its tokenizer refuses ({e})")
    model.load_state_dict(load_file(str(p)), strict=False)
    return model.to(dev).eval(), tok
