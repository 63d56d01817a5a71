"""The Look of a bar panel: one frozen dataclass with every decision made, for every painter to draw.

A bar panel (``widgets`` BarsCanvas) shows small multiples of float32 vectors in a left-to-right flow of
groups. Everything a reader sees is decided here, once: each chart's bar width and height, its axis
maximum (shared within a scale group) and the axis texts with their unit, whether it is drawn from a
zero line at the bottom (no negative value in its group) or about one in the middle, which chart repeats
its neighbour's axis (kept hidden), the notes, the marks, the legend items that apply to this data (no
"red: positive · blue: negative" under all-positive bars), and where each chart, arrow and legend item
sits in a picture. Colours are palette names (``views.palette``: a theme colour first, else a data colour).
The browser (``static/bars.js``) and the SVG writer (``views.svg``) only paint a Look.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .image import text_px
from .palette import bar_px

CHART_H = 40  # px of one chart's plot: compact, so a stepper fits in about one screen
NAME_H, NOTE_H, AXIS_GAP = 14, 14, 3  # px: the series name's row, the note's row, axis to plot
AXIS_MIN = 32  # px the value axis takes at least (about "+0.00")
NAME_PX, AXIS_PX, TITLE_PX, ARROW_PX = 11, 10, 12, 16  # font sizes
PICTURE_W = 1200  # px a picture's flow wraps at
LEGEND_MIN = 420  # px a legend row may take before it wraps


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
    """Whether each series is drawn from a zero line at the bottom (axis 0 … max): no negative finite,
    unblocked value in its scale group (a series without a group: in itself).

    Example: ``drawn_up([np.r_[1., 2], np.r_[-1.], np.r_[3.]], [None] * 3, ["", "g", "g"]) == [True, False, False]``
    """
    own = [not bool(((v < 0) & (np.ones(len(v), bool) if b is None else ~np.asarray(b, bool))).any())
           for v, b in zip(values, blocked)]
    return [all(o for o, h in zip(own, scales) if h == g) if g else ok for ok, g in zip(own, scales)]


def axis_labels(label: str, m: float, up: bool) -> tuple[str, str, str]:
    """The value axis texts top, middle, bottom. Example: ``axis_labels("2", 2.0, False) == ("+2", "0", "−2")``"""
    return ("", "0", "") if not m > 0 else (label, "", "0") if up else (f"+{label}", "0", f"\u2212{label}")


@dataclass(frozen=True, eq=False)
class BarChart:
    """One chart of a bar panel: its values and every decision about how it is drawn.

    ``axis_px`` 0: the axis repeats its left neighbour's (on one scale) and is not shown. ``x``, ``y``: the
    chart box's top left corner in the panel's picture.

    Example: ``bars_look("gates", [("i", np.r_[0.5, -1.0], None, 1, ""), ("f", np.r_[0.25, 0.75], None, 1, "")], [[0, 1]], ["g", "g"], ["", ""], {"shared": "one scale: {group}"}).charts[0].plot_w == 2 * bar_px(2)``
    """

    name: str
    values: np.ndarray  # float32 [n]
    blocked: np.ndarray  # bool [n]
    bar_px: int
    scale_max: float  # the maximum the bars are drawn with (0: all zero, drawn flat)
    up: bool  # drawn from a zero line at the bottom (and not flat)
    axis: tuple  # the value axis texts top, middle, bottom ("" none)
    axis_px: int
    note: str
    mark: int  # the current step / query, outlined in "mark" (-1: none)
    highlight: int  # the largest weight / new token, dashed in "highlight" (-1: none)
    x: float
    y: float

    @property
    def plot_w(self) -> int:
        """Width of the plot in px: ``max(8, len(values) * bar_px)``."""
        return max(8, len(self.values) * self.bar_px)

    @property
    def plot_x(self) -> float:
        """The plot's left edge in the picture (inside its 1 px border)."""
        return self.x + (self.axis_px + AXIS_GAP if self.axis_px else 0) + 1

    @property
    def box(self) -> tuple[float, float]:
        """(width, height) of the chart box: name, axis and plot, note."""
        width = max(text_px(self.name, NAME_PX), self.plot_x - self.x + self.plot_w + 1, text_px(self.note, NAME_PX))
        return width, NAME_H + CHART_H + 2 + (NOTE_H if self.note else 0)


