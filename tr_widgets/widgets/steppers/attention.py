"""AttentionStepper: scaled dot-product attention, one query at a time.

For the current query i, each stage over a window of keys: raw scores q_i·k_j → scaled (× 1/√d) →
masked (masked keys hatched) → softmax weights → o_i = Σ_j w_ij v_j, next to torch's own SDPA row;
each term w_ij·v_j as a heatmap; the whole weights matrix (window + overview) with row i marked; the
cross-checks Σ_j w_ij = 1 and max |o_i − SDPA_i|. ("Attention Is All You Need", eq. 1.)
"""
from __future__ import annotations

import ipywidgets as w
import numpy as np

from collections import OrderedDict

from ...views import Window, batch_axes, labels, quantize, row_view, value_range, weights_overview, window_around
from ...views.attention import heads_range
from ...views.matrix import pool_factors
from .. import frames
from ..base import COMMON_OPTIONS, Stepper, int_in, tqdm_progress
from ...views.window_fill import WindowRows
from ..filling import OverviewFilling, WindowFilling, running_loop
from ..panels import BarsCanvas, HTMLPanel, MatrixCanvas
from ...i18n import language, msg, msg_or
from ..layout import fit_cells, fold, matrix_width, scrolling, set_series, short_labels
from ..markup import attention_output, index_of, notes_html
from ..panel_looks import notes_looks, output_looks

LONG = 1 << 20  # L*S cells from which building the overview shows a progress bar
OVERVIEW_KEYS = ("ov_codes", "ov_rows", "ov_cols", "ov_fr", "ov_fc", "ov_cell", "ov_done", "notice")  # set_overview sets
WINDOW_KEYS = ("codes", "values", "exact", "vmin", "vmax", "bar_ticks", "label_px", "done_rows")  # a filled window's
def _tok(lbls, i: int) -> str:
    return "" if lbls is None else f" “{lbls[i]}”"


