"""CompareStepper: two runs of one thing (a :class:`~tr_widgets.engine.whatif.compare.Comparison`, what
``compare(a, b)`` and ``what_if(model, run, *edits)`` return) on one clock.

Panels, top to bottom: where the runs part, this step's ‖Δ‖ and largest |Δ|, and the edits; the difference
after − before as its own units × steps diverging map (its own colour bar; the current step marked, the step
where the runs part dashed) beside ‖Δ‖ per step as a line chart; both runs' outputs at this step and their
difference as bars; for a decode, the two runs' tokens side by side (a token an edit fed marked ✎) and ‖Δ‖ of
each layer's KV cache or state-space state per tick (``views.compare_decode``), with a KV cache each cached
position's ‖Δ‖ at this tick as bars. A what-if of token edits whose ``run`` returned the decode shows the two
decodes, tick by tick (``views.compare_decode.shown_comparison``). A Capture's names are chosen with the ``name``
selector; a name with fewer steps than the clock shows its last. The numbers are ``views.compare``'s and
``views.compare_decode``'s.
"""
from __future__ import annotations

import ipywidgets as w

from ...i18n import msg
from ...views import make_overview, value_range
from ...views.compare import compare_axes, delta_matrix, norm_chart, norm_series, step_view, step_word, summary, token_rows
from ...views.compare_decode import cache_chart, cache_kinds, cache_legend, fed_note, kv_rows, shown_comparison
from ...views.looks_text import TextRow, table_look, text_look
from ..base import COMMON_OPTIONS, Stepper, bars_options
from ..layout import follow_column, matrix_width, scrolling, set_series, wrap_row
from ..markup import MUTED, SCROLL, TABLE, TD, TH, escaped, index_of, text_block
from ..panels import BarsCanvas, HTMLPanel, MatrixCanvas
from ..panels.line_chart import live_chart, live_colour

NORMS_W, NORMS_H = 300, 120  # px of the ‖Δ‖ chart: beside the difference map
CACHE_TITLES = {"kv": "compare.cache_title_kv", "state": "compare.cache_title_state"}  # a decode's cache panels


def tokens_table(rows, title: str, note: str) -> tuple[str, tuple]:
    """The two runs' tokens (rows of :func:`~tr_widgets.views.compare.token_rows`) as a table panel: its HTML and
    its Looks (what ``save()`` paints).

    Example::

        from tr_widgets.engine.whatif import compare
        d1, d2 = (tr_widgets.decode(model, p, 3, tokenizer=tok) for p in ("The cat", "The dog"))
        cmp = compare(d1, d2)
        html, looks = tokens_table(views.compare.token_rows(cmp, None, 0), "tokens", "")
        ("≠ dog" in html) == True
    """
    body = "".join("<tr>" + "".join(f"<td style='{TH if c.header else TD}'>{escaped(c.text)}</td>" for c in r) + "</tr>"
                   for r in rows)
    html = (f"<div class='tr-panel tr-compare-tokens' style='{SCROLL}'><div style='font-weight:600'>{escaped(title)}</div>"
            f"<table style='{TABLE}'>{body}</table>{text_block(note)}</div>")
    return html, (text_look([TextRow(title, True)]), table_look(rows), text_look([TextRow(note, colour="fg-muted")]))


