"""Attention views return the trace's numbers: rows, windows, overviews, checks, labels."""
import dataclasses
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tr_widgets
from tr_widgets.views import batch_axes, labels, row_view, weights_overview, weights_rows, weights_window
from tr_widgets.views.matrix import BLOCKED, Window, dequantize


def _qkv(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g) for _ in range(3))


@pytest.fixture(scope="module")
def causal():
    q, k, v = _qkv(2, 3, 20, 8)
    return tr_widgets.trace_attention(q, k, v, is_causal=True)


@pytest.fixture(scope="module")
def padded():
    q, k, v = _qkv(1, 2, 6, 4, seed=1)
    mask = torch.ones(1, 1, 6, 6, dtype=torch.bool)
    mask[..., 4:] = False  # two padding keys
    mask[..., 5, :] = False  # one query sees nothing at all
    return tr_widgets.trace_attention(q, k, v, attn_mask=mask, tokens=list("abcdef"))


def test_batch_axes_name_batch_and_head(causal):
    assert batch_axes(causal) == [("batch", 2), ("head", 3)]
    q, k, v = _qkv(4, 5, 3)
    assert batch_axes(tr_widgets.trace_attention(q, k, v)) == [("head", 4)]


def test_weights_rows_equal_the_trace(causal, padded):
    for at, index in ((causal, (1, 2)), (padded, (0, 1))):
        w, blocked = weights_rows(at, index, 2, at.L)
        assert np.allclose(w, at.weights[index][2:].numpy(), atol=1e-6)
        assert (blocked == at.blocked[index][2:].numpy()).all()


def test_row_view_stages_are_the_trace_slices(causal):
    rv = row_view(causal, 9, (0, 1), (4, 16), dims=5, top_k=3)
    idx = (0, 1, 9)
    for name in ("scores", "scaled", "weights"):
        assert np.allclose(getattr(rv, name), getattr(causal, name)[idx][4:16].numpy(), atol=1e-6), name
    ref = causal.masked[idx][4:16].numpy()
    assert (np.isneginf(rv.masked) == np.isneginf(ref)).all()  # -inf exactly where blocked
    assert np.allclose(rv.masked[np.isfinite(ref)], ref[np.isfinite(ref)], atol=1e-6)
    assert (rv.blocked == causal.blocked[idx][4:16].numpy()).all() and rv.blocked[6:].all()
    assert rv.terms.shape == (12, 5) and rv.output.shape == (5,)
    assert np.allclose(rv.output, causal.output[idx][:5].numpy(), atol=1e-6)
    assert abs(rv.row_sum - 1) < 1e-6 and rv.max_abs_diff < 1e-5
    assert [j for j, *_ in rv.top] == causal.weights[idx].topk(3).indices.tolist()
    total = sum(t for *_, t in rv.top) + rv.rest
    assert np.allclose(total, rv.output, atol=1e-5)  # top terms + the rest = o_i
    others = [j for j in range(causal.S) if j not in {j for j, *_ in rv.top}]
    w, v = causal.weights[idx].double(), causal.v[0, 1].double()
    assert np.allclose(rv.rest, (w[others, None] * v[others, :5]).sum(0).numpy(), atol=1e-6)  # the other terms, summed


def test_fully_masked_row_is_reported(padded):
    rv = row_view(padded, 5, (0, 0), (0, 6))
    assert rv.fully_masked and rv.row_sum == 0 and rv.blocked.all()
    assert rv.max_abs_diff < 1e-6  # SDPA gives zeros too


def test_window_codes_mark_blocked_cells(padded):
    ww = weights_window(padded, (0, 0), Window(0, 6, 0, 6))
    assert (ww.codes[:, 4:] == BLOCKED).all() and (ww.codes[5] == BLOCKED).all()
    vals = dequantize(ww.codes, ww.vmin, ww.vmax)
    ok = ~padded.blocked[0, 0].numpy()
    assert np.allclose(vals[ok], padded.weights[0, 0].numpy()[ok], atol=ww.vmax / 253)


def test_overview_at_4096_is_bounded_and_keeps_the_diagonal():
    q, k, v = _qkv(1, 4096, 16, seed=3)
    k[0, 3000] = q[0, 3000] * 50  # one query puts all its weight on one key
    at = tr_widgets.trace_attention(q, k, v, is_causal=True)
    calls = []
    ov = weights_overview(at, (0,), 256, progress=lambda it, total, desc: calls.append(total) or it)
    assert ov.codes.shape == (256, 256) and ov.codes.nbytes <= 64 * 1024
    assert calls and calls[0] >= 1
    assert ov.codes[3000 // 16, 3000 // 16] == 253  # the hot cell survives 16×16 pooling
    assert (ov.codes[0, 1:] == BLOCKED).all()  # the causal upper triangle is marked, not blank
    assert "4096×4096" in ov.notice


def test_labels_are_plain_strings_and_checked():
    q, k, v = _qkv(1, 3, 4)
    at = tr_widgets.trace_attention(q, k, v, tokens=["<script>", "b", "c"])
    assert labels(at) == (["<script>", "b", "c"], ["<script>", "b", "c"])
    with pytest.raises(tr_widgets.TraceInputError, match="tokens"):
        tr_widgets.trace_attention(q, k, v, tokens=["a"])  # refused where it is given
    bad = tr_widgets.trace_attention(q, k, v)
    bad = dataclasses.replace(bad, tokens=["a"])  # a trace rebuilt with wrong labels is still checked before it is shown
    with pytest.raises(tr_widgets.TraceInputError, match="tokens"):
        labels(bad)


def test_sdpa_cross_check_is_torchs(causal):
    rv = row_view(causal, 3, (1, 1), (0, 20), dims=8)
    ref = F.scaled_dot_product_attention(causal.q, causal.k, causal.v, is_causal=True)[1, 1, 3]
    assert np.allclose(rv.sdpa, ref.numpy(), atol=1e-6)
