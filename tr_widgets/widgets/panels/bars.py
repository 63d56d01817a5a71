"""The bar-chart anywidget: small multiples of float32 vectors (``static/bars.js``), grouped into a flow.

Each chart has a zero line and a value axis (``±max`` with the series' unit) as text, not paint. Series
may share a scale (``scales``: all gates of an LSTM step on one axis, so they can be compared); Python
computes every axis maximum (:func:`scale_maxima`) and the browser draws with it.
"""
from __future__ import annotations

import html
from collections.abc import Mapping

import anywidget
import numpy as np
import traitlets as t

from ...i18n import texts
from ...views import palette
from ...views.looks import (  # noqa: F401  (drawn_up, scale_maxima: this panel's API)
    CHART_H, BarChart, BarsLook, LegendItem, axis_labels, axis_text, bars_look, drawn_up, place, scale_maxima,
)
from ...views.svg import bars_svg
from .. import esm
from .common import Quiet, Snapshot, colours_trait, safe_text

H = CHART_H  # px of one chart's plot (the Look's, which bars.js is sent)


def per_series(arg, n: int, default, name: str) -> list:
    """``arg`` (None, one string for all, a mapping index -> value, or ``n`` values) as a list of ``n`` values.

    Example: ``per_series({1: "ms"}, 3, "", "units") == ["", "ms", ""]``
    """
    if arg is None or isinstance(arg, str):
        return [default if arg is None else arg] * n
    if isinstance(arg, Mapping):
        bad = [k for k in arg if not (isinstance(k, int) and 0 <= k < n)]
        if bad:
            raise ValueError(f"{name}: expected series indices 0..{n - 1} as keys, got {bad}; "
                             f"key {name} by the series' position in the list")
        return [default if arg.get(i) is None else arg[i] for i in range(n)]
    out = list(arg)
    if len(out) != n:
        raise ValueError(f"{name}: expected one entry per series ({n}), got {len(out)}; pass a dict "
                         f"index -> value to set only some")
    return [default if v is None else v for v in out]


