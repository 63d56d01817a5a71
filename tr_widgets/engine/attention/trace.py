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

import dataclasses
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..batch import broadcast, int_like, is_index
from ..errors import check_budget, describe, fail
from ..files.saving import Saveable
from .stages import RowRecord, apply_mask, blocked_where, check_labels, safe_softmax

__all__ = ["AttentionTrace", "RowRecord", "check_labels"]  # RowRecord, check_labels: re-exported, imported from here


@dataclass(frozen=True, eq=False)
class AttentionTrace(Saveable):
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
    batch_names: tuple = ()  # one name per batch dimension (engine.batch.batch_names by default)
    notes: tuple = ()  # what a reader must know about these numbers (e.g. "dropout (p=0.1) is not replayed")
    derived: dict = field(default_factory=dict, repr=False)  # stages computed on first access
    normalized = True  # rows are a softmax and sum to 1 (False: e.g. an SSM's effective attention)

    def labelled(self, tokens, query_tokens=None) -> "AttentionTrace":
        """The same trace with key labels ``tokens`` (and query labels); nothing is recomputed.

        Example::

            with tr_widgets.capture(model) as rec:
                model(ids)
            at = rec["transformer.h.0.attn"].labelled(words)     # one word per position
        """
        check_labels("tokens", tokens, self.S)
        check_labels("query_tokens", query_tokens, self.L)
        return dataclasses.replace(self, tokens=None if tokens is None else list(tokens),
                                   query_tokens=None if query_tokens is None else list(query_tokens), derived={})

    # -- shapes ------------------------------------------------------------------------------
    @property
    def batch_shape(self) -> tuple:
        shapes = [self.q.shape[:-2], self.k.shape[:-2], self.v.shape[:-2]]
        if self.attn_mask is not None:
            shapes.append(self.attn_mask.shape[:-2])
        return broadcast(*shapes)

    L = property(lambda self: self.q.shape[-2], doc="number of queries")
    S = property(lambda self: self.k.shape[-2], doc="number of keys")
    E = property(lambda self: self.q.shape[-1], doc="query/key size")
    Ev = property(lambda self: self.v.shape[-1], doc="value size")

    def __repr__(self) -> str:
        return (f"AttentionTrace(batch={self.batch_shape}, L={self.L}, S={self.S}, E={self.E}, "
                f"Ev={self.Ev}, causal={self.is_causal}, masked={self.attn_mask is not None})")

    def _stage(self, name: str, make):
        if name not in self.derived:
            check_budget(f"AttentionTrace.{name}", self.batch_shape + (self.L, self.S), self.q.dtype,
                         "row(i, index) for one query's step")
            with torch.no_grad():
                self.derived[name] = make()
        return self.derived[name]

    # -- the mask ----------------------------------------------------------------------------
    @property
    def has_mask(self) -> bool:
        """Whether any key is masked for some query (causal or an attn_mask), without building L×S."""
        return self.is_causal or self.attn_mask is not None

    @property
    def mask(self) -> torch.Tensor | None:
        """The mask as SDPA applies it, broadcast to ``[*batch, L, S]``: bool (True = the key takes part)
        for bool and causal masks, float (added) otherwise. A causal mask is built here (L×S bools, within
        the memory budget); a given mask is a broadcast view. Views use ``weights_rows`` instead."""
        shape = self.batch_shape + (self.L, self.S)
        if self.is_causal:
            check_budget("AttentionTrace.mask", (self.L, self.S), torch.bool, "row(i, index) or weights_rows")
            return torch.ones(self.L, self.S, dtype=torch.bool, device=self.q.device).tril().expand(shape)
        return None if self.attn_mask is None else self.attn_mask.expand(shape)

    @property
    def blocked(self) -> torch.Tensor | None:
        """Bool ``[*batch, L, S]``: True where the mask removed a key (the marked cells of a view)."""
        if not self.has_mask:
            return None
        check_budget("AttentionTrace.blocked", self.batch_shape + (self.L, self.S), torch.bool,
                     "row(i, index).blocked or weights_rows")
        m = self.mask
        return blocked_where(m, m)

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
        return self._stage("masked", lambda: apply_mask(self.scaled, self.mask))

    @property
    def weights(self) -> torch.Tensor:
        """softmax over keys; each row sums to 1 (fully masked rows: all 0, as SDPA)."""
        return self._stage("weights", lambda: safe_softmax(self.masked))

    @property
    def output(self) -> torch.Tensor:
        """weights @ V, ``[*batch, L, Ev]``: equals ``F.scaled_dot_product_attention``."""
        if "output" not in self.derived:
            w = self.weights
            with torch.no_grad():
                self.derived["output"] = w @ self.v  # [*b, L, Ev]
        return self.derived["output"]

    @property
    def sdpa_output(self) -> torch.Tensor:
        """torch's own ``F.scaled_dot_product_attention`` on the same inputs (for cross-checks)."""
        if "sdpa" not in self.derived:
            with torch.no_grad():
                self.derived["sdpa"] = F.scaled_dot_product_attention(
                    self.q, self.k, self.v, attn_mask=self.attn_mask, is_causal=self.is_causal, scale=self.scale)
        return self.derived["sdpa"]

    def sdpa_row(self, i: int, index=()) -> torch.Tensor:
        """torch's own SDPA output for query ``i`` of one batch/head entry, ``[Ev]``: a cross-check that
        costs one row, not every head (the mask row is passed explicitly, so causal stays top-left).

        Example: ``(at.sdpa_row(3, (0, 1)) - at.row(3, (0, 1)).output).abs().max()   # ~1e-7``
        """
        self._check_query(i)
        idx, b = self._index(index), self.batch_shape
        with torch.no_grad():
            q = self.q.expand(*b, self.L, self.E)[idx][i:i + 1]  # [1, E]
            k = self.k.expand(*b, self.S, self.E)[idx]  # [S, E]
            v = self.v.expand(*b, self.S, self.Ev)[idx]  # [S, Ev]
            # as [1, 1, n, E]: torch's CPU SDPA takes ~30× longer on 2-D inputs (31 ms against 0.9 ms at S=16k)
            q, k, v = q[None, None], k[None, None], v[None, None]
            if self.is_causal:  # top-left causal: only keys 0..i take part, so SDPA needs only those
                n = min(i + 1, self.S)
                return F.scaled_dot_product_attention(q, k[..., :n, :], v[..., :n, :], scale=self.scale)[0, 0, 0]  # [Ev]
            mask = self._mask_rows(idx, i, i + 1)  # [1, S] or None
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.scale)[0, 0, 0]  # [Ev]

    # -- one query at a time -----------------------------------------------------------------
    def _index(self, index) -> tuple:
        shape, given = self.batch_shape, index
        index = (index,) if isinstance(index, int) else (tuple(index) if isinstance(index, (tuple, list)) else None)
        if index is None or len(index) != len(shape) or not all(is_index(j, n) for j, n in zip(index, shape)):
            fail("index", f"a tuple of {len(shape)} ints within the batch shape {shape}", describe(given),
                 f"pass e.g. index={tuple(0 for _ in shape)}")
        return index

    def _check_query(self, i) -> None:
        if not is_index(i, self.L):
            fail("i", f"a query index (an int) in [0, {self.L - 1}]", describe(i),
                 ("convert it with int(i)" if int_like(i) else "pick an existing query position"))

    def _mask_rows(self, idx: tuple, r0: int, r1: int) -> torch.Tensor | None:
        """The mask of queries [r0, r1) over the keys, [n, S], without building the L×S causal triangle."""
        if self.is_causal:  # top-left aligned, as SDPA
            rows = torch.arange(r0, r1, device=self.q.device)[:, None]  # [n, 1]
            return torch.arange(self.S, device=self.q.device)[None, :] <= rows  # [n, S]
        if self.attn_mask is None:
            return None
        return self.attn_mask.expand(*self.batch_shape, self.L, self.S)[idx][r0:r1]  # a view: no copy

    def open_keys(self, r0: int, r1: int) -> int:
        """How many leading keys queries [r0, r1) may see: every later key is masked (causal: r1; else S).

        Example: ``at.open_keys(0, 256)  # 256 for a causal trace, S otherwise``
        """
        return min(self.S, r1) if self.is_causal else self.S

    def weights_rows(self, r0: int, r1: int, index=(), keys: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Softmax weights of queries [r0, r1) of one batch/head entry, and where keys were blocked.

        Only ``[r1 - r0, keys]`` is ever held, so views can sweep a long sequence block by block.
        ``keys`` scores only the first keys: exact when every later key is masked (``open_keys``).

        Example::

            w, blocked = at.weights_rows(0, 8, index=(0, 1))     # equals at.weights[0, 1, :8]
        """
        keys = self.S if keys is None else keys
        masked = self._masked_rows(r0, r1, index, keys)  # [n, keys]
        with torch.no_grad():
            return safe_softmax(masked), self._blocked_rows(self._index(index), r0, r1, keys, masked)

    def _masked_rows(self, r0: int, r1: int, index=(), keys: int | None = None) -> torch.Tensor:
        """The masked stage of queries [r0, r1) over the first ``keys`` keys, ``[r1 - r0, keys]``: equals
        ``at.masked[index][r0:r1, :keys]``, in a fresh tensor the caller may overwrite. A causal mask is
        applied as one small triangle where the block crosses the diagonal, never as ``[n, S]`` bools.

        Example: ``at._masked_rows(0, 8, (0, 1)).amax(-1)   # each query's largest scaled score``
        """
        keys = self.S if keys is None else keys
        if not (is_index(r0, self.L) and isinstance(r1, int) and not isinstance(r1, bool) and r0 < r1 <= self.L):
            fail("r0, r1", f"ints with 0 <= r0 < r1 <= {self.L} (a block of query rows)",
                 f"r0={describe(r0)}, r1={describe(r1)}", f"pass e.g. r0=0, r1={self.L}")
        idx, b = self._index(index), self.batch_shape
        with torch.no_grad():
            q = self.q.expand(*b, self.L, self.E)[idx][r0:r1]  # [n, E]
            k = self.k.expand(*b, self.S, self.E)[idx][:keys]  # [keys, E]
            scaled = (q @ k.T).mul_(self.scale)  # [n, keys], the same rounding as scores * scale
            if self.is_causal:  # top-left: query i sees keys 0..i, so only keys past r0 can be masked
                m = keys - r0 - 1
                if m > 0:  # local key c of the slice is masked for local row r when c >= r
                    scaled[:, r0 + 1:].masked_fill_(torch.ones(r1 - r0, m, dtype=torch.bool, device=scaled.device)
                                                    .triu_(), float("-inf"))
                return scaled
            mask = self._mask_rows(idx, r0, r1)  # [n, S] view or None
            return apply_mask(scaled, None if mask is None else mask[:, :keys])

    def _blocked_rows(self, idx: tuple, r0: int, r1: int, keys: int, like: torch.Tensor) -> torch.Tensor:
        """Bool [n, keys]: True where the mask removed a key from queries [r0, r1)."""
        mask = self._mask_rows(idx, r0, r1)  # [n, S] or None
        return blocked_where(None if mask is None else mask[:, :keys], like)

    def row(self, i: int, index=()) -> RowRecord:
        """One query's step, derived in O(S·E): no T×T matrix is built.

        ``index`` picks the batch/head entry (a tuple as long as ``batch_shape``).

        Example::

            at = trace_attention(q, k, v, is_causal=True)      # q, k, v: [B, H, T, E]
            r = at.row(3, index=(0, 1))                      # query 3 of batch 0, head 1
            r.weights.sum(), r.terms.sum(0) - r.output       # 1.0, ~0
        """
        self._check_query(i)
        idx, b = self._index(index), self.batch_shape
        with torch.no_grad():
            q = self.q.expand(*b, self.L, self.E)[idx][i]  # [E]
            k = self.k.expand(*b, self.S, self.E)[idx]  # [S, E]
            v = self.v.expand(*b, self.S, self.Ev)[idx]  # [S, Ev]
            mask_row = self._mask_rows(idx, i, i + 1)  # [1, S] or None
            mask_row = None if mask_row is None else mask_row[0]  # [S]
            scores = k @ q  # [S]
            scaled = scores * self.scale
            masked = apply_mask(scaled, mask_row)
            weights = safe_softmax(masked)
            terms = weights[:, None] * v  # [S, Ev]
            blocked = blocked_where(mask_row, scores)
        return RowRecord(i, idx, q, scores, scaled, masked, blocked, weights, terms, terms.sum(0))
