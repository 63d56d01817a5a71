"""GradientStepper: a gradient trace, one backward step at a time; the clock runs from T−1 down to 0.

Backward step k = 0 visits time t = T−1, step k visits t = T−1−k (the reverse direction of a
bidirectional module: t = k), see ``views.gradients.backward_time``. Panels, top to bottom: this step's
arithmetic for a few units; the flow arriving δh_t → local factor → leaving δh_{t−1} as bar charts (an
LSTM adds a second row, the cell path δc_t → f_t → δc_{t−1}); log10 ‖∂L/∂h_t‖ over time, filled in as
the clock runs back, with log10 of each step's gain; the gradient matrix (units × steps, current step
marked). Backpropagation through time as in torch's autograd; the equations are engine.gradients'.
"""
from __future__ import annotations

import ipywidgets as w
import numpy as np

from ...views import make_overview, recurrent_axes, value_range
from ...views.gradients import backward_time, gradient_matrix, gradient_view, norm_series
from ..base import Stepper, equations_options, int_in
from ..layout import fold, follow_column, matrix_width, scrolling, set_series, where_text, wrap_row
from ..panels import BarsCanvas, HTMLPanel, MatrixCanvas
from ..panels.line_chart import Frame, Line, chart_look, live_chart
from ...views.looks_text import TextRow, text_look
from ...i18n import msg
from ..markup import counted, equations_table, escaped, index_of, text_block
from ..panel_looks import equations_looks


AXIS = "log10 ‖∂L/∂h_t‖"
NORMS_W, NORMS_H = 260, 110  # px of the norms chart: beside the heatmap, about one screen in all


def norms_panel(s, lo: float, hi: float, title: str, width: int = 400, height: int = 130) -> tuple[str, tuple]:
    """A :class:`~tr_widgets.views.gradients.NormSeries` as a line chart panel: log10 ‖∂L/∂h_t‖ (and ‖∂L/∂c_t‖,
    dashed) over time, only the visited bins drawn, the current time marked; its HTML and its Looks (for save()).

    Example: ``html, looks = norms_panel(norm_series(g, 0), -3.0, 1.0, "gradient norm")``
    """
    frame = Frame(n=len(s.log_norm), lo=lo, hi=hi, width=width, height=height)
    lines = [Line(range(len(vals)), vals, colour, dash) for vals, dash, colour in
             ((s.log_norm, "", "negative"), (s.log_cell_norm, "4 3", "positive")) if vals is not None]
    look = chart_look(frame, lines, s.current, s.T - 1, msg("gradients.norm_aria", axis=AXIS))
    legend = AXIS + (msg("gradients.legend_cell") if s.log_cell_norm is not None else "")
    binned = msg("gradients.binned", n=s.steps_per_bin) if s.steps_per_bin > 1 else ""
    seen = int(s.visited.sum())
    note = msg("gradients.norm_note", legend=legend, seen=seen, points=counted("count.point", frame.n), binned=binned)
    html = (f"<div class='tr-panel tr-grad-norms' data-tr-step='{s.t}' style='line-height:1.35'><div style='font-weight:600'>{escaped(title)}</div>"
            f"{live_chart(look)}{text_block(note)}</div>")
    return html, (text_look([TextRow(title, True)]), look, text_look([TextRow(note, colour="fg-muted")]))


