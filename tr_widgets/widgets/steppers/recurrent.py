"""RecurrentStepper: an RNN/LSTM/GRU trace, one time step at a time.

Panels, top to bottom: the cell's equations with this step's numbers (torch's definitions); the
flow x_t, h_{t-1} (c_{t-1}) → gates → c_t → h_t as small bar charts; the hidden state over time
(units × steps heatmap, current step marked; windowed, with an overview for long sequences); the
unrolled computation graph up to this step.
"""
from __future__ import annotations

import ipywidgets as w

from ...views import (graph_window, hidden_matrix, make_overview, recurrent_axes, step_view,
                     value_range)
from ..base import Stepper, equations_options, int_in, tqdm_progress
from ..layout import fold, follow_column, matrix_width, scrolling, set_series, where_text, wrap_row
from ..panels import BarsCanvas, HTMLPanel, MatrixCanvas
from ...i18n import msg
from ..markup import equations_table, graph_panel, index_of
from ..panel_looks import equations_looks

# each flow quantity's name on screen: a symbol, or the i18n key of a name in words
NAMES = {"x_t": "recurrent.name_x", "h_prev": "h_{t-1}", "c_prev": "c_{t-1}", "i": "recurrent.name_i",
         "f": "recurrent.name_f", "g": "recurrent.name_g", "o": "recurrent.name_o", "r": "recurrent.name_r",
         "z": "recurrent.name_z", "n": "recurrent.name_n", "a": "recurrent.name_a", "c_t": "recurrent.name_c",
         "h_t": "recurrent.name_h"}


def flow_name(name: str) -> str:
    """How the flow names quantity ``name``, in the active language. Example: ``flow_name("f") == "f_t forget gate"``"""
    shown = NAMES.get(name, name)
    return msg(shown) if shown.startswith("recurrent.") else shown


LONG = 1024  # steps from which building the view shows a progress bar


def trace_dims(s) -> tuple[int, int]:
    """Rows and columns of a recurrent stepper's heatmap window (units × steps).

    Example: ``trace_dims(tr_widgets.show(tr)) == (tr.hidden_size, tr.seq_len)  # (4, 6): nn.LSTM(3, 4), 6 steps``
    """
    tr = s.trace
    return min(tr.proj_size or tr.hidden_size, s.window), min(tr.seq_len, s.window)  # per direction: [Hout, T]


