"""StateStepper: a state-space / linear-attention mixer (a StateTrace), one token at a time.

Step t (0-based, t = 0 … T−1) shows the layer right after position t, as ``trace.state(t)``. Panels,
top to bottom: the fixed-size state of the selected batch item as a heatmap (Mamba: d_inner × d_state,
windowed around the selected channel with an overview when large; Mamba-2 and Gated DeltaNet: one head)
or, for RWKV, its state tuple (token shift, numerator, denominator, running max) as bar series; every
per-step quantity under the family's own name (``trace.names``); the mixer's output at t; the state's
bytes beside the KV cache a comparable attention layer would hold after the same t + 1 tokens, both
lines over time up to t. The numbers are the trace's (``views.state``).
"""
from __future__ import annotations

import numpy as np

from ...views import make_overview, window_around
from ...views.state import (human_bytes, layout, memory_view, output_bar, quantity_bars, state_axes, state_matrix,
                           state_range, state_series)
from ..base import COMMON_OPTIONS, Stepper, int_in
from ..layout import fold, matrix_width, scrolling, set_series, show_block, wrap_row
from ..panels import BarsCanvas, HTMLPanel, MatrixCanvas
from ..panels.line_chart import Frame, Line, chart_look, live_chart
from ...views.looks_text import TextRow, text_look
from ...i18n import msg, msg_or
from ..markup import HEX_COLOURS, MUTED, THEME_VARS, escaped, index_of


def memory_panel(m, width: int = 400, height: int = 130) -> tuple[str, tuple]:
    """A :class:`~tr_widgets.views.state.MemoryView` as a line chart panel: bytes per layer over positions
    0 … T−1, the state's line flat, the KV cache's growing by one position per tick, drawn up to t; its HTML
    and its Looks (for save()).

    Example::

        t = tr_widgets.engine.state.trace_state("mamba", x=torch.randn(1, 6, 4), delta=torch.rand(1, 6, 4),
                                                A=-torch.ones(4, 2), B=torch.randn(1, 6, 2), C=torch.randn(1, 6, 2))
        html, looks = memory_panel(views.state.memory_view(t, 5))
        ("data-tr-step='5'" in html) == True
    """
    frame = Frame(n=m.T, lo=0.0, hi=float(max(m.state_bytes, m.kv_at(m.T - 1), 1)), width=width, height=height,
                  left=64, top=8, right=8, tick=human_bytes)
    lines = [Line(m.steps, m.kv_at(m.steps), "negative", css="tr-line-kv", dot=True),
             Line(m.steps, np.full(len(m.steps), m.state_bytes), "positive", css="tr-line-state", dot=True)]
    look = chart_look(frame, lines, m.t, m.T - 1, msg("state.memory_aria"))
    # only the marks (drawn, not text) take the lines' colours; the words keep the theme's text colour
    # (the line colours on Dark's background are below WCAG's 4.5:1 for text)
    mark = lambda c: (f"<svg width='14' height='8' aria-hidden='true' style='vertical-align:middle'>"  # noqa: E731
                      f"<line x1='0' y1='4' x2='14' y2='4' stroke='{c}' stroke-width='2'/></svg>")
    legend = (f"{mark(HEX_COLOURS.positive)} {escaped(msg('state.legend_state'))} · "
              f"{mark(HEX_COLOURS.negative)} {escaped(msg('state.legend_kv'))}")
    title = msg("state.memory_title", t=m.t)
    html = (f"<div class='tr-panel tr-state-memory' data-tr-step='{m.t}' style='line-height:1.35'>"
            f"<div style='font-weight:600'>{escaped(title)}</div>"
            f"{live_chart(look)}<div style='font:11px sans-serif;color:{THEME_VARS.fg}'>{legend}</div>"
            f"<div style='{MUTED};max-width:{width}px'>{escaped(m.caption())}</div></div>")
    words = f"{msg('state.legend_state')} · {msg('state.legend_kv')}"
    return html, (text_look([TextRow(title, True)]), look,
                  text_look([words, TextRow(m.caption(), colour="fg-muted")]))


MEMORY_W = 340  # px of the bytes chart: beside the state heatmap within a 900 px page


def family_title(kind) -> str:
    """The family's title in the active language ("state.family.<name>"; the engine's own title otherwise).

    Example: ``family_title(tr_widgets.engine.state.kind_of("mamba")) == "Mamba selective scan"  # in English``
    """
    return msg_or(f"state.family.{kind.name}", kind.title)


