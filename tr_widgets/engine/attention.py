"""AttentionTrace: the stages of scaled dot-product attention, each derived when first asked for.

softmax(QKᵀ · scale + mask) V  ("Attention Is All You Need", eq. 1), with exactly the semantics of
``F.scaled_dot_product_attention``: bool masks (True = take part), float masks (added), broadcasting,
``is_causal`` (top-left aligned lower triangle), a custom ``scale`` and ``enable_gqa``.

Fully masked rows: torch's SDPA (CPU, and the math backend) gives such a query all-zero weights and
an all-zero output instead of the NaN a plain softmax would give; the trace does the same, and
marks every entry of that row as blocked.

The trace keeps q, k, v and the mask. ``scores``/``scaled``/``masked``/``weights``/``output`` are
materialised (and cached) on first access, refused above the memory budget; ``row(i)`` derives one
query's step in O(S·E) without touching the T×T matrices.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .errors import check_budget, check_same_device, check_tensor, describe, fail, warn_nonfinite


@dataclass(eq=False)
class RowRecord:
    """One query's step: q_i, its scores over the keys, each stage, each term w_ij·v_j, and o_i."""

    i: int
    index: tuple
    q: torch.Tensor  # [E]
    scores: torch.Tensor  # [S]
    scaled: torch.Tensor  # [S]
    masked: torch.Tensor  # [S]
    blocked: torch.Tensor  # [S] bool, True where the mask removed the key
    weights: torch.Tensor  # [S]
    terms: torch.Tensor  # [S, Ev]  w_ij * v_j
    output: torch.Tensor  # [Ev]     sum_j w_ij v_j


def _safe_softmax(x: torch.Tensor) -> torch.Tensor:
    """softmax over the last dim; rows that are entirely -inf give zeros (as SDPA does)."""
    w = torch.softmax(x, dim=-1)
    return torch.where(torch.isneginf(x).all(dim=-1, keepdim=True), torch.zeros_like(w), w)


