"""What an attention view shows, as numpy: one query's stages, a window of the weights, an overview.

softmax(QKᵀ · scale + mask) V ("Attention Is All You Need", eq. 1). For the current query i the
view shows each stage over a window of keys (raw scores → scaled → masked → weights), every term
w_ij·v_j and their sum o_i, with the cross-checks Σ_j w_ij = 1 and o_i = SDPA's output row.

Nothing here builds the whole [L, S] matrix of every head: rows are derived from q and k in blocks
(``weights_rows``) and an overview is pooled block by block, so a T=4096 view costs one block of
memory at a time. Everything returned is float32/uint8 numpy of bounded size.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..engine.attention import AttentionTrace, pooled_weights
from ..engine.attention.row_window import RowWindow, row_window
from ..engine.batch import batch_names
from ..engine.errors import fail
from ..i18n import msg
from .matrix import NONFINITE, OVERVIEW, Overview, overview_notice, pool_factors, quantize, to_numpy, value_range
from .window_fill import WeightsWindow, weights_window  # noqa: F401  (a window of the weights: there)

# How close o_i must be to torch's own SDPA row for the view to show ✓ (relative to the row's size).
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5, torch.float16: 1e-2, torch.bfloat16: 5e-2}


def batch_axes(trace) -> list[tuple[str, int]]:
    """(name, size) of each batch dimension: ``trace.batch_names`` or the engine's rule by position.

    Example::

        batch_axes(trace_attention(q, k, v))   # q [2, 4, T, E] -> [('batch', 2), ('head', 4)]
    """
    shape = trace.batch_shape
    names = tuple(trace.batch_names or ())
    if len(names) != len(shape):
        names = batch_names(len(shape))
    return list(zip(names, shape))


def _labels(arg: str, tokens, n: int) -> list[str] | None:
    if tokens is None:
        return None
    tokens = list(tokens)
    if len(tokens) != n:
        fail(f"trace.{arg}", f"{n} labels (one per position)", f"{len(tokens)} labels",
             f"pass {arg}= with exactly {n} strings to trace_attention")
    return [str(t) for t in tokens]


def labels(trace) -> tuple[list[str] | None, list[str] | None]:
    """(query labels, key labels) as plain strings, or None; ``tokens`` label queries too if L == S.

    The strings are user text: widgets escape them (html.escape / textContent), never trust them.

    Example::

        tokens = ["The", "cat", "sat", "on", "the", "mat"]
        labels(trace_attention(q, k, v, tokens=tokens)) == (tokens, tokens)    # L == S: tokens label queries too
        labels(at) == (None, None)                                    # no tokens given
    """
    keys = _labels("tokens", trace.tokens, trace.S)
    if trace.query_tokens is not None:
        return _labels("query_tokens", trace.query_tokens, trace.L), keys
    return (keys if trace.L == trace.S else None), keys


def weights_rows(trace, index: tuple, r0: int, r1: int, keys: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Softmax weights of queries [r0, r1) over every key (or the first ``keys``, when every later key is
    masked for these rows: ``trace.open_keys``), and where keys were blocked.

    Derived from q and k of one batch/head entry; only ``[r1 - r0, S]`` is ever held.

    Example::

        causal = torch.ones(6, 6, dtype=torch.bool).triu(1)     # key j > query i is blocked
        ref = torch.softmax((q[0, 1] @ k[0, 1].T / 8 ** 0.5).masked_fill(causal, float("-inf")), -1)
        w, blocked = weights_rows(at, (0, 1), 0, 6)             # at: causal; batch 0, head 1, rows 0-5
        assert np.allclose(w, ref.numpy(), atol=1e-6) and (blocked == causal.numpy()).all()
    """
    w, blocked = trace.weights_rows(r0, r1, index, keys=keys)  # the engine's own masking and softmax, [n, S]
    return to_numpy(w), (blocked.cpu().numpy() if trace.has_mask else None)


def weights_overview(trace, index: tuple, max_px: int = OVERVIEW, progress=None) -> Overview:
    """The whole weights matrix of one batch/head entry, max-pooled to ≤ ``max_px`` per side.

    Streamed by the engine (``engine.attention.pooled_weights``): one chunk of query rows × keys at a
    time, a causal band only over the keys it may see, so memory stays bounded and causal costs half.
    ``progress`` (optional) wraps an iterable: ``progress(iterable, total=n, desc=...)`` (tqdm).

    Example::

        ov = weights_overview(at, (0, 0))     # T=4096: 256×256 codes, notice names the pooling
    """
    factors = pool_factors((trace.L, trace.S), max_px)
    pooled, blocked = pooled_weights(trace, index, factors, progress=progress)
    return overview_image(trace, pooled, blocked, factors)