class StateStepper(Stepper):
    """Step through a :class:`~tr_widgets.engine.state.StateTrace`: state, quantities, output, bytes.

    Example::

        t = tr_widgets.engine.state.trace_state("mamba", x=torch.randn(1, 6, 4), delta=torch.rand(1, 6, 4),
                                                A=-torch.ones(4, 2), B=torch.randn(1, 6, 2), C=torch.randn(1, 6, 2))
        s = StateStepper(t, step=2)      # or tr_widgets.show(t); a model's: trace_mixer_call in a forward hook
        s.next(); s.select(channel=1)    # every panel follows
        s.step == 3
    """

    AXES = staticmethod(state_axes)
    OPTIONS = {**COMMON_OPTIONS,
               "max_bars": (*int_in(4, 512), "max_bars=128 (entries per bar chart)", 128),
               "max_points": (*int_in(16, 1024), "max_points=256 (points of the bytes-over-time lines)", 256)}

    def _build(self) -> None:
        lay = layout(self.trace)
        self.matrix = bool(lay.rows)
        if self.matrix:
            self.heatmap = MatrixCanvas(title=msg("state.title_state"), cmap="diverging", row_axis=lay.rows, col_axis=lay.cols)
            self.state_panel = self.heatmap
        else:
            self.heatmap = None
            self.state_panel = BarsCanvas(title=msg("state.title_state"), arrow="")
        self.quantities = BarsCanvas(title=msg("state.title_quantities"), arrow="")  # side by side, not a flow
        self.output = BarsCanvas(title=msg("state.output"))
        self.memory = scrolling(HTMLPanel())
        self.memory.add_class("tr-state-memory")
        self.memory.layout.max_width = f"{MEMORY_W + 20}px"  # its caption wraps under the chart
        # one screen: the state beside its bytes; the per-step quantities and the output open on a click
        self.panels = [wrap_row([self.state_panel, self.memory]),
                       fold([self.quantities, self.output], [msg("state.title_quantities"), msg("state.fold_output")])]
        self._axis_names = [name for name, _ in state_axes(self.trace)]
        self._vrange = None

    def _where(self) -> str:
        s = self.controller.selection
        return msg("state.sep").join(f"{msg_or(f'selector.{name}', name)} {s.get(name, 0)}" for name in self._axis_names)

    def _update(self, step: int, new_selection: bool) -> None:
        t, T, o = step, len(self.trace), self.options
        sel = dict(self.controller.selection)
        if self.matrix:
            if new_selection or self._vrange is None:
                self._vrange = state_range(self.trace, sel)
            self._draw_state(t, sel)
        else:
            self._set_bars(self.state_panel, state_series(self.trace, t, sel, o["max_bars"]), t,
                           msg("state.tuple_title", t=t, where=self._where()))
        self._set_bars(self.quantities, quantity_bars(self.trace, t, sel, o["max_bars"]), t,
                       msg("state.quantities_title", t=t, family=family_title(self.trace.spec)))
        self._set_bars(self.output, [output_bar(self.trace, t, sel.get("batch", 0), o["max_bars"])], t,
                       msg("state.output_title", t=t, batch=sel.get("batch", 0)))
        view = memory_view(self.trace, t, o["max_points"])
        self.memory.show(*memory_panel(view, width=MEMORY_W))
        self.controller.set_caption(f"t = {index_of(t, T)} · {self.trace.kind} "
                                    f"{self.trace.name or msg('state.mixer')} · {self._where()}", t)

    def _draw_state(self, t: int, sel: dict) -> None:
        M = state_matrix(self.trace, t, sel)  # [rows, cols]
        row = sel.get("channel") if "channel" in layout(self.trace).axes else None
        win = window_around(M.shape, row, None, self.options["window"], self.options["window"])
        big = max(M.shape) > self.options["window"]
        lo, hi = self._vrange
        shape = "×".join(str(n) for n in M.shape)
        with self.heatmap.hold_sync():
            # as wide as its window at the one cell size, so the bytes chart sits beside it
            self.heatmap.layout.max_width = f"{matrix_width(win.r1 - win.r0, win.c1 - win.c0)}px"
            self.heatmap.title = msg("state.heatmap_title", t=t, where=self._where(), shape=shape)
            show_block(self.heatmap, M, win, (lo, hi))
            ov = make_overview([(0, M, None)], M.shape, signed=True, max_px=self.options["overview_px"],
                               vrange=(lo, hi)) if big else None
            self.heatmap.set_overview(ov)
            self.heatmap.mark_row = -1 if row is None else row
            self.heatmap.step = t

    @staticmethod
    def _set_bars(canvas: BarsCanvas, bars, t: int, title: str) -> None:
        with canvas.hold_sync():
            canvas.title = title
            set_series(canvas, [(b.name, b.values, None, b.mark, b.note) for b in bars],
                       [[i] for i in range(len(bars))])  # one chart a group: they fill rows like words
            canvas.step = t
