"""The one SVG painter: every Look (``views.looks``) as an SVG fragment, for ``save()`` and the static snapshots.

It decides nothing: sizes, positions, texts, scales and legend items are the Look's. Colours are the Look's
palette names, resolved to the light theme's hex (a picture has no notebook theme): a theme colour first
(``palette.THEME``: mark, highlight, hatch...), else a data colour (``palette.COLOURS``: positive, blocked...),
the same rule ``static/bars.js`` paints by. Every fragment is drawn from the origin, with its size.
"""
from __future__ import annotations

import html
import math

import numpy as np

from .image import MONO, SANS, bar_png
from .looks import ARROW_PX, AXIS_GAP, AXIS_PX, CHART_H, NAME_H, NAME_PX, TITLE_PX, BarChart, BarsLook, bars_look  # noqa: F401
from .looks_matrix import BAR_GAP, BAR_W, LABEL_PX, MatrixLook, matrix_look  # noqa: F401  (examples)
from .matrix import AxisLabels  # noqa: F401  (examples)
from .looks_text import CELL_PAD, ROW_PX, TEXT_PX, Cell, Frame, Line, LineChartLook, TableLook, TextLook, TextRow  # noqa: F401
from .looks_graph import GraphLook, graph_look  # noqa: F401  (examples)
from .palette import COLOURS, THEME


def colour(name: str) -> str:
    """A palette name as light-theme hex: a theme colour first, else a data colour.

    Example: ``colour("mark") == "#d32f2f"; colour("positive") == "#b2182b"``
    """
    return THEME[name][2] if name in THEME else "#%02x%02x%02x" % COLOURS[name]


_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})  # html.escape's


def esc(s: str) -> str:
    """Text for an SVG element or attribute (``html.escape(s, quote=True)``, in one pass: a step escapes many
    labels). Example: ``esc("a<b") == "a&lt;b"``"""
    return s.translate(_ESCAPES)


def _hatch(x: float, bw: int) -> str:
    """The diagonal strokes over a blocked bar, cut at the plot's bottom as the canvas clips them."""
    def cut(y):
        return max(0, y + bw - CHART_H)
    d = "".join(f"M{x + cut(y):g},{y + bw - cut(y):g}l{bw - cut(y)},{cut(y) - bw}" for y in range(0, CHART_H, bw))
    return f"<path d='{d}' stroke='{colour('hatch')}' stroke-width='1'/>"