def overview_image(trace, pooled, blocked, factors: tuple[int, int], rows_done: int | None = None,
                   progress: float = 1.0) -> Overview:
    """The :class:`Overview` of pooled weights (``engine.attention.pooled_weights``), of which only the
    first ``rows_done`` rows may be computed yet (None: all): later rows are coded NONFINITE (no value) and
    ``done`` says where they start (painters draw them "not computed yet", never as NaN), the colour range
    is the computed rows' own, and the notice says how far it is.
    Once every row is in, it is exactly :func:`weights_overview`'s.

    Example::

        from tr_widgets.engine.attention.overview import empty_overview
        pooled, blocked = empty_overview(at, (1, 1))           # nothing computed yet
        ov = overview_image(at, pooled, blocked, (1, 1), rows_done=0, progress=0.0)
        assert "0%" in ov.notice and (ov.codes == NONFINITE).all()   # every row drawn "not yet"
    """
    img = to_numpy(pooled)  # [out_r, out_c]
    blk = None if blocked is None else blocked.cpu().numpy()
    done = img.shape[0] if rows_done is None else int(rows_done)
    shown = img[:done] if blk is None else np.where(blk[:done], np.nan, img[:done])
    vmin, vmax = value_range(shown, signed=False, robust=True)
    codes = quantize(img, vmin, vmax, blk)
    codes[done:] = NONFINITE
    notice = overview_notice((trace.L, trace.S), codes.shape, factors)
    if done < img.shape[0]:
        rows = min(done * factors[0], trace.L)  # percent of rows, beside the rows: not of work (causal rows differ)
        notice = msg("view.overview_filling", pct=rows * 100 // max(trace.L, 1), rows=rows, total=trace.L,
                     notice=notice)
    return Overview(codes, vmin, vmax, factors, (trace.L, trace.S), notice, done if done < img.shape[0] else None)


RANGE_CELLS = 1 << 18  # weights read to fix the colour range over every head (larger: evenly spaced rows)


