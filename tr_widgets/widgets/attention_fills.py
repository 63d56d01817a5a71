"""The attention stepper's long-trace views, filled in on the kernel's loop while the user steps (issue 26).

A long trace's overview (a whole causal QKᵀ) and a weights window far from the start (192 rows over every key)
cost more than a step may. :class:`AttentionFills` draws what a step needs at once and leaves the rest to the
fills of ``widgets/filling.py``, one at a time on the loop: the shown window's, else the shown overview's; when
a fill ends, the recorded frames it changes take its values and go out again. Every fill stops when no view
shows the stepper any more (its output cleared, its cell run again) or it is closed.
"""
from __future__ import annotations

from ..i18n import language
from ..views import Window, weights_overview
from ..views.matrix import pool_factors
from ..views.window_fill import WindowRows
from . import frames
from .base import tqdm_progress
from .filling import OverviewFilling, WindowFilling, running_loop

LONG = 1 << 20  # L*S cells from which building the overview shows a progress bar
OVERVIEW_KEYS = ("ov_codes", "ov_rows", "ov_cols", "ov_fr", "ov_fc", "ov_cell", "ov_done", "notice")  # set_overview sets
WINDOW_KEYS = ("codes", "values", "exact", "vmin", "vmax", "bar_ticks", "label_px", "done_rows")  # a filled window's


