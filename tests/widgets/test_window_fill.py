"""A long trace's weights window fills in on the kernel's loop, like the overview (issue 26).

At T=131,072 a window of 192 rows normalises 25M scores (75-100 ms): a jump to another window computes at once
only the group of rows holding the current query (``views.window_fill``), draws the others "not yet", and fills
them in on later turns of the loop. Here windows are cut into small groups (``FILL_CELLS``) and the trace is
"long" (``frames.MAX_FULL``), so the same happens at T=1400. The finished window must be exactly the one
computed at once, the first frame's current row exactly that row of it, and a window's refresh must leave the
frames of other windows alone.
"""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tr_widgets.views import image, weights_window, window_around
from tr_widgets.views import window_fill
from tr_widgets.views.matrix import BLOCKED, NONFINITE, Window, value_range
from tr_widgets.views.window_fill import WindowRows, window_groups
from tr_widgets.widgets import filling, show
from .test_long_overview import _in_own_thread, _trace, _until_done, long_here  # noqa: F401

GROUP_CELLS = 1 << 13  # scores a group: a 192-row window over ~1400 keys is some 40 groups


@pytest.fixture
def small_groups(long_here, monkeypatch):
    monkeypatch.setattr(window_fill, "FILL_CELLS", GROUP_CELLS)
    monkeypatch.setattr(filling, "SLICE_S", 0.0)  # one group per turn of the loop


def _window_of(s, i):
    at = s.trace
    return window_around((at.L, at.S), i, s._key_center(i), s.window, s.window)


async def _until_window_done(s, most=5000):
    for _ in range(most):
        if s._wfill is None and s.weights.done_rows == []:
            return
        await asyncio.sleep(0)
    raise AssertionError("the window did not fill in")


def test_a_window_filled_group_by_group_is_the_window_computed_at_once(small_groups):
    at = _trace()
    win = Window(1100, 1292, 1100, 1292)
    assert len(window_groups(at, win)) > 10
    rows = WindowRows(at, (0, 0), win)
    rows.ensure(150)
    a, b = rows.rows_done
    assert a <= 150 < b and b - a < 192 and (rows.window().codes[:a] == NONFINITE).all()
    rows.ensure(20)  # a frame further up: every group between is computed too (one range)
    assert rows.rows_done[0] <= 20 and rows.rows_done[1] == b
    while rows.grow():
        pass
    for vrange in (None, (0.0, 0.5)):
        at_once = weights_window(at, (0, 0), win, vrange)
        filled = rows.window(vrange)
        assert np.array_equal(filled.codes, at_once.codes) and filled.done is None
        assert (filled.vmin, filled.vmax) == (at_once.vmin, at_once.vmax)


async def _settled(at):
    """A stepper of ``at`` shown, its overview and first window complete."""
    s = show(at, progress=False)
    s.finish_overview()
    await _until_window_done(s)
    return s


def test_a_jump_shows_the_current_row_now_and_the_rest_fills_in(small_groups):
    at = _trace()

    async def session():
        s = await _settled(at)
        i = 1250
        s.step = i  # a jump to another window
        win, w = _window_of(s, i), s.weights
        assert (w.r0, w.rows) == (win.r0, win.r1 - win.r0)
        a, b = w.done_rows
        assert a <= i - win.r0 < b and b - a < w.rows  # the current row's group now, the others not yet
        first = w.window_codes().copy()
        assert (first[:a] == NONFINITE).all() and (first[b:] == NONFINITE).all()
        t = s._targets.index(w)
        frame = s._recorded[i][t]  # the frame sent for the jump carries the same
        assert frame["done_rows"] == [a, b] and frame["codes"] == w.codes
        await _until_window_done(s)
        return s, i, first, (a, b)

    s, i, first, (a, b) = _in_own_thread(lambda: asyncio.run(session()))
    win = _window_of(s, i)
    full = weights_window(at, (0, 0), win, s._range((0, 0))).codes
    assert np.array_equal(first[a:b], full[a:b])  # the rows drawn at once: the window's own codes
    assert np.array_equal(s.weights.window_codes(), full)  # the filled window: exactly the one computed at once
    t = s._targets.index(s.weights)
    assert s._recorded[i][t]["codes"] == full.tobytes() and s._recorded[i][t]["done_rows"] == []


