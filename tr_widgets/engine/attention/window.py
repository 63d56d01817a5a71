"""The softmax weights of a window of the weights matrix, without holding the window's rows over every key.

A window's weights need each row's normaliser over every key it may see: ``weights_rows`` holds those rows
whole, ``[rows, S]`` (192 × 131,072 floats = 100 MB, and as much again for the softmax and the mask). Here
the normaliser is summed chunk by chunk of keys, the way a streaming softmax does (a running max m_i and
l_i = Σ_j exp(s_ij − m_i), rescaled when m_i grows), and only the window's own columns are exponentiated:
w_ij = exp(s_ij − m_i) / l_i. Equal to the softmax to rounding (a few ulps).
"""
from __future__ import annotations

import torch

from .stages import apply_mask, blocked_where

CHUNK_CELLS = 1 << 20  # scores held at a time (4 MiB in float32)


def _masked(trace, idx: tuple, q: torch.Tensor, r0: int, r1: int, a: int, b: int):
    """(masked scaled scores of queries [r0, r1) over keys [a, b) [n, b - a], the mask there or None)."""
    k = trace.k.expand(*trace.batch_shape, trace.S, trace.E)[idx][a:b]  # [b - a, E]
    s = (q @ k.T).mul_(trace.scale)  # [n, b - a]: the rounding of scores * scale
    if trace.is_causal:  # top-left: query i sees keys 0..i
        rows = torch.arange(r0, r1, device=s.device)[:, None]  # [n, 1]
        mask = torch.arange(a, b, device=s.device)[None, :] <= rows  # [n, b - a]
        return s.masked_fill_(~mask, float("-inf")), mask
    mask = trace._mask_rows(idx, r0, r1)  # [n, S] view or None
    mask = None if mask is None else mask[:, a:b]
    return apply_mask(s, mask), mask


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
        m = torch.full((n, 1), float("-inf"), device=q.device)
        total = torch.zeros(n, 1, device=q.device)
        for a in range(0, keys, step):
            s = _masked(trace, idx, q, r0, r1, a, min(a + step, keys))[0].float()  # [n, chunk]
            new = torch.maximum(m, s.amax(-1, keepdim=True))  # [n, 1]
            safe = new.masked_fill(torch.isneginf(new), 0.0)  # a row masked so far sums exp(-inf) = 0
            total = total * (m - safe).exp() + s.sub_(safe).exp_().sum(-1, keepdim=True)
            m = new
        s, mask = _masked(trace, idx, q, r0, r1, c0, c1)  # [n, c1 - c0]
        safe = m.masked_fill(torch.isneginf(m), 0.0)
        w = (s.float() - safe).exp_().div_(total.masked_fill(total == 0, 1.0))  # a dead row: exp(-inf) = 0
        return w.to(trace.q.dtype), blocked_where(mask, s)
