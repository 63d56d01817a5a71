"""The SVG painter paints the text, table and line chart Looks exactly (issue 21), and save() paints the Looks a
panel keeps instead of reading its HTML back. Expected strings are written from the Looks' fields."""
from __future__ import annotations

import torch

import tr_widgets
from tr_widgets.views import palette
from tr_widgets.views.image import text_px
from tr_widgets.views.looks_text import (
    CELL_PAD, ROW_PX, Cell, Frame, Line, LineChartLook, TextRow, table_look, text_look,
)
from tr_widgets.views.svg import line_chart_svg, paint, table_svg, text_svg
from tr_widgets.widgets import show
from tr_widgets.widgets.save import view_svg

LIGHT = palette.light_theme()
HEX = {k: "#%02x%02x%02x" % v for k, v in palette.COLOURS.items()}


def test_text_rows_are_their_look():
    look = text_look([TextRow("o_i <&>", True), "", TextRow("note", colour="fg-muted")])
    assert [r.text for r in look.rows] == ["o_i <&>", "note"]  # an empty row takes no room
    assert look.height == 2 * ROW_PX and look.width == text_px("o_i <&>", 12)
    svg, w, h = text_svg(look)
    assert (w, h) == (look.width, look.height)
    assert svg == (f"<text x='0' y='12' fill='{LIGHT['fg']}' font-weight='bold' xml:space='preserve'>o_i &lt;&amp;&gt;</text>"
                   f"<text x='0' y='{ROW_PX + 12}' fill='{LIGHT['fg-muted']}' xml:space='preserve'>note</text>")


def test_a_table_sizes_its_columns_to_their_cells_and_paints_its_grid():
    look = table_look([[Cell("key j", True), Cell("w", True)], [Cell("0", align="end"), Cell("0.25")],
                       [Cell("the other 9 terms, summed", span=2)]])
    first, second = (text_px(s, 12) + 2 * CELL_PAD for s in ("key j", "0.25"))
    span = text_px("the other 9 terms, summed", 12) + 2 * CELL_PAD
    assert look.widths == (int(first + 1.999), int(max(second, span - first) + 1.999))
    svg, w, h = table_svg(look)
    x1 = look.widths[0]
    grid = lambda x, y, wd, head: (f"<rect x='{x + .5:g}' y='{y + .5:g}' width='{wd:g}' height='{ROW_PX}' "  # noqa: E731
                                   f"fill='{LIGHT['bg-alt'] if head else 'none'}' stroke='{LIGHT['border']}'/>")
    words = lambda x, y, s, head=False, end="": (f"<text x='{x:g}' y='{y + 1 + 12}' fill='{LIGHT['fg']}'"  # noqa: E731
                                                 f"{' font-weight=' + chr(39) + 'bold' + chr(39) if head else ''}{end} "
                                                 f"xml:space='preserve'>{s}</text>")
    assert svg == (grid(0, 0, x1, True) + words(CELL_PAD, 0, "key j", True)
                   + grid(x1, 0, look.widths[1], True) + words(x1 + CELL_PAD, 0, "w", True)
                   + grid(0, ROW_PX, x1, False) + words(x1 - CELL_PAD, ROW_PX, "0", end=" text-anchor='end'")
                   + grid(x1, ROW_PX, look.widths[1], False) + words(x1 + CELL_PAD, ROW_PX, "0.25")
                   + grid(0, 2 * ROW_PX, w - 1, False) + words(CELL_PAD, 2 * ROW_PX, "the other 9 terms, summed"))
    assert (w, h) == (sum(look.widths) + 1, 3 * ROW_PX + 1)  # the grid's last line on the pixel after the cells


def test_a_line_chart_is_its_look_in_either_colouring():
    f = Frame(n=4, lo=0.0, hi=2.0, width=200, height=100)
    look = LineChartLook(f, (Line([0, 1, 2, 3], [0.0, float("nan"), 1.0, 2.0], "negative", dash="4 3", dot=True),),
                         2, 9, "norms <x>")
    pts = " ".join(f"{f.x(s):.1f},{f.y(v):.1f}" for s, v in ((0, 0.0), (2, 1.0), (3, 2.0)))  # NaN left out
    grid = "".join(f"<line x1='{f.left}' y1='{f.y(v):.1f}' x2='{f.width - f.right}' y2='{f.y(v):.1f}' "
                   f"style='stroke:{LIGHT['bg-alt']}'/><text x='2' y='{f.y(v) + 3:.1f}'>{f.tick(v)}</text>"
                   for v in (0.0, 1.0, 2.0))
    expected = (f"<svg xmlns='http://www.w3.org/2000/svg' width='200' height='100' role='img' aria-label='norms &lt;x&gt;' "
                f"style='font:10px monospace;border:1px solid {LIGHT['border']};fill:{LIGHT['fg-muted']}'>{grid}"
                f"<polyline points='{pts}' style='fill:none;stroke:{HEX['negative']}' stroke-width='1.5' stroke-dasharray='4 3'/>"
                f"<circle cx='{f.x(3):.1f}' cy='{f.y(2.0):.1f}' r='2.5' style='fill:{HEX['negative']}'/>"
                f"<line x1='{f.x(2):.1f}' y1='{f.top}' x2='{f.x(2):.1f}' y2='{f.height - f.bottom}' style='stroke:{LIGHT['mark']}'/>"
                f"<text x='{f.left}' y='96'>t = 0</text><text x='140' y='96'>t = 9</text></svg>")
    assert line_chart_svg(look) == expected
    live = line_chart_svg(look, paint=lambda name: f"var(--{name})")  # the live panel's theme variables
    assert live == expected.replace(LIGHT["bg-alt"], "var(--bg-alt)").replace(LIGHT["border"], "var(--border)") \
        .replace(LIGHT["fg-muted"], "var(--fg-muted)").replace(HEX["negative"], "var(--negative)") \
        .replace(LIGHT["mark"], "var(--mark)")
    assert paint(look) == (expected, 202, 102)


def test_save_paints_the_looks_a_panel_keeps():
    torch.manual_seed(0)
    g = tr_widgets.trace_gradients(torch.nn.LSTM(2, 3), torch.randn(6, 1, 2), lambda out: out[0][-1].sum())
    s = show(g, step=2, progress=False)
    svg = view_svg(s)  # the step drawn again first: each panel holds the Looks of what it shows
    title, chart, note = s.norms.looks
    assert isinstance(chart, LineChartLook) and chart.current == 6 - 1 - 2  # the time t of backward step k = 2
    assert paint(chart)[0] in svg and paint(note)[0] in svg  # painted from the Looks, not parsed from the HTML
    assert chart.aria in s.norms.value  # the live HTML is the same Look, in theme colours
