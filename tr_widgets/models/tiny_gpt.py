"""TinyGPT: a nanoGPT-style decoder small enough to ship inside the package, with a KV cache.

Architecture ("Attention Is All You Need", decoder only, pre-LN as in GPT-2 / karpathy/nanoGPT):
token + learned position embeddings -> n_layer x [x + attn(ln_1(x)); x + mlp(ln_2(x))] -> ln_f ->
lm_head (tied to the token embedding). Attention always goes through
``torch.nn.functional.scaled_dot_product_attention`` with q, k, v shaped [B, n_head, T, head_dim], so
a TorchFunctionMode (tr_widgets' capture) sees every call with the real tensors.

The forward follows the Hugging Face calling convention that decoding code relies on:
``model(input_ids, past_key_values=None, use_cache=False)`` returns ``.logits`` [B, T, V] and, when
``use_cache``, ``.past_key_values``: one ``(k, v)`` pair per layer, each [B, n_head, T_total, head_dim].
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..engine.errors import describe, fail
from .char_tokenizer import CharTokenizer
from .tokenizer import UNK, WordTokenizer

WEIGHTS_PATH = Path(__file__).with_name("tiny_gpt.safetensors")
WEIGHTS = {"en": WEIGHTS_PATH, "zh": WEIGHTS_PATH.with_name("tiny_gpt_zh.safetensors")}  # load_tiny(lang)
MAX_FILE_BYTES = 2 * 1024 * 1024
META_KEY = "tiny_gpt"


@dataclass
class TinyGPTConfig:
    """Shape of a TinyGPT. Example: ``TinyGPTConfig(vocab_size=149, n_layer=2, n_head=4, n_embd=64)``"""

    vocab_size: int
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    block_size: int = 64  # longest sequence (prompt + generated tokens) the position table covers


@dataclass(eq=False)
class TinyGPTOutput:
    """What ``TinyGPT.forward`` returns (named like Hugging Face's CausalLMOutputWithPast).

    Example: ``out = model(ids, use_cache=True); out.logits[:, -1].argmax(-1)``
    """

    logits: torch.Tensor  # [B, T, vocab_size]
    past_key_values: tuple[tuple[torch.Tensor, torch.Tensor], ...] | None = None


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: TinyGPTConfig):
        super().__init__()
        if cfg.n_embd % cfg.n_head:
            fail("n_embd", f"a multiple of n_head={cfg.n_head}", str(cfg.n_embd), "change n_embd or n_head")
        self.n_head, self.n_embd = cfg.n_head, cfg.n_embd
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd)

    def forward(self, x, layer_past=None):
        B, T, C = x.shape
        hs = C // self.n_head
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)  # 3 x (B, T, C)
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        P = 0
        if layer_past is not None:
            P = layer_past[0].size(2)
            k = torch.cat([layer_past[0], k], dim=2)  # (B, nh, P+T, hs)
            v = torch.cat([layer_past[1], v], dim=2)  # (B, nh, P+T, hs)
        if P == 0:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hs)
        elif T == 1:
            # the one new query sees every cached key and itself: no mask at all
            y = F.scaled_dot_product_attention(q, k, v, is_causal=False)  # (B, nh, 1, hs)
        else:
            # is_causal aligns the triangle top-left (query i sees keys <= i), wrong once keys are
            # offset by P cached positions; query i (absolute P+i) may see keys 0..P+i.
            allowed = torch.ones(T, P + T, dtype=torch.bool, device=x.device).tril(diagonal=P)  # (T, P+T)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.c_proj(y), (k, v)


class Block(nn.Module):
    def __init__(self, cfg: TinyGPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(),
                                 nn.Linear(4 * cfg.n_embd, cfg.n_embd))

    def forward(self, x, layer_past=None):
        a, present = self.attn(self.ln_1(x), layer_past)
        x = x + a
        return x + self.mlp(self.ln_2(x)), present


class TinyGPT(nn.Module):
    """A small GPT decoder. Use :func:`load_tiny` for the trained one shipped with tr_widgets.

    Example:
        >>> model = TinyGPT(TinyGPTConfig(vocab_size=10, n_layer=1, n_head=2, n_embd=8, block_size=16))
        >>> out = model(torch.tensor([[1, 2, 3]]), use_cache=True)
        >>> out.logits.shape, out.past_key_values[0][0].shape
        (torch.Size([1, 3, 10]), torch.Size([1, 2, 3, 4]))
    """

    def __init__(self, config: TinyGPTConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.h = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying (GPT-2); saved once as wte.weight
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m):
        # GPT-2's initialisation: N(0, 0.02) for linear and embedding weights, zero biases
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, input_ids, past_key_values=None, use_cache=False) -> TinyGPTOutput:
        """Logits for every position; with ``use_cache`` also the grown cache.

        Example: ``out = model(ids, use_cache=True); nxt = out.logits[:, -1].argmax(-1, keepdim=True)``
        then ``out = model(nxt, past_key_values=out.past_key_values, use_cache=True)`` (one new token).
        """
        if input_ids.dim() != 2:
            fail("input_ids", "a [B, T] tensor of token ids", f"shape {tuple(input_ids.shape)}",
                  "add a batch dimension: input_ids[None]")
        B, T = input_ids.shape
        if past_key_values is not None and len(past_key_values) != self.config.n_layer:
            fail("past_key_values", f"{self.config.n_layer} (k, v) pairs", f"{len(past_key_values)}",
                  "pass the .past_key_values of this model's previous call")
        P = past_key_values[0][0].size(2) if past_key_values else 0
        if P + T > self.config.block_size:
            fail("input_ids", f"cache length + new tokens <= block_size={self.config.block_size}",
                  f"{P} + {T} = {P + T}", "keep only the last block_size tokens and drop the cache")
        pos = torch.arange(P, P + T, device=input_ids.device)  # (T,) positions continue after the cache
        x = self.wte(input_ids) + self.wpe(pos)  # (B, T, C)
        presents = []
        for i, block in enumerate(self.h):
            x, present = block(x, past_key_values[i] if past_key_values else None)
            presents.append(present)
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        return TinyGPTOutput(logits, tuple(presents) if use_cache else None)

    def num_params(self) -> int:
        """Parameter count (the tied head counted once). Example: ``load_tiny()[0].num_params()``"""
        return sum(p.numel() for p in self.parameters())


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


def _not_tiny(path, why: str) -> None:
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
            _not_tiny(p, f"is {size} bytes with no safetensors header (it starts {head[:8]!r})")
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        header = None
    if not isinstance(header, dict):
        _not_tiny(p, "has a header that is not a JSON object")
    data = size - 8 - n
    for name, entry in header.items():
        if name == "__metadata__":
            if not (isinstance(entry, dict) and all(isinstance(v, str) for v in entry.values())):
                _not_tiny(p, "has __metadata__ that is not a dict of strings")
            continue
        ok = (isinstance(entry, dict) and entry.get("dtype") in _SAFETENSORS_FLOATS
              and isinstance(entry.get("shape"), list) and all(isinstance(d, int) and d >= 0 for d in entry["shape"])
              and isinstance(entry.get("data_offsets"), list) and len(entry["data_offsets"]) == 2
              and all(isinstance(o, int) for o in entry["data_offsets"])
              and 0 <= entry["data_offsets"][0] <= entry["data_offsets"][1] <= data
              and entry["data_offsets"][1] - entry["data_offsets"][0]
              == math.prod(entry["shape"]) * _SAFETENSORS_FLOATS[entry["dtype"]])
        if not ok:
            _not_tiny(p, f"has a tensor entry {name!r} that is not a float tensor inside the file")
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
        _not_tiny(p, f"has {META_KEY!r} metadata without a valid config (positive ints: {sorted(fields)}) "
                     f"and a vocabulary of vocab_size distinct words starting with {UNK!r}")
    return info


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
        _not_tiny(p, f"has n_embd={config.n_embd}, not a multiple of n_head={config.n_head}")
    with torch.device("meta"):  # the shapes the config implies, allocating nothing
        want = {k: list(v.shape) for k, v in TinyGPT(config).state_dict().items() if k != "lm_head.weight"}
    have = {k: v["shape"] for k, v in header.items() if k != "__metadata__"}
    if want != have:
        diff = sorted(set(want) ^ set(have)) or [k for k in want if want[k] != have[k]]
        _not_tiny(p, f"holds tensors that do not fit its config (first difference: {diff[0]!r})")
    with torch.random.fork_rng(devices=[]):  # the initial weights are overwritten: leave the user's random stream
        model = TinyGPT(config)
    try:
        chars = str(meta.get("tokenizer", "")).startswith("character-level")
        tok = CharTokenizer(meta["vocab"]) if chars else WordTokenizer(meta["vocab"])
    except ValueError as e:
        _not_tiny(p, f"has a vocabulary its tokenizer refuses ({e})")
    model.load_state_dict(load_file(str(p)), strict=False)
    return model.to(dev).eval(), tok
