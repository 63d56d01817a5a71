"""The text Looks as HTML, for the live panels: rows of text and tables at the sizes their Look decided (row height,
column widths, alignment, bold, colours by palette name), so the screen shows what ``views.svg`` paints in a
picture. The browser only lays out the words inside the boxes the Look gives them.

Colours are CSS from ``paint`` (default ``palette.theme_var``: tr.css's theme variables, the light hex as
fallback). User text is escaped here, once.
"""
from __future__ import annotations

import html

from .image import MONO
from .looks_text import CELL_PAD, ROW_PX, TEXT_PX, Cell, TableLook, TextLook, TextRow, table_look, text_look  # noqa: F401
from .palette import theme_var

FONT = f"font:{TEXT_PX}px/{ROW_PX}px {MONO};white-space:pre"  # the picture's font and row height; spaces kept


def _esc(s: str) -> str:
    return html.escape(s, quote=False)


def _weight(bold: bool) -> str:
    return ";font-weight:bold" if bold else ""


def text_html(look: TextLook, paint=theme_var) -> str:
    """Rows of text, one ``ROW_PX`` line each, in their colours (bold where the Look says), as wide as the Look.

    Example: ``text_html(text_look([TextRow("o_i <&>", True)])).count("font-weight:bold") == 1``
    """
    rows = "".join(f"<div style='color:{paint(r.colour)}{_weight(r.bold)}'>{_esc(r.text)}</div>" for r in look.rows)
    return f"<div class='tr-look-text' style='{FONT};width:{look.width:g}px'>{rows}</div>"


def table_html(look: TableLook, paint=theme_var) -> str:
    """A table on the Look's grid: each column as wide as the Look says (``table-layout:fixed``), each row
    ``ROW_PX`` high with its borders (a ``ROW_PX - 1`` line and one border), header cells bold on bg-alt, cells
    aligned as the Look says (left unless "end"), every cell's text bidi-isolated (labels are user text).

    Example: ``table_html(table_look([[Cell("w", True)], [Cell("0.25", align="end")]])).count("<col ") == 1``
    """
    cols = "".join(f"<col style='width:{w:g}px'>" for w in look.widths)
    edge = f"border:1px solid {paint('border')};padding:0 {CELL_PAD - 0.5:g}px;unicode-bidi:isolate"
    head = f";background:{paint('bg-alt')}"  # bold: a th's own
    rows = []
    for row in look.rows:
        cells = "".join(
            f"<{'th' if c.header else 'td'}{f' colspan={c.span}' if c.span > 1 else ''} style='{edge}"
            f"{';text-align:right' if c.align == 'end' else ''}{head if c.header else ''}'>"
            f"{_esc(c.text)}</{'th' if c.header else 'td'}>" for c in row)
        rows.append(f"<tr>{cells}</tr>")
    return (f"<table class='tr-look-table' style='border-collapse:collapse;table-layout:fixed;width:{sum(look.widths):g}px;"
            f"{FONT};line-height:{ROW_PX - 1}px;text-align:left;color:{paint('fg')}'><colgroup>{cols}</colgroup>{''.join(rows)}</table>")