def cache_panel(cmp, kind: str, t: int, name: str | None = None) -> tuple[str, tuple]:
    """‖Δ‖ of each layer's cache per tick (``views.compare_decode.cache_chart``) as a panel: the chart, each
    layer's line style and ‖Δ‖ at tick ``t``; its HTML and its Looks (what ``save()`` paints).

    Example::

        d1, d2 = (tr_widgets.decode(model, p, 3, tokenizer=tok) for p in ("The cat", "The dog"))
        html, looks = cache_panel(compare(d1, d2), "kv", 2)
        ("data-tr-step='2'" in html) == True
    """
    title = msg(CACHE_TITLES[kind])
    look = cache_chart(cmp, kind, t, name, NORMS_W, NORMS_H)
    legend = cache_legend(cmp, kind, t, name)
    mark = lambda c, d: (f"<svg width='14' height='8' aria-hidden='true' style='vertical-align:middle'>"  # noqa: E731
                         f"<line x1='0' y1='4' x2='14' y2='4' stroke='{live_colour(c)}' stroke-width='2'"
                         + (f" stroke-dasharray='{d}'" if d else "") + "/></svg>")
    at = msg("compare.cache_at", t=look.current)
    words = " · ".join(f"{mark(*style)} {escaped(text)}" for style, text in legend)
    html = (f"<div class='tr-panel tr-compare-cache tr-compare-cache-{kind}' data-tr-step='{look.current}' "
            f"style='line-height:1.35'><div style='font-weight:600'>{escaped(title)}</div>{live_chart(look)}"
            f"<div style='{MUTED};max-width:{NORMS_W}px'>{escaped(at)} {words}</div></div>")
    plain = f"{at} " + " · ".join(text for _, text in legend)
    return html, (text_look([TextRow(title, True)]), look, text_look([TextRow(plain, colour="fg-muted")]))


