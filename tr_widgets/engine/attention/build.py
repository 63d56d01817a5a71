"""trace_attention: check q, k, v, the mask and the options once, keep them; stages derive later."""
from __future__ import annotations

import math

import torch

from ..batch import batch_names
from ..errors import check_dense, check_name, check_same_device, check_tensor, describe, fail, warn_nonfinite
from .trace import AttentionTrace, check_labels


def trace_attention(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False, *,
                    tokens=None, query_tokens=None, name="", dropout_p=0.0) -> AttentionTrace:
    """Trace ``F.scaled_dot_product_attention(q, k, v, ...)`` stage by stage (same arguments, but
    ``dropout_p`` only by keyword and only 0: dropout is random, so it cannot be replayed).

    Example::

        q = k = v = torch.randn(1, 2, 5, 4)                  # [B, heads, T, E]
        at = tr_widgets.trace_attention(q, k, v, is_causal=True)
        at.weights[0, 0, 2]                                  # query 2 over keys 0..4 (3, 4 masked)
        torch.allclose(at.output, F.scaled_dot_product_attention(q, k, v, is_causal=True))
    """
    check_inputs(q, k, v)
    check_options(is_causal, scale, enable_gqa, dropout_p)
    check_name(name)
    if enable_gqa:
        k, v = expand_gqa(q, k, v)
    check_batch(q, k, v)
    if attn_mask is not None:
        if is_causal:
            fail("attn_mask", "None when is_causal=True (SDPA refuses both)", describe(attn_mask),
                 "pass either attn_mask or is_causal=True, not both")
        check_mask(attn_mask, q, k)
    check_labels("tokens", tokens, k.shape[-2])
    check_labels("query_tokens", query_tokens, q.shape[-2])
    warn_nonfinite("q", q, -2, "query position")
    warn_nonfinite("k", k, -2, "key position")
    warn_nonfinite("v", v, -2, "key position")
    return make_trace(q.detach(), k.detach(), v.detach(), None if attn_mask is None else attn_mask.detach(),
                      is_causal, scale, tokens=tokens, query_tokens=query_tokens, name=name)


def make_trace(q, k, v, attn_mask, is_causal: bool, scale, *, tokens=None, query_tokens=None, name="",
               gqa: bool = False, notes: tuple = ()) -> AttentionTrace:
    """An AttentionTrace of inputs already checked (capture and decode build through here): the default
    scale 1/√E, grouped kv heads expanded when ``gqa``, and the batch axes named by one rule.

    Example: ``make_trace(q, k, v, None, True, None).batch_names  # ('batch', 'head') for 4-D q``
    """
    if gqa and k.dim() >= 3 and k.shape[-3] != q.shape[-3]:
        k, v = expand_gqa(q, k, v)  # [*b, Hk, S, E] -> [*b, Hq, S, E]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    n = len(torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2],
                                   *(() if attn_mask is None else (attn_mask.shape[:-2],))))
    return AttentionTrace(q, k, v, attn_mask, bool(is_causal), scale, tokens=tokens, query_tokens=query_tokens,
                          name=name, batch_names=batch_names(n), notes=tuple(notes))


def check_inputs(q, k, v) -> None:
    """q [*b, L, E], k [*b, S, E], v [*b, S, Ev]: dense floating-point tensors with data, one dtype and
    device, no empty dimension; or one clear TraceInputError.

    Example::

        check_inputs(q, k, v)                        # [1, 2, 6, 8] each: passes
        try: check_inputs(q, k[..., :4], v)          # keys of size 4, queries of size 8
        except TraceInputError as e: err = str(e)
        err.startswith("k: expected last dimension 8 (the size E of q), got shape (1, 2, 6, 4)") == True
    """
    for arg, t in (("q", q), ("k", k), ("v", v)):
        check_tensor(arg, t, min_rank=2)
    check_same_device([("q", q.device), ("k", k.device), ("v", v.device)])
    for arg, t in (("k", k), ("v", v)):
        if t.dtype != q.dtype:
            fail(arg, f"dtype {q.dtype} (the dtype of q)", f"dtype {t.dtype}", f"convert it with {arg}.to({q.dtype})")
    if q.shape[-1] == 0:
        fail("q", "a last dimension E ≥ 1 (the size of each query)", f"shape {tuple(q.shape)}",
             "project the queries to at least one feature")
    if k.shape[-1] != q.shape[-1]:
        fail("k", f"last dimension {q.shape[-1]} (the size E of q)", f"shape {tuple(k.shape)}",
             "project queries and keys to the same size")
    if v.shape[-2] != k.shape[-2]:
        fail("v", f"{k.shape[-2]} positions along dim -2 (as many as k)", f"shape {tuple(v.shape)}",
             "pass one value per key")
    if q.shape[-2] == 0 or k.shape[-2] == 0:
        fail("q" if q.shape[-2] == 0 else "k", "at least one position along dim -2", "an empty sequence",
             "pass a non-empty sequence")
    if v.shape[-1] == 0:
        fail("v", "a last dimension Ev ≥ 1 (the size of each value)", f"shape {tuple(v.shape)}",
             "project the values to at least one feature")
    for arg, t in (("q", q), ("k", k), ("v", v)):
        if 0 in t.shape[:-2]:
            fail(arg, "batch and head dimensions of at least 1", f"shape {tuple(t.shape)}",
                 "pass at least one batch item and one head")


