"""The SVG painter paints a matrix panel's Look exactly (issue 21): every expected string below is written from
the Look's own fields (its window corner, label column, colour bar height, wrapped lines, marks) and the
palette, never copied from the painter's output."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from tr_widgets.views import palette
from tr_widgets.views.image import SANS, bar_png, text_px
from tr_widgets.views.looks_matrix import BAR_GAP, BAR_W, label_sizes, matrix_look
from tr_widgets.views.matrix import AxisLabels
from tr_widgets.views.svg import matrix_svg

LIGHT = palette.light_theme()


def _look(rotate=False, caption="red +, blue −"):
    return matrix_look("weights <w>", "data:image/png;base64,AAAA", 3, 4, 20, 16, AxisLabels([0, 2], ["the", "<s>"]),
                       AxisLabels([1, 3], ["k1", "k3"], rotate), "query", "key",
                       (("col", 3, "highlight", True), ("row", 1, "mark", False)), "diverging",
                       ((0.0, "−1"), (0.5, "0"), (1.0, "+1")), caption)


def test_the_look_decides_the_label_column_colour_bar_and_size():
    look = _look()
    assert (look.row_label_px, look.col_label_px, look.bar_h) == label_sizes(["the", "<s>"], ["k1", "k3"], False,
                                                                             "query", 3 * 16, True)
    assert look.row_label_px >= text_px("query ↓", 11) and look.bar_h == 80  # the window is 48 px: the bar's least
    assert look.x0 == look.row_label_px and look.window == (80, 48)
    assert look.width >= look.x0 + 80 + BAR_GAP + BAR_W and look.height > look.y0 + look.bar_h
    rotated = _look(rotate=True)
    assert rotated.col_label_px > look.col_label_px


def test_matrix_svg_is_its_look_exactly():
    m = _look()
    w, h = m.window
    fg, muted, font = LIGHT["fg"], LIGHT["fg-muted"], f"font-size='11' fill='{LIGHT['fg']}'"
    rows = "".join(f"<text x='{m.x0 - 4}' y='{m.y0 + (i + .5) * 16 + 4:g}' text-anchor='end' {font}>{s}</text>"
                   for i, s in ((0, "the"), (2, "&lt;s&gt;")))
    cols = "".join(f"<text x='{m.x0 + (j + .5) * 20:g}' y='{m.y0 + h + 14}' text-anchor='middle' {font}>{s}</text>"
                   for j, s in ((1, "k1"), (3, "k3")))
    marks = (f"<rect x='{m.x0 + 60}' y='{m.y0 + 1}' width='20' height='{h - 2}' fill='none' stroke='{LIGHT['highlight']}' "
             f"stroke-width='2' stroke-dasharray='4 2'/>"
             f"<rect x='{m.x0 + 1}' y='{m.y0 + 16}' width='{w - 2}' height='16' fill='none' stroke='{LIGHT['mark']}' "
             f"stroke-width='2'/>")
    bx = m.x0 + w + BAR_GAP
    bar = f"<image x='{bx}' y='{m.y0}' width='{BAR_W}' height='{m.bar_h}' preserveAspectRatio='none' href='{bar_png('diverging')}'/>"
    for pos, s in m.ticks:
        ty = m.y0 + (1 - pos) * m.bar_h
        bar += (f"<line x1='{bx + BAR_W}' x2='{bx + BAR_W + 3}' y1='{ty:g}' y2='{ty:g}' stroke='{fg}'/>"
                f"<text x='{bx + BAR_W + 5}' y='{ty + 4:g}' {font}>{s}</text>")
    expected = (
        f"<g font-family='{SANS}'><rect x='0' y='0' width='{m.width}' height='{m.height}' fill='{LIGHT['bg']}'/>"
        + "".join(f"<text x='0' y='{13 + 16 * i}' font-size='12' font-weight='600' fill='{fg}'>{s}</text>"
                  for i, s in enumerate(x.replace("<", "&lt;").replace(">", "&gt;") for x in m.title_lines))
        + f"<text x='{m.x0 - 4}' y='{m.y0 - 5}' text-anchor='end' font-size='11' fill='{muted}'>query ↓</text>"
        f"<image x='{m.x0}' y='{m.y0}' width='{w}' height='{h}' preserveAspectRatio='none' "
        f"style='image-rendering:pixelated' href='{m.png}'/>"
        f"<rect x='{m.x0 - .5:g}' y='{m.y0 - .5:g}' width='{w + 1}' height='{h + 1}' fill='none' stroke='{LIGHT['border']}'/>"
        + rows + cols + f"<text x='{m.x0}' y='{m.axis_y:g}' font-size='11' fill='{muted}'>key →</text>" + marks + bar
        + "".join(f"<text x='0' y='{m.bottom + 12 + 14 * i:g}' font-size='11' fill='{muted}'>{s}</text>"
                  for i, s in enumerate(m.caption_lines)) + "</g>")
    svg, width, height = matrix_svg(m)
    assert (width, height) == (m.width, m.height)
    assert svg == expected
    ET.fromstring(f"<svg xmlns='http://www.w3.org/2000/svg'>{svg}</svg>")


def test_rotated_column_labels_stand_under_their_columns():
    m = _look(rotate=True, caption="")
    svg, _, _ = matrix_svg(m)
    cy = m.y0 + m.window[1] + 4
    for j, s in ((1, "k1"), (3, "k3")):
        assert (f"<text transform='translate({m.x0 + (j + .5) * 20 + 4:g},{cy}) rotate(-90)' text-anchor='end' "
                f"font-size='11' fill='{LIGHT['fg']}'>{s}</text>") in svg
    assert m.caption_lines == () and "font-size='11' fill='#3d3d3d'>red" not in svg
