"""LoopStepper: a recurrence the user wrote (a :class:`~tr_widgets.LoopTrace`), one step of their own code at a time.

Panels, top to bottom: the step's source lines (the loop body, or the cell's forward) with this step's values
beside each line under the code's own names, as a debugger shows them; the carried state over time (units ×
steps heatmap, current step marked; windowed, with an overview for long loops); the step's values as bars
(bounded ones on shared scales); the unrolled graph up to this step (the recurrent graph's painter). The
numbers are the trace's (``views.loop``).
"""
from __future__ import annotations

import ipywidgets as w

from ...i18n import msg
from ...views import graph_window, make_overview, value_range
from ...views.loop import batch_size, loop_axes, quantity_bars, state_matrix, state_name, step_values, step_view
from ...views.looks_text import Cell, TextRow, table_look, text_look
from ..base import COMMON_OPTIONS, Stepper, bars_options, int_in, is_bool
from ..layout import fold, follow_column, matrix_width, scrolling, set_series, wrap_row
from ..markup import SCROLL, TABLE, TD, TH, THEME_VARS, escaped, graph_panel, index_of
from ..panels import BarsCanvas, HTMLPanel, MatrixCanvas

# a long line of code wraps inside its column (continuation lines keep their indent), so the values beside it stay
# in view; the values of a line stand one name a row
CODE = f"{TD};white-space:pre-wrap;max-width:440px;font:12px monospace;vertical-align:top"
VALUE = f"{TD};color:{THEME_VARS.fg};vertical-align:top"


def source_table(sv, caption: str) -> tuple[str, tuple]:
    """The step's source as a table (line number, code, the values computed on that line), its HTML and its
    Looks (what ``save()`` paints).

    Example::

        from tr_widgets.magic.cell_loops import run_watched    # a loop found in a %%tr_step cell
        cell, ns = "for t in range(4):\\n    h = torch.tanh(h + xs[t])", {"torch": torch, "h": 0, "xs": torch.randn(4, 2)}
        loop = run_watched(cell, compile(cell, "<cell>", "exec"), ns, ns)[0][0][1]
        html, looks = source_table(views.loop.step_view(loop, 2), "step t = 2")
        ("h = torch.tanh(h + xs[t])" in html) == True
    """
    head = [msg("loop.col_line"), msg("loop.col_code"), msg("loop.col_values")]
    body = [(str(r.number), r.code, [f"{n} = {v}" for n, v in r.shown]) for r in sv.rows]
    cells = "".join(f"<th style='{TH}'>{escaped(h)}</th>" for h in head)
    rows = [f"<tr>{cells}</tr>"]
    for number, code, values in body:
        rows.append(f"<tr><td style='{TD};text-align:right'>{number}</td><td style='{CODE}'>{escaped(code)}</td>"
                    f"<td style='{VALUE}'>{'<br>'.join(escaped(v) for v in values)}</td></tr>")
    html = (f"<div class='tr-panel tr-loop-source' data-tr-step='{sv.t}' style='{SCROLL}'>"
            f"<div style='font-weight:600'>{escaped(caption)}</div>"
            f"<table style='{TABLE}'>{''.join(rows)}</table></div>")
    rows_look = [[Cell(n, align="end"), Cell(c), Cell("   ".join(v))] for n, c, v in body]
    table = table_look([[Cell(h, True) for h in head], *rows_look])
    return html, (text_look([TextRow(caption, True)]), table)