class AttentionStepper(Stepper):
    """Step through an :class:`~tr_widgets.AttentionTrace` one query row at a time.

    Example::

        at = tr_widgets.trace_attention(q, k, v, is_causal=True)   # q [1, 2, 6, 8]: 2 heads, 6 queries
        s = AttentionStepper(at, head=1)
        s.step = 5; s.select(head=0)     # query 5 of head 0: every panel follows
        s.step == 5
    """

    OPTIONS = {**COMMON_OPTIONS,
               "dims": (*int_in(1, 64), "dims=32 (value dimensions shown)", 32),
               "top_k": (*int_in(1, 16), "top_k=6 (largest terms listed)", 6),
               "scale": (lambda v: v in ("shared", "head"),
                         '"shared" (one weights colour range for every head) or "head" (each head its own)',
                         'scale="head"', "shared")}

    def _axes(self):
        return [(name, [str(i) for i in range(n)]) for name, n in batch_axes(self.trace)]

    def _n_steps(self) -> int:
        return self.trace.L

    def _step_name(self) -> str:
        return msg("attention.step_name")

    def _build(self) -> None:
        at, o = self.trace, self.options
        self.window, self.overview_px, self.dims, self.top_k = o["window"], o["overview_px"], o["dims"], o["top_k"]
        self.qlabels, self.klabels = labels(at)
        self.stages = BarsCanvas(title="")
        self.terms = MatrixCanvas(title=msg("attention.terms_title"), cmap="diverging", row_axis=msg("attention.axis_key"),
                                  col_axis=msg("attention.axis_dim"),
                                  cell_px=12)
        self.output = scrolling(HTMLPanel())
        self.output.add_class("tr-output")
        self.weights = MatrixCanvas(title=msg("attention.weights_title"), row_axis=msg("attention.axis_query"),
                                    col_axis=msg("attention.axis_key"))
        dims = min(at.L, self.window), min(at.S, self.window)
        fit_cells(self.weights, *dims)
        self.weights.layout = w.Layout(max_width=f"{matrix_width(*dims)}px")
        self.weights.click_step = "row"
        # one screen, the main view first: the weights, then the stages; o_i's table (its terms and
        # checks) and the terms heatmap when asked for
        output_title = msg("attention.output_title", i="i", which=msg("attention.top.many", n=self.top_k))
        self.panels = [self.weights, self.stages,
                       fold([self.output, self.terms], [output_title, msg("attention.fold_terms")])]
        if at.notes:  # e.g. training-mode dropout, which the numbers below leave out: said first, in view
            notes = HTMLPanel()
            notes.show(notes_html(at.notes), notes_looks(at.notes))  # save() paints its Look
            self.panels.insert(0, notes)
        self._win = None
        self._wrows: OrderedDict = OrderedDict()  # (index, window) -> its WindowRows, the last two drawn
        self._wfill: WindowFilling | None = None  # the last drawn window's rows filling in on the kernel's loop
        self._overviews: dict[tuple, object] = {}
        self._fills: dict[tuple, OverviewFilling] = {}  # overviews filling in on the kernel's loop
        self._ranges: dict[tuple, tuple[float, float]] = {}

    def _index(self) -> tuple:
        s = self.controller.selection
        return tuple(s.get(name, 0) for name, _ in batch_axes(self.trace))

    def _key_center(self, i: int) -> int:
        at = self.trace
        return min(i, at.S - 1) if at.L == at.S else round(i * (at.S - 1) / max(at.L - 1, 1))

    def _update(self, step: int, new_selection: bool) -> None:
        at, i, index = self.trace, step, self._index()
        if new_selection:
            self._win = None
            big = at.L > self.window or at.S > self.window
            if big and index not in self._overviews:
                self._start_overview(index)
            for key, fill in self._fills.items():  # only the shown entry's overview goes on filling in
                fill.resume() if key == index else fill.pause()
            self.weights.set_overview(self._overviews.get(index) if big else None)
        win = window_around((at.L, at.S), i, self._key_center(i), self.window, self.window)
        with self.weights.hold_sync():
            ww = self._weights_window(index, win, i)
            if (win, ww) != self._win:  # another window, or more of its rows computed
                self._show_window(ww)
            self.weights.mark_row = i
            self.weights.step = i
        rv = row_view(at, i, index, (win.c0, win.c1), dims=self.dims, top_k=self.top_k)
        self._set_stages(rv, win)
        self._set_terms(rv, win)
        self.output.show(attention_output(rv, self.klabels, at.S), output_looks(rv, self.klabels, at.S))
        where = ", ".join(f"{msg_or(f'selector.{n}', n)} {v}" for (n, _), v in zip(batch_axes(at), index))
        self.controller.set_caption(msg("attention.caption", query=index_of(i, at.L), token=_tok(self.qlabels, i))
                                    + (f" · {where}" if where else ""), i)

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
        for fill in [*getattr(self, "_fills", {}).values(), getattr(self, "_wfill", None)]:  # none: __init__ failed
            if fill is not None:
                fill.pause()
        super().close()

    def _show_window(self, ww) -> None:
        at, win = self.trace, ww.window
        self.weights.set_window(ww.codes, win, (at.L, at.S), ww.vmin, ww.vmax, short_labels(self.qlabels, win.r0, win.r1),
                                short_labels(self.klabels, win.c0, win.c1), done=ww.done)
        self._win = (win, ww)

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
                if self._wfill is None and not rows.done:
                    self._wfill = WindowFilling(rows, key, self._window_filled, loop)
                    self._wfill.resume()
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
        if self._wfill is None and rows is not None and not rows.done and loop is not None:  # the shown one's turn
            self._wfill = WindowFilling(rows, here, self._window_filled, loop)
            self._wfill.resume()
        self._one_fill(self._index())

    def _range(self, index: tuple):
        """The weights' colour range: one over every head (computed once per selection), or None
        (each window its own) with ``scale="head"``."""
        names = [n for n, _ in batch_axes(self.trace)]
        if self.options["scale"] == "head":
            return None
        axis = names.index("head") if "head" in names else None
        key = index if axis is None else index[:axis] + index[axis + 1:]
        if key not in self._ranges:
            self._ranges[key] = heads_range(self.trace, index, axis)
        return self._ranges[key]

    def _set_stages(self, rv, win: Window) -> None:
        at, i = self.trace, rv.i
        keys = msg("attention.keys_note", first=win.c0, last=win.c1 - 1, total_last=at.S - 1)
        top = int(np.argmax(np.where(rv.blocked, -1.0, rv.weights))) if len(rv.weights) else -1
        default = at.E > 0 and abs(at.scale - at.E ** -0.5) < 1e-12  # E = 0: a chain that kept its logits
        scaled = msg("attention.scaled_default", E=at.E) if default else msg("attention.scaled_by", scale=f"{at.scale:.4g}")
        series = [(msg("attention.raw"), rv.scores, None, top, keys),
                  (scaled, rv.scaled, None, top, keys),
                  (msg("attention.masked"), rv.masked, rv.blocked, top, keys),
                  (msg("attention.softmax_weights") if rv.normalized else msg("attention.effective_weights"), rv.weights,
                   rv.blocked, top, keys),
                  ("o_i = Σ_j w_ij v_j", rv.output, None, -1,
                   msg("attention.dims_note", last=len(rv.output) - 1, total_last=at.Ev - 1)),
                  (msg("attention.sdpa_row") if rv.normalized else msg("attention.scan_row"), rv.sdpa, None, -1,
                   msg("attention.cross_check"))]
        # the largest weight in the highlight colour; the mark (red) means only "the current query"
        series = [(*s[:3], -1, s[4], top if k < 4 else -1) for k, s in enumerate(series)]
        with self.stages.hold_sync():
            self.stages.title = msg("attention.stages_title", i=i, token=_tok(self.qlabels, i))
            # raw and scaled scores differ by a constant factor: each keeps its own scale; the output and
            # torch's row are the same quantity: one scale
            set_series(self.stages, series, [[0, 1], [2, 3], [4, 5]],
                       scales={4: msg("attention.scale_output"), 5: msg("attention.scale_output")})
            self.stages.step = i

    def _set_terms(self, rv, win: Window) -> None:
        vr = value_range(np.where(rv.blocked[:, None], np.nan, rv.terms), signed=True, robust=True)
        codes = quantize(rv.terms, *vr, np.broadcast_to(rv.blocked[:, None], rv.terms.shape))
        tw = Window(win.c0, win.c1, 0, rv.terms.shape[1])
        with self.terms.hold_sync():
            self.terms.set_window(codes, tw, (self.trace.S, self.trace.Ev), *vr,
                                  short_labels(self.klabels, win.c0, win.c1), None)
            top = int(np.argmax(np.where(rv.blocked, -1.0, rv.weights))) if len(rv.weights) else -1
            row = win.c0 + top if top >= 0 else -1
            self.terms.highlight_row, self.terms.mark_row = row, -1  # the largest weight's key: highlight, not the mark
            self.terms.step = rv.i