class CompareStepper(Stepper):
    """Step through two runs at once: where they part, after − before as a map, ‖Δ‖ over time, both runs' outputs.

    Example::

        from tr_widgets.engine.whatif import compare
        rnn = torch.nn.RNN(3, 4); x = torch.randn(6, 1, 3); x2 = x.clone(); x2[2] += 1
        s = CompareStepper(compare(tr_widgets.trace_recurrent(rnn, x), tr_widgets.trace_recurrent(rnn, x2)))
        s.step = 2; s.heatmap.highlight_col == 2     # the runs part at t = 2, dashed on the map
    """

    AXES = staticmethod(compare_axes)

    def __init__(self, trace, **options):
        self.what_if = trace  # what show() was given; a what-if's decodes are shown (views.compare_decode)
        super().__init__(shown_comparison(trace), **options)
    OPTIONS = {**COMMON_OPTIONS, **bars_options("values per bar chart", 3, "values per bar chart")}

    def _n_steps(self) -> int:
        return max(self.trace.steps(n) for n in self.trace.names)

    def _step_name(self) -> str:
        return step_word(self.trace.word())

    def _build(self) -> None:
        self.window = self.options["window"]
        self.summary = scrolling(HTMLPanel())
        self.summary.add_class("tr-compare-summary")
        rows = max(delta_matrix(self.trace, n).shape[0] for n in self.trace.names)
        self.heatmap = MatrixCanvas(title="", cmap="diverging", row_axis=msg("recurrent.axis_unit"),
                                    col_axis=msg("recurrent.axis_step"),
                                    layout=w.Layout(max_width=f"{matrix_width(*self._dims(rows))}px"))
        self.heatmap.click_step = "col"
        self.norms = scrolling(HTMLPanel())
        self.norms.add_class("tr-compare-norms")
        self.norms.layout.max_width = f"{NORMS_W + 20}px"
        self.bars = BarsCanvas(title=msg("compare.bars_initial"), arrow="")  # side by side, not a flow
        self.tokens = scrolling(HTMLPanel())
        self.tokens.add_class("tr-compare-tokens")
        decode = any(self.trace.tokens(n) is not None for n in self.trace.names)
        self.caches = {}  # kind -> the panel of ‖Δ‖ of that cache per tick (a decode's)
        for kind in cache_kinds(self.trace):
            self.caches[kind] = scrolling(HTMLPanel())
            self.caches[kind].add_class("tr-compare-cache")
            self.caches[kind].layout.max_width = f"{NORMS_W + 20}px"
        # a KV cache: ‖Δ‖ of each cached position's keys and values at this tick (the edited token's row its own)
        self.kv_bars = BarsCanvas(title=msg("compare.kv_rows_initial"), arrow="") if "kv" in self.caches else None
        self.panels = [self.summary, *([self.tokens] if decode else []),
                       wrap_row([self.heatmap, self.norms, *self.caches.values()]),
                       *([self.kv_bars] if self.kv_bars is not None else []), self.bars]
        self._M = self._win = None

    def _dims(self, rows: int) -> tuple[int, int]:
        """Rows and columns of the map's window (values × steps)."""
        return min(rows, self.window), min(self.controller.n_steps, self.window)

    def _name(self) -> str:
        return self.trace.names[self.controller.selection.get("name", 0)]

    def _load_selection(self) -> None:
        """The selected name's after − before over every step, its colour range, overview and ‖Δ‖ series."""
        name = self._name()
        self._M = delta_matrix(self.trace, name)  # [N, T]
        self._norms = norm_series(self.trace, name)
        self._vrange = value_range(self._M, signed=True)
        big = max(self._M.shape) > self.window
        self.heatmap.set_overview(make_overview([(0, self._M, None)], self._M.shape, signed=True,
                                                max_px=self.options["overview_px"], vrange=self._vrange) if big else None)
        self.heatmap.title = msg("compare.heatmap_title", name=name)
        self._win = None

    def _update(self, step: int, new_selection: bool) -> None:
        if new_selection or self._M is None:
            self._load_selection()
        name = self._name()
        sv = step_view(self.trace, name, step, self.options["max_bars"])
        t = sv.t
        self._win = follow_column(self.heatmap, self._M, t, self.window, self._win, self._vrange, step)
        self.heatmap.highlight_col = -1 if sv.parts is None else sv.parts
        lines = summary(sv, self.trace.edits)
        if self.trace is not self.what_if:
            lines.append(msg("compare.decodes"))
        body = "".join(text_block(s, "font-weight:600") if i == 0 else text_block(s) for i, s in enumerate(lines))
        self.summary.show(f"<div class='tr-panel tr-compare-summary' data-tr-step='{t}'>{body}</div>",
                          (text_look([TextRow(lines[0], True), *(TextRow(s, colour="fg-muted") for s in lines[1:])]),))
        title = msg("compare.norms_title", name=name)
        look = norm_chart(self._norms, t, sv.parts, NORMS_W, NORMS_H)
        self.norms.show(f"<div class='tr-panel tr-compare-norms' data-tr-step='{t}' style='line-height:1.35'>"
                        f"<div style='font-weight:600'>{escaped(title)}</div>{live_chart(look)}</div>",
                        (text_look([TextRow(title, True)]), look))
        for kind, panel in self.caches.items():
            panel.show(*cache_panel(self.trace, kind, t, name))
        if self.kv_bars is not None:
            rows, fed = kv_rows(self.trace, t, name)
            with self.kv_bars.hold_sync():
                self.kv_bars.title = msg("compare.kv_rows_title", t=t)
                set_series(self.kv_bars, [(msg("compare.kv_rows_name"), rows, None, fed, "")])
                self.kv_bars.step = step
        self._set_bars(sv, step)
        rows = token_rows(self.trace, name, t)
        if rows is not None:
            part = self.trace.tokens_part_at(name)
            note = msg("compare.tokens_same") if part is None else msg("compare.tokens_part", t=part)
            fed = fed_note(self.trace, name)
            note = f"{note}; {fed}" if fed else note
            self.tokens.show(*tokens_table(rows, msg("compare.tokens_title", t=t), note))
        self.controller.set_caption(msg("compare.caption", word=sv.word, t=index_of(t, sv.steps), name=name,
                                        norm=f"{sv.norm:.3e}"), step)

    def _set_bars(self, sv, step: int) -> None:
        note = msg("compare.units_note", last=len(sv.delta) - 1, total_last=sv.cut - 1) if len(sv.delta) < sv.cut else ""
        series = [(msg("compare.before"), sv.before, None, -1, note), (msg("compare.after"), sv.after, None, -1, note),
                  (msg("compare.delta"), sv.delta, None, -1, note)]
        with self.bars.hold_sync():
            self.bars.title = msg("compare.bars_title", name=sv.name, word=sv.word, t=sv.t)
            # the two runs on one scale, so a bar's height compares across them; the difference on its own
            both = msg("compare.scale_runs")
            set_series(self.bars, series, [[0], [1], [2]], scales={0: both, 1: both})
            self.bars.step = step
