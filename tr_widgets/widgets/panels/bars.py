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
from ...views.image import MONO, SANS, text_px
from .common import STATIC, Quiet, Snapshot, colours_trait, safe_text
from ..markup import bars_svg

H = 40  # canvas height in px (the JavaScript's H)


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
        # the float32 maximum, written as the shortest decimal that reads back as it (fewer bytes per frame)
        own.append(float(str(np.float32(np.abs(v[ok]).max()))) if ok.any() else 0.0)
    shared: dict[str, float] = {}
    for m, g in zip(own, scales):
        if g:
            shared[g] = max(shared.get(g, 0.0), m)
    return [shared[g] if g else m for m, g in zip(own, scales)]


def axis_text(m: float, unit: str = "") -> str:
    """The axis label of maximum ``m``: 3 significant digits and the unit. Example: ``axis_text(111.2, "ms") == "111 ms"``"""
    return f"{m:.3g}" + (f" {unit}" if unit else "")


def drawn_up(values, blocked, scales) -> list[bool]:
    """Whether each series is drawn from a zero line at the bottom (axis 0 … max), as bars.js decides:
    no negative finite, unblocked value in its scale group (a series without a group: in itself).

    Example: ``drawn_up([np.r_[1., 2], np.r_[-1.], np.r_[3.]], [None] * 3, ["", "g", "g"]) == [True, False, False]``
    """
    own = [not bool(((v < 0) & (np.ones(len(v), bool) if b is None else ~np.asarray(b, bool))).any())
           for v, b in zip(values, blocked)]
    return [all(o for o, h in zip(own, scales) if h == g) if g else ok for ok, g in zip(own, scales)]


NAME_H, NOTE_H, AXIS_GAP = 14, 14, 3  # px: the series name's row, the note's row, axis to chart


def _axis(b, s: int, up: bool) -> list[str]:
    """The value axis labels top, middle, bottom, as bars.js writes them."""
    label, flat = b.axis[s], not b.scale_max[s] > 0
    return ["", "0", ""] if flat else [label, "", "0"] if up else [f"+{label}", "0", f"\u2212{label}"]


def _chart_size(b, s: int, n: int, axis: bool) -> tuple[float, float, float]:
    """(width, height, axis width) of series ``s``'s chart box: name, axis and canvas, note."""
    aw = max(32.0, max(text_px(t, 10) for t in _axis(b, s, False))) + AXIS_GAP if axis else 0.0
    wd = max(text_px(b.names[s], 11), aw + max(8, n * b.bar_px[s]) + 2, text_px(_note(b, s), 11))
    return wd, NAME_H + H + 2 + (NOTE_H if _note(b, s) else 0), aw


def _note(b, s: int) -> str:
    g = b.scale_groups[s]
    first = g and b.scale_groups.index(g) == s  # said once, under the group's first series
    return " · ".join(p for p in (b.notes[s], b.texts.get("shared", "").replace("{group}", g) if first else "") if p)


def _series_svg(b, s: int, v: np.ndarray, blk: np.ndarray, x0: float, y0: float, up: bool, axis: bool) -> list[str]:
    """One chart of ``b``'s series ``s`` at (x0, y0): name, value axis, bars, zero line, marks, note."""
    T, E = palette.light_theme(), html.escape
    hexc = {k: "#%02x%02x%02x" % c for k, c in palette.COLOURS.items()}
    n, bw, m = len(v), b.bar_px[s], b.scale_max[s] or 1.0
    aw = _chart_size(b, s, n, axis)[2]
    px, py = x0 + aw + 1, y0 + NAME_H + 1  # the canvas inside its 1 px border
    up = up and b.scale_max[s] > 0
    mid, room = (py + H - 1, H - 3) if up else (py + H / 2, H / 2 - 2)  # the zero line's row, the bars' reach
    out = [f"<text x='{x0:g}' y='{y0 + 10:g}' font-size='11' fill='{T['fg']}'>{E(b.names[s])}</text>",
           f"<rect x='{px - 0.5:g}' y='{py - 0.5:g}' width='{max(8, n * bw) + 1}' height='{H + 1}' fill='{T['bg']}' "
           f"stroke='{T['border']}'/>"]
    if axis:
        for label, y in zip(_axis(b, s, up), (py + 8, py + H / 2 + 4, py + H)):
            if label:
                out.append(f"<text x='{px - 1 - AXIS_GAP:g}' y='{y:g}' text-anchor='end' font-size='10' "
                           f"fill='{T['fg-muted']}'>{E(label)}</text>")
    for i, x in enumerate(v):
        bx = px + i * bw
        if blk[i] or not np.isfinite(x):
            out.append(f"<rect x='{bx:g}' y='{py:g}' width='{bw}' height='{H}' "
                       f"fill='{hexc['blocked' if blk[i] else 'nonfinite']}'/>")
            if blk[i] and bw >= 3:
                cut = lambda y: max(0, y + bw - H)  # noqa: E731  the part of a stroke below the chart
                out.append(f"<path d='{''.join(f'M{bx + cut(y):g},{py + y + bw - cut(y):g}l{bw - cut(y)},{cut(y) - bw}' for y in range(0, H, bw))}' "
                           f"stroke='{T['hatch']}' stroke-width='1'/>")
            continue
        h = max(1.0, round(min(abs(float(x)) / m, 1.0) * room))
        out.append(f"<rect x='{bx:g}' y='{mid - h if x >= 0 else mid:g}' width='{max(1, bw - (bw > 3))}' "
                   f"height='{h:g}' fill='{hexc['positive' if x >= 0 else 'negative']}'/>")
    out.append(f"<rect x='{px:g}' y='{mid:g}' width='{max(8, n * bw)}' height='1' fill='{T['fg-muted']}'/>")
    for idx, colour, dash in ((b.highlights[s], T["highlight"], " stroke-dasharray='3 2'"), (b.marks[s], T["mark"], "")):
        if 0 <= idx < n:
            wd = max(bw, 3)
            out.append(f"<rect x='{px + idx * bw + (bw - wd) / 2 + 1:g}' y='{py + 1:g}' width='{max(wd - 2, 1)}' "
                       f"height='{H - 2}' fill='none' stroke='{colour}' stroke-width='2'{dash}/>")
    if _note(b, s):
        out.append(f"<text x='{x0:g}' y='{py + H + 1 + 11:g}' font-size='11' fill='{T['fg-muted']}'>{E(_note(b, s))}</text>")
    return out


