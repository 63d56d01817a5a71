"""The overview of a long attention trace: its softmax weights max-pooled to a small image, streamed.

One block of query rows at a time (about ``block_cells`` scores held, never L×S), each block scoring only
the keys its rows may see (``AttentionTrace.open_keys``: a causal block ends at its last row), so memory
stays bounded and causal costs about half.

The softmax is never written out. exp is increasing, so the largest weight of query i within a block of
keys B is exp(max_{j∈B} s_ij − lse_i), with lse_i = log Σ_j exp(s_ij) the row's log-normaliser: per block
the code takes the masked scores' max over each pooling block of keys, then overwrites the scores with
exp(s − max) in place to sum them. That is the same value the softmax gives, to rounding (a few ulps,
far below the image's 253 colour levels), at one matmul and three passes over the block.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import check_budget
from .trace import AttentionTrace

NEG_INF = float("-inf")


def _block_max(s: torch.Tensor, fc: int) -> torch.Tensor:
    """Max of ``s [n, c]`` over each run of ``fc`` columns (the last run may be short), ``[n, ceil(c/fc)]``."""
    n, c = s.shape
    whole = c // fc * fc
    out = s[:, :whole].reshape(n, -1, fc).amax(-1)
    if whole < c:
        out = torch.cat([out, s[:, whole:].amax(-1, keepdim=True)], 1)
    return out


def _row_pool(x: torch.Tensor, fr: int, fill, op) -> torch.Tensor:
    """``op`` over each run of ``fr`` rows of ``x [n, m]`` (short runs padded with ``fill``)."""
    pad = -x.shape[0] % fr
    x = F.pad(x, (0, 0, 0, pad), value=fill) if pad else x
    return op(x.reshape(-1, fr, x.shape[1]), 1)


def pooled_weights(trace, index=(), factors=(1, 1), block_cells: int = 1 << 22, progress=None):
    """The weights of one batch/head entry max-pooled in ``fr × fc`` blocks.

    Returns ``(pooled [ceil(L/fr), ceil(S/fc)] float32, blocked [same] bool or None)``: a pooled cell is
    blocked when every cell of its block is masked. ``progress`` wraps an iterable (tqdm).

    Example::

        pooled, blocked = pooled_weights(at, (0, 0), (64, 64))    # T=16384: [256, 256]
    """
    fr, fc = int(factors[0]), int(factors[1])
    L, S = trace.L, trace.S
    out_r, out_c = -(-L // fr), -(-S // fc)
    rows = min(max(1, block_cells // max(S, 1) // fr) * fr, -(-L // fr) * fr)
    check_budget("pooled_weights", (rows, S), torch.float32, "a smaller block_cells")
    dev = trace.q.device
    pooled = torch.zeros(out_r, out_c, dtype=torch.float32, device=dev)
    blocked = torch.ones(out_r, out_c, dtype=torch.bool, device=dev) if trace.has_mask else None
    starts = range(0, L, rows)
    if progress is not None:
        starts = progress(starts, total=len(starts), desc="attention overview")
    plain = type(trace).weights_rows is AttentionTrace.weights_rows  # softmax(masked): else the trace's own weights
    with torch.no_grad():
        for r0 in starts:
            r1 = min(r0 + rows, L)
            c1 = min(S, -(-trace.open_keys(r0, r1) // fc) * fc)  # whole pooling blocks
            w, out = _block_plain(trace, r0, r1, index, c1, fc) if plain else _block_any(trace, r0, r1, index, c1, fc)
            a, nc = r0 // fr, w.shape[1]
            pooled[a:a + -(-(r1 - r0) // fr), :nc] = _row_pool(w, fr, NEG_INF, torch.amax)  # a pad row never wins
            if blocked is not None:
                blocked[a:a + -(-(r1 - r0) // fr), :nc] = _row_pool(out, fr, True, torch.all)
    return pooled, blocked


def _block_plain(trace, r0, r1, index, c1, fc):
    """(each key block's largest weight [n, nc], whether all its keys are masked [n, nc]) of queries [r0, r1)
    of a softmax trace, from the masked scores alone (exp(block max − lse), see the module docstring)."""
    s = trace._masked_rows(r0, r1, index, keys=c1).float()  # [n, c1]: exact, every open key is in [0, c1)
    peak = _block_max(s, fc)  # [n, nc]
    top = peak.amax(-1, keepdim=True)  # [n, 1]
    dead = torch.isneginf(top)  # fully masked queries: all-zero weights, as SDPA
    top = top.masked_fill(dead, 0.0)
    lse = top + s.sub_(top).exp_().sum(-1, keepdim=True).log_()  # [n, 1]
    return (peak - lse).exp_().masked_fill_(dead, 0.0), torch.isneginf(peak)


def _block_any(trace, r0, r1, index, c1, fc):
    """The same for a trace with weights of its own (a module's replayed chain, a state-space model's
    effective weights, which may be negative: pooled by their largest value, as drawn)."""
    w, blk = trace.weights_rows(r0, r1, index, keys=c1)  # [n, c1]
    return _block_max(w.float(), fc), _block_all(blk, fc)


def _block_all(b: torch.Tensor, fc: int) -> torch.Tensor:
    """Whether all of each run of ``fc`` columns of ``b [n, c]`` is True, ``[n, ceil(c/fc)]``."""
    return ~_block_max((~b).to(torch.uint8), fc).bool()
