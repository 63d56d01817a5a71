"""The overview's fast paths (issue 26) stay the softmax max-pooled: bands whose scores are bounded by
|q_i||k_j| <= SHIFT_FREE sum 2^s unshifted with no check per chunk, the others check each chunk; both kinds
in one overview, a causal band's diagonal chunk masked only past its first row, and q, k in bfloat16
(scores outside the reused float32 buffer)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import tr_widgets
from tr_widgets.engine.attention import overview as ov
from tr_widgets.engine.attention.overview import empty_overview, overview_bands, pooled_weights, put_band
from tr_widgets.engine.errors import NonFiniteInputWarning


def _reference(at, index, factors):
    w = torch.softmax(at.masked[index].double(), -1).nan_to_num(0.0)  # [L, S]; a dead row: 0
    return F.max_pool2d(w[None], factors, ceil_mode=True)[0]


def _free_bands(at, index, factors, block_cells):
    """Which bands take the unshifted path (the per-band Cauchy-Schwarz bound)."""
    rows, keys = ov.plan(at, factors, block_cells)
    sc = ov._Scorer(at, index, rows, keys, factors[1])
    return [ov._Band(sc, r0, r1, c1).free for r0, r1, c1 in ov._bands(at, rows, factors[1])]


def test_bounded_and_unbounded_bands_in_one_overview(monkeypatch):
    monkeypatch.setattr(ov, "BAND_ROWS", 32)  # many bands
    g = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(1, 2, 260, 16, generator=g) for _ in range(3))
    q[0, 1, 70:90] *= 60.0  # these queries' scores reach past SHIFT_FREE (base 2): their bands are checked
    at = tr_widgets.trace_attention(q, k, v, is_causal=True)
    factors, cells = (4, 3), 32 * 24
    free = _free_bands(at, (0, 1), factors, cells)
    assert True in free and False in free  # both paths run in this overview
    pooled, blocked = pooled_weights(at, (0, 1), factors, block_cells=cells)
    assert torch.isfinite(pooled).all()
    torch.testing.assert_close(pooled.double(), _reference(at, (0, 1), factors), rtol=1e-4, atol=1e-7)
    filled, filled_blocked = empty_overview(at, factors)
    for step in overview_bands(at, (0, 1), factors, block_cells=cells):  # chunk by chunk: the same bits
        put_band(filled, filled_blocked, step)
    assert torch.equal(filled, pooled) and torch.equal(filled_blocked, blocked)


def test_a_nan_key_spoils_only_the_queries_that_see_it():
    g = torch.Generator().manual_seed(6)
    q, k, v = (torch.randn(1, 1, 96, 8, generator=g) for _ in range(3))
    k[0, 0, 50] = float("nan")  # masked for queries 0..49: their weights must stay the softmax's
    with pytest.warns(NonFiniteInputWarning, match="key position 50"):
        at = tr_widgets.trace_attention(q, k, v, is_causal=True)
    pooled, _ = pooled_weights(at, (0, 0), (1, 1), block_cells=24 * 16)
    ref = torch.softmax(at.masked[0, 0, :50].double(), -1)  # [50, 96]
    torch.testing.assert_close(pooled[:50].double(), ref, rtol=1e-5, atol=1e-7)


def test_bfloat16_scores_outside_the_buffer():
    g = torch.Generator().manual_seed(7)
    q, k, v = (torch.randn(1, 1, 200, 16, generator=g).bfloat16() for _ in range(3))
    at = tr_widgets.trace_attention(q, k, v, is_causal=True)
    factors = (4, 4)
    pooled, blocked = pooled_weights(at, (0, 0), factors, block_cells=64 * 16)
    q2 = q[0, 0].double() * (at.scale * ov.LOG2E)  # the engine's base-2 scores, in float64
    s = (q2 @ k[0, 0].double().T).masked_fill(~torch.ones(200, 200, dtype=torch.bool).tril(), float("-inf"))
    ref = F.max_pool2d(torch.softmax(s * torch.log(torch.tensor(2.0, dtype=torch.float64)), -1)[None], factors,
                       ceil_mode=True)[0]
    torch.testing.assert_close(pooled.double(), ref, rtol=3e-2, atol=1e-4)  # bfloat16 products: ~2^-8
    assert torch.equal(blocked, F.max_pool2d((~at.blocked[0, 0]).float()[None], factors, ceil_mode=True)[0] == 0)
