"""How steppers lay out their panels: rows that wrap, folds, scrolling panels, cell sizes, the bars'
series, window labels and the words for a selection. Every stepper imports these from here (no stepper
imports another stepper).
"""
from __future__ import annotations

import ipywidgets as w
import numpy as np

from ..i18n import msg
from ..views import quantize, window_around

LABEL_CHARS = 80  # a label's most characters sent to a canvas: bounds the bytes of a window of labels


def short_labels(lbls, a: int, b: int):
    """Window labels ``lbls[a:b]`` for a canvas, whole up to LABEL_CHARS characters (longer ones end in
    "…"): the canvas elides what it shows itself and keeps the sent text for the hover title.

    Example: ``short_labels(["<s>", "x" * 100], 0, 2) == ["<s>", "x" * 79 + "…"]``
    """
    if lbls is None:
        return None
    return [s if len(s) <= LABEL_CHARS else s[:LABEL_CHARS - 1] + "…" for s in lbls[a:b]]


def set_series(canvas, series, groups=None, *, scales=None, units=None) -> None:
    """``canvas.set_series`` in one sync: ``series`` as (name, values, blocked, mark, note[, highlight]);
    ``scales``: series index -> scale name (series on one name share one |max|); ``units``: index -> unit.

    Example::

        from tr_widgets.widgets.panels import BarsCanvas
        bars, ones = BarsCanvas(), np.ones(3, np.float32)
        set_series(bars, [("x", ones, None, -1, ""), ("i", ones, None, -1, ""), ("f", -ones, None, -1, "")],
                   [[0], [1, 2]], scales={1: "gates", 2: "gates"}, units={0: "ms"})
        bars.units == ["ms", "", ""]
    """
    with canvas.hold_sync():
        canvas.set_series(series, groups, scales=scales, units=units)


def wrap_row(children) -> w.HBox:
    """Panels side by side where they fit, wrapping to the next row where they don't (never past the cell).

    Example: ``len(wrap_row([w.HTML("weights"), w.HTML("o_i")]).children) == 2``
    """
    return w.HBox(children, layout=w.Layout(flex_flow="row wrap", grid_gap="12px", align_items="flex-start",
                                            max_width="100%"))


def fold(children, titles, open_index=None) -> w.Accordion:
    """Panels a reader opens when needed: an Accordion (it keeps its open/closed state while the
    panels inside change every step, which a ``<details>`` in an HTML panel would not).

    Example: ``fold([w.HTML("terms")], ["each term as a heatmap"]).selected_index is None  # closed; open_index=0 opens it``
    """
    acc = w.Accordion(children=list(children), titles=tuple(titles), selected_index=open_index,
                      layout=w.Layout(max_width="100%"))
    acc.add_class("tr-fold")
    return acc


def scrolling(panel):
    """``panel`` (an HTML panel) scrolls sideways inside its own box when wider than the cell.

    Example: ``scrolling(w.HTML("<table>…</table>")).layout.overflow == "auto"``
    """
    panel.layout = w.Layout(max_width="100%", overflow="auto")
    return panel


# The one sizing rule of a matrix's main view (readable at a glance): at least MIN_CELL px a cell up to
# SMALL cells a side, at least MIN_SIDE px on the long side up to 64 cells (fewer px a cell beyond), never
# more than MAX_CELL px a cell (a 2 x 3 matrix stays a small picture).
MIN_CELL, SMALL, MIN_SIDE, MAX_CELL = 12, 32, 240, 48


def cell_size(rows: int, cols: int) -> int:
    """Pixels per cell of a ``rows`` × ``cols`` matrix window: the rule above, in one place.

    Example: ``cell_size(6, 6) == 40; cell_size(32, 32) == 12; cell_size(64, 10) == 4``
    """
    n = max(rows, cols, 1)
    px = -(-MIN_SIDE // n)  # ceil(MIN_SIDE / n): the long side reaches MIN_SIDE
    return max(1, min(MAX_CELL, max(px, MIN_CELL) if n <= SMALL else px))


def fit_cells(canvas, rows: int, cols: int) -> None:
    """Size ``canvas``'s cells for a ``rows`` × ``cols`` window by :func:`cell_size`.

    Example::

        from tr_widgets.widgets.panels import MatrixCanvas
        m = MatrixCanvas(); fit_cells(m, 10, 5)
        m.cell_px == 24
    """
    canvas.cell_px = cell_size(rows, cols)


FRAME_PX, MATRIX_MIN_W = 160, 340  # px beside a matrix's cells (row labels, colour bar); px a panel takes at least


def matrix_width(rows: int, cols: int) -> int:
    """Pixels a matrix panel of ``rows`` × ``cols`` cells takes at :func:`cell_size` (cells, labels, colour
    bar): a panel's ``max_width``, so the panel beside it in a :func:`wrap_row` knows where it may sit.

    Example: ``matrix_width(6, 6) == 400``
    """
    return max(cols * cell_size(rows, cols) + FRAME_PX, MATRIX_MIN_W)


def where_text(layer: int, direction: int, batch: int) -> str:
    """Which layer, direction and batch item a view shows. Example: ``where_text(0, 1, 0) == "layer 0, reverse, batch item 0"``"""
    return msg("recurrent.where", layer=layer, direction=msg("recurrent.reverse") if direction else msg("recurrent.forward"),
               batch=batch)


def show_block(canvas, matrix: np.ndarray, win, vrange: tuple[float, float]) -> None:
    """The heatmap-window block every matrix stepper draws: ``matrix[win]`` quantised to ``vrange``, its
    cells sized by :func:`fit_cells`, sent with the window and the full shape (for the axes and overview).

    Example::

        from tr_widgets.views import Window
        from tr_widgets.widgets.panels import MatrixCanvas
        heatmap, H = MatrixCanvas(), np.arange(12, dtype=np.float32).reshape(3, 4)
        show_block(heatmap, H, Window(0, 3, 0, 4), (0.0, 11.0))
        (heatmap.rows, heatmap.cols, heatmap.cell_px) == (3, 4, 48)
    """
    block = matrix[win.r0:win.r1, win.c0:win.c1]  # [rows, cols] of the window
    fit_cells(canvas, *block.shape)
    canvas.set_window(quantize(block, *vrange), win, matrix.shape, *vrange)


def follow_column(canvas, matrix: np.ndarray, col: int, window: int, shown, vrange, step: int):
    """Move a units × steps heatmap to column ``col`` (marked), marked as showing ``step``: a new window block
    only when the window moves. Returns the window now shown, which the caller passes back as ``shown``.

    Example::

        from tr_widgets.widgets.panels import MatrixCanvas
        heatmap, H = MatrixCanvas(), np.arange(12, dtype=np.float32).reshape(3, 4)
        win = follow_column(heatmap, H, 2, 64, None, (0.0, 11.0), 2)
        (win.c0, win.c1, heatmap.mark_col) == (0, 4, 2)
    """
    win = window_around(matrix.shape, None, col, window, window)
    with canvas.hold_sync():
        if win != shown:
            show_block(canvas, matrix, win, vrange)
        canvas.mark_col = col
        canvas.step = step
    return win