@dataclass(frozen=True)
class LegendItem:
    """One legend entry: swatches (palette names) and words, at (x, y) in the picture.

    Example: ``LegendItem(("mark",), "red outline: current step").colours == ("mark",)``
    """

    colours: tuple
    words: str
    x: float = 0.0
    y: float = 0.0
    key: str = ""  # the words' key in the panel's texts


@dataclass(frozen=True, eq=False)
class BarsLook:
    """A bar panel as shown: title, charts, the groups of the flow (columns each), arrows, legend, size.

    Example: ``bars_look("gates", [("i", np.r_[0.5, -1.0], None, 1, ""), ("f", np.r_[0.25, 0.75], None, 1, "")], [[0, 1]], ["g", "g"], ["", ""], {"shared": "one scale: {group}"}).columns == (1,)``
    """

    title: str
    charts: tuple
    groups: tuple  # chart indices of each group of the flow
    columns: tuple  # 1 or 2 charts abreast, per group
    arrow: str  # between groups ("" none)
    arrows: tuple  # (x, y) of each arrow's text in the picture
    legend: tuple  # LegendItem, ...
    width: int
    height: int


def _legend_words(charts, texts: dict) -> list[tuple[tuple, str, str]]:
    """The legend items that apply to these charts: (palette names, words, their key in ``texts``)."""
    def shown(i, c):
        return 0 <= i < len(c.values)
    live = [(c.values, c.blocked) for c in charts]
    items = [(("positive", "negative"), "signs", any(((v < 0) & ~b).any() for v, b in live)),
             (("mark",), "mark", any(shown(c.mark, c) for c in charts)),
             (("highlight",), "highlight", any(shown(c.highlight, c) for c in charts)),
             (("blocked",), "blocked", any(b.any() for _, b in live)),
             (("nonfinite",), "nonfinite", any((~b & ~np.isfinite(v)).any() for v, b in live))]
    return [(colours, texts[key], key) for colours, key, holds in items if holds and texts.get(key)]


def _chart(name, v, blk, m: float, label: str, up: bool, note: str, mark: int, high: int, repeat: bool) -> BarChart:
    """One chart with its axis decided (``repeat``: its left neighbour's axis, not shown)."""
    axis = axis_labels(label, m, up)
    widest = max(text_px(t, AXIS_PX) for t in axis_labels(label, m, False))  # the signed texts: one width either way
    return BarChart(name, v, blk, bar_px(len(v)), m, up and m > 0, axis, 0 if repeat else int(max(AXIS_MIN, widest) + 0.999),
                    note, mark, high, 0.0, 0.0)


def _charts(series, groups, scales, units, texts) -> list[BarChart]:
    """Every series' chart: scale, axis texts, notes (a shared scale said once, under its first chart)."""
    vals = [np.asarray(s[1], dtype=np.float32).ravel() for s in series]
    blocked = [np.zeros(len(v), bool) if s[2] is None else np.asarray(s[2], bool).ravel() for s, v in zip(series, vals)]
    maxima = scale_maxima(vals, blocked, scales)
    up = drawn_up(vals, blocked, scales)
    repeat = set()  # two abreast on one scale: the right chart's axis is its left neighbour's
    for group in groups:
        if len(group) >= 3:
            repeat |= {s for k, s in enumerate(group) if k % 2 and scales[s] and scales[s] == scales[group[k - 1]]}
    charts = []
    for s, (entry, v, blk) in enumerate(zip(series, vals, blocked)):
        g = scales[s]
        shared = texts.get("shared", "").replace("{group}", g) if g and scales.index(g) == s else ""
        note = " · ".join(p for p in (str(entry[4]), shared) if p)
        high = int(entry[5]) if len(entry) > 5 and entry[5] is not None else -1
        charts.append(_chart(str(entry[0]), v, blk, maxima[s], axis_text(maxima[s], units[s]), up[s], note,
                             int(entry[3]), high, s in repeat))
    return charts