class AttentionFills:
    """Mixin of :class:`~tr_widgets.widgets.steppers.attention.AttentionStepper`: its overviews (``_fills``, one per
    batch/head entry) and its weights window (``_wfill``, ``_wrows``) filled in on the kernel's loop.

    Needs ``trace``, ``weights`` (a MatrixCanvas), ``overview_px``, ``progress``, ``lang``, ``_index()``,
    ``_range(index)``, ``_show_window(ww)`` and the frame streaming of ``widgets.stream``.

    Example: ``s = tr_widgets.show(at); s.finish_overview(); s.overview_progress == 1.0``
    """

    def _start_overview(self, index: tuple) -> None:
        """The overview of ``index``: at once when it is cheap or nothing runs an event loop (a script);
        else filled in band by band on the kernel's loop while the user steps (widgets/filling.py)."""
        at, loop = self.trace, running_loop()
        if loop is None or at.L <= frames.MAX_FULL:
            self._overviews[index] = weights_overview(
                at, index, self.overview_px, progress=tqdm_progress(self.progress and at.L * at.S >= LONG))
            return
        factors = pool_factors((at.L, at.S), self.overview_px)
        fill = OverviewFilling(at, index, factors, lambda f: self._overview_grew(index, f), loop)
        self._fills[index], self._overviews[index] = fill, fill.image()

    def _overview_grew(self, index: tuple, fill: OverviewFilling) -> None:
        """A filling overview's new image: shown at once when its entry is shown, frames sent again."""
        with language(self.lang):  # a loop callback: outside _draw, which sets the stepper's language
            self._overviews[index] = ov = fill.image()
        if index == self._index():
            self.weights.set_overview(ov)
            self._refresh_frames(self.weights, OVERVIEW_KEYS)

    @property
    def overview_progress(self) -> float:
        """How much of the shown overview is computed, 0.0 to 1.0 (1.0 when there is none to fill).

        Example: ``tr_widgets.show(at).overview_progress == 1.0   # a short trace's overview comes at once``
        """
        fill = self._fills.get(self._index())
        return 1.0 if fill is None else fill.progress

    def finish_overview(self) -> None:
        """Compute the rest of the shown overview now (a filling one; else nothing to do), and the rest of the
        weights window's rows (a filling window), e.g. before saving a picture of the view.

        Example: ``s = tr_widgets.show(at); s.finish_overview(); s.overview_progress == 1.0``
        """
        fill = self._fills.get(self._index())
        if fill is not None and not fill.done:
            fill.finish()
        wfill = self._wfill
        if wfill is not None:
            wfill.pause()
            wfill.rows.finish()
            self._window_filled(wfill)

    def close(self) -> None:
        """Close the widget; overviews still filling in stop (their work would reach no view)."""
        self._pause_fills()
        super().close()

    def _pause_fills(self) -> None:
        for fill in [*getattr(self, "_fills", {}).values(), getattr(self, "_wfill", None)]:  # none: __init__ failed
            if fill is not None:
                fill.pause()

    def _on_views(self, n: int) -> None:
        """No view shows the stepper any more (its output was cleared, its cell run again): the fills stop, so a
        long trace shown and then dropped does not keep the kernel busy for minutes; a view shown again goes on."""
        if n == 0:
            self._pause_fills()
            return
        if self._wfill is not None:
            self._wfill.resume()
        self._one_fill(self._index())

    def _weights_window(self, index: tuple, win: Window, i: int):
        """The weights window with query row ``i``'s codes. Decided for long traces (issue 26): a window of
        more than ``views.window_fill.FILL_CELLS`` scores (a 192-row window at T=131,072 normalises 25M scores,
        75-100 ms) fills in like the overview does, when a kernel's loop runs and the trace is long (chunks of
        frames): only the group of rows holding row ``i`` is computed now (a frame drawn later in the same window
        adds its own row's group); the other rows are drawn "not yet" and computed group by group on later turns
        of the loop (``WindowFilling``), after which the recorded frames of that window alone are refreshed
        (``_window_filled``). A jump to another window drops the old window's fill. The groups are always the
        same, so the filled window equals ``weights_window`` computed at once, code for code. With
        ``scale="head"`` the colour range is the computed rows' own until every row is in. A script, or a
        short trace, computes the whole window now, as before."""
        key = (index, win)
        rows = self._wrows.pop(key, None) or WindowRows(self.trace, index, win)
        self._wrows[key] = rows  # two kept: a chunk of frames may cross a window's edge and come back
        while len(self._wrows) > 2:
            self._wrows.popitem(last=False)
        if self._wfill is not None and self._wfill.rows is not rows:  # another window: its fill stops
            self._wfill.pause()
            self._wfill = None
        if not rows.done:
            loop = running_loop()
            if loop is None or self.trace.L <= frames.MAX_FULL:
                rows.finish()
            else:
                rows.ensure(i - win.r0)
                self._fill_window(rows, key, loop)
        self._one_fill(index)
        return rows.window(self._range(index))

    def _one_fill(self, index: tuple) -> None:
        """One fill runs at a time on the loop: the shown window's (what the user looks at, ~160 ms at
        T=131,072), else the shown overview's; two would each take a slice on every turn, and a step's message
        would wait for both."""
        fill = self._fills.get(index)
        if fill is not None:
            fill.pause() if self._wfill is not None else fill.resume()

    def _window_filled(self, fill: WindowFilling) -> None:
        """Every row of ``fill``'s window is in: the panel shows it when it shows that window, and the recorded
        frames of that window (no other) take its codes; in chunks mode the frames around the step go out again
        as a new generation. Frames of it recorded while not shown are dropped, to be drawn again."""
        if fill is self._wfill:
            self._wfill = None
        if self.controller.clock.comm is None:  # closed meanwhile
            return
        (index, win), w = fill.key, self.weights
        shape = (win.r0, win.c0, win.r1 - win.r0, win.c1 - win.c0)
        same = lambda st: (st["r0"], st["c0"], st["rows"], st["cols"]) == shape  # noqa: E731
        t = self._targets.index(w)
        with language(self.lang):  # a loop callback: outside _draw, which sets the stepper's language
            if index == self._index() and same({"r0": w.r0, "c0": w.c0, "rows": w.rows, "cols": w.cols}):
                self._show_window(fill.rows.window(self._range(index)))
                self._refresh_frames(w, WINDOW_KEYS, where=lambda state: same(state[t]))
            else:
                for s in [s for s, state in self._recorded.items() if same(state[t])]:
                    del self._recorded[s]
                    self._have.discard(s)
        here = (self._index(), Window(w.r0, w.r0 + w.rows, w.c0, w.c0 + w.cols))
        rows, loop = self._wrows.get(here), running_loop()
        if rows is not None and loop is not None:  # the shown window's turn
            self._fill_window(rows, here, loop)
        self._one_fill(self._index())

    def _fill_window(self, rows: WindowRows, key: tuple, loop) -> None:
        """Start filling ``rows`` in on ``loop`` (under ``key``: (index, window)), unless a window fills already or
        every row is in."""
        if self._wfill is None and not rows.done:
            self._wfill = WindowFilling(rows, key, self._window_filled, loop)
            self._wfill.resume()

