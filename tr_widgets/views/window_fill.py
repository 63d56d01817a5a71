"""A window of the weights matrix, computed in fixed groups of rows, so that it can fill in row group by group.

At T=131,072 a 192-row window normalises every row over up to 131,072 keys (25M scores, 75–100 ms on one
thread): too long for one step of a kernel's loop. So a window is cut into groups of rows of at most
``FILL_CELLS`` scores each (:func:`window_groups`), always the same groups for the same window, and each group
is one call of the engine (``engine.attention.window.window_weights``). A kernel computes the current row's
group at once and the others on later turns of its loop (``widgets.filling.WindowFilling``); a script
computes every group at once (:func:`weights_window`). The same groups give the same bits either way (one
row alone is *not* bit-equal to it computed among others: the engine's key chunks follow the row count), so a
filled window's codes equal the window computed at once exactly.

Rows not computed yet are NaN (coded NONFINITE) and the computed ones are a contiguous range [a, b) that grows
outward from the first row asked for; painters draw the others "not yet" (``views.image.colorize``,
``static/matrix/paint.js``), as they draw a filling overview's later rows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine.attention import AttentionTrace
from ..engine.attention.window import window_weights
from .matrix import Window, quantize, to_numpy, value_range

FILL_CELLS = 1 << 21  # scores (rows × keys) of one group (16 rows of 131,072 keys: ~13 ms); a window of more fills in


@dataclass(eq=False)
class WeightsWindow:
    """A window of the weights matrix as uint8 codes (blocked cells coded BLOCKED); ``done``: the window rows
    [a, b) computed so far (a filling window; the others coded NONFINITE and drawn "not yet"), None: all.

    Example::

        ww = weights_window(at, (0, 0), Window(0, 3, 0, 6))     # queries 0-2 over all 6 keys
        (ww.codes.shape, ww.codes.dtype, ww.done) == ((3, 6), np.uint8, None)  # one code per cell, all computed
    """

    window: Window
    codes: np.ndarray  # [r1-r0, c1-c0] uint8
    vmin: float
    vmax: float
    done: tuple[int, int] | None = None


def _keys(trace, r0: int, r1: int, c1: int) -> int:
    return min(trace.S, max(c1, trace.open_keys(r0, r1)))  # a causal window's later keys weigh 0


def window_groups(trace, win: Window) -> list[tuple[int, int]]:
    """The groups of query rows [g0, g1) the window ``win`` is computed in: the whole window when it has at
    most ``FILL_CELLS`` scores, else groups of ``FILL_CELLS // keys`` rows from ``win.r0`` on.

    Example::

        window_groups(at, Window(0, 3, 0, 6))      # [(0, 3)]: a small window is one group
    """
    keys = _keys(trace, win.r0, win.r1, win.c1)
    n = win.r1 - win.r0
    size = n if n * keys <= FILL_CELLS else max(1, FILL_CELLS // max(keys, 1))
    return [(g, min(g + size, win.r1)) for g in range(win.r0, win.r1, size)] or [(win.r0, win.r1)]


def _group(trace, index: tuple, win: Window, g0: int, g1: int):
    """(weights of queries [g0, g1) over the window's keys, float32 numpy, and where blocked, or None)."""
    keys = _keys(trace, g0, g1, win.c1)
    if type(trace).weights_rows is AttentionTrace.weights_rows:  # a softmax: the window's columns alone
        w, blk = window_weights(trace, index, g0, g1, win.c0, win.c1, keys)
        return to_numpy(w), (blk.cpu().numpy() if trace.has_mask else None)
    # a trace's own weights (a module's chain, a state-space model): its rows over every key
    w, blocked = trace.weights_rows(g0, g1, index, keys=keys)
    blocked = blocked.cpu().numpy()[:, win.c0:win.c1] if trace.has_mask else None
    return to_numpy(w)[:, win.c0:win.c1], blocked


class WindowRows:
    """The weights of one window, computed group by group (:func:`window_groups`); ``a, b``: the window rows
    [a, b) computed so far, a contiguous range that grows outward from the first row asked for.

    Example::

        rows = WindowRows(at, (0, 0), Window(0, 6, 0, 6))
        rows.ensure(2); rows.finish()          # the group of row 2 first, then the others
        np.array_equal(rows.window().codes, weights_window(at, (0, 0), Window(0, 6, 0, 6)).codes)
    """

    def __init__(self, trace, index: tuple, win: Window):
        self.trace, self.index, self.win = trace, index, win
        self.groups = window_groups(trace, win)
        self.w = np.full((win.r1 - win.r0, win.c1 - win.c0), np.nan, np.float32)
        self.blocked = np.zeros(self.w.shape, bool) if trace.has_mask else None
        self.first = self.last = -1  # groups [first, last] computed
        self._shown = None  # (a, b, vrange) -> its WeightsWindow

    @property
    def done(self) -> bool:
        """Whether every group is computed."""
        return self.first == 0 and self.last == len(self.groups) - 1

    @property
    def rows_done(self) -> tuple[int, int]:
        """The window rows [a, b) computed (window-relative; (0, 0) when none)."""
        if self.first < 0:
            return 0, 0
        return self.groups[self.first][0] - self.win.r0, self.groups[self.last][1] - self.win.r0

    def _compute(self, k: int) -> None:
        g0, g1 = self.groups[k]
        w, blocked = _group(self.trace, self.index, self.win, g0, g1)
        a, b = g0 - self.win.r0, g1 - self.win.r0
        self.w[a:b] = w
        if self.blocked is not None:
            self.blocked[a:b] = blocked
        self.first = k if self.first < 0 else min(self.first, k)
        self.last = max(self.last, k)

    def ensure(self, row: int) -> None:
        """Compute window row ``row`` (window-relative) and every group between it and those computed."""
        k = next(j for j, (g0, g1) in enumerate(self.groups) if g0 - self.win.r0 <= row < g1 - self.win.r0)
        todo = [k] if self.first < 0 else [*range(k, self.first), *range(self.last + 1, k + 1)]
        for j in todo:
            self._compute(j)

    def grow(self) -> bool:
        """Compute one more group next to those computed (below first, then above); False when all are."""
        if self.done:
            return False
        if self.first < 0:
            self._compute(0)
            return True
        up, down = self.last + 1 < len(self.groups), self.first > 0
        odd = (self.last - self.first) % 2 == 0  # an odd number computed: the next one above, else below
        self._compute(self.last + 1 if up and (odd or not down) else self.first - 1)
        return True

    def finish(self) -> None:
        """Compute every group left."""
        while self.grow():
            pass

    def window(self, vrange: tuple[float, float] | None = None) -> WeightsWindow:
        """The :class:`WeightsWindow` of the rows computed so far; ``vrange`` None: their own robust range."""
        a, b = self.rows_done
        if self._shown is not None and self._shown[0] == (a, b, vrange):
            return self._shown[1]
        w = self.w
        shown = w[a:b] if self.blocked is None else np.where(self.blocked[a:b], np.nan, w[a:b])
        vmin, vmax = vrange if vrange is not None else value_range(shown, signed=False, robust=True)
        ww = WeightsWindow(self.win, quantize(w, vmin, vmax, self.blocked), vmin, vmax,
                           None if self.done else (a, b))
        self._shown = ((a, b, vrange), ww)
        return ww


def weights_window(trace, index: tuple, win: Window, vrange: tuple[float, float] | None = None) -> WeightsWindow:
    """Codes of ``win`` (rows = queries, cols = keys), every row computed now; ``vrange`` defaults to the window's
    own robust range (see ``value_range``).

    Example::

        ww = weights_window(at, (0, 0), Window(0, 3, 0, 6), vrange=(0.0, 1.0))    # a fixed colour range
        (ww.vmin, ww.vmax, ww.codes.shape) == (0.0, 1.0, (3, 6))
    """
    rows = WindowRows(trace, index, win)
    rows.finish()
    return rows.window(vrange)
