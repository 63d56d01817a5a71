"""AttentionStepper: scaled dot-product attention, one query at a time.

For the current query i, each stage over a window of keys: raw scores q_i·k_j → scaled (× 1/√d) →
masked (masked keys hatched) → softmax weights → o_i = Σ_j w_ij v_j, next to torch's own SDPA row;
each term w_ij·v_j as a heatmap; the whole weights matrix (window + overview) with row i marked; the
cross-checks Σ_j w_ij = 1 and max |o_i − SDPA_i|. ("Attention Is All You Need", eq. 1.)
"""
from __future__ import annotations

from collections import OrderedDict

import ipywidgets as w
import numpy as np

from ...i18n import msg, msg_or
from ...views import Window, batch_axes, labels, quantize, row_view, value_range, window_around
from ...views.attention import heads_range
from ..attention_fills import AttentionFills
from ..base import COMMON_OPTIONS, Stepper, int_in
from ..filling import OverviewFilling, WindowFilling
from ..layout import fit_cells, fold, matrix_width, scrolling, set_series, short_labels
from ..markup import attention_output, index_of, notes_html
from ..panel_looks import notes_looks, output_looks
from ..panels import BarsCanvas, HTMLPanel, MatrixCanvas


def _tok(lbls, i: int) -> str:
    return "" if lbls is None else f" “{lbls[i]}”"


class AttentionStepper(AttentionFills, Stepper):
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

    def _show_window(self, ww) -> None:
        at, win = self.trace, ww.window
        self.weights.set_window(ww.codes, win, (at.L, at.S), ww.vmin, ww.vmax, short_labels(self.qlabels, win.r0, win.r1),
                                short_labels(self.klabels, win.c0, win.c1), done=ww.done)
        self._win = (win, ww)

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
