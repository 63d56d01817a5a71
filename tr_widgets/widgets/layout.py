"""How steppers lay out their panels: rows that wrap, folds, scrolling panels, cell sizes, the bars'
series, window labels and the words for a selection. Every stepper imports these from here (no stepper
imports another stepper).
"""
from __future__ import annotations

import inspect

import ipywidgets as w

from ..i18n import msg

LABEL_CHARS = 80  # a label's most characters sent to a canvas: bounds the bytes of a window of labels


def short_labels(lbls, a: int, b: int):
    """Window labels ``lbls[a:b]`` for a canvas, whole up to LABEL_CHARS characters (longer ones end in
    "…"): the canvas elides what it shows itself and keeps the sent text for the hover title.

    Example: ``short_labels(["<s>", "x" * 100], 0, 2) == ["<s>", "x" * 79 + "…"]``
    """
    if lbls is None:
        return None
    return [s if len(s) <= LABEL_CHARS else s[:LABEL_CHARS - 1] + "…" for s in lbls[a:b]]


def set_series(canvas, series, groups=None, *, scales=None, units=None, highlights=None) -> None:
    """``canvas.set_series`` with the shared-scale, unit and highlight arguments where this BarsCanvas
    takes them (``scales``: series index -> scale name, series on one name share one |max|; ``units``:
    series index -> unit; ``highlights``: one index per series, -1 for none).

    Example: ``set_series(bars, series, [[0], [1, 2]], scales={1: "gates", 2: "gates"}, units={0: "ms"})``
    """
    takes = inspect.signature(canvas.set_series).parameters
    if units and "units" not in takes:  # an older canvas: the unit goes into the note, before "max |x|"
        series = [(*s[:4], f"{s[4]} (values in {units[k]})".strip()) if k in units else s for k, s in enumerate(series)]
    extra = {k: v for k, v in (("scales", scales), ("units", units), ("highlights", highlights))
             if v is not None and k in takes}
    with canvas.hold_sync():
        canvas.set_series(series, groups, **extra)
        if highlights is not None and "highlights" not in takes and canvas.has_trait("highlights"):
            canvas.highlights = list(highlights)


def wrap_row(children) -> w.HBox:
    """Panels side by side where they fit, wrapping to the next row where they don't (never past the cell).

    Example: ``wrap_row([weights_canvas, output_panel])``
    """
    return w.HBox(children, layout=w.Layout(flex_flow="row wrap", grid_gap="12px", align_items="flex-start",
                                            max_width="100%"))


def fold(children, titles, open_index=None) -> w.Accordion:
    """Panels a reader opens when needed: an Accordion (it keeps its open/closed state while the
    panels inside change every step, which a ``<details>`` in an HTML panel would not).

    Example: ``fold([terms_canvas], ["each term as a heatmap"])  # closed; open_index=0 opens it``
    """
    acc = w.Accordion(children=list(children), titles=tuple(titles), selected_index=open_index,
                      layout=w.Layout(max_width="100%"))
    acc.add_class("tr-fold")
    return acc


def scrolling(panel):
    """``panel`` (an HTML panel) scrolls sideways inside its own box when wider than the cell.

    Example: ``self.equations = scrolling(HTMLPanel())``
    """
    panel.layout = w.Layout(max_width="100%", overflow="auto")
    return panel


def fit_cells(canvas, rows: int, cols: int, limit: int = 192, cap: int = 16) -> None:
    """Cell size so a ``rows`` × ``cols`` window is about ``limit`` px on its longer side.

    Example: ``fit_cells(heatmap, 10, 5, 160, 16)  # heatmap.cell_px == 16``
    """
    canvas.cell_px = max(1, min(cap, limit // max(rows, cols, 1)))


def has(widget, name: str) -> bool:
    """Whether ``widget`` has the synced trait ``name`` (a canvas feature that may be newer than this stepper).

    Example: ``has(MatrixCanvas(), "click_step")``
    """
    return widget.has_trait(name)


def where_text(layer: int, direction: int, batch: int) -> str:
    """Which layer, direction and batch item a view shows. Example: ``where_text(0, 1, 0) == "layer 0, reverse, batch item 0"``"""
    return msg("recurrent.where", layer=layer, direction=msg("recurrent.reverse") if direction else msg("recurrent.forward"),
               batch=batch)