def plot_svg(c: BarChart) -> str:
    """The plot of chart ``c`` from the origin (what the browser's canvas holds): background, bars, zero line,
    the highlight's dashed and the mark's solid outline.

    Example: ``plot_svg(bars_look("t", [("a", np.r_[1.0, -0.5], None, 0, "")], [[0]], [""], [""], {}).charts[0]).startswith("<rect x='0' y='0'")``
    """
    bw, n, h = c.bar_px, len(c.values), CHART_H
    m = c.scale_max or 1.0
    mid, room = (h - 1, h - 3) if c.up else (h // 2, h // 2 - 2)  # the zero line's row, the bars' reach
    out = [f"<rect x='0' y='0' width='{c.plot_w}' height='{h}' fill='{colour('bg')}'/>"]
    for i, v in enumerate(c.values):
        x = i * bw
        if c.blocked[i] or not np.isfinite(v):
            out.append(f"<rect x='{x}' y='0' width='{bw}' height='{h}' fill='{colour('blocked' if c.blocked[i] else 'nonfinite')}'/>")
            if c.blocked[i] and bw >= 3:
                out.append(_hatch(x, bw))
            continue
        bh = max(1, math.floor(min(abs(float(v)) / m, 1.0) * room + 0.5))  # JavaScript's Math.round
        out.append(f"<rect x='{x}' y='{mid - bh if v >= 0 else mid}' width='{max(1, bw - (bw > 3))}' height='{bh}' "
                   f"fill='{colour('positive' if v >= 0 else 'negative')}'/>")
    out.append(f"<rect x='0' y='{mid}' width='{c.plot_w}' height='1' fill='{colour('fg-muted')}'/>")
    for idx, name, dash in ((c.highlight, "highlight", " stroke-dasharray='3 2'"), (c.mark, "mark", "")):
        if 0 <= idx < n:
            inset = 2 if name == "highlight" and c.mark == idx else 0  # a highlight under the mark stays visible
            wd = max(bw, 3)
            out.append(f"<rect x='{idx * bw + (bw - wd) / 2 + 1 + inset:g}' y='{1 + inset}' "
                       f"width='{max(wd - 2 - 2 * inset, 1)}' height='{h - 2 - 2 * inset}' fill='none' "
                       f"stroke='{colour(name)}' stroke-width='2'{dash}/>")
    return "".join(out)


def chart_svg(c: BarChart) -> str:
    """Chart ``c`` at its place: name, value axis, the bordered plot, note.

    Example: ``">a</text>" in chart_svg(bars_look("t", [("a", np.r_[1.0, -0.5], None, 0, "")], [[0]], [""], [""], {}).charts[0])``
    """
    px, py = c.plot_x, c.y + NAME_H + 1  # the plot inside its 1 px border
    out = [f"<text x='{c.x:g}' y='{c.y + 10:g}' font-size='{NAME_PX}' fill='{colour('fg')}'>{esc(c.name)}</text>",
           f"<rect x='{px - 0.5:g}' y='{py - 0.5:g}' width='{c.plot_w + 1}' height='{CHART_H + 1}' fill='none' "
           f"stroke='{colour('border')}'/>"]
    if c.axis_px:
        for label, y in zip(c.axis, (py + 8, py + CHART_H / 2 + 4, py + CHART_H)):
            if label:
                out.append(f"<text x='{px - 1 - AXIS_GAP:g}' y='{y:g}' text-anchor='end' font-size='{AXIS_PX}' "
                           f"fill='{colour('fg-muted')}'>{esc(label)}</text>")
    out.append(f"<g transform='translate({px:g},{py:g})'>{plot_svg(c)}</g>")
    if c.note:
        out.append(f"<text x='{c.x:g}' y='{py + CHART_H + 12:g}' font-size='{NAME_PX}' "
                   f"fill='{colour('fg-muted')}'>{esc(c.note)}</text>")
    return "".join(out)


def bars_svg(look: BarsLook) -> tuple[str, int, int]:
    """A bar panel's Look as an SVG fragment (light theme), and its width and height in px.

    Example: ``bars_svg(bars_look("t", [("a", np.r_[1.0, -0.5], None, 0, "")], [[0]], [""], [""], {}))[1] >= 240``
    """
    muted = colour("fg-muted")
    out = [f"<g font-family='{MONO}'>"]
    if look.title:
        out.append(f"<text x='0' y='13' font-family='{SANS}' font-size='{TITLE_PX}' font-weight='600' "
                   f"fill='{colour('fg')}'>{esc(look.title)}</text>")
    out += [f"<text x='{x:g}' y='{y:g}' font-family='{SANS}' font-size='{ARROW_PX}' fill='{muted}'>{esc(look.arrow)}</text>"
            for x, y in look.arrows]
    out += [chart_svg(look.charts[s]) for group in look.groups for s in group]
    for item in look.legend:
        out += [f"<rect x='{item.x + 12 * k:g}' y='{item.y + 4:g}' width='9' height='9' fill='{colour(c)}'/>"
                for k, c in enumerate(item.colours)]
        out.append(f"<text x='{item.x + 12 * len(item.colours):g}' y='{item.y + 13:g}' font-family='{SANS}' "
                   f"font-size='{NAME_PX}' fill='{muted}'>{esc(item.words)}</text>")
    out.append("</g>")
    return "".join(out), look.width, look.height


def _matrix_labels(m: MatrixLook) -> list[str]:
    """The row labels right-aligned left of the window, the column labels under it (rotated where the Look says)."""
    font = f"font-size='{LABEL_PX}' fill='{colour('fg')}'"
    (w, h), out = m.window, []
    for i, s in zip(m.row_labels.ticks, m.row_labels.texts):
        out.append(f"<text x='{m.x0 - 4:g}' y='{m.y0 + (i + .5) * m.cell_h + 4:g}' text-anchor='end' {font}>{esc(s)}</text>")
    cy = m.y0 + h + 4
    for j, s in zip(m.col_labels.ticks, m.col_labels.texts):
        cx = m.x0 + (j + .5) * m.cell_w
        if m.col_labels.rotate:
            out.append(f"<text transform='translate({cx + 4:g},{cy}) rotate(-90)' text-anchor='end' {font}>{esc(s)}</text>")
        else:
            out.append(f"<text x='{cx:g}' y='{cy + 10}' text-anchor='middle' {font}>{esc(s)}</text>")
    return out


def _matrix_bar(m: MatrixLook) -> list[str]:
    """The colour bar right of the window, with its ticks."""
    bx, by, bh = m.x0 + m.window[0] + BAR_GAP, m.y0, m.bar_h
    out = [f"<image x='{bx:g}' y='{by}' width='{BAR_W}' height='{bh}' preserveAspectRatio='none' "
           f"href='{bar_png(m.cmap)}'/>"] if m.ticks else []
    for pos, s in m.ticks:
        ty = by + (1 - pos) * bh
        out.append(f"<line x1='{bx + BAR_W:g}' x2='{bx + BAR_W + 3:g}' y1='{ty:g}' y2='{ty:g}' stroke='{colour('fg')}'/>"
                   f"<text x='{bx + BAR_W + 5:g}' y='{ty + 4:g}' font-size='{LABEL_PX}' fill='{colour('fg')}'>{esc(s)}</text>")
    return out


def matrix_svg(m: MatrixLook) -> tuple[str, int, int]:
    """A matrix panel's Look as an SVG fragment (light theme), and its width and height in px.

    Example: ``matrix_svg(matrix_look("w", "data:,", 2, 2, 24, 24, AxisLabels([0, 1], ["a", "b"]), AxisLabels([], []), "query", "key", (), "sequential", ((0.0, "0"), (1.0, "1")), ""))[0].startswith("<g font-family")``
    """
    (w, h), muted = m.window, colour("fg-muted")
    out = [f"<g font-family='{SANS}'><rect x='0' y='0' width='{m.width}' height='{m.height}' fill='{colour('bg')}'/>"]
    out += [f"<text x='0' y='{13 + 16 * i}' font-size='{TITLE_PX}' font-weight='600' fill='{colour('fg')}'>{esc(s)}</text>"
            for i, s in enumerate(m.title_lines)]
    out += [f"<text x='{m.x0 - 4:g}' y='{m.y0 - 5}' text-anchor='end' font-size='{LABEL_PX}' fill='{muted}'>"
            f"{esc(m.row_axis)} ↓</text>",
            f"<image x='{m.x0:g}' y='{m.y0}' width='{w}' height='{h}' preserveAspectRatio='none' "
            f"style='image-rendering:pixelated' href='{m.png}'/>",
            f"<rect x='{m.x0 - .5:g}' y='{m.y0 - .5}' width='{w + 1}' height='{h + 1}' fill='none' "
            f"stroke='{colour('border')}'/>"]
    out += _matrix_labels(m)
    out.append(f"<text x='{m.x0:g}' y='{m.axis_y:g}' font-size='{LABEL_PX}' fill='{muted}'>{esc(m.col_axis)} →</text>")
    for kind, k, name, dashed in m.marks:  # inside the window, as the canvas strokes them (matrix/paint.js)
        x, y, mw, mh = ((m.x0 + 1, m.y0 + k * m.cell_h, w - 2, max(m.cell_h, 2)) if kind == "row"
                        else (m.x0 + k * m.cell_w, m.y0 + 1, max(m.cell_w, 2), h - 2))
        dash = " stroke-dasharray='4 2'" if dashed else ""
        out.append(f"<rect x='{x:g}' y='{y}' width='{mw}' height='{mh}' fill='none' stroke='{colour(name)}' "
                   f"stroke-width='2'{dash}/>")
    out += _matrix_bar(m)
    out += [f"<text x='0' y='{m.bottom + 12 + 14 * i:g}' font-size='{LABEL_PX}' fill='{muted}'>{esc(s)}</text>"
            for i, s in enumerate(m.caption_lines)]
    return "".join(out) + "</g>", m.width, m.height


def _row(x: float, y: float, s: str, fill: str, bold: bool = False, anchor: str = "start") -> str:
    """One text row with its top at ``y`` (the picture's font size and family are the document's)."""
    weight = " font-weight='bold'" if bold else ""
    end = f" text-anchor='{anchor}'" if anchor != "start" else ""
    return (f"<text x='{x:g}' y='{y + TEXT_PX:g}' fill='{fill}'{weight}{end} xml:space='preserve'>"
            f"{html.escape(s, quote=False)}</text>")


def text_svg(look: TextLook) -> tuple[str, float, int]:
    """Rows of text as an SVG fragment, and its size. Example: ``text_svg(TextLook((TextRow("t = 3"),), 37.2, 16))[2] == 16``"""
    return "".join(_row(0, i * ROW_PX, r.text, colour(r.colour), r.bold) for i, r in enumerate(look.rows)), \
        look.width, look.height


def table_svg(look: TableLook) -> tuple[str, float, int]:
    """A table as aligned columns on its grid (header cells bold on bg-alt), and its size. Each grid line is one
    whole pixel (a rect's edge half a pixel in), as the live table's collapsed 1 px borders are.

    Example: ``table_svg(TableLook(((Cell("w", True),), (Cell("0.25"),)), (40.0,)))[2] == 32 + 1``
    """
    xs = [sum(look.widths[:c]) for c in range(len(look.widths) + 1)]
    out = []
    for i, row in enumerate(look.rows):
        y, col = i * ROW_PX, 0
        for c in row:
            x0, x1 = xs[col], xs[col + c.span]
            out.append(f"<rect x='{x0 + .5:g}' y='{y + .5:g}' width='{x1 - x0:g}' height='{ROW_PX}' "  # lines on whole px
                       f"fill='{colour('bg-alt') if c.header else 'none'}' stroke='{colour('border')}'/>")
            out.append(_row(x1 - CELL_PAD if c.align == "end" else x0 + CELL_PAD, y + 1, c.text, colour("fg"), c.header,
                            c.align))
            col += c.span
    return "".join(out), xs[-1] + 1, len(look.rows) * ROW_PX + 1  # with the last grid line


def line_chart_svg(look: LineChartLook, paint=colour) -> str:
    """A line chart's Look as an inline SVG: gridlines with their values, each line, the current slot marked, and
    "t = 0" … "t = last" under the axis. ``paint`` turns a palette name into CSS: the light theme's hex for a
    picture, ``views.palette.theme_var`` for a live panel that follows the notebook's theme.

    Example: ``"<polyline" in line_chart_svg(LineChartLook(Frame(n=3, lo=0.0, hi=2.0), (Line([0, 1, 2], [0, 1, 2], "negative"),), 1, 2, "norms"))``
    """
    f = look.frame
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{f.width}' height='{f.height}' role='img' "
           f"aria-label='{esc(look.aria)}' style='font:10px monospace;border:1px solid {paint('border')};"
           f"fill:{paint('fg-muted')}'>"]
    for y, words in look.grid:
        out.append(f"<line x1='{f.left}' y1='{y:.1f}' x2='{f.width - f.right}' y2='{y:.1f}' "
                   f"style='stroke:{paint('bg-alt')}'/><text x='2' y='{y + 3:.1f}'>{esc(words)}</text>")
    for line in look.lines:
        pts = look.points(line)
        if not pts:
            continue
        css = f"class='{line.css}' " if line.css else ""
        dash = f" stroke-dasharray='{line.dash}'" if line.dash else ""
        out.append(f"<polyline {css}points='{' '.join(f'{x:.1f},{y:.1f}' for x, y in pts)}' "
                   f"style='fill:none;stroke:{paint(line.colour)}' stroke-width='1.5'{dash}/>")
        if line.dot:
            out.append(f"<circle cx='{pts[-1][0]:.1f}' cy='{pts[-1][1]:.1f}' r='2.5' style='fill:{paint(line.colour)}'/>")
    if 0 <= look.current < f.n:
        out.append(f"<line x1='{f.x(look.current):.1f}' y1='{f.top}' x2='{f.x(look.current):.1f}' "
                   f"y2='{f.height - f.bottom}' style='stroke:{paint('mark')}'/>")
    out.append(f"<text x='{f.left}' y='{f.height - 4}'>t = 0</text>"
               f"<text x='{f.width - 60}' y='{f.height - 4}'>t = {look.last}</text></svg>")
    return "".join(out)


