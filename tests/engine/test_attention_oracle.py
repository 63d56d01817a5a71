"""Oracle tests: trace_attention equals F.scaled_dot_product_attention, stage by stage."""
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import tr_widgets
from tests.engine.reference import check_overview


@st.composite
def attention_inputs(draw):
    B, H = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    L, S, E, Ev = (draw(st.integers(1, 6)) for _ in range(4))
    gqa = draw(st.booleans()) and H > 1
    Hk = draw(st.sampled_from([d for d in range(1, H + 1) if H % d == 0])) if gqa else H
    torch.manual_seed(draw(st.integers(0, 2**16)))
    q = torch.randn(B, H, L, E)
    k_heads = Hk if gqa else draw(st.sampled_from([H, 1]))  # broadcasting heads without GQA
    k, v = torch.randn(B, k_heads, S, E), torch.randn(B, k_heads, S, Ev)
    kind = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    mask_shape = draw(st.sampled_from([(L, S), (1, 1, L, S), (B, 1, L, S), (B, H, L, S), (1, S)]))
    mask = None
    if kind == "bool":
        mask = torch.rand(mask_shape) > 0.3
    elif kind == "float":
        mask = torch.randn(mask_shape).masked_fill(torch.rand(mask_shape) > 0.7, float("-inf"))
    scale = draw(st.sampled_from([None, 0.5, 2.0]))
    return dict(q=q, k=k, v=v, attn_mask=mask, is_causal=kind == "causal", scale=scale, enable_gqa=gqa)


@settings(max_examples=80, deadline=None)
@given(attention_inputs())
def test_trace_equals_sdpa_stage_by_stage(a):
    at = tr_widgets.trace_attention(**a)
    expected = F.scaled_dot_product_attention(a["q"], a["k"], a["v"], attn_mask=a["attn_mask"], is_causal=a["is_causal"],
                                              scale=a["scale"], enable_gqa=a["enable_gqa"])
    torch.testing.assert_close(at.output, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(at.sdpa_output, expected)
    # Stages are what their names say, computed independently here.
    k = at.k
    torch.testing.assert_close(at.scores, a["q"] @ k.transpose(-2, -1))
    scale = a["scale"] if a["scale"] is not None else 1 / math.sqrt(a["q"].shape[-1])
    torch.testing.assert_close(at.scaled, at.scores * scale)
    blocked = at.blocked
    if blocked is not None:
        assert bool(torch.isneginf(at.masked)[blocked].all())
        assert bool(torch.isfinite(at.masked)[~blocked].all())
    # Every row either sums to 1 or is fully masked, in which case SDPA gives zeros.
    sums = at.weights.sum(-1)
    full = torch.isneginf(at.masked).all(-1)
    torch.testing.assert_close(sums[~full], torch.ones_like(sums[~full]))
    assert bool((at.weights.sum(-1)[full] == 0).all())
    # One query's step equals the slices of the full stages.
    idx = tuple(n - 1 for n in at.batch_shape)
    i = at.L - 1
    r = at.row(i, idx)
    for name in ("scores", "scaled", "masked", "weights"):
        torch.testing.assert_close(getattr(r, name), getattr(at, name)[idx][i], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(r.terms.sum(0), r.output)
    w, blocked = at.weights_rows(0, at.L, idx)  # a block of rows: the same masking and softmax
    torch.testing.assert_close(w, at.weights[idx], atol=1e-5, rtol=1e-5)
    assert torch.equal(blocked, at.blocked[idx] if at.blocked is not None else torch.zeros_like(blocked))
    torch.testing.assert_close(r.output, expected[idx][i], atol=1e-5, rtol=1e-5)
    r0 = at.L // 2
    torch.testing.assert_close(at._masked_rows(r0, at.L, idx), at.masked[idx][r0:])  # the block path's masking


@settings(max_examples=60, deadline=None)
@given(attention_inputs(), st.integers(1, 4), st.integers(1, 4), st.integers(1, 40))
def test_overview_is_the_max_pooled_softmax(a, fr, fc, block_cells):
    """pooled_weights (exp(block max − lse), never the softmax itself) equals max-pooling at.weights."""
    at = tr_widgets.trace_attention(**a)
    check_overview(at, tuple(n - 1 for n in at.batch_shape), fr, fc, block_cells)


def test_mask_conventions():
    q, k, v = torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 2)
    causal = tr_widgets.trace_attention(q, k, v, is_causal=True)
    assert causal.mask.dtype == torch.bool
    # Top-left aligned: query i sees keys 0..i, as SDPA's is_causal.
    assert causal.blocked[0].tolist() == [False, True, True, True, True]
    assert causal.row(2).blocked.tolist() == [False, False, False, True, True]
    fm = torch.zeros(3, 5)
    fm[:, 1] = float("-inf")
    fm[:, 2] = 0.5
    t = tr_widgets.trace_attention(q, k, v, attn_mask=fm)
    assert t.blocked[:, 1].all() and not t.blocked[:, 2].any()
    torch.testing.assert_close(t.masked[:, 2], t.scaled[:, 2] + 0.5)
    assert tr_widgets.trace_attention(q, k, v).mask is None


def test_fully_masked_row_behaves_as_sdpa():
    q, k, v = torch.randn(1, 3, 4), torch.randn(1, 5, 4), torch.randn(1, 5, 2)
    mask = torch.ones(3, 5, dtype=torch.bool)
    mask[1] = False
    at = tr_widgets.trace_attention(q, k, v, attn_mask=mask)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(at.output, expected)
    assert bool((at.weights[0, 1] == 0).all()) and bool((at.output[0, 1] == 0).all())
    r = at.row(1, (0,))
    assert bool(r.blocked.all()) and bool((r.weights == 0).all()) and bool((r.output == 0).all())


def test_stages_are_lazy_and_cached():
    q = torch.randn(2, 8, 4)
    at = tr_widgets.trace_attention(q, q, q)
    assert at.derived == {}
    at.row(3, (1,))
    assert at.derived == {}, "a row must not materialise the full stages"
    w = at.weights
    assert at.weights is w and {"scores", "scaled", "masked", "weights"} <= set(at.derived)
