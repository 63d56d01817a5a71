"""The text Looks written as HTML (issue 21): the live panel's rows and table are the Look's, at its sizes, so the
screen shows what views.svg paints. Expected strings are written from the Looks' fields."""
from __future__ import annotations

from tr_widgets.views import palette
from tr_widgets.views.image import MONO
from tr_widgets.views.looks_html import table_html, text_html
from tr_widgets.views.looks_text import CELL_PAD, ROW_PX, TEXT_PX, Cell, TextRow, table_look, text_look

FONT = f"font:{TEXT_PX}px/{ROW_PX}px {MONO};white-space:pre"


def test_text_rows_are_the_look_in_its_colours():
    look = text_look([TextRow("notes <b>", True, "bad"), TextRow("• a & b", colour="bad")])
    var = palette.theme_var
    assert text_html(look) == (f"<div class='tr-look-text' style='{FONT};width:{look.width:g}px'>"
                               f"<div style='color:{var('bad')};font-weight:bold'>notes &lt;b&gt;</div>"
                               f"<div style='color:{var('bad')}'>• a &amp; b</div></div>")
    light = text_html(look, paint=lambda name: palette.THEME[name][2])  # any colouring: the painter's argument
    assert palette.THEME["bad"][2] in light and "var(" not in light


def test_a_table_is_the_look_on_its_grid():
    look = table_look([[Cell("key", True), Cell("w", True)], [Cell("0", align="end"), Cell("<s>")],
                       [Cell("the rest, summed", span=2)]])
    var = palette.theme_var
    edge = f"border:1px solid {var('border')};padding:0 {CELL_PAD - 0.5:g}px;unicode-bidi:isolate"
    head = f";background:{var('bg-alt')}"
    cols = "".join(f"<col style='width:{w:g}px'>" for w in look.widths)
    assert table_html(look) == (
        f"<table class='tr-look-table' style='border-collapse:collapse;table-layout:fixed;width:{sum(look.widths):g}px;"
        f"{FONT};line-height:{ROW_PX - 1}px;text-align:left;color:{var('fg')}'><colgroup>{cols}</colgroup>"
        f"<tr><th style='{edge}{head}'>key</th><th style='{edge}{head}'>w</th></tr>"
        f"<tr><td style='{edge};text-align:right'>0</td><td style='{edge}'>&lt;s&gt;</td></tr>"
        f"<tr><td colspan=2 style='{edge}'>the rest, summed</td></tr></table>")