def _group_cells(charts, group) -> tuple[list[tuple[int, float, float]], float, float]:
    """Where each chart of a group sits: one column, or two abreast for three or more; the group's size."""
    cols = 2 if len(group) >= 3 else 1
    boxes = [charts[s].box for s in group]
    col_w = [max((b[0] for b in boxes[j::cols]), default=0) for j in range(cols)]
    row_h = [max(b[1] for b in boxes[r * cols:(r + 1) * cols]) for r in range((len(boxes) + cols - 1) // cols)]
    cells = [(s, sum(col_w[:k % cols]) + 8 * (k % cols), sum(row_h[:k // cols]) + 4 * (k // cols))
             for k, s in enumerate(group)]
    return cells, sum(col_w) + 8 * (cols - 1), sum(row_h) + 4 * (len(row_h) - 1)


def _place(charts, groups, title: str, arrow: str, max_width: float):
    """The flow as a picture: groups left to right, wrapping at ``max_width`` (an arrow travels with the group
    it points into), each row's groups centred on it. Returns (charts placed, arrows, width, bottom)."""
    y = 20 if title else 0
    x, width = 0.0, text_px(title, TITLE_PX)
    arrow_w = ARROW_PX * len(arrow) + 10 if arrow else 0  # an arrow glyph is about 0.84 em
    rows: list[list] = [[]]
    for gi, group in enumerate(groups):
        cells, gw, gh = _group_cells(charts, group)
        aw = arrow_w if gi and arrow else 0
        if x and x + aw + gw > max_width:
            rows.append([])
            x = 0.0
        rows[-1].append((x, aw, cells, gh))
        x += aw + gw + 4
        width = max(width, x - 4)
    placed, arrows = list(charts), []
    for row in rows:
        row_h = max((g[3] for g in row), default=0)
        for gx, aw, cells, gh in row:
            top = y + (row_h - gh) / 2  # align-items: center
            if aw:
                arrows.append((gx + 4, y + row_h / 2 + 5))
            for s, cx, cy in cells:
                placed[s] = replace(charts[s], x=gx + aw + cx, y=top + cy)
        y += row_h + 6
    return placed, arrows, width, y + (0 if rows == [[]] else -3)


def _place_legend(items, width: float, y: float) -> tuple[list[LegendItem], float, float]:
    """Legend items left to right from (0, y), wrapping at the panel's width (at least LEGEND_MIN)."""
    lx, ly, limit, out = 0.0, y, max(width, LEGEND_MIN), []
    for colours, words, key in items:
        iw = 12 * len(colours) + text_px(words, NAME_PX)
        if lx and lx + iw > limit:
            lx, ly = 0.0, ly + 15
        out.append(LegendItem(colours, words, lx, ly, key))
        width = max(width, lx + iw)
        lx += iw + 10
    return out, width, ly + 18


def bars_look(title: str, series, groups, scales, units, texts: dict, arrow: str = "→",
              max_width: float = PICTURE_W, placed: bool = True) -> BarsLook:
    """The Look of a bar panel. ``series``: ``(name, values, blocked or None, mark, note[, highlight])`` each;
    ``groups``: lists of series indices; ``scales``/``units``: one group name / unit per series ("" none);
    ``texts``: the words (i18n "bars." keys without the prefix). ``placed=False`` leaves out where things sit in
    a picture (every x, y 0; width and height 0): the browser flows the charts itself, and a step is cheaper.

    Example: ``[c.scale_max for c in bars_look("gates", [("i", np.r_[0.5, -1.0], None, 1, ""), ("f", np.r_[0.25, 0.75], None, 1, "")], [[0, 1]], ["g", "g"], ["", ""], {"shared": "one scale: {group}"}).charts] == [1.0, 1.0]``  (one scale)
    """
    groups = [[s for s in group if 0 <= s < len(series)] for group in groups]
    charts = _charts(series, groups, list(scales), list(units), texts)
    look = BarsLook(title, tuple(charts), tuple(tuple(g) for g in groups),
                    tuple(2 if len(g) >= 3 else 1 for g in groups), arrow, (),
                    tuple(LegendItem(c, w, key=k) for c, w, k in _legend_words(charts, texts)), 0, 0)
    return place(look, max_width) if placed else look


def place(look: BarsLook, max_width: float = PICTURE_W) -> BarsLook:
    """``look`` with each chart, arrow and legend item placed in a picture, and the picture's size.

    Example: ``place(bars_look("t", [("a", np.r_[1.0], None, -1, "")], [[0]], [""], [""], {}, placed=False)).width >= 240``
    """
    groups = [list(g) for g in look.groups]
    charts, arrows, width, bottom = _place(list(look.charts), groups, look.title, look.arrow, max_width)
    legend, width, height = _place_legend([(i.colours, i.words, i.key) for i in look.legend], width, bottom)
    return BarsLook(look.title, tuple(charts), look.groups, look.columns, look.arrow, tuple(arrows), tuple(legend),
                    int(max(width, 240) + 1.999), int(height))