@dataclass(eq=False)
class AttentionTrace:
    """What :func:`trace_attention` returns. Stages are lazy, cached and stay on q's device.

    Example::

        at = tr_widgets.trace_attention(q, k, v, is_causal=True)   # q, k, v: [B, heads, T, E]
        at.batch_shape, at.L, at.S                                  # (B, heads), T, T
        at.blocked[0, 0, 1]                                         # query 1: keys 2.. are masked
    """

    q: torch.Tensor  # [*batch, L, E]
    k: torch.Tensor  # [*batch, S, E]   (after GQA expansion)
    v: torch.Tensor  # [*batch, S, Ev]  (after GQA expansion)
    attn_mask: torch.Tensor | None
    is_causal: bool
    scale: float
    tokens: list | None = None  # key labels (and query labels when query_tokens is None)
    query_tokens: list | None = None
    name: str = ""
    batch_names: tuple = ()  # e.g. ("batch", "head") for captured attention
    _cache: dict = field(default_factory=dict, repr=False)

    # -- shapes ------------------------------------------------------------------------------
    @property
    def batch_shape(self) -> tuple:
        shapes = [self.q.shape[:-2], self.k.shape[:-2], self.v.shape[:-2]]
        if self.attn_mask is not None:
            shapes.append(self.attn_mask.shape[:-2])
        return tuple(torch.broadcast_shapes(*shapes))

    L = property(lambda self: self.q.shape[-2], doc="number of queries")
    S = property(lambda self: self.k.shape[-2], doc="number of keys")
    E = property(lambda self: self.q.shape[-1], doc="query/key size")
    Ev = property(lambda self: self.v.shape[-1], doc="value size")

    def __repr__(self) -> str:
        return (f"AttentionTrace(batch={self.batch_shape}, L={self.L}, S={self.S}, E={self.E}, "
                f"Ev={self.Ev}, causal={self.is_causal}, masked={self.attn_mask is not None})")

    def _stage(self, name: str, make):
        if name not in self._cache:
            check_budget(f"AttentionTrace.{name}", self.batch_shape + (self.L, self.S), self.q.dtype,
                         "row(i, index) for one query's step")
            with torch.no_grad():
                self._cache[name] = make()
        return self._cache[name]

    # -- the mask ----------------------------------------------------------------------------
    @property
    def mask(self) -> torch.Tensor | None:
        """The mask as SDPA applies it, broadcast to ``[*batch, L, S]`` (a view, no copy):
        bool (True = the key takes part) for bool and causal masks, float (added) otherwise."""
        shape = self.batch_shape + (self.L, self.S)
        if self.is_causal:
            return torch.ones(self.L, self.S, dtype=torch.bool, device=self.q.device).tril().expand(shape)
        return None if self.attn_mask is None else self.attn_mask.expand(shape)

    @property
    def blocked(self) -> torch.Tensor | None:
        """Bool ``[*batch, L, S]``: True where the mask removed a key (the marked cells of a view)."""
        m = self.mask
        return None if m is None else self._blocked(m, m)

    @staticmethod
    def _apply_mask(scaled: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if mask is None:
            return scaled
        if mask.dtype == torch.bool:
            return scaled.masked_fill(~mask, float("-inf"))
        return scaled + mask

    # -- the stages --------------------------------------------------------------------------
    @property
    def scores(self) -> torch.Tensor:
        """Raw QKᵀ, ``[*batch, L, S]``."""
        return self._stage("scores", lambda: self.q @ self.k.transpose(-2, -1))  # [*b, L, S]

    @property
    def scaled(self) -> torch.Tensor:
        """QKᵀ · scale (scale = 1/√E unless given)."""
        return self._stage("scaled", lambda: self.scores * self.scale)

    @property
    def masked(self) -> torch.Tensor:
        """Scaled scores with the mask applied: -inf where blocked, float masks added."""
        return self._stage("masked", lambda: self._apply_mask(self.scaled, self.mask))

    @property
    def weights(self) -> torch.Tensor:
        """softmax over keys; each row sums to 1 (fully masked rows: all 0, as SDPA)."""
        return self._stage("weights", lambda: _safe_softmax(self.masked))

    @property
    def output(self) -> torch.Tensor:
        """weights @ V, ``[*batch, L, Ev]``: equals ``F.scaled_dot_product_attention``."""
        if "output" not in self._cache:
            w = self.weights
            with torch.no_grad():
                self._cache["output"] = w @ self.v  # [*b, L, Ev]
        return self._cache["output"]

    @property
    def sdpa_output(self) -> torch.Tensor:
        """torch's own ``F.scaled_dot_product_attention`` on the same inputs (for cross-checks)."""
        if "sdpa" not in self._cache:
            with torch.no_grad():
                self._cache["sdpa"] = F.scaled_dot_product_attention(
                    self.q, self.k, self.v, attn_mask=self.attn_mask, is_causal=self.is_causal, scale=self.scale)
        return self._cache["sdpa"]

    # -- one query at a time -----------------------------------------------------------------
    def _index(self, index) -> tuple:
        index = (index,) if isinstance(index, int) else tuple(index)
        shape = self.batch_shape
        if len(index) != len(shape) or not all(isinstance(j, int) and 0 <= j < n for j, n in zip(index, shape)):
            fail("index", f"a tuple of {len(shape)} ints within the batch shape {shape}", repr(index),
                 f"pass e.g. index={tuple(0 for _ in shape)}")
        return index

    def _mask_rows(self, idx: tuple, r0: int, r1: int) -> torch.Tensor | None:
        """The mask of queries [r0, r1) over the keys, [n, S], without building the L×S causal triangle."""
        if self.is_causal:  # top-left aligned, as SDPA
            rows = torch.arange(r0, r1, device=self.q.device)[:, None]  # [n, 1]
            return torch.arange(self.S, device=self.q.device)[None, :] <= rows  # [n, S]
        if self.attn_mask is None:
            return None
        return self.attn_mask.expand(*self.batch_shape, self.L, self.S)[idx][r0:r1]  # a view: no copy

    @staticmethod
    def _blocked(mask: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
        if mask is None:
            return torch.zeros_like(like, dtype=torch.bool)
        return ~mask if mask.dtype == torch.bool else torch.isneginf(mask)

    def weights_rows(self, r0: int, r1: int, index=()) -> tuple[torch.Tensor, torch.Tensor]:
        """Softmax weights of queries [r0, r1) of one batch/head entry, and where keys were blocked.

        Only ``[r1 - r0, S]`` is ever held, so views can sweep a long sequence block by block.

        Example::

            w, blocked = at.weights_rows(0, 8, index=(0, 1))     # equals at.weights[0, 1, :8]
        """
        idx, b = self._index(index), self.batch_shape
        with torch.no_grad():
            q = self.q.expand(*b, self.L, self.E)[idx][r0:r1]  # [n, E]
            k = self.k.expand(*b, self.S, self.E)[idx]  # [S, E]
            mask = self._mask_rows(idx, r0, r1)  # [n, S] or None
            scaled = (q @ k.T) * self.scale  # [n, S]
            return _safe_softmax(self._apply_mask(scaled, mask)), self._blocked(mask, scaled)

    def row(self, i: int, index=()) -> RowRecord:
        """One query's step, derived in O(S·E): no T×T matrix is built.

        ``index`` picks the batch/head entry (a tuple as long as ``batch_shape``).

        Example::

            at = trace_attention(q, k, v, is_causal=True)      # q, k, v: [B, H, T, E]
            r = at.row(3, index=(0, 1))                      # query 3 of batch 0, head 1
            r.weights.sum(), r.terms.sum(0) - r.output       # 1.0, ~0
        """
        if not (isinstance(i, int) and 0 <= i < self.L):
            fail("i", f"a query index in [0, {self.L - 1}]", repr(i), "pick an existing query position")
        idx, b = self._index(index), self.batch_shape
        with torch.no_grad():
            q = self.q.expand(*b, self.L, self.E)[idx][i]  # [E]
            k = self.k.expand(*b, self.S, self.E)[idx]  # [S, E]
            v = self.v.expand(*b, self.S, self.Ev)[idx]  # [S, Ev]
            mask_row = self._mask_rows(idx, i, i + 1)  # [1, S] or None
            mask_row = None if mask_row is None else mask_row[0]  # [S]
            scores = k @ q  # [S]
            scaled = scores * self.scale
            masked = self._apply_mask(scaled, mask_row)
            weights = _safe_softmax(masked)
            terms = weights[:, None] * v  # [S, Ev]
            blocked = self._blocked(mask_row, scores)
        return RowRecord(i, idx, q, scores, scaled, masked, blocked, weights, terms, terms.sum(0))


def trace_attention(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False, *,
                    tokens=None, query_tokens=None, name="") -> AttentionTrace:
    """Trace ``F.scaled_dot_product_attention(q, k, v, ...)`` stage by stage (same arguments).

    Example::

        q = k = v = torch.randn(1, 2, 5, 4)                  # [B, heads, T, E]
        at = tr_widgets.trace_attention(q, k, v, is_causal=True)
        at.weights[0, 0, 2]                                  # query 2 over keys 0..4 (3, 4 masked)
        torch.allclose(at.output, F.scaled_dot_product_attention(q, k, v, is_causal=True))
    """
    for arg, t in (("q", q), ("k", k), ("v", v)):
        check_tensor(arg, t, min_rank=2)
    check_same_device([("q", q.device), ("k", k.device), ("v", v.device)])
    for arg, t in (("k", k), ("v", v)):
        if t.dtype != q.dtype:
            fail(arg, f"dtype {q.dtype} (the dtype of q)", f"dtype {t.dtype}", f"convert it with {arg}.to({q.dtype})")
    if k.shape[-1] != q.shape[-1]:
        fail("k", f"last dimension {q.shape[-1]} (the size E of q)", f"shape {tuple(k.shape)}",
             "project queries and keys to the same size")
    if v.shape[-2] != k.shape[-2]:
        fail("v", f"{k.shape[-2]} positions along dim -2 (as many as k)", f"shape {tuple(v.shape)}",
             "pass one value per key")
    if q.shape[-2] == 0 or k.shape[-2] == 0:
        fail("q" if q.shape[-2] == 0 else "k", "at least one position along dim -2", "an empty sequence",
             "pass a non-empty sequence")
    if not isinstance(is_causal, bool):
        fail("is_causal", "a bool", describe(is_causal), "pass True or False")
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    elif isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale):
        fail("scale", "a finite float (or None for 1/sqrt(E))", describe(scale), "pass e.g. scale=0.125")
    if enable_gqa:
        k, v = _expand_gqa(q, k, v)
    if attn_mask is not None:
        if is_causal:
            fail("attn_mask", "None when is_causal=True (SDPA refuses both)", describe(attn_mask),
                 "pass either attn_mask or is_causal=True, not both")
        _check_mask(attn_mask, q, k)
    try:
        torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        fail("k", f"batch dimensions that broadcast with q's {tuple(q.shape[:-2])}", f"shape {tuple(k.shape)}",
             "give q, k and v the same leading (batch, head) dimensions, or enable_gqa=True for grouped heads")
    for arg, labels, n in (("tokens", tokens, k.shape[-2]), ("query_tokens", query_tokens, q.shape[-2])):
        if labels is not None and (isinstance(labels, str) or len(labels) != n):
            fail(arg, f"a list of {n} labels (one per {'key' if arg == 'tokens' else 'query'} position)",
                 describe(labels), f"pass {arg}=None or {n} strings")
    warn_nonfinite("q", q, -2, "query position")
    warn_nonfinite("k", k, -2, "key position")
    warn_nonfinite("v", v, -2, "key position")
    return AttentionTrace(q.detach(), k.detach(), v.detach(), None if attn_mask is None else attn_mask.detach(),
                          is_causal, float(scale), tokens=tokens, query_tokens=query_tokens, name=name)


def _expand_gqa(q, k, v):
    if q.dim() < 3 or k.dim() < 3 or q.shape[-3] % k.shape[-3] or q.shape[-3] % v.shape[-3]:
        fail("k", f"a head count (dim -3) that divides q's ({q.shape[-3] if q.dim() >= 3 else 'none'}) "
             "for enable_gqa=True", f"shape {tuple(k.shape)}", "use as many query heads as a multiple of kv heads")
    # [*b, Hk, S, E] -> [*b, Hq, S, E]: each kv head serves a group of consecutive query heads.
    return (k.repeat_interleave(q.shape[-3] // k.shape[-3], dim=-3),
            v.repeat_interleave(q.shape[-3] // v.shape[-3], dim=-3))


def _check_mask(mask, q, k) -> None:
    if not isinstance(mask, torch.Tensor):
        fail("attn_mask", "a bool or float tensor", describe(mask), "pass torch.ones(L, S, dtype=torch.bool).tril()")
    if mask.dtype != torch.bool and mask.dtype != q.dtype:
        fail("attn_mask", f"dtype torch.bool (True = attend) or {q.dtype} (added to the scores)",
             f"dtype {mask.dtype}", "convert it with attn_mask.bool() or attn_mask.to(q.dtype)")
    check_same_device([("q", q.device), ("attn_mask", mask.device)])
    L, S = q.shape[-2], k.shape[-2]
    try:
        shape = torch.broadcast_shapes(mask.shape, q.shape[:-2] + (L, S), k.shape[:-2] + (L, S))
        ok = shape[-2:] == (L, S)
    except RuntimeError:
        ok = False
    if not ok:
        fail("attn_mask", f"a shape that broadcasts to the scores' shape (..., L={L}, S={S})",
             f"shape {tuple(mask.shape)}", f"pass a mask of shape ({L}, {S}) or (batch, heads, {L}, {S})")