def check_options(is_causal, scale, enable_gqa, dropout_p) -> None:
    """The options as SDPA takes them (``dropout_p`` must be 0), or one clear TraceInputError.

    Example::

        check_options(True, None, False, 0.0)       # is_causal, scale, enable_gqa, dropout_p: passes
        try: check_options(True, None, False, 0.1)
        except TraceInputError as e: err = str(e)
        err.startswith("dropout_p: expected 0.0") == True   # dropout is random: a trace cannot replay it
    """
    if not isinstance(is_causal, bool):
        fix = "pass is_causal=True or False"
        if isinstance(is_causal, float):  # SDPA's fifth positional argument is dropout_p, not is_causal
            fix += " by keyword (SDPA's fifth positional argument is dropout_p; trace_attention's is is_causal)"
        fail("is_causal", "a bool", describe(is_causal), fix)
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale)):
        fail("scale", "a finite float (or None for 1/sqrt(E))", describe(scale), "pass e.g. scale=0.125")
    if not isinstance(enable_gqa, bool):
        fail("enable_gqa", "a bool", describe(enable_gqa), "pass enable_gqa=True for grouped kv heads, else False")
    if isinstance(dropout_p, bool) or not isinstance(dropout_p, (int, float)) or dropout_p != 0:
        fail("dropout_p", "0.0 (dropout is random, so a trace cannot replay it)", describe(dropout_p),
             "trace without dropout (the model in eval mode), i.e. leave dropout_p out")


def check_batch(q, k, v) -> None:
    """Leading (batch, head) dimensions that broadcast (after any GQA expansion), or a clear error.

    Example::

        check_batch(q, k[:1, :1], v)                 # q [1, 2, ...], k [1, 1, ...]: broadcasts, passes
        try: check_batch(q, torch.randn(1, 3, 6, 8), torch.randn(1, 3, 6, 8))
        except TraceInputError as e: err = str(e)
        err.startswith("k: expected batch dimensions that broadcast with q's (1, 2)") == True
    """
    try:
        torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
        ok = True
    except RuntimeError:
        ok = False
    if not ok:  # raised outside the handler, so no torch error is chained to it
        fail("k", f"batch dimensions that broadcast with q's {tuple(q.shape[:-2])}", f"shape {tuple(k.shape)}",
             "give q, k and v the same leading (batch, head) dimensions, or enable_gqa=True for grouped heads")


def expand_gqa(q, k, v):
    """k and v with each kv head repeated for its group of query heads (``enable_gqa=True``).

    Example::

        k2, v2 = expand_gqa(q, k[:, :1], v[:, :1])   # one kv head for q's 2 heads
        (k2.shape == q.shape, torch.equal(k2[:, 1], k[:, 0])) == (True, True)
    """
    if q.dim() < 3 or k.dim() < 3 or q.shape[-3] % k.shape[-3] or q.shape[-3] % v.shape[-3]:
        fail("k", f"a head count (dim -3) that divides q's ({q.shape[-3] if q.dim() >= 3 else 'none'}) "
             "for enable_gqa=True", f"shape {tuple(k.shape)}", "use as many query heads as a multiple of kv heads")
    # [*b, Hk, S, E] -> [*b, Hq, S, E]: each kv head serves a group of consecutive query heads.
    return (k.repeat_interleave(q.shape[-3] // k.shape[-3], dim=-3),
            v.repeat_interleave(q.shape[-3] // v.shape[-3], dim=-3))


def check_mask(mask, q, k) -> None:
    """A bool or float mask that broadcasts to the scores' shape, or one clear TraceInputError.

    Example::

        check_mask(torch.ones(6, 6, dtype=torch.bool).tril(), q, k)     # L = S = 6: passes
        try: check_mask(torch.ones(5, 6, dtype=torch.bool), q, k)
        except TraceInputError as e: err = str(e)
        err.startswith("attn_mask: expected a shape that broadcasts to the scores' shape (1, 2, 6, 6)") == True
    """
    L, S = q.shape[-2], k.shape[-2]
    if not isinstance(mask, torch.Tensor):
        fail("attn_mask", "a bool or float tensor", describe(mask),
             f"pass e.g. torch.ones({L}, {S}, dtype=torch.bool).tril()")
    check_dense("attn_mask", mask)
    if mask.dtype != torch.bool and mask.dtype != q.dtype:
        fail("attn_mask", f"dtype torch.bool (True = attend) or {q.dtype} (added to the scores)",
             f"dtype {mask.dtype}", "convert it with attn_mask.bool() or attn_mask.to(q.dtype)")
    check_same_device([("q", q.device), ("attn_mask", mask.device)])
    # SDPA adds the mask in place to the scores [*broadcast(q, k batch), L, S]: it must broadcast *into* them
    scores = tuple(torch.broadcast_shapes(q.shape[:-2], k.shape[:-2])) + (L, S)
    try:
        ok = mask.dim() >= 2 and tuple(torch.broadcast_shapes(mask.shape, scores)) == scores
    except RuntimeError:
        ok = False
    if not ok:
        fail("attn_mask", f"a shape that broadcasts to the scores' shape {scores} (..., L={L}, S={S})",
             f"shape {tuple(mask.shape)}", f"pass a mask of shape ({L}, {S}) or {scores}")
