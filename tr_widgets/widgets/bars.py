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

from ..i18n import texts
from ..views import palette
from .canvas import STATIC, Quiet, Snapshot, colours_trait, safe_text
from .markup import bars_svg

H = 64  # canvas height in px (the JavaScript's H)
AXIS_W = 44  # px the value axis takes in the SVG snapshot


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


def scale_maxima(values, blocked, scales) -> list[float]:
    """The axis maximum of each series: max |x| over its finite, unblocked values, shared within a scale group.

    ``scales``: one group name per series ("" or None: the series' own scale).

    Example: ``scale_maxima([np.r_[1., -3], np.r_[2.]], [None, None], ["g", "g"]) == [3.0, 3.0]``
    """
    own = []
    for v, b in zip(values, blocked):
        ok = np.isfinite(v) if b is None else np.isfinite(v) & ~np.asarray(b, bool)
        own.append(float(np.abs(v[ok]).max()) if ok.any() else 0.0)
    shared: dict[str, float] = {}
    for m, g in zip(own, scales):
        if g:
            shared[g] = max(shared.get(g, 0.0), m)
    return [shared[g] if g else m for m, g in zip(own, scales)]


def axis_text(m: float, unit: str = "") -> str:
    """The axis label of maximum ``m``: 3 significant digits and the unit. Example: ``axis_text(111.2, "ms") == "111 ms"``"""
    return f"{m:.3g}" + (f" {unit}" if unit else "")


def _series_svg(b, s: int, v: np.ndarray, blk: np.ndarray, x0: float, y0: float) -> list[str]:
    """One chart of ``b``'s series ``s`` at (x0, y0): name, value axis, bars, zero line, marks, note."""
    T, E = palette.light_theme(), html.escape
    hexc = {k: "#%02x%02x%02x" % c for k, c in palette.COLOURS.items()}
    n, bw, m = len(v), b.bar_px[s], b.scale_max[s] or 1.0
    px, py, mid = x0 + AXIS_W, y0 + 14, y0 + 14 + H / 2
    out = [f"<text x='{x0:g}' y='{y0 + 11:g}' fill='{T['fg']}'>{E(b.names[s])}</text>",
           f"<rect x='{px - 0.5:g}' y='{py - 0.5:g}' width='{n * bw + 1}' height='{H + 1}' fill='{T['bg']}' "
           f"stroke='{T['border']}'/>"]
    flat = not b.scale_max[s] > 0  # all zero (e.g. h_0): only the "0" label
    for label, y in (("" if flat else f"+{b.axis[s]}", py + 9), ("0", mid + 3.5),
                     ("" if flat else f"\u2212{b.axis[s]}", py + H - 1)):
        out.append(f"<text x='{px - 3:g}' y='{y:g}' text-anchor='end' font-size='10' fill='{T['fg-muted']}'>{E(label)}</text>")
    for i, x in enumerate(v):
        bx = px + i * bw
        if blk[i] or not np.isfinite(x):
            out.append(f"<rect x='{bx:g}' y='{py:g}' width='{bw}' height='{H}' "
                       f"fill='{hexc['blocked' if blk[i] else 'nonfinite']}'/>")
            continue
        h = max(1.0, round(abs(float(x)) / m * (H / 2 - 2), 2))
        out.append(f"<rect x='{bx:g}' y='{mid - h if x >= 0 else mid:g}' width='{max(1, bw - (bw > 3))}' "
                   f"height='{h:g}' fill='{hexc['positive' if x >= 0 else 'negative']}'/>")
    out.append(f"<line x1='{px:g}' y1='{mid:g}' x2='{px + n * bw:g}' y2='{mid:g}' stroke='{T['fg-muted']}'/>")
    for idx, colour, dash in ((b.marks[s], T["mark"], ""), (b.highlights[s], T["highlight"], " stroke-dasharray='3 2'")):
        if 0 <= idx < n:
            out.append(f"<rect x='{px + idx * bw:g}' y='{py + 1:g}' width='{max(bw, 2)}' height='{H - 2}' fill='none' "
                       f"stroke='{colour}' stroke-width='2'{dash}/>")
    g = b.scale_groups[s]
    first = g and b.scale_groups.index(g) == s  # said once, under the group's first series
    note = " · ".join(p for p in (b.notes[s], b.texts.get("shared", "").replace("{group}", g) if first else "") if p)
    if note:
        out.append(f"<text x='{px:g}' y='{py + H + 12:g}' fill='{T['fg-muted']}'>{E(note)}</text>")
    return out


