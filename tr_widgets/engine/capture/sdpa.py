"""One ``F.scaled_dot_product_attention`` call as a record: what it keeps, and the trace built from it.

The fast path (``Recorder.on_sdpa``: no grad, fresh k and v) appends a plain tuple on the forward's clock;
:func:`fast_entry` makes it an entry at exit. Anything else goes through :func:`sdpa_entry` at once.
``decode`` reads only a few rows of each call and never needs the trace object: :func:`sdpa_call` gives it the
call's operands as the trace would hold them (:class:`SdpaCall`), without building one.
"""
from __future__ import annotations

import math

from ..attention import expand_gqa, make_trace
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
        q, mask, gqa = *_unpack(q, mask, packed), True
    return make_trace(q, k, v, mask, bool(is_causal), scale, gqa=bool(gqa), name=name, notes=dropout_note(dropout))


def _unpack(q, mask, packed) -> tuple:
    """q ``[B, Hkv, n_rep, E]`` (and its per-head mask rows) back to the ``[B, Hq, 1, E]`` it was (``packed``)."""
    B, Hq, one, E = packed
    Hkv, n_rep = q.shape[1], q.shape[2]
    q = q.reshape(B, Hq, one, E)  # [B, Hkv, n_rep, E] -> [B, Hq, 1, E]
    if mask is not None and mask.dim() == 4 and mask.shape[1] == Hkv and mask.shape[2] == n_rep:
        mask = mask.reshape(B, Hq, 1, mask.shape[-1])  # per-head mask rows back to heads
    return q, mask


class SdpaCall:
    """One SDPA call's operands as its AttentionTrace would hold them (q unpacked, grouped k/v heads expanded,
    the default scale filled in), for a reader that needs no trace object (decode keeps a few rows per tick).

    Example::

        c = sdpa_call((None, q, k, v, None, True, None, False, 0, None, None))
        (c.L, c.S, c.scale) == (q.shape[-2], k.shape[-2], 1 / q.shape[-1] ** 0.5)
        c.scale == sdpa_trace(q, k, v, None, True, None, False).scale
    """

    __slots__ = ("q", "k", "v", "attn_mask", "is_causal", "scale")

    def __init__(self, q, k, v, attn_mask, is_causal, scale):
        self.q, self.k, self.v, self.attn_mask, self.is_causal, self.scale = q, k, v, attn_mask, is_causal, scale

    L = property(lambda self: self.q.shape[-2], doc="number of queries")
    S = property(lambda self: self.k.shape[-2], doc="number of keys")


def sdpa_call(record: tuple) -> SdpaCall:
    """A fast-path tuple (see :func:`fast_entry`) as an :class:`SdpaCall`: the same q, k, v, mask, causality
    and scale as ``fast_entry(record)``'s trace, with no trace built.

    Example::

        c = sdpa_call((None, q, k, v, None, True, None, False, 0, None, None))
        t = fast_entry((None, q, k, v, None, True, None, False, 0, None, None)).build(q, k, v, None, True, None, False)
        (c.q is t.q, c.is_causal) == (True, True)
    """
    _, q, k, v, mask, causal, scale, gqa, _, _, packed = record
    if packed is not None:
        q, mask, gqa = *_unpack(q, mask, packed), True
    if gqa and k.dim() >= 3 and k.shape[-3] != q.shape[-3]:
        k, v = expand_gqa(q, k, v)  # as make_trace: [*b, Hk, S, E] -> [*b, Hq, S, E]
    return SdpaCall(q, k, v, mask, bool(causal), 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale))


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