class LoopStepper(Stepper):
    """Step through a :class:`~tr_widgets.LoopTrace`: the code with this step's values, state heatmap, bars, graph.

    Example::

        from tr_widgets.magic.cell_loops import run_watched    # or capture(model): a loop in its forward
        cell, ns = "for t in range(4):\\n    h = torch.tanh(h + xs[t])", {"torch": torch, "h": 0, "xs": torch.randn(4, 2)}
        loop = run_watched(cell, compile(cell, "<cell>", "exec"), ns, ns)[0][0][1]
        s = LoopStepper(loop)                      # or tr_widgets.show(loop)
        s.step = 2; s.next(); s.step == 3          # every panel follows
    """

    AXES = staticmethod(loop_axes)
    OPTIONS = {**COMMON_OPTIONS,
               **bars_options("numbers written beside each line", 4),
               "graph_nodes": (*int_in(2, 64), "graph_nodes=12", 12),
               "ops": (is_bool, "True or False", "ops=True (a bar chart for every op, not only the code's names)",
                       False)}

    def _build(self) -> None:
        o = self.options
        self.window = o["window"]
        self.source = scrolling(HTMLPanel())
        self.source.add_class("tr-loop-source")
        rows, cols = self._dims()
        self.heatmap = MatrixCanvas(title="", cmap="diverging", row_axis=msg("recurrent.axis_unit"),
                                    col_axis=msg("recurrent.axis_step"),
                                    layout=w.Layout(max_width=f"{matrix_width(rows, cols)}px"))
        self.heatmap.click_step = "col"
        self.bars = BarsCanvas(title=msg("loop.bars_initial"), arrow="")  # side by side, not a flow
        self.graph = scrolling(HTMLPanel())
        self.graph.add_class("tr-graph")
        # one screen: the code with its values leads (the main view), the state over time beside the bars under
        # it; the graph opens on a click
        self.panels = [self.source, wrap_row([self.heatmap, self.bars]),
                       fold([self.graph], [msg("recurrent.fold_graph")])]
        self._M, self._win = None, None

    def _dims(self) -> tuple[int, int]:
        first = self.trace.initial[0]
        units = first.numel() // (batch_size(self.trace) or 1)  # units of one batch item
        return min(units, self.window), min(len(self.trace), self.window)

    def _sel(self) -> tuple[int, int]:
        s = self.controller.selection
        return s.get("batch", 0), s.get("state", 0)

    def _load_selection(self) -> None:
        """The selected carried tensor of the selected batch item over every step, its colour range and overview."""
        batch, part = self._sel()
        self._M = state_matrix(self.trace, part, batch)  # [U, T]
        self._vrange = value_range(self._M, signed=True)
        big = max(self._M.shape) > self.window
        ov = (make_overview([(0, self._M, None)], self._M.shape, signed=True, max_px=self.options["overview_px"],
                            vrange=self._vrange) if big else None)
        self.heatmap.set_overview(ov)
        self.heatmap.title = msg("loop.heatmap_title", state=state_name(self.trace, part), batch=batch)
        self._win = None

    def _update(self, step: int, new_selection: bool) -> None:
        t, T, o = step, len(self.trace), self.options
        batch, part = self._sel()
        if new_selection or self._M is None:
            self._load_selection()
        self._win = follow_column(self.heatmap, self._M, t, self.window, self._win, self._vrange, t)
        name = self.trace.name or msg("loop.unnamed")
        values = step_values(self.trace, t, batch)  # once a step: the source and the bars read the same values
        self.source.show(*self._source(t, values))  # its Looks kept with its HTML: save() paints them
        self._set_bars(t, batch, values)
        state = state_name(self.trace, part)
        self.graph.show(*graph_panel(graph_window(self._M, t, 0, o["graph_nodes"]), state))  # save() paints its Looks
        self.controller.set_caption(f"t = {index_of(t, T)} · {name} · {msg('loop.where', batch=batch)}", t)

    def _source(self, t: int, values: dict) -> tuple[str, tuple]:
        """The source panel of step ``t`` for the selected batch item: its HTML and its Looks."""
        batch = self._sel()[0]
        sv = step_view(self.trace, t, batch, units=self.options["units"], values=values)
        name = self.trace.name or msg("loop.unnamed")
        return source_table(sv, msg("loop.source_caption", t=index_of(t, len(self.trace)), name=name, batch=batch))

    def _set_bars(self, t: int, batch: int, values: dict) -> None:
        bars = quantity_bars(self.trace, t, batch, self.options["max_bars"], self.options["ops"], values)
        with self.bars.hold_sync():
            self.bars.title = msg("loop.bars_title", t=t)
            set_series(self.bars, [(b.name, b.values, None, -1, b.note) for b in bars], [[i] for i in range(len(bars))],
                       scales=[b.scale for b in bars])
            self.bars.step = t