def _group_layout(b, group, series) -> tuple[list[tuple[int, float, float, bool]], float, float]:
    """Where each chart of a group sits: one column, or two abreast for three or more (bars.js's grid)."""
    cols = 2 if len(group) >= 3 else 1
    cells = []
    for k, s in enumerate(group):
        repeat = cols == 2 and k % 2 and b.scale_groups[s] and b.scale_groups[s] == b.scale_groups[group[k - 1]]
        cells.append((s, *_chart_size(b, s, len(series[s][0]), not repeat)[:2], not repeat))
    col_w = [max((c[1] for c in cells[j::cols]), default=0) for j in range(cols)]
    row_h = [max(c[2] for c in cells[r * cols:(r + 1) * cols]) for r in range((len(cells) + cols - 1) // cols)]
    placed = [(s, sum(col_w[:k % cols]) + 8 * (k % cols), sum(row_h[:k // cols]) + 4 * (k // cols), axis)
              for k, (s, _, _, axis) in enumerate(cells)]
    return placed, sum(col_w) + 8 * (cols - 1), sum(row_h) + 4 * (len(row_h) - 1)


def _legend(b, series) -> list[tuple[list[str], str]]:
    """The legend's items, as bars.js lists them: (swatch colours, words)."""
    T = palette.light_theme()
    hexc = {k: "#%02x%02x%02x" % c for k, c in palette.COLOURS.items()}
    items = [([hexc["positive"], hexc["negative"]], b.texts.get("signs", ""))]
    if any(i >= 0 for i in b.marks):
        items.append(([T["mark"]], b.texts.get("mark", "")))
    if any(i >= 0 for i in b.highlights):
        items.append(([T["highlight"]], b.texts.get("highlight", "")))
    if any(blk.any() for _, blk in series):
        items.append(([hexc["blocked"]], b.texts.get("blocked", "")))
    if any((~blk & ~np.isfinite(v)).any() for v, blk in series):
        items.append(([hexc["nonfinite"]], b.texts.get("nonfinite", "")))
    return [(c, words) for c, words in items if words]


def panel_svg(b, max_width: int = 1200) -> tuple[str, int, int]:
    """``b`` (a BarsCanvas) as an SVG fragment in light theme colours, and its width and height in px.

    The layout is bars.js's: groups left to right (wrapping at ``max_width``; an arrow travels with the group it
    points into), charts ``H`` px tall, a group of three or more two abreast, non-negative series from the bottom.
    Example: ``svg, w, h = panel_svg(bars)``
    """
    T, E = palette.light_theme(), html.escape
    series = b.series_list()
    up = drawn_up([v for v, _ in series], [blk for _, blk in series], b.scale_groups)
    out = [f"<g font-family='{MONO}'>"]
    y = 0
    if b.title:
        out.append(f"<text x='0' y='13' font-family='{SANS}' font-size='12' font-weight='600' fill='{T['fg']}'>{E(b.title)}</text>")
        y = 20
    x, width = 0.0, text_px(b.title, 12)
    arrow_w = 16 * len(b.arrow) + 10 if b.arrow else 0  # an arrow glyph is about 0.84 em
    rows: list[list] = [[]]
    for gi, group in enumerate(b.groups):
        group = [s for s in group if s < len(series)]
        cells, gw, gh = _group_layout(b, group, series)
        aw = arrow_w if gi and b.arrow else 0
        if x and x + aw + gw > max_width:
            rows.append([])
            x = 0.0
        rows[-1].append((x, aw, cells, gh))
        x += aw + gw + 4
        width = max(width, x - 4)
    for row in rows:
        row_h = max((g[3] for g in row), default=0)
        for gx, aw, cells, gh in row:
            top = y + (row_h - gh) / 2  # align-items: center
            if aw:
                out.append(f"<text x='{gx + 4:g}' y='{y + row_h / 2 + 5:g}' font-family='{SANS}' font-size='16' "
                           f"fill='{T['fg-muted']}'>{E(b.arrow)}</text>")
            for s, cx, cy, axis in cells:
                out += _series_svg(b, s, *series[s], gx + aw + cx, top + cy, up[s], axis)
        y += row_h + 6
    y += 0 if rows == [[]] else -3
    lx, ly = 0.0, y
    limit = max(width, 420)
    for colours, words in _legend(b, series):
        iw = 12 * len(colours) + text_px(words, 11)
        if lx and lx + iw > limit:
            lx, ly = 0.0, ly + 15
        for k, c in enumerate(colours):
            out.append(f"<rect x='{lx + 12 * k:g}' y='{ly + 4:g}' width='9' height='9' fill='{c}'/>")
        out.append(f"<text x='{lx + 12 * len(colours):g}' y='{ly + 13:g}' font-family='{SANS}' font-size='11' "
                   f"fill='{T['fg-muted']}'>{E(words)}</text>")
        width = max(width, lx + iw)
        lx += iw + 10
    out.append("</g>")
    return "".join(out), int(max(width, 240) + 1.999), int(ly + 18)


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
