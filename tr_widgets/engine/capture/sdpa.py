"""One ``F.scaled_dot_product_attention`` call as a record: what it keeps, and the trace built from it.

The fast path (``Recorder.on_sdpa``: no grad, fresh k and v) appends a plain tuple on the forward's clock;
:func:`fast_entry` makes it an entry at exit. Anything else goes through :func:`sdpa_entry` at once.
"""
from __future__ import annotations

from ..attention import make_trace
from ..errors import TraceInputError
from .entries import Entry, keep

SDPA_ARGS = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")


def dropout_note(p) -> tuple:
    """The note of a call that ran with dropout: the trace shows the attention without it.

    Example::

        len(dropout_note(0.1)) == 1
        dropout_note(0.0) == ()
    """
    return (f"dropout (p={p:g}) is not replayed: these are the weights without it, and two training-mode "
            "forwards differ",) if isinstance(p, (int, float)) and p > 0 else ()


def sdpa_trace(q, k, v, mask, is_causal, scale, gqa, packed=None, dropout=0.0, *, name=""):
    """The AttentionTrace of one scaled_dot_product_attention call, from the arguments it was given.

    ``packed``: the query shape ``[B, Hq, 1, E]`` Hugging Face had before it packed a decode step's grouped
    query heads into ``[B, Hkv, n_rep, E]`` (``pack_gqa``): unpacked here, so heads stay heads.

    Example::

        t = sdpa_trace(q, k, v, None, True, None, False)
        t.is_causal == True
        t.scale == 1 / 8 ** 0.5  # the default 1/sqrt(E), E = 8
    """
    if packed is not None:
        B, Hq, one, E = packed
        Hkv, n_rep = q.shape[1], q.shape[2]
        q = q.reshape(B, Hq, one, E)  # [B, Hkv, n_rep, E] -> [B, Hq, 1, E]
        if mask is not None and mask.dim() == 4 and mask.shape[1] == Hkv and mask.shape[2] == n_rep:
            mask = mask.reshape(B, Hq, 1, mask.shape[-1])  # per-head mask rows back to heads
        gqa = True
    return make_trace(q, k, v, mask, bool(is_causal), scale, gqa=bool(gqa), name=name, notes=dropout_note(dropout))


def sdpa_entry(module, args, kwargs, packed) -> Entry:
    """The entry of a call that needs detached or copied tensors (grad, a k/v written in place before).

    Example::

        e = sdpa_entry(None, (q, k, v), {"is_causal": True}, None)
        e.build is sdpa_trace
        e.build(*e.held).q.shape == q.shape
    """
    a = dict(zip(SDPA_ARGS, args))
    a.update(kwargs)
    if a["query"].is_nested:
        raise TraceInputError("nested-tensor queries are not traced")
    kept = []
    q = keep(a["query"], "q", kept)
    k, v = keep(a["key"], "k", kept, cache=True), keep(a["value"], "v", kept, cache=True)
    mask = keep(a.get("attn_mask"), "attn_mask", kept)
    options = [bool(a.get("is_causal", False)), a.get("scale"), bool(a.get("enable_gqa", False)), packed,
               a.get("dropout_p", 0.0)]
    return Entry(module, sdpa_trace, kept, [q, k, v, mask, *options])


def fast_entry(record: tuple) -> Entry:
    """The entry of a fast-path tuple (module, q, k, v, mask, causal, scale, gqa, q version, mask version, packed).

    Example::

        e = fast_entry((None, q, k, v, None, True, None, False, 0, None, None))
        [label for label, _, _ in e.kept] == ["q", "k", "v"]
    """
    module, q, k, v, mask, causal, scale, gqa, qver, mver, packed = record
    kept = [("q", q, qver), ("k", k, 0), ("v", v, 0)]
    if mask is not None:
        kept.append(("attn_mask", mask, mver))
    return Entry(module, sdpa_trace, kept, [q, k, v, mask, bool(causal), scale, bool(gqa), packed])
