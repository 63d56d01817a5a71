"""The Look of a matrix panel: the window's cells, its labels, marks and colour bar, with every size decided.

The row labels' column is as wide as its widest label, rotated column labels as tall as the longest
(``text_px``, a conservative width per character, so no painter's text overlaps); the colour bar is as tall
as the window (80..240 px); titles and the caption wrap. The browser (``static/matrix/``) is sent these
sizes (``label_sizes``) and the SVG writer (``views.svg.matrix_svg``) places everything by them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .image import BAR_W, text_px, wrap_px
from .matrix import AxisLabels

BAR_GAP, TITLE_H, AXIS_H = 10, 18, 16  # px: gap before the colour bar, title row, axis row
LABEL_PX, TITLE_PX = 11, 12  # font sizes of labels and titles
TITLE_MIN = 360  # px a picture's title may take before it wraps (the screen wraps a long title too)
BAR_MIN, BAR_MAX = 80, 240  # px of the colour bar


def label_sizes(row_texts, col_texts, rotate: bool, row_axis: str, window_h: int, has_bar: bool) -> tuple[int, int, int]:
    """(row labels' column width, column labels' row height, colour bar height) in px, for every painter.

    Example: ``label_sizes(["the", "cat"], ["0", "1"], False, "query", 48, True)[1:] == (AXIS_H, BAR_MIN)``
    """
    row_w = math.ceil(max([text_px(s, LABEL_PX) for s in row_texts] + [text_px(row_axis + " ↓", LABEL_PX), 8]) + 8)
    col_h = math.ceil(max([text_px(s, LABEL_PX) for s in col_texts] + [8]) + 6) if rotate else AXIS_H
    return row_w, col_h, min(max(window_h, BAR_MIN), BAR_MAX) if has_bar else 0


@dataclass(frozen=True)
class MatrixLook:
    """Everything a matrix picture shows, in the canvas's own geometry (px per cell), and where it sits.

    Build it with :func:`matrix_look`.

    Example: ``matrix_look("w", "data:,", 2, 2, 24, 24, AxisLabels([0, 1], ["a", "b"]), AxisLabels([], []), "query", "key", (), "sequential", ((0.0, "0"), (1.0, "1")), "").window == (48, 48)``
    """

    title: str
    png: str  # data URI of the window's cells (no markers)
    rows: int
    cols: int
    cell_w: int
    cell_h: int
    row_labels: AxisLabels
    col_labels: AxisLabels
    row_axis: str
    col_axis: str
    marks: tuple  # (("row" | "col", window-relative index, palette name, dashed), ...)
    cmap: str
    ticks: tuple  # ((position 0..1 from the bottom, text), ...); none: no colour bar
    caption: str  # units, which colour is which sign, the range line
    row_label_px: int
    col_label_px: int
    bar_h: int
    tick_px: int  # the ticks' text column
    title_lines: tuple
    caption_lines: tuple
    x0: int  # the window's top left corner
    y0: int
    axis_y: float  # the column axis name's baseline
    bottom: float  # where the caption starts
    width: int
    height: int

    @property
    def window(self) -> tuple[int, int]:
        """(width, height) of the window's cells in px: ``(cols * cell_w, rows * cell_h)``."""
        return self.cols * self.cell_w, self.rows * self.cell_h


def matrix_look(title: str, png: str, rows: int, cols: int, cell_w: int, cell_h: int, row_labels: AxisLabels,
                col_labels: AxisLabels, row_axis: str, col_axis: str, marks, cmap: str, ticks, caption: str) -> MatrixLook:
    """A matrix panel's Look, its layout decided: label column, colour bar, wrapped title and caption, size.

    Example: ``matrix_look("w", "data:,", 2, 2, 24, 24, AxisLabels([0, 1], ["a", "b"]), AxisLabels([], []), "query", "key", (), "sequential", ((0.0, "0"), (1.0, "1")), "").bar_h == BAR_MIN``
    """
    ticks = tuple(tuple(x) for x in ticks)
    row_w, col_h, bar_h = label_sizes(row_labels.texts, col_labels.texts, col_labels.rotate, row_axis,
                                      rows * cell_h, bool(ticks))
    w, h = cols * cell_w, rows * cell_h
    tick_w = math.ceil(max([text_px(s, LABEL_PX) for _, s in ticks] + [8]) + 5)
    axis_w = text_px(col_axis + " →", LABEL_PX)
    body_w = max(row_w + w + (BAR_GAP + BAR_W + tick_w if ticks else 0), row_w + axis_w)
    title_lines = wrap_px(title, TITLE_PX, max(body_w, TITLE_MIN))
    caption_lines = wrap_px(caption, LABEL_PX, max(body_w, TITLE_MIN)) if caption else []
    width = max([body_w] + [text_px(s, TITLE_PX) for s in title_lines] + [text_px(s, LABEL_PX) for s in caption_lines])
    y0 = TITLE_H + AXIS_H + 16 * (len(title_lines) - 1)  # more title lines push the matrix down
    axis_y = y0 + h + 4 + col_h + 10  # the column axis name's baseline: under the colour bar where it reaches it
    if axis_w > w + BAR_GAP - 2:
        axis_y = max(axis_y, y0 + bar_h + 18)
    bottom = max(axis_y + 4, y0 + bar_h + 8)
    return MatrixLook(title, png, rows, cols, cell_w, cell_h, row_labels, col_labels, row_axis, col_axis,
                      tuple(marks), cmap, ticks, caption, row_w, col_h, bar_h, tick_w, tuple(title_lines),
                      tuple(caption_lines), row_w, y0, axis_y, bottom, int(width + 1.999),
                      int(bottom + 14 * len(caption_lines) + 4.999))
