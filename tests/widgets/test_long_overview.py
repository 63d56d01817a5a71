"""A long attention stepper shows at once; its overview fills in on the event loop while it steps (issue 26).

Each test runs inside ``asyncio.run``, as a Jupyter kernel runs a cell on its loop, in a thread of its own: the
browser tests' Playwright (sync API) keeps its loop registered as running in the main thread for the session. The overview work is
forced into small chunks and slices, so it takes many turns of the loop; the finished image must be
exactly the one computed up front (``views.weights_overview``) and the frames must carry it.
"""
from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

import tr_widgets
from tr_widgets.engine.attention import overview as engine_overview
from tr_widgets.views import weights_overview
from tr_widgets.views.matrix import NONFINITE
from tr_widgets.widgets import filling, frames, show

MAX_FULL = 1000  # steps above which frames are never all sent (4096 in the package): a long trace here
T = 1400


@pytest.fixture
def long_here(monkeypatch):
    monkeypatch.setattr(frames, "MAX_FULL", MAX_FULL)


@pytest.fixture
def small_slices(long_here, monkeypatch):
    monkeypatch.setattr(engine_overview, "BLOCK_CELLS", 1 << 15)  # about 50 chunks
    monkeypatch.setattr(filling, "SLICE_S", 0.0)  # one chunk per turn of the loop
    monkeypatch.setattr(filling, "UPDATE_S", 0.0)  # the view follows every chunk


def _in_own_thread(fn):
    """``fn()`` in a fresh thread: no event loop registered there unless ``fn`` starts one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


def _trace(heads=1):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, heads, T, 8, generator=g) for _ in range(3))  # [B, H, T, E]
    return tr_widgets.trace_attention(q, k, v, is_causal=True)


async def _until_done(s, most=20000):
    for _ in range(most):
        if s.overview_progress >= 1.0:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"the overview did not finish: {s.overview_progress:.2f}")


def _same_overview(canvas, ov):
    assert np.array_equal(canvas.overview_codes(), ov.codes)
    assert canvas.notice == ov.notice


def test_show_returns_at_once_and_the_overview_fills_in_while_stepping(small_slices):
    at = _trace()

    async def session():
        s = show(at, progress=False)
        assert s.overview_progress == 0.0 and "computing the overview: 0%" in s.weights.notice
        assert (s.weights.overview_codes() == NONFINITE).all()  # nothing drawn that is not computed yet
        seen, partial = set(), []
        for i in range(1, 400):  # the user steps while it fills in: each step answered at once
            s.step = i
            assert s.weights.mark_row == i
            seen.add(s.weights.notice)
            partial += [s.weights.notice] if 0.0 < s.overview_progress < 1.0 else []
            await asyncio.sleep(0)  # one turn of the loop between two clicks
            if s.overview_progress >= 1.0:
                break
        assert partial and len(seen) > 2  # stepped while it filled in, and the notice said how far, more than once
        found = [re.search(r"(\d+)% of its rows done \((\d+) of (\d+)\)", n) for n in partial]
        pct, rows, total = map(int, next(m for m in found if m and int(m.group(2)) > 0).groups())
        assert 0 < rows < total and pct == rows * 100 // total  # one thing said: the share of rows, and the rows
        await _until_done(s)
        return s

    s = _in_own_thread(lambda: asyncio.run(session()))
    _same_overview(s.weights, weights_overview(at, (0, 0), s.overview_px))  # exactly the one computed up front
    assert "computing" not in s.weights.notice
    assert s.frames_mode == "chunks"
    recorded = [frame for frame in s._recorded.values()]
    w = s._targets.index(s.weights)
    assert recorded and all(f[w]["ov_codes"] == s.weights.ov_codes for f in recorded)  # frames carry the image
    payload = frames.unpack(s.controller.clock.frames)
    assert payload[0] <= s.step  # the page's frames were sent again, around the step


def test_each_head_fills_its_own_overview_and_only_the_shown_one_runs(small_slices):
    at = _trace(heads=2)

    async def session():
        s = show(at, progress=False)
        for _ in range(5):
            await asyncio.sleep(0)
        s.select(head=1)
        first = s._fills[(0, 0)]
        stalled = first.progress
        for _ in range(50):
            await asyncio.sleep(0)
        assert first.progress == stalled < 1.0  # head 0 waits while head 1 is shown
        await _until_done(s)
        s.select(head=0)
        await _until_done(s)
        return s

    s = _in_own_thread(lambda: asyncio.run(session()))
    _same_overview(s.weights, weights_overview(at, (0, 0), s.overview_px))
    assert np.array_equal(s._overviews[(0, 1)].codes, weights_overview(at, (0, 1), s.overview_px).codes)


def test_without_an_event_loop_the_overview_is_computed_at_once(long_here):
    at = _trace()
    s = _in_own_thread(lambda: show(at, progress=False))  # a plain script: nothing would run the slices
    assert s.overview_progress == 1.0 and not s._fills
    _same_overview(s.weights, weights_overview(at, (0, 0), s.overview_px))


def test_finish_overview_completes_it_now(small_slices):
    at = _trace()

    async def session():
        s = show(at, progress=False)
        s.finish_overview()
        return s

    s = _in_own_thread(lambda: asyncio.run(session()))
    assert s.overview_progress == 1.0
    _same_overview(s.weights, weights_overview(at, (0, 0), s.overview_px))


def test_closing_the_stepper_stops_its_filling(small_slices):
    async def session():
        s = show(_trace(), progress=False)
        await asyncio.sleep(0)
        s.close()
        fill = s._fills[(0, 0)]
        stopped = fill.progress
        for _ in range(20):
            await asyncio.sleep(0)
        return fill, stopped

    fill, stopped = _in_own_thread(lambda: asyncio.run(session()))
    assert fill.progress == stopped < 1.0


def test_the_fill_stops_when_no_view_shows_the_stepper_and_goes_on_when_one_does(small_slices):
    at = _trace()

    async def turns(n):
        for _ in range(n):
            await asyncio.sleep(0)

    async def session():
        s = show(at, progress=False)
        say = lambda n: s._on_clock_msg(s.controller.clock, {"view": n}, [])  # noqa: E731  (what each view sends)
        say(1), say(1)  # two views (two pages, or a cell's output shown twice)
        await turns(3)
        say(-1)  # one cleared: the other still shows it
        await turns(3)
        going = s.overview_progress
        assert 0.0 < going < 1.0
        say(-1)  # none left: the output cleared, or the cell run again
        await turns(3)
        stopped = s.overview_progress
        await turns(30)
        assert s.overview_progress == stopped  # no work for a view nobody sees
        say(1)  # shown again
        await _until_done(s)
        return s

    s = _in_own_thread(lambda: asyncio.run(session()))
    _same_overview(s.weights, weights_overview(at, (0, 0), s.overview_px))