class GradientStepper(Stepper):
    """Step backwards through a :class:`~tr_widgets.GradientTrace`: arithmetic, flow, norms, heatmap.

    Example::

        g = tr_widgets.trace_gradients(nn.LSTM(3, 8), torch.randn(50, 1, 3), lambda out: out[0][-1].sum())
        s = GradientStepper(g)         # backward step k = 0: time t = 49
        s.step = 10                    # time t = 39; every panel follows
        s.select(layer=0)
    """

    AXES = staticmethod(recurrent_axes)
    OPTIONS = equations_options("units whose arithmetic the table shows",
                                max_points=(*int_in(16, 1024), "max_points=256 (points of the series over time)", 256))

    def _step_name(self) -> str:
        return "k"

    def _build(self) -> None:
        self.table = scrolling(HTMLPanel())
        self.table.add_class("tr-equations")
        self.flow = BarsCanvas(title=msg("gradients.through_h"))
        self.flow_c = BarsCanvas(title=msg("gradients.through_c")) if self.trace.spec.has_cell else None
        self.norms = scrolling(HTMLPanel())
        self.norms.layout.max_width = f"{NORMS_W + 20}px"  # its note wraps: the heatmap sits beside it
        self.gains = BarsCanvas(title=msg("gradients.gains_initial"))
        self.heatmap = MatrixCanvas(title=msg("gradients.heatmap_title"), cmap="diverging",
                                    row_axis=msg("recurrent.axis_unit"), col_axis=msg("recurrent.axis_step"),
                                    layout=w.Layout(max_width=f"{matrix_width(*self._dims())}px"))
        # no click_step on the heatmap: a column is a time t, and the clock counts backward steps k.
        # One screen: the flow through h, the norms beside the heatmap; the cell path (LSTM), the
        # arithmetic and the gains on a click.
        cell = ([self.flow_c], [msg("gradients.through_c")]) if self.flow_c else ([], [])
        self.panels = [self.flow, wrap_row([self.norms, self.heatmap]),
                       fold([*cell[0], self.table, self.gains],
                            [*cell[1], msg("gradients.fold_equations"), msg("gradients.fold_gains")],
                            len(cell[0]) if self.options["equations"] else None)]
        self._G = self._win = None

    def _dims(self) -> tuple[int, int]:
        """Rows and columns of the heatmap window (units × time steps)."""
        tr, n = self.trace, self.options["window"]
        return min(tr.proj_size or tr.hidden_size, n), min(len(tr), n)

    def _sel(self) -> tuple[int, int, int]:
        s = self.controller.selection
        return s.get("layer", 0), s.get("direction", 0), s.get("batch", 0)

    def _load_selection(self) -> None:
        """Gradient matrix, colour range, overview and the norms' axis of the selected item."""
        layer, direction, batch = self._sel()
        self._G = gradient_matrix(self.trace, layer, direction, batch)  # [Hout, T]
        self._vrange = value_range(self._G, signed=True)
        big = max(self._G.shape) > self.options["window"]
        self.heatmap.set_overview(make_overview([(0, self._G, None)], self._G.shape, signed=True,
                                                max_px=self.options["overview_px"], vrange=self._vrange) if big else None)
        full = norm_series(self.trace, len(self.trace) - 1, layer, direction, self.options["max_points"])
        vals = np.concatenate([a for a in (full.log_norm, full.log_cell_norm) if a is not None])
        vals = vals[np.isfinite(vals)]
        self._yrange = (float(np.floor(vals.min())), float(np.ceil(vals.max()))) if vals.size else (-1.0, 1.0)
        self._win = None

    def _update(self, step: int, new_selection: bool) -> None:
        k, T = step, len(self.trace)
        layer, direction, batch = self._sel()
        if new_selection or self._G is None:
            self._load_selection()
        t = backward_time(k, T, direction)
        o = self.options
        gv = gradient_view(self.trace, k, layer, direction, batch, o["units"], o["max_bars"])
        where = where_text(layer, direction, batch)
        head = msg("gradients.head", k=index_of(k, T), rule="k" if direction else "T − 1 − k", t=t, last=T - 1, where=where)
        caption = msg("gradients.equations_caption", head=head)
        self.table.show(equations_table(gv, caption), lambda: equations_looks(gv, caption))  # save() paints the Looks
        self._set_flow(self.flow, gv.h_path, k, msg("gradients.flow_h", t=t))
        if self.flow_c is not None:
            self._set_flow(self.flow_c, gv.c_path, k, msg("gradients.flow_c", t=t))
        s = norm_series(self.trace, k, layer, direction, o["max_points"])
        self.norms.show(*norms_panel(s, *self._yrange, msg("gradients.norms_title", axis=AXIS),
                                                         width=NORMS_W, height=NORMS_H))
        with self.gains.hold_sync():
            self.gains.title = msg("gradients.gains_title")
            log_gain = np.nan_to_num(s.log_gain, nan=0.0)
            note = msg("gradients.bins_note", n=s.steps_per_bin) if s.steps_per_bin > 1 else ""
            self.gains.set_series([(msg("gradients.log_gain"), log_gain, ~s.visited, s.current, note)])
            self.gains.step = k
        self._win = follow_column(self.heatmap, self._G, t, o["window"], self._win, self._vrange, k)
        self.controller.set_caption(msg("gradients.caption", k=index_of(k, T), t=index_of(t, T), kind=self.trace.kind,
                                        where=where, norm=f"{gv.norm:.3e}", gain=f"{gv.gain:.3f}"), k)

    @staticmethod
    def _set_flow(canvas: BarsCanvas, path, k: int, title: str) -> None:
        series, groups = [], []
        for column in path:
            groups.append(list(range(len(series), len(series) + len(column))))
            series += [(name, vals, None, -1, "") for name, vals in column]
        with canvas.hold_sync():
            canvas.title = title + msg("gradients.signs_suffix")
            set_series(canvas, series, groups)
            canvas.step = k