class BarsCanvas(Quiet, Snapshot, anywidget.AnyWidget):
    """Small bar charts of float32 vectors, grouped into a left-to-right flow (arrows between groups).

    Each series is ``(name, values, blocked or None, mark, note[, highlight])``: ``mark`` is the index of the
    current step / query (red outline), ``highlight`` that of the largest weight or the new token (orange
    dashed), -1 for none. ``scales`` names a scale group per series (a dict index -> name, or a list):
    series in one group share one axis maximum; the others use their own. ``units`` gives each series'
    unit (a dict or list; shown on the axis: "+111 ms"). The legend and hover words are ``texts``
    (``texts["highlight"]`` says what the highlight means here).

    Example::

        b = BarsCanvas(title="gates at t = 3 (0–9)")
        x, i, f, ms = np.r_[0.5, -2.0], np.r_[0.2, 0.9], np.r_[0.4, -0.3], np.r_[3.0, 111.0, 4.5, 6.0]
        b.set_series([("x_t", x, None, -1, ""), ("i", i, None, -1, ""), ("f", f, None, -1, ""),
                      ("ms per tick", ms, None, 3, "", int(ms.argmax()))],
                     groups=[[0], [1, 2], [3]], scales={1: "gates", 2: "gates"}, units={3: "ms"})
        b.scale_max == [2.0, 0.9, 0.9, 111.0]   # max|x|, max(|i|,|f|) twice, max ms
    """

    _esm = esm.module("bars")  # static/bars.js with what it imports (widgets/esm.py)
    _css = esm.stylesheet()  # static/tr.css, compact (widgets/esm.py)
    title = t.Unicode("").tag(sync=True)
    values = t.Bytes(b"").tag(sync=True)
    blocked = t.Bytes(b"").tag(sync=True)
    lengths = t.List(t.Int()).tag(sync=True)
    names = t.List(t.Unicode()).tag(sync=True)
    notes = t.List(t.Unicode())  # each series' own note, as given (the Look adds what a shared scale needs)
    marks = t.List(t.Int()).tag(sync=True)  # the current step / query, one per series (-1: none)
    highlights = t.List(t.Int()).tag(sync=True)  # the largest weight / new token, one per series (-1: none)
    units = t.List(t.Unicode()).tag(sync=True)
    scale_groups = t.List(t.Unicode())  # "" : the series' own scale
    scale_max = t.List(t.Float()).tag(sync=True)  # the axis maximum each series is drawn with
    axis = t.List(t.Unicode()).tag(sync=True)  # the axis label of each maximum ("1.51", "111 ms")
    groups = t.List(t.List(t.Int())).tag(sync=True)
    arrow = t.Unicode("→").tag(sync=True)
    step = t.Int(0).tag(sync=True)
    # the Look's decisions (views.looks.bars_look), which bars.js paints as they are
    bar_px = t.List(t.Int()).tag(sync=True)  # pixels per bar, one per series
    # chart_h: px of each chart's plot; up: each drawn from a zero line at the bottom (else about the middle);
    # axis_px: px of each chart's axis (0: its left neighbour's, not shown); columns: charts abreast in each group;
    # legend: [[palette names], key of its words in texts] of each item this data needs. One value: it changes
    # seldom, and a page holds a large one once (frames.REF_MIN_JSON)
    chart_layout = t.Dict().tag(sync=True)
    chart_notes = t.List().tag(sync=True)  # the line under each chart
    colours = colours_trait()
    theme_light = t.Dict(palette.light_theme()).tag(sync=True)  # where --tr-* is not defined
    texts = t.Dict().tag(sync=True)  # the words bars.js shows: i18n "bars." keys, in the language it was built in
    _safe = safe_text(("title", "names", "notes", "units", "scale_groups", "chart_notes"))

    @t.default("texts")
    def _texts(self):
        return texts("bars.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.texts  # noqa: B018  the words in the language this canvas is built in, not the one it is first read in

    def set_series(self, series, groups=None, scales=None, units=None) -> None:
        """Show ``series`` (see the class docstring) in ``groups`` (lists of series indices; default one each).

        ``scales`` and ``units``: a dict index -> value, a list with one entry per series, or (units) one string.

        Example: ``b.set_series([("i", i, None, t, ""), ("f", f, None, t, "")], [[0, 1]], scales=["gates", "gates"])``
        """
        n = len(series)
        scale_groups = [str(g) for g in per_series(scales, n, "", "scales")]
        unit_list = [str(u) for u in per_series(units, n, "", "units")]
        groups = groups if groups is not None else [[i] for i in range(n)]
        look = bars_look(self.title, series, groups, scale_groups, unit_list, self.texts, self.arrow, placed=False)
        vals, blocked = [c.values for c in look.charts], [s[2] is not None for s in series]
        maxima = [c.scale_max for c in look.charts]
        state = {
            "values": np.concatenate(vals).tobytes() if vals else b"",
            "blocked": (np.concatenate([c.blocked for c in look.charts]).astype(np.uint8).tobytes()
                        if any(blocked) else b""),
            "lengths": [len(v) for v in vals], "names": [c.name for c in look.charts],
            "marks": [c.mark for c in look.charts], "highlights": [c.highlight for c in look.charts],
            "notes": [str(s[4]) for s in series], "units": unit_list, "scale_groups": scale_groups,
            "scale_max": maxima, "axis": [axis_text(m, u) for m, u in zip(maxima, unit_list)],
            "groups": [list(g) for g in look.groups], **self._look_state(look)}
        with self.hold_sync():
            for name, value in state.items():
                if getattr(self, name) != value:  # most stay from step to step: skip their validation
                    setattr(self, name, value)

    @staticmethod
    def _look_state(look: BarsLook) -> dict:
        """The Look's decisions as the traits bars.js paints from."""
        # the axis texts travel as their label (``axis``) and ``up``: bars.js writes them by the Look's rule
        # (views.looks.axis_labels; tests/browser/test_browser_looks.py reads them back), 3 strings fewer a chart
        # and step; legend words travel as their key in ``texts``, which the page holds once
        layout = {"chart_h": CHART_H, "up": [c.up for c in look.charts], "axis_px": [c.axis_px for c in look.charts],
                  "columns": list(look.columns), "legend": [[list(i.colours), i.key] for i in look.legend]}
        return {"bar_px": [c.bar_px for c in look.charts], "chart_notes": [c.note for c in look.charts],
                "chart_layout": layout}

    def look(self) -> BarsLook:
        """The panel's Look as the browser has it (from the synced traits only: a frame may have set them), placed
        in a picture: what ``snapshot_svg`` paints.

        Example: ``BarsCanvas().look().charts == ()``
        """
        lay, texts = self.chart_layout, self.texts
        charts = tuple(
            BarChart(name, v, blk, bw, m, up, axis_labels(label, m, up), aw, note, mark, high, 0.0, 0.0)
            for name, (v, blk), bw, m, up, label, aw, note, mark, high in zip(
                self.names, self.series_list(), self.bar_px, self.scale_max, lay.get("up", []), self.axis,
                lay.get("axis_px", []), self.chart_notes, self.marks, self.highlights))
        legend = tuple(LegendItem(tuple(names), texts.get(key, ""), key=key) for names, key in lay.get("legend", []))
        return place(BarsLook(self.title, charts, tuple(tuple(g) for g in self.groups), tuple(lay.get("columns", [])),
                              self.arrow, (), legend, 0, 0))

    def series_list(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(float32 values, bool blocked mask) of each series in order, from the buffers the browser receives."""
        vals = np.frombuffer(self.values, dtype=np.float32)
        blk = np.frombuffer(self.blocked, dtype=np.uint8) if self.blocked else None
        out, start = [], 0
        for n in self.lengths:
            out.append((vals[start:start + n], np.zeros(n, bool) if blk is None else blk[start:start + n].astype(bool)))
            start += n
        return out

    def series(self) -> dict[str, np.ndarray]:
        """name -> float32 values, decoded from the buffer the browser receives."""
        vals = np.frombuffer(self.values, dtype=np.float32)
        out, start = {}, 0
        for name, n in zip(self.names, self.lengths):
            out[name] = vals[start:start + n]
            start += n
        return out

    def blocked_series(self) -> dict[str, np.ndarray]:
        """name -> bool mask of blocked entries (all False when nothing is blocked)."""
        blk = np.frombuffer(self.blocked, dtype=np.uint8) if self.blocked else None
        out, start = {}, 0
        for name, n in zip(self.names, self.lengths):
            out[name] = np.zeros(n, bool) if blk is None else blk[start:start + n].astype(bool)
            start += n
        return out

    def snapshot_html(self) -> str:
        """The panel as the SVG picture ``save()`` draws, inline (light, on its own background: it reads in any theme).

        Example: ``b.snapshot_html().startswith("<div class='tr-bars-snapshot'")``
        """
        svg, w, h = self.snapshot_svg()
        return (f"<div class='tr-bars-snapshot' style='max-width:100%;overflow-x:auto'>"
                f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' viewBox='0 0 {w} {h}' role='img' "
                f"aria-label='{html.escape(self.title, quote=True)}' style='background:{palette.light_theme()['bg']}'>"
                f"{svg}</svg></div>")

    def snapshot_svg(self) -> tuple[str, int, int]:
        """The panel as an SVG fragment (light theme colours, drawn from the origin) and its width and height.

        Example: ``svg, w, h = b.snapshot_svg(); f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}'>{svg}</svg>"``
        """
        return bars_svg(self.look())

    def __repr__(self) -> str:
        return f"BarsCanvas(title={self.title!r}, series={list(zip(self.names, self.lengths))})"
