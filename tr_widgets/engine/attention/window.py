"""The softmax weights of a window of the weights matrix, without holding the window's rows over every key.

A window's weights need each row's normaliser over every key it may see: ``weights_rows`` holds those rows
whole, ``[rows, S]`` (192 × 131,072 floats = 100 MB, and as much again for the softmax and the mask). Here
the normaliser is summed chunk by chunk of keys into one buffer, as the overview does
(``overview._Band``): scores in base 2 (q scaled by scale·log2 e once; torch's exp2 costs less than half its
exp on a CPU), each chunk's log2 Σ_j 2^(s_ij) kept per row and combined at the end, and only the window's own
columns are exponentiated: w_ij = 2^(s_ij − lse2_i). Equal to the softmax to rounding (a few ulps).
"""
from __future__ import annotations

import torch

from .overview import LOG2E, SHIFT_FREE
from .stages import apply_mask, blocked_where

CHUNK_CELLS = 1 << 19  # scores held at a time (2 MiB in float32, one buffer for every chunk)


def _masked(trace, idx: tuple, q2: torch.Tensor, r0: int, r1: int, a: int, b: int, buf=None):
    """(masked base-2 scores of queries [r0, r1) over keys [a, b) [n, b - a] float32, in ``buf`` when it
    fits, and the mask there: None when no key of the block is masked, or for a causal block when ``buf``
    is given: the normaliser's chunks want the scores alone)."""
    n, c = r1 - r0, b - a
    k = trace.k.expand(*trace.batch_shape, trace.S, trace.E)[idx][a:b]  # [c, E]
    if buf is not None and q2.dtype == torch.float32 and buf.numel() >= n * c:
        s = torch.matmul(q2, k.T, out=buf[:n * c].view(n, c))
    else:
        s = (q2 @ k.T).float()
    if trace.is_causal:  # top-left: query i sees keys 0..i, so only keys past r0 are masked
        if b - 1 <= r0:
            return s, None
        dev, a0 = s.device, max(a, r0 + 1)
        after = torch.arange(a0, b, device=dev) > torch.arange(r0, r1, device=dev)[:, None]  # [n, b - a0]
        s[:, a0 - a:].masked_fill_(after, float("-inf"))  # the keys up to r0 stay: no pass over them
        if buf is not None:
            return s, None
        return s, torch.arange(a, b, device=dev)[None, :] <= torch.arange(r0, r1, device=dev)[:, None]
    mask = trace._mask_rows(idx, r0, r1)  # [n, S] view or None
    mask = None if mask is None else mask[:, a:b]
    if mask is not None and mask.dtype != torch.bool:
        return s + mask * LOG2E, mask  # a float mask is added to the scores: in base 2, times log2 e
    return apply_mask(s, mask), mask


def _log2_sum(s: torch.Tensor) -> torch.Tensor:
    """log2 Σ_j 2^(s_ij) of each row of ``s [n, c]`` (overwritten), ``[n, 1]``; -inf for a fully masked row."""
    top = s.amax(-1, keepdim=True)  # [n, 1]
    if s.device.type == "cpu" and bool((top.abs() <= SHIFT_FREE).all()):  # no overflow, no term lost: no shift
        return s.exp2_().sum(-1, keepdim=True).log2_()
    top = top.masked_fill_(torch.isneginf(top), 0.0)  # a row masked here: 2^-inf = 0, its log2 -inf
    return s.sub_(top).exp2_().sum(-1, keepdim=True).log2_().add_(top)


def window_weights(trace, index, r0: int, r1: int, c0: int, c1: int, keys: int | None = None):
    """Softmax weights of queries [r0, r1) over keys [c0, c1) of one batch/head entry, ``[r1 - r0, c1 - c0]``,
    and where the mask removed a key (same shape). ``keys``: only the first keys can take part (every later
    key is masked for these rows, ``trace.open_keys``); S by default. Fully masked rows: zeros, as SDPA.

    Example::

        w, blocked = window_weights(at, (0, 1), 0, 6, 2, 5)      # queries 0-5 over keys 2-4
        (w - at.weights[0, 1, :6, 2:5]).abs().max() < 1e-6
    """
    keys = trace.S if keys is None else keys
    idx = trace._index(index)
    n = r1 - r0
    step = max(1, CHUNK_CELLS // max(n, 1))
    with torch.no_grad():
        q = trace.q.expand(*trace.batch_shape, trace.L, trace.E)[idx][r0:r1]  # [n, E]
        q2 = q * (trace.scale * LOG2E)  # base-2 scores
        buf = torch.empty(n * min(step, max(keys, 1)), dtype=torch.float32, device=q.device)
        parts = [_log2_sum(_masked(trace, idx, q2, r0, r1, a, min(a + step, keys), buf)[0])
                 for a in range(0, keys, step)]  # [n, 1] each
        lses = torch.cat(parts, 1) if parts else torch.full((n, 1), float("-inf"), device=q.device)
        top = lses.amax(-1, keepdim=True)  # [n, 1]
        dead = torch.isneginf(top)  # fully masked rows: all-zero weights, as SDPA
        top = top.masked_fill(dead, 0.0)
        lse = top + (lses - top).exp2_().sum(-1, keepdim=True).log2_()  # [n, 1]
        s, mask = _masked(trace, idx, q2, r0, r1, c0, c1)  # [n, c1 - c0]
        if mask is None and trace.is_causal:
            mask = torch.ones(s.shape, dtype=torch.bool, device=s.device)
        w = (s - lse.masked_fill(dead, 0.0)).exp2_().masked_fill_(dead, 0.0)
        return w.to(trace.q.dtype), blocked_where(mask, s)