def panel_svg(b, max_width: int = 1200) -> tuple[str, int, int]:
    """``b`` (a BarsCanvas) as an SVG fragment in light theme colours, and its width and height in px.

    Groups run left to right and wrap at ``max_width``; an arrow always travels with the group it points into.
    Example: ``svg, w, h = panel_svg(bars)``
    """
    T, E = palette.light_theme(), html.escape
    series = b.series_list()
    out = [f"<g font-family='monospace' font-size='11'>"]
    y = 0
    if b.title:
        out.append(f"<text x='0' y='12' font-weight='600' fill='{T['fg']}'>{E(b.title)}</text>")
        y = 18
    x, row_h, width, box_h = 0, 0, 0, H + 30
    for gi, group in enumerate(b.groups):
        group = [s for s in group if s < len(series)]
        gw = max((AXIS_W + len(series[s][0]) * b.bar_px[s] + 2 for s in group), default=0)
        aw = 22 if gi and b.arrow else 0
        if x and x + aw + gw > max_width:
            x, y, row_h = 0, y + row_h + 8, 0
        gh = len(group) * box_h
        if aw:
            out.append(f"<text x='{x + 4}' y='{y + gh / 2 + 6:g}' font-size='18' fill='{T['fg-muted']}'>{E(b.arrow)}</text>")
        for k, s in enumerate(group):
            out += _series_svg(b, s, *series[s], x + aw, y + k * box_h)
        x += aw + gw + 8
        width, row_h = max(width, x), max(row_h, gh)
    y += row_h
    legend = [b.texts.get("signs", "")]
    legend += [b.texts.get(k, "") for k, idx in (("mark", b.marks), ("highlight", b.highlights)) if any(i >= 0 for i in idx)]
    out.append(f"<text x='0' y='{y + 12}' fill='{T['fg-muted']}'>{E(' · '.join(p for p in legend if p))}</text></g>")
    return "".join(out), max(width, 240), y + 18


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
        b.set_series([("x_t", x, None, -1, ""), ("i", i, None, -1, ""), ("f", f, None, -1, ""),
                      ("ms per tick", ms, None, 3, "", int(ms.argmax()))],
                     groups=[[0], [1, 2], [3]], scales={1: "gates", 2: "gates"}, units={3: "ms"})
        b.scale_max   # [max|x|, max(|i|,|f|), max(|i|,|f|), max ms]
    """

    _esm = STATIC / "bars.js"
    _css = STATIC / "tr.css"
    title = t.Unicode("").tag(sync=True)
    values = t.Bytes(b"").tag(sync=True)
    blocked = t.Bytes(b"").tag(sync=True)
    lengths = t.List(t.Int()).tag(sync=True)
    names = t.List(t.Unicode()).tag(sync=True)
    notes = t.List(t.Unicode()).tag(sync=True)
    marks = t.List(t.Int()).tag(sync=True)  # the current step / query, one per series (-1: none)
    highlights = t.List(t.Int()).tag(sync=True)  # the largest weight / new token, one per series (-1: none)
    units = t.List(t.Unicode()).tag(sync=True)
    scale_groups = t.List(t.Unicode()).tag(sync=True)  # "" : the series' own scale
    scale_max = t.List(t.Float()).tag(sync=True)  # the axis maximum each series is drawn with
    axis = t.List(t.Unicode()).tag(sync=True)  # the axis label of each maximum ("1.51", "111 ms")
    groups = t.List(t.List(t.Int())).tag(sync=True)
    arrow = t.Unicode("→").tag(sync=True)
    step = t.Int(0).tag(sync=True)
    bar_px = t.List(t.Int()).tag(sync=True)  # pixels per bar, one per series
    colours = colours_trait()
    theme_light = t.Dict(palette.light_theme()).tag(sync=True)  # where --tr-* is not defined
    texts = t.Dict().tag(sync=True)  # the words bars.js shows: i18n "bars." keys, in the language it was built in
    _safe = safe_text(("title", "names", "notes", "units", "scale_groups"))

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
        vals = [np.asarray(s[1], dtype=np.float32).ravel() for s in series]
        blocked = [None if s[2] is None else np.asarray(s[2], dtype=bool).ravel() for s in series]
        scale_groups = [str(g) for g in per_series(scales, n, "", "scales")]
        unit_list = [str(u) for u in per_series(units, n, "", "units")]
        maxima = scale_maxima(vals, blocked, scale_groups)
        with self.hold_sync():
            self.values = np.concatenate(vals).tobytes() if vals else b""
            self.blocked = (np.concatenate([np.zeros(len(v), np.uint8) if b is None else b.astype(np.uint8)
                                            for b, v in zip(blocked, vals)]).tobytes()
                            if any(b is not None for b in blocked) else b"")
            self.lengths = [len(v) for v in vals]
            self.bar_px = [palette.bar_px(len(v)) for v in vals]
            self.names = [str(s[0]) for s in series]
            self.marks = [int(s[3]) for s in series]
            self.highlights = [int(s[5]) if len(s) > 5 and s[5] is not None else -1 for s in series]
            self.notes = [str(s[4]) for s in series]
            self.units = unit_list
            self.scale_groups = scale_groups
            self.scale_max = maxima
            self.axis = [axis_text(m, u) for m, u in zip(maxima, unit_list)]
            self.groups = groups if groups is not None else [[i] for i in range(n)]

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
        """Each series as a small inline SVG bar chart, in the flow's group order (arrows travel with their group)."""
        series = self.series_list()
        cols = []
        for gi, group in enumerate(self.groups):
            charts = [bars_svg(self.names[s], *series[s], self.marks[s], self.notes[s])
                      for s in group if s < len(series)]
            arrow = (f"<div style='font-size:20px;color:{palette.theme_css('fg-muted')}'>{html.escape(self.arrow)}</div>"
                     if gi and self.arrow else "")
            cols.append("<div style='display:flex;align-items:center;gap:4px'>" + arrow +
                        "<div style='display:flex;flex-direction:column;gap:4px'>" + "".join(charts) + "</div></div>")
        return (f"<div class='tr-bars-snapshot' style='max-width:100%'><div style='font-weight:600'>"
                f"{html.escape(self.title)}</div>"
                f"<div style='display:flex;flex-wrap:wrap;gap:6px;align-items:center'>{''.join(cols)}</div></div>")

    def snapshot_svg(self) -> tuple[str, int, int]:
        """The panel as an SVG fragment (light theme colours, drawn from the origin) and its width and height.

        Example: ``svg, w, h = b.snapshot_svg(); f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}'>{svg}</svg>"``
        """
        return panel_svg(self)

    def __repr__(self) -> str:
        return f"BarsCanvas(title={self.title!r}, series={list(zip(self.names, self.lengths))})"
