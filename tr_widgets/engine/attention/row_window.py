"""One query's step as a view shows it: every stage over the keys it may see, the terms w_ij·v_j of a window.

``AttentionTrace.row`` keeps every term w_ij·v_j, an ``[S, Ev]`` tensor (33 MB at S=131,072, E=64: a fresh
allocation each step, most of a step's time). A view shows the terms of one window of keys and of the few
largest weights only, and o_i = Σ_j w_ij v_j is one matrix-vector product. Under a causal mask the keys
after i are masked (weight 0): they are not scored at all, so a step costs O(i·E), not O(S·E).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .stages import RowRecord, apply_mask, blocked_where, safe_softmax


@dataclass(frozen=True, eq=False)
class RowWindow(RowRecord):
    """A :class:`RowRecord` over the first ``keys`` keys only (every later key is masked for query i: weight
    0, not scored) whose ``terms`` are those of keys ``[c0, c1)`` alone, ``[c1 - c0, Ev]``.

    Example::

        rw = row_window(at, 3, (0, 1), 0, 4)     # causal: keys 0..3 scored
        rw.keys == 4 and rw.terms.shape == (4, at.Ev)
    """

    keys: int = 0  # keys scored: [0, keys)
    c0: int = 0  # terms cover keys [c0, c0 + len(terms))
    top: tuple = ()  # the ``top_k`` largest weights' keys, largest first (masked keys never)
    rest: torch.Tensor | None = None  # [Ev] Σ_j w_ij v_j over every other key (with ``top_k``)


def row_window(trace, i: int, index: tuple, c0: int, c1: int, top_k: int = 0) -> RowWindow:
    """Query ``i`` of batch/head ``index``: its stages over the keys it may see (and at least up to ``c1``),
    the terms of keys ``[c0, c1)``, and o_i = weights @ v. For plain softmax traces (``AttentionTrace``).
    With ``top_k``, also the keys of the largest weights and the sum of every other term, in the same
    pass over v as o_i (v is the largest thing a step reads: 33 MB at S=131,072, E=64).

    Example::

        rw = row_window(at, 5, (0, 0), 0, 6)
        (rw.output - at.row(5, (0, 0)).output).abs().max() < 1e-6    # the same o_i
    """
    trace._check_query(i)
    idx, b = trace._index(index), trace.batch_shape
    keys = min(trace.S, max(c1, trace.open_keys(i, i + 1)))
    with torch.no_grad():
        q = trace.q.expand(*b, trace.L, trace.E)[idx][i]  # [E]
        k = trace.k.expand(*b, trace.S, trace.E)[idx][:keys]  # [keys, E]
        v = trace.v.expand(*b, trace.S, trace.Ev)[idx][:keys]  # [keys, Ev]
        mask_row = trace._mask_rows(idx, i, i + 1)  # [1, S] or None
        mask_row = None if mask_row is None else mask_row[0, :keys]  # [keys]
        scores = k @ q  # [keys]
        scaled = scores * trace.scale
        masked = apply_mask(scaled, mask_row)
        weights = safe_softmax(masked)
        terms = weights[c0:c1, None] * v[c0:c1]  # [c1 - c0, Ev]
        blocked = blocked_where(mask_row, scores)
        n = min(top_k, int((~blocked).sum())) if top_k else 0  # masked keys (weight 0) never make the list
        top = torch.topk(weights.masked_fill(blocked, float("-inf")), n).indices if n else None
        if top is None:
            output, rest = weights @ v, None  # [Ev]
        else:  # o_i and the other terms' sum as one product: the listed keys' weights zeroed in the second row
            output, rest = torch.stack([weights, weights.index_fill(0, top, 0.0)]) @ v  # [2, keys] @ [keys, Ev]
    return RowWindow(i, idx, q, scores, scaled, masked, blocked, weights, terms, output, keys=keys, c0=c0,
                     top=() if top is None else tuple(top.tolist()), rest=rest)