def heads_range(trace, index: tuple, axis: int | None, max_cells: int = RANGE_CELLS) -> tuple[float, float]:
    """One colour range for every head: the robust range (``value_range``) of the weights of every
    entry along batch axis ``axis`` (``None``: only ``index`` itself), the other indices as in
    ``index``. Above ``max_cells`` cells it reads evenly spaced blocks of query rows.

    Example::

        lo, hi = heads_range(at, (0, 2), 1)    # the same range for heads 0..H-1 of batch item 0
    """
    n = 1 if axis is None else trace.batch_shape[axis]
    rows = max(1, min(trace.L, max_cells // max(n * trace.S, 1)))
    starts = sorted({round(k * (trace.L - rows) / 3) for k in range(4)}) if rows < trace.L else [0]
    block = max(1, rows // len(starts))
    vals = []
    for h in range(n):
        idx = index if axis is None else (*index[:axis], h, *index[axis + 1:])
        for r0 in starts:
            r1 = min(trace.L, r0 + block)  # later keys are masked for these rows (NaN below): not scored
            w, blocked = weights_rows(trace, idx, r0, r1, min(trace.S, trace.open_keys(r0, r1)))
            vals.append((w if blocked is None else np.where(blocked, np.nan, w)).ravel())
    return value_range(np.concatenate(vals), signed=False, robust=True)


@dataclass(eq=False)
class RowView:
    """One query's stages over keys [c0, c1) and its output, float32, plus the cross-checks.

    Example::

        rv = row_view(at, 5, (0, 0), (0, 6))      # query 5 of batch 0, head 0, over keys [0, 6)
        assert rv.sum_ok and rv.output_ok         # Σ_j w_5j = 1 and o_5 = torch's own SDPA row
        rv.weights.shape == (6,)
    """

    i: int
    keys: tuple[int, int]  # the key window [c0, c1)
    scores: np.ndarray  # [c1-c0]
    scaled: np.ndarray
    masked: np.ndarray  # -inf where blocked
    weights: np.ndarray
    blocked: np.ndarray  # [c1-c0] bool
    terms: np.ndarray  # [c1-c0, dims]  w_ij * v_j (first `dims` value dimensions)
    output: np.ndarray  # [dims] o_i
    sdpa: np.ndarray  # [dims] torch SDPA's output row
    top: list  # [(j, w_ij, v_j[:dims], term_j[:dims])] for the largest weights over all keys
    rest: np.ndarray  # [dims] the sum of every other term
    row_sum: float  # Σ_j w_ij over all S keys (float64)
    max_abs_diff: float  # max |o_i - SDPA_i| over all Ev dimensions
    fully_masked: bool
    blocked_total: int = 0  # masked keys over all S
    tolerance: float = 0.0  # the largest |o_i - SDPA_i| shown as agreeing, for q's dtype
    blocked_weight: float = 0.0  # Σ_j |w_ij| over blocked keys (0 unless the mask leaks)
    normalized: bool = True  # the trace's rows are a softmax (False: an SSM's effective attention)

    @property
    def sum_ok(self) -> bool:
        """Σ_j w_ij is 1, or 0 for a fully masked row (as SDPA gives). Rows that are no softmax
        (``normalized`` False) have no sum to check: only that blocked (future) keys weigh 0."""
        if not self.normalized:
            return self.blocked_weight == 0
        if self.fully_masked:
            return abs(self.row_sum) < 1e-6
        return abs(self.row_sum - 1) < max(self.tolerance, 1e-6)

    @property
    def output_ok(self) -> bool:
        """o_i agrees with torch's SDPA row within ``tolerance``."""
        return self.max_abs_diff <= self.tolerance


def _row(trace, i: int, index: tuple, c0: int, c1: int, top_k: int):
    """(the row's record, its terms of keys [c0, c1) [n, Ev], the term of any key j [Ev], keys scored)."""
    if type(trace).row is AttentionTrace.row:  # a plain softmax: only the window's terms, the open keys scored
        r = row_window(trace, i, index, c0, c1, top_k)  # the top keys and the other terms' sum with o_i
        v = trace.v.expand(*trace.batch_shape, trace.S, trace.Ev)[index]  # [S, Ev]
        return r, r.terms, lambda j: r.weights[j] * v[j], r.keys
    r = trace.row(i, index)  # a trace's own row (a module's chain, a state-space model): every term
    return r, r.terms[c0:c1], lambda j: r.terms[j], trace.S


def row_view(trace, i: int, index: tuple, keys: tuple[int, int], *, dims: int = 32, top_k: int = 6) -> RowView:
    """Query ``i`` of batch/head ``index``: stages over the key window ``keys``, top terms, checks.

    Example::

        rv = row_view(at, 5, (0, 0), (0, at.S))
        rv.row_sum, rv.max_abs_diff              # 1.0, ~1e-7
    """
    c0, c1 = keys
    r, window_terms, term, scored = _row(trace, i, index, c0, c1, top_k)  # no T×T matrix; the causal row directly
    d = min(dims, trace.Ev)
    sdpa = trace.sdpa_row(i, index)  # [Ev]: torch's own output for this one row
    v = trace.v.expand(*trace.batch_shape, trace.S, trace.Ev)[index][:scored]  # [scored, Ev]
    # the other terms, summed as one product with the listed keys' weights zeroed: no float64 copy of all S
    # terms, and no cancellation (o_i less the large terms would flip the sign of a rest near 0)
    if isinstance(r, RowWindow) and top_k:  # row_window's own, from its one pass over v
        top_idx, rest = list(r.top), (r.rest[:d] if r.rest is not None else torch.zeros(d))
    else:
        k = min(top_k, int((~r.blocked).sum()))  # masked keys (weight 0) never make the list
        rank = r.weights if trace.normalized else r.weights.abs()  # an SSM's weights may be negative: by size
        top_idx = torch.topk(rank.masked_fill(r.blocked, -float("inf")), k).indices.tolist() if k else []
        others = r.weights.index_fill(0, torch.tensor(top_idx, dtype=torch.long, device=v.device), 0.0)
        rest = others @ v[:, :d]  # [d]
    rest = to_numpy(rest)
    top = [(j, float(r.weights[j]), to_numpy(v[j])[:d], to_numpy(term(j))[:d]) for j in top_idx]
    return RowView(
        i=i, keys=(c0, c1), scores=to_numpy(r.scores[c0:c1]), scaled=to_numpy(r.scaled[c0:c1]),
        masked=to_numpy(r.masked[c0:c1]), weights=to_numpy(r.weights[c0:c1]), blocked=r.blocked[c0:c1].cpu().numpy(),
        terms=np.ascontiguousarray(to_numpy(window_terms)[:, :d]), output=to_numpy(r.output)[:d],
        sdpa=to_numpy(sdpa)[:d], top=top, rest=rest.astype(np.float32), row_sum=float(r.weights.double().sum()),
        max_abs_diff=float((r.output.double() - sdpa.double()).abs().max()),
        fully_masked=bool(r.blocked.all()), blocked_total=int(r.blocked.sum()) + trace.S - scored,
        normalized=trace.normalized, blocked_weight=float(r.weights.double()[r.blocked].abs().sum()),
        tolerance=TOLERANCE.get(trace.q.dtype, 1e-5) * (1 + float(np.abs(to_numpy(sdpa)[:d]).max(initial=0))))
