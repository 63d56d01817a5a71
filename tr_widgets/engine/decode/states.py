"""What a decode tick keeps of a model's cache besides attention: the state mixers' traces, and the bytes the
cache holds per layer, measured on the cache object itself after the tick.

An attention layer's KV cache grows by one position per tick: 2 · heads · head_dim · positions numbers. A
state-space or linear-attention layer (Mamba, Mamba-2, RWKV, Gated DeltaNet) keeps a fixed-size state
instead (Mamba: h [B, d_inner, d_state] and a conv buffer [B, d_inner, d_conv]), the same after 10 tokens or
10 000: the recurrence of the seed articles, h_t = f(h_{t-1}, x_t), one tick per token.

Transformers 5.23 keeps both in ``cache.layers[i]``: ``keys``/``values`` for attention, ``conv_states``/
``recurrent_states`` (dicts of tensors) for state layers; RWKV keeps a list of five [B, hidden, layers]
tensors instead. Nothing here synchronises with the device: only shapes and dtypes are read.
"""
from __future__ import annotations

import inspect
import sys
import types

import torch

from ..state import StateTrace

CACHE_ARGS = ("cache", "past_key_values", "cache_params", "state")  # the names a forward takes its cache under


def split_traces(traces: list) -> tuple[list, list]:
    """``(attention, state)``: a drained tick's ``[(module, trace), ...]`` split by the trace's kind.

    Example::

        attn, states = split_traces([(None, at)])  # a Mamba model's drained tick: ([], [(mixer, StateTrace), ...])
        (attn, states) == ([(None, at)], [])
    """
    attn = [(m, t) for m, t in traces if not isinstance(t, StateTrace)]
    return attn, [(m, t) for m, t in traces if isinstance(t, StateTrace)]


def _params(model) -> dict:
    try:
        return inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return {}


def takes_positions(model) -> bool:
    """Whether the model's forward takes ``position_ids``: decode then passes each tick's positions itself, so a
    model whose cache counts no tokens (RecurrentGemma: RG-LRU state on its modules) still places the new one.

    Example::

        class LM(nn.Module):
            def forward(self, input_ids, position_ids=None, cache=None, use_cache=False): ...
        takes_positions(LM()) == True       # GPT2LMHeadModel too; MambaForCausalLM takes none
    """
    return "position_ids" in _params(model)


def kept_cache(model):
    """A fresh cache for decode to pass in at every tick, for a model whose forward returns none (its output type,
    read from the signature, has no cache field: RecurrentGemma keeps its attention's keys and values in the
    cache object it is given): transformers' ``DynamicCache`` of the model's config. None for every other model.

    Example::

        from transformers import GPT2Config, GPT2LMHeadModel, RecurrentGemmaConfig, RecurrentGemmaForCausalLM
        kept_cache(GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=16))) is None  # returns its own
        cfg = RecurrentGemmaConfig(num_hidden_layers=2, vocab_size=16, hidden_size=16, lru_width=16,
                                   intermediate_size=32, num_attention_heads=2, num_key_value_heads=1, head_dim=8)
        type(kept_cache(RecurrentGemmaForCausalLM(cfg))).__name__ == "DynamicCache"
    """
    try:
        out = inspect.signature(model.forward).return_annotation
    except (TypeError, ValueError):
        return None
    if isinstance(out, str):  # postponed annotations: the name in the forward's module
        out = getattr(sys.modules.get(getattr(model.forward, "__module__", "") or ""), out, None)
    fields = getattr(out, "__dataclass_fields__", None)
    if fields is None or "logits" not in fields or any(n in fields for n in CACHE_ARGS):
        return None
    cls = getattr(sys.modules.get("transformers"), "DynamicCache", None)
    config = getattr(model, "config", None)
    return None if cls is None or config is None else cls(config=config)


def _nbytes(obj) -> int:
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_nbytes(o) for o in obj)
    return 0


