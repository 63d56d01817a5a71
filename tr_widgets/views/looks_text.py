"""The Looks of the HTML panels: a line chart, a table, lines of text, each with its sizes decided here.

The live panel writes them as HTML (``widgets`` markup and line chart) and ``save()`` paints them as SVG
(``views.svg``) from the same Look, so a saved picture needs no parsing of our own HTML back. Colours are
palette names (a theme colour first, else a data colour), as in every Look.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .image import text_px

TEXT_PX, ROW_PX, CELL_PAD = 12, 16, 5  # font size, text row height, padding either side of a table cell


@dataclass(frozen=True)
class Line:
    """One line of a chart: its points ``(slot, value)`` (non-finite values are left out), its colour (a palette
    name), an SVG dash pattern ("" for solid), a CSS class and whether its last point gets a dot.

    Example: ``Line(np.arange(3), np.log10([1.0, 10.0, 100.0]), "positive", dash="4 3").colour == "positive"``
    """

    slots: Sequence[int]
    values: Sequence[float]
    colour: str
    dash: str = ""
    css: str = ""
    dot: bool = False


@dataclass(frozen=True)
class Frame:
    """The chart's box: ``n`` slots over x, values ``lo`` … ``hi`` over y, the margins, and how a
    gridline's value is written (``tick``).

    Example: ``Frame(n=50, lo=-3.0, hi=1.0, width=400, height=110, left=44)``
    """

    n: int
    lo: float
    hi: float
    width: int = 400
    height: int = 130
    left: int = 44
    top: int = 6
    right: int = 6
    bottom: int = 18
    tick: Callable[[float], str] = field(default=lambda v: f"{v:+.1f}", compare=False)

    def x(self, slot: float) -> float:
        """The x of a slot's centre. Example: ``Frame(n=2, lo=0, hi=1, width=100, left=0, right=0).x(0) == 25``"""
        return self.left + (slot + 0.5) * (self.width - self.left - self.right) / max(self.n, 1)

    def y(self, v: float) -> float:
        """The y of a value (``hi`` at the top). Example: ``Frame(n=1, lo=0, hi=1).y(1.0) == 6``"""
        span = self.hi - self.lo if self.hi > self.lo else 1.0
        return self.top + (self.height - self.bottom - self.top) * (1 - (v - self.lo) / span)


@dataclass(frozen=True)
class LineChartLook:
    """A line chart as shown: three gridlines with their values, the lines, the current slot marked, and
    "t = 0" … "t = last" under the axis.

    Example: ``LineChartLook(Frame(n=4, lo=-3.0, hi=1.0), (), 3, 9, "norms").grid[2][1] == "+1.0"``
    """

    frame: Frame
    lines: tuple
    current: int
    last: int
    aria: str

    @property
    def grid(self) -> tuple:
        """(y, text) of the three gridlines: ``lo``, the middle, ``hi``."""
        f = self.frame
        return tuple((f.y(v), f.tick(v)) for v in (f.lo, (f.lo + f.hi) / 2, f.hi))

    def points(self, line: Line) -> list[tuple[float, float]]:
        """(x, y) of a line's finite values (a NaN or inf is left out)."""
        f = self.frame
        return [(f.x(int(s)), f.y(float(v))) for s, v in zip(line.slots, line.values) if np.isfinite(v)]


@dataclass(frozen=True)
class TextRow:
    """One row of text: its words, bold or not, its colour (a palette name). Example: ``TextRow("o_i", True)``"""

    text: str
    bold: bool = False
    colour: str = "fg"


@dataclass(frozen=True)
class TextLook:
    """Rows of text, one under another, and the width they take. Example: ``text_look(["t = 3 (0–9)"]).height == 16``"""

    rows: tuple
    width: float
    height: int


def text_look(rows) -> TextLook:
    """Rows (TextRow or plain strings; empty ones dropped) as a Look. Example: ``text_look([TextRow("a", True)])``"""
    rows = tuple(r if isinstance(r, TextRow) else TextRow(str(r)) for r in rows)
    rows = tuple(r for r in rows if r.text.strip())
    return TextLook(rows, max((text_px(r.text, TEXT_PX) for r in rows), default=0), len(rows) * ROW_PX)


@dataclass(frozen=True)
class Cell:
    """A table cell: its text, whether it is a header, the columns it spans and its alignment.

    Example: ``Cell("w_ij", header=True)``
    """

    text: str
    header: bool = False
    span: int = 1
    align: str = "start"  # or "end"


@dataclass(frozen=True)
class TableLook:
    """A table as shown: its rows of cells and each column's width in px (sized to the content).

    Example: ``table_look([[Cell("w", True)], [Cell("0.25")]]).widths``
    """

    rows: tuple
    widths: tuple

    @property
    def size(self) -> tuple[float, int]:
        """(width, height) in px. Example: ``w, h = look.size``"""
        return sum(self.widths), len(self.rows) * ROW_PX


def table_look(rows) -> TableLook:
    """Rows of cells (Cell, or ``(text, header[, span[, align]])``) as a Look with its column widths: single
    cells first, then the spanning ones widen their last column only as much as they still need.

    Example: ``table_look([[("key", True), ("w", True)], [("0", False), ("0.25", False)]]).widths``
    """
    rows = tuple(tuple(c if isinstance(c, Cell) else Cell(*c) for c in r) for r in rows if r)
    widths = [0.0] * max((sum(c.span for c in r) for r in rows), default=0)
    cells, spanning = [], []  # (first column, cell, px it needs); the spanning ones after every single one
    for r in rows:
        col = 0
        for c in r:
            (cells if c.span == 1 else spanning).append((col, c, text_px(c.text, TEXT_PX) + 2 * CELL_PAD))
            col += c.span
    for col, c, need in cells + spanning:
        widths[col + c.span - 1] += max(0.0, need - sum(widths[col:col + c.span]))
    return TableLook(rows, tuple(float(int(w + 1.999)) for w in widths))
