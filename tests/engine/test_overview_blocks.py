"""The overview computed in chunks (issue 26): the pooled softmax weights, against torch's own softmax.

``overview_bands`` yields after each chunk, so widgets can fill an overview in between steps; the
image it builds must be the softmax's max-pooled weights (to rounding), the same bits however the chunks
are consumed, and every cell a mask removed entirely must be marked blocked.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import tr_widgets
from tr_widgets.engine.attention import overview as ov
from tr_widgets.engine.attention.overview import (count_steps, empty_overview, overview_bands, pooled_weights,
                                                  put_band)
from tr_widgets.engine.errors import MemoryBudgetError, set_memory_budget


def _trace(T, mask_kind, seed=0, E=16):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(1, 2, T, E, generator=g) * 2 for _ in range(3))  # [B, H, T, E]: peaked rows
    mask = None
    if mask_kind == "bool":
        mask = torch.rand(T, T, generator=g) > 0.4
        mask[7] = False  # one query sees no key: all-zero weights, as SDPA
    elif mask_kind == "float":
        mask = torch.randn(T, T, generator=g)
    return tr_widgets.trace_attention(q, k, v, is_causal=mask_kind == "causal", attn_mask=mask)


def _reference(at, index, factors):
    """softmax(masked) from torch, max-pooled; blocked: every cell of the block masked."""
    w = torch.softmax(at.masked[index].double(), -1).nan_to_num(0.0).float()  # [L, S]; a dead row: 0
    pooled = F.max_pool2d(w[None], factors, ceil_mode=True)[0]
    blocked = None
    if at.has_mask:
        open_ = (~at.blocked[index]).float()
        blocked = F.max_pool2d(open_[None], factors, ceil_mode=True)[0] == 0
    return pooled, blocked


@pytest.mark.parametrize("mask_kind", ["causal", "bool", "float", None])
@pytest.mark.parametrize("factors", [(1, 1), (4, 4), (3, 7)])
def test_pooled_weights_are_the_softmax_max_pooled(mask_kind, factors):
    at = _trace(203, mask_kind)
    pooled, blocked = pooled_weights(at, (0, 1), factors, block_cells=256)
    ref, ref_blocked = _reference(at, (0, 1), factors)
    assert pooled.shape == ref.shape
    torch.testing.assert_close(pooled, ref, rtol=1e-5, atol=1e-7)
    if ref_blocked is None:
        assert blocked is None
    else:
        assert torch.equal(blocked, ref_blocked)


@pytest.mark.parametrize("mask_kind", ["causal", "bool"])
def test_filling_chunk_by_chunk_gives_the_same_bits_as_at_once(mask_kind):
    at, factors = _trace(300, mask_kind, seed=1), (4, 4)
    whole, whole_blocked = pooled_weights(at, (0, 0), factors, block_cells=512)
    steps = overview_bands(at, (0, 0), factors, block_cells=512)
    pooled, blocked = empty_overview(at, factors)
    seen, last = 0, None
    for step in steps:  # one chunk at a time, as widgets run them between steps
        put_band(pooled, blocked, step)
        assert last is None or step.done > last.done  # progress only grows
        seen, last = seen + 1, step
    assert seen == count_steps(at, factors, 512) > 10  # many small chunks, as the test forces
    assert last.done == last.total
    assert torch.equal(pooled, whole) and torch.equal(blocked, whole_blocked)


def test_a_band_is_finished_only_after_its_last_chunk():
    at = _trace(256, "causal", seed=2)
    steps = list(overview_bands(at, (0, 1), (2, 2), block_cells=64))
    bands = [s.band for s in steps if s.band is not None]
    assert bands[0][0] == 0 and all(a == b_prev for (a, _), (_, b_prev) in zip(bands[1:], bands))  # in order
    assert bands[-1][1] == 128 and len(bands) < len(steps)  # chunks in between carry no rows


def test_a_trace_with_weights_of_its_own_is_pooled_from_them():
    at = _trace(150, "causal", seed=3)

    class Doubled(type(at)):  # a trace whose weights are not softmax(masked): the engine must ask it
        def weights_rows(self, r0, r1, index=(), keys=None):
            w, blocked = super().weights_rows(r0, r1, index, keys)
            return w * 2, blocked
    import dataclasses
    doubled = Doubled(**{f.name: getattr(at, f.name) for f in dataclasses.fields(at)})
    pooled, _ = pooled_weights(doubled, (0, 0), (5, 5))
    ref, _ = _reference(at, (0, 0), (5, 5))
    torch.testing.assert_close(pooled, ref * 2, rtol=1e-5, atol=1e-7)


def test_memory_stays_bounded_and_errors_stay_clear_past_what_fits():
    T = 150_000  # the whole weights matrix would be 90 GB: refused with the way out named
    at = tr_widgets.trace_attention(*(torch.randn(1, 1, T, 4) for _ in range(3)), is_causal=True)
    with pytest.raises(MemoryBudgetError, match="row"):
        at.weights  # noqa: B018
    rows, keys = ov.plan(at, (586, 586))
    assert rows * keys <= 2 * ov.BLOCK_CELLS  # one chunk of scores at a time, whatever T
    old = set_memory_budget(1024)
    try:  # a budget below one chunk: the same clear error, naming what to change
        with pytest.raises(MemoryBudgetError, match="block_cells"):
            next(overview_bands(at, (0, 0), (586, 586)))
    finally:
        set_memory_budget(old)


@pytest.mark.parametrize("mask_kind", ["causal", "bool", "float", None])
def test_a_window_of_weights_is_the_softmax_without_its_rows_over_every_key(mask_kind, monkeypatch):
    from tr_widgets.engine.attention import window
    monkeypatch.setattr(window, "CHUNK_CELLS", 64)  # the normaliser summed over many chunks of keys
    at = _trace(203, mask_kind, seed=4)
    keys = at.open_keys(10, 150)
    w, blocked = window.window_weights(at, (0, 1), 10, 150, 5, 140, keys)
    ref = torch.softmax(at.masked[0, 1, 10:150].double(), -1).nan_to_num(0.0)[:, 5:140]  # [rows, window]
    torch.testing.assert_close(w.double(), ref, rtol=1e-5, atol=1e-6)
    want = at.blocked[0, 1, 10:150, 5:140] if at.has_mask else torch.zeros_like(blocked)
    assert torch.equal(blocked, want)