def graph_svg(look: GraphLook, paint=colour) -> str:
    """The unrolled graph's Look as an inline SVG: the boxes and circles, the current box marked, the arrows (one
    arrowhead marker), the labels. ``paint`` turns a palette name into CSS, as for :func:`line_chart_svg`.

    Example: ``graph_svg(graph_look(views.graph_window(np.zeros((2, 5)), 2), "h")[1]).count("<rect") == 3``
    """
    muted = f"fill:{paint('fg-muted')}"
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{look.width}' height='{look.height}' role='img' "
           f"aria-label='{esc(look.aria)}' style='font:11px monospace;fill:{paint('fg')}'>"
           "<defs><marker id='tr-arr' viewBox='0 0 6 6' refX='6' refY='3' markerWidth='6' markerHeight='6' "
           f"orient='auto'><path d='M0,0 L6,3 L0,6 z' style='{muted}'/></marker></defs>"]
    rect = lambda b: f"<rect x='{b[0]}' y='{b[1]}' width='{b[2]}' height='{b[3]}' rx='5'/>"  # noqa: E731
    shapes = "".join((rect(b) if k != look.current else "") + f"<circle cx='{c[0]}' cy='{c[1]}' r='{c[2]}'/>"
                     for k, (b, c) in enumerate(zip(look.boxes, look.circles)))
    out.append(f"<g style='fill:{paint('bg-alt')};stroke:{paint('border')}'>{shapes}</g>")
    if 0 <= look.current < len(look.boxes):
        out.append(f"<g style='fill:{paint('bg')};stroke:{paint('mark')};stroke-width:2'>{rect(look.boxes[look.current])}</g>")
    lines = "".join(f"<line x1='{a}' y1='{b}' x2='{c}' y2='{d}'/>" for a, b, c, d in look.arrows)
    out.append(f"<g style='stroke:{paint('fg-muted')};marker-end:url(#tr-arr)'>{lines}</g>")
    groups: dict = {}  # one group per colour, in order of first use
    for lb in look.labels:
        groups.setdefault(lb.colour, []).append(f"<text x='{lb.x}' y='{lb.y}'>{esc(lb.text)}</text>")
    out += [f"<g style='fill:{paint(name)}'>{''.join(words)}</g>" for name, words in groups.items()]
    return "".join(out) + "</svg>"


def paint(look) -> tuple[str, float, float]:
    """Any Look as an SVG fragment drawn from the origin, and its size: the painter is found by the Look's type.

    Example: ``paint(TextLook((TextRow("o_i"),), 18.6, 16))[1:] == (18.6, 16)``
    """
    for kind, painter in PAINTERS.items():
        if isinstance(look, kind):
            return painter(look)
    raise TypeError(f"no SVG painter for {type(look).__name__}; expected one of {[k.__name__ for k in PAINTERS]}")


def _chart(look: LineChartLook) -> tuple[str, int, int]:
    return line_chart_svg(look), look.frame.width + 2, look.frame.height + 2  # with its 1 px border


PAINTERS = {BarsLook: bars_svg, MatrixLook: matrix_svg, TableLook: table_svg, TextLook: text_svg, LineChartLook: _chart,
            GraphLook: lambda look: (graph_svg(look), look.width, look.height)}