def compact_flow(groups: list[list[int]], gates: set[int]) -> tuple[list[list[int]], bool]:
    """The flow's columns, about one screen tall and within the cell: a column of more than four
    charts splits in two (bars.js lays a column of three or more two abreast, so the four LSTM gates
    are 2 × 2); the single charts after the gates (c_t → h_t) keep their own columns, so where the
    flow wraps they form one short row. Returns the columns and whether one was split.

    Example: ``compact_flow([[0, 1, 2], [3, 4, 5, 6], [7], [8]], {3, 4, 5, 6})  # ([[0, 1, 2], [3, 4, 5, 6], [7], [8]], False)``
    """
    out, split = [], False
    for g in groups:
        if len(g) > 4:
            out += [g[:(len(g) + 1) // 2], g[(len(g) + 1) // 2:]]
            split = True
        else:
            out.append(g)
    return out, split


class RecurrentStepper(Stepper):
    """Step through a :class:`~tr_widgets.RecurrentTrace`: equations, gate flow, heatmap, graph.

    Example::

        tr = tr_widgets.trace_recurrent(nn.LSTM(4, 6), torch.randn(7, 1, 4))
        s = RecurrentStepper(tr, step=2)
        s.step = 3; s.next()           # every panel follows
        s.select(batch=0)
    """

    AXES = staticmethod(recurrent_axes)
    OPTIONS = equations_options("units whose arithmetic the equations show",
                                graph_nodes=(*int_in(2, 64), "graph_nodes=12", 12))

    def _n_steps(self) -> int:
        return self.trace.seq_len

    def _build(self) -> None:
        o = self.options
        self.units, self.max_bars, self.graph_nodes = o["units"], o["max_bars"], o["graph_nodes"]
        self.window, self.overview_px = o["window"], o["overview_px"]
        self.equations = scrolling(HTMLPanel())
        self.flow = BarsCanvas(title=msg("recurrent.flow_initial"))
        # The trace ran the whole sequence at once, so the heatmap holds every step; the title says that
        # the columns right of the mark are later steps (the graph beside it unrolls only up to t).
        self.heatmap = MatrixCanvas(title=msg("recurrent.heatmap_title"), cmap="diverging",
                                    row_axis=msg("recurrent.axis_unit"), col_axis=msg("recurrent.axis_step"),
                                    layout=w.Layout(max_width=f"{matrix_width(*trace_dims(self))}px"))
        self.heatmap.click_step = "col"
        self.graph = scrolling(HTMLPanel())
        for p, cls in ((self.equations, "tr-equations"), (self.graph, "tr-graph")):
            p.add_class(cls)
        # one screen: the flow beside the heatmap; the arithmetic and the graph open on a click (the
        # accordion stays open while stepping), or from the start with equations=True
        self.panels = [wrap_row([self.flow, self.heatmap]),
                       fold([self.equations, self.graph], [msg("recurrent.fold_equations"), msg("recurrent.fold_graph")],
                            0 if o["equations"] else None)]
        self._H = None
        self._win = None

    def _sel(self) -> tuple[int, int, int]:
        s = self.controller.selection
        return s.get("layer", 0), s.get("direction", 0), s.get("batch", 0)

    def _load_selection(self) -> None:
        """Hidden matrix, colour range and overview of the selected layer/direction/batch item."""
        layer, direction, batch = self._sel()
        long = self.progress and self.trace.seq_len >= LONG
        wrap = tqdm_progress(long)
        phases = ["hidden states", "gates and cell state", "overview"]
        it = iter(wrap(phases, total=3, desc=msg("recurrent.progress")) if wrap else phases)
        next(it)
        self._H = hidden_matrix(self.trace, layer, direction, batch)  # [Hout, T]
        next(it)
        if self.trace.spec.gates:
            self.trace.gates(layer, direction)  # derive every step's gates once (cached by the trace)
        next(it)
        self._vrange = value_range(self._H, signed=True)
        H, T = self._H.shape
        big = H > self.window or T > self.window
        ov = (make_overview([(0, self._H, None)], self._H.shape, signed=True, max_px=self.overview_px,
                            vrange=self._vrange) if big else None)
        for _ in it:
            pass
        self.heatmap.set_overview(ov)
        self._win = None

    def _update(self, step: int, new_selection: bool) -> None:
        t = step
        layer, direction, batch = self._sel()
        if new_selection or self._H is None:
            self._load_selection()
        H = self._H
        self._win = follow_column(self.heatmap, H, t, self.window, self._win, self._vrange, t)
        # A packed sequence shorter than the batch's longest has only padding (zeros) past its end: the engine
        # refuses those steps, so the panels keep its last step and the caption says so.
        lengths = self.trace.lengths
        shown = t if lengths is None or t < lengths[batch] else lengths[batch] - 1
        sv = step_view(self.trace, shown, layer, direction, batch, units=self.units)
        where = where_text(layer, direction, batch)
        T = self.trace.seq_len
        caption = msg("recurrent.equations_caption", t=index_of(shown, T), where=where)
        self.equations.show(equations_table(sv, caption), lambda: equations_looks(sv, caption))  # save() paints the Looks
        self._set_flow(sv, shown)
        self.graph.show(*graph_panel(graph_window(H, t, direction, self.graph_nodes), self.trace.spec.state))
        ended = "" if shown == t else " · " + msg("recurrent.sequence_ended", batch=batch, last=shown)
        self.controller.set_caption(f"t = {index_of(t, T)} · {self.trace.kind} · {where}{ended}", t)

    def _set_flow(self, sv, t: int) -> None:
        series, groups, scales = [], [], {}
        gates = set(self.trace.spec.gates or ())
        for column in sv.flow:
            group = []
            for name in column:
                if name not in sv.values:
                    continue
                v = sv.values[name]
                n = min(len(v), self.max_bars)
                note = msg("recurrent.units_note", last=n - 1, total_last=len(v) - 1) if n < len(v) else ""
                if name in gates:  # every gate of the step on one scale, so gates can be compared
                    scales[len(series)] = msg("recurrent.scale_gates")
                group.append(len(series))
                series.append((flow_name(name), v[:n], None, -1, note))
            groups.append(group)
        groups, split = compact_flow(groups, set(scales))
        with self.flow.hold_sync():
            self.flow.arrow = "" if split else "→"  # split columns are no longer one arrow apart
            order = msg("recurrent.order_split") if split else msg("recurrent.order")
            self.flow.title = (msg("recurrent.flow_title_gates", t=t, order=order) if scales else
                               msg("recurrent.flow_title", t=t))
            set_series(self.flow, series, groups, scales=scales or None)
            self.flow.step = t
