"""The overview and the weights window in base 2 (issue 26): scores far from 0 take the shifted path, and a
step's top keys and other terms' sum come from row_window's one pass over v.

Scores of size ~100 (q and k scaled up) would overflow 2^s unshifted (float32 tops at 2^128): the images
must still be torch's softmax, max-pooled, to rounding. row_window's ``top`` and ``rest`` must be the
largest weights' keys and Σ_j w_ij v_j over every other key, as float64 computes them from the full row.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import tr_widgets
from tr_widgets.engine.attention import overview, window
from tr_widgets.engine.attention.overview import pooled_weights
from tr_widgets.engine.attention.row_window import row_window


def _trace(T, size, mask_kind="causal", seed=0, E=16):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(1, 2, T, E, generator=g) for _ in range(3))
    q = q * size  # scaled scores of about ±size (and more): far past SHIFT_FREE in base 2 when size is large
    mask = None
    if mask_kind == "bool":
        mask = torch.rand(T, T, generator=g) > 0.3
        mask[5] = False  # a query that sees no key
    return tr_widgets.trace_attention(q, k, v, is_causal=mask_kind == "causal", attn_mask=mask)


def _softmax64(at, index):
    return torch.softmax(at.masked[index].double(), -1).nan_to_num(0.0)  # [L, S]; a dead row: 0


@pytest.mark.parametrize("size", [0.5, 40.0])
@pytest.mark.parametrize("mask_kind", ["causal", "bool"])
def test_overview_is_the_softmax_near_and_far_from_zero(size, mask_kind):
    at = _trace(190, size, mask_kind)
    top = at.masked[0, 1].float().amax(-1)  # each query's largest score
    top = (top[torch.isfinite(top)].abs() * overview.LOG2E).max()  # a query that sees no key left out
    assert (top > overview.SHIFT_FREE) == (size > 1)  # the large case really takes the shifted path
    pooled, _ = pooled_weights(at, (0, 1), (4, 4), block_cells=256)
    ref = F.max_pool2d(_softmax64(at, (0, 1))[None], (4, 4), ceil_mode=True)[0]
    assert torch.isfinite(pooled).all()
    torch.testing.assert_close(pooled.double(), ref, rtol=1e-4 if size > 1 else 1e-5, atol=1e-7)


@pytest.mark.parametrize("size", [0.5, 40.0])
def test_window_is_the_softmax_near_and_far_from_zero(size, monkeypatch):
    monkeypatch.setattr(window, "CHUNK_CELLS", 256)  # many chunks of keys
    at = _trace(190, size, "bool", seed=1)
    w, _ = window.window_weights(at, (0, 0), 3, 120, 10, 90)
    ref = _softmax64(at, (0, 0))[3:120, 10:90]
    assert torch.isfinite(w).all()
    torch.testing.assert_close(w.double(), ref, rtol=1e-4 if size > 1 else 1e-5, atol=1e-7)


@pytest.mark.parametrize("top_k", [1, 6])
def test_row_window_top_keys_and_rest_are_the_full_rows(top_k):
    at = _trace(300, 1.0, seed=2)
    i = 250
    r = row_window(at, i, (0, 1), 240, 260, top_k=top_k)
    w = _softmax64(at, (0, 1))[i]  # [S]
    v = at.v[0, 1].double()
    assert list(r.top) == torch.topk(w, top_k).indices.tolist()
    others = w.clone()
    others[list(r.top)] = 0.0
    torch.testing.assert_close(r.rest.double(), others @ v, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(r.output.double(), w @ v, rtol=1e-5, atol=1e-6)