def test_a_windows_refresh_leaves_the_frames_of_other_windows_alone(small_groups):
    at = _trace()

    async def session():
        s = await _settled(at)
        t = s._targets.index(s.weights)
        other = {k: dict(v[t]) for k, v in s._recorded.items()}  # frames of the first window, filled
        s.step = 1250  # a jump: the new window fills in, then its frames are refreshed
        await _until_window_done(s)
        return s, t, other

    s, t, other = _in_own_thread(lambda: asyncio.run(session()))
    assert other
    for k, before in other.items():
        if k in s._recorded:
            assert s._recorded[k][t]["codes"] == before["codes"] and s._recorded[k][t]["r0"] == before["r0"]


def test_with_scale_head_the_colour_range_is_the_computed_rows_own_until_filled(small_groups):
    at = _trace()

    async def session():
        s = show(at, progress=False, scale="head")
        s.finish_overview()
        await _until_window_done(s)
        s.step = 1250
        a, b = s.weights.done_rows
        win = _window_of(s, 1250)
        assert b - a < win.r1 - win.r0
        ww = weights_window(at, (0, 0), win).codes
        exact = np.where(ww == BLOCKED, np.nan, ww.exact)[a:b]  # the rows computed so far, as floats, unmasked
        assert (s.weights.vmin, s.weights.vmax) == value_range(exact, signed=False, robust=True)  # their own range
        await _until_window_done(s)
        return s

    s = _in_own_thread(lambda: asyncio.run(session()))
    full = weights_window(at, (0, 0), _window_of(s, 1250))
    assert (s.weights.vmin, s.weights.vmax) == (full.vmin, full.vmax)
    assert np.array_equal(s.weights.window_codes(), full.codes)


def test_a_jumps_neighbours_go_out_on_later_turns_of_the_loop(small_groups):
    at = _trace()

    async def session():
        s = show(at, progress=False)
        s.finish_overview()
        sent = []
        send = s.controller.clock.send
        s.controller.clock.send = lambda content, buffers=None: (sent.append(content), send(content, buffers))
        s.step = 700
        in_handler = list(sent)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return in_handler, list(sent)

    in_handler, after = _in_own_thread(lambda: asyncio.run(session()))
    assert in_handler == [{"frames": [700, 701]}]  # the jump's handler drew frame s alone
    assert {"frames": [701, 702]} in after and {"frames": [699, 700]} in after


def test_a_script_computes_the_whole_window_at_once(small_groups):
    at = _trace()
    s = _in_own_thread(lambda: show(at, progress=False))  # no event loop: nothing would fill it in
    s.step = 1250
    assert s.weights.done_rows == [] and s._wfill is None
    assert np.array_equal(s.weights.window_codes(), weights_window(at, (0, 0), _window_of(s, 1250), s._range((0, 0))).codes)


def test_the_saved_picture_draws_a_windows_rows_not_yet_as_the_overviews():
    codes = np.arange(48, dtype=np.uint8).reshape(6, 8)
    rgb = image.colorize(codes, "sequential", 3, done_rows=(2, 4))
    plain = image.colorize(codes, "sequential", 3)
    assert np.array_equal(rgb[6:12], plain[6:12])  # the computed rows as they are
    top = image.not_yet(plain[:6].copy(), 0)
    assert np.array_equal(rgb[:6], top)  # the rows above: "not yet", as the overview's rows below its done
    assert np.array_equal(rgb[12:], image.colorize(codes, "sequential", 3, done_rows=4)[12:])


def test_finish_overview_completes_a_filling_window_now(small_groups):
    at = _trace()

    async def session():
        s = show(at, progress=False)
        s.step = 1250
        assert s.weights.done_rows  # filling
        s.finish_overview()  # e.g. before saving a picture: every row now, in this call
        return s

    s = _in_own_thread(lambda: asyncio.run(session()))
    assert s.weights.done_rows == [] and s._wfill is None
    assert np.array_equal(s.weights.window_codes(), weights_window(at, (0, 0), _window_of(s, 1250), s._range((0, 0))).codes)