def cache_layer_bytes(cache, mixers=()) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(kv bytes per attention layer, state bytes per state layer)`` the cache holds now (whole batch).

    A layer with ``keys``/``values`` counts as attention, one with ``recurrent_states`` as state (a hybrid
    layer holding both counts in both). RWKV's state list: five [B, hidden, layers] tensors, split by layer;
    xLSTM's ``rnn_state``: (C, n, m) per layer; MiniMax's ``linear_cache``: one tensor per lightning layer. A cache
    holding no state of the state ``mixers`` (RecurrentGemma keeps it on them): what they hold themselves.

    Example::

        import types
        layer = types.SimpleNamespace(keys=torch.zeros(1, 4, 7, 8), values=torch.zeros(1, 4, 7, 8))
        cache_layer_bytes(types.SimpleNamespace(layers=[layer] * 2)) == ((2 * 4 * 7 * 8 * 4,) * 2, ())
        cache_layer_bytes([torch.zeros(1, 16, 3)] * 5) == ((), (5 * 16 * 4,) * 3)  # RWKV: [B, hidden, layers]
        xl = types.SimpleNamespace(rnn_state={0: (torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4), torch.zeros(1, 2, 1))})
        cache_layer_bytes(xl) == ((), ((32 + 8 + 2) * 4,))  # xLSTM: (C, n, m) per layer
    """
    if cache is None:
        return (), ()
    kv, st = _cache_bytes(cache)
    return (kv, held_state_bytes(mixers)) if mixers and not any(st) else (kv, st)


def _cache_bytes(cache) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """What the cache object itself holds (``cache_layer_bytes`` without the mixers' own state)."""
    if isinstance(cache, (list, tuple)) and cache and all(isinstance(s, torch.Tensor) for s in cache):
        layers = cache[0].shape[-1]  # RWKV: [B, hidden, layers] each
        return (), tuple(sum(_nbytes(s[..., i]) for s in cache) for i in range(layers))
    lin = getattr(cache, "linear_cache", None)
    if isinstance(lin, list) and any(isinstance(t, torch.Tensor) for t in lin):  # MiniMax: [] for attention layers
        kv = _cache_bytes(types.SimpleNamespace(layers=getattr(cache, "layers", ())))[0]
        return kv, tuple(_nbytes(t) for t in lin if isinstance(t, torch.Tensor))
    rnn = getattr(cache, "rnn_state", None)
    if isinstance(rnn, dict):  # xLSTM: {layer: (C, n, m)}
        return (), tuple(sum(_nbytes(t) for t in rnn[k]) for k in sorted(rnn))
    kv, st = [], []
    for layer in getattr(cache, "layers", ()) or ():
        if getattr(layer, "keys", None) is not None:
            kv.append(_nbytes(layer.keys) + _nbytes(getattr(layer, "values", None)))
        if hasattr(layer, "recurrent_states"):
            st.append(_nbytes(layer.recurrent_states) + _nbytes(getattr(layer, "conv_states", None)))
    return tuple(kv), tuple(st)


def held_state_bytes(modules) -> tuple[int, ...]:
    """Bytes of the state each mixer module keeps on itself (tensor attributes of it and its submodules, not its
    weights), for a model whose cache holds none of it: RecurrentGemma keeps its RG-LRU state and conv window
    on its modules.

    Example::

        m = torch.nn.Linear(2, 2); m.recurrent_states = torch.zeros(1, 8)
        held_state_bytes([m]) == (32,)  # the weight and bias are not state
    """
    return tuple(sum(_nbytes(v) for sub in m.modules() for v in sub.__dict__.values() if isinstance(v, torch.Tensor))
                 for m in modules)


def kv_bytes_per_position(layers: int, kv_heads: int, head_dim: int, dtype=torch.float32, batch: int = 1) -> int:
    """Bytes one more position adds to a KV cache: keys and values of every layer, 2 · L · H_kv · E · size.

    Example::

        kv_bytes_per_position(2, 4, 8)     # 2 · 2 · 4 · 8 · 4 = 512: a tiny GPT-2 grows 512 bytes a tick
    """
    return 2 * layers * kv_heads * head_dim * torch.empty((), dtype=dtype).element_size() * batch
