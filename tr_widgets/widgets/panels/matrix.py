"""The matrix anywidget (``static/matrix.js``); what every panel shares is in ``common.py``.

State lives in traits; arrays travel as ``Bytes`` traits, which ipywidgets sends as binary
buffers (never a JSON table). The JavaScript is ``static/matrix.js`` / ``static/bars.js`` inside the
package: nothing loads from a CDN. It paints what Python sends: the colour table and named colours of
``views.palette`` and the cell sizes computed here, so the canvas and the static ``text/html`` snapshot
(a base64 PNG or an inline SVG, for notebooks read without a kernel) agree by construction.
"""
from __future__ import annotations

import hashlib
import html
from collections import OrderedDict

import anywidget
import numpy as np
import traitlets as t

from ...i18n import msg, texts
from ...views import image, palette
from ...views.looks_matrix import MatrixLook, label_sizes, matrix_look
from ...views.svg import matrix_svg
from ...views.matrix import AxisLabels, Overview, Window, axis_labels, colour_ticks, range_note
from .. import esm
from ..markup import text_block
from .common import Quiet, Snapshot, colours_trait, safe_text, theme_trait


EXACT_CELLS = 1024  # windows up to this many cells send their float32 values (4 KiB) with the codes
EXACT_STORE = 32 * 1024 * 1024  # bytes of larger windows' values kept to answer hovers (newest first)


class MatrixCanvas(Quiet, Snapshot, anywidget.AnyWidget):
    """A matrix window (uint8 codes) with axis labels, a colour bar, the current row/column marked and an overview.

    Codes from ``views.quantize`` carry their exact float32 values, which hovering a cell shows: sent
    with the codes for windows of up to ``EXACT_CELLS`` cells, else one row at a time when hovered.

    Example::

        m = MatrixCanvas(title="identity", click_step="row")
        m.set_window(views.quantize(np.eye(3), 0, 1), Window(0, 3, 0, 3), (3, 3), 0.0, 1.0, list("abc"), list("abc"))
        m.mark_row, m.highlight_col = 2, 1
        (m.rows, m.cols) == (3, 3)
    """

    _esm = esm.module("matrix")  # static/matrix.js with what it imports (widgets/esm.py)
    _css = esm.stylesheet()  # static/tr.css, compact (widgets/esm.py)
    title = t.Unicode("").tag(sync=True)
    codes = t.Bytes(b"").tag(sync=True)
    values = t.Bytes(b"").tag(sync=True)  # float32 [rows, cols] when the window is small, else b""
    exact = t.Bool(False).tag(sync=True)  # Python holds the exact values: ask for a hovered row
    rows = t.Int(0).tag(sync=True)
    cols = t.Int(0).tag(sync=True)
    r0 = t.Int(0).tag(sync=True)
    c0 = t.Int(0).tag(sync=True)
    full_rows = t.Int(0).tag(sync=True)
    full_cols = t.Int(0).tag(sync=True)
    vmin = t.Float(0.0).tag(sync=True)
    vmax = t.Float(1.0).tag(sync=True)
    cmap = t.Unicode("sequential").tag(sync=True)
    units = t.Unicode("").tag(sync=True)
    mark_row = t.Int(-1).tag(sync=True)  # the current step / query (absolute index)
    mark_col = t.Int(-1).tag(sync=True)
    highlight_row = t.Int(-1).tag(sync=True)  # the largest weight (absolute index), dashed
    highlight_col = t.Int(-1).tag(sync=True)
    click_step = t.Enum(["", "row", "col"], "").tag(sync=True)  # a click dispatches tr-go with that index
    row_axis = t.Unicode().tag(sync=True)
    col_axis = t.Unicode().tag(sync=True)
    row_labels = t.List(t.Unicode()).tag(sync=True)
    col_labels = t.List(t.Unicode()).tag(sync=True)
    row_ticks = t.List(t.Int()).tag(sync=True)  # window rows that get a label (views.matrix.axis_labels)
    row_texts = t.List(t.Unicode()).tag(sync=True)
    col_ticks = t.List(t.Int()).tag(sync=True)
    col_texts = t.List(t.Unicode()).tag(sync=True)
    col_rotate = t.Bool(False).tag(sync=True)
    label_px = t.List(t.Int(), [0, 0, 0]).tag(sync=True)  # the Look's row label column, column label row, colour bar (px)
    bar_ticks = t.List().tag(sync=True)  # [[position 0..1 from vmin, text], ...]; none: no colour bar
    colour_bar = t.Bool(True)  # False for categories (the KV cache: reused / appended / not yet): a legend says it
    range_note = t.Unicode("").tag(sync=True)
    texts = t.Dict().tag(sync=True)  # the words matrix.js shows: i18n "matrix." keys, in the language it was built in
    theme = theme_trait()
    ov_codes = t.Bytes(b"").tag(sync=True)
    ov_rows = t.Int(0).tag(sync=True)
    ov_cols = t.Int(0).tag(sync=True)
    ov_fr = t.Int(1).tag(sync=True)
    ov_fc = t.Int(1).tag(sync=True)
    ov_done = t.Int(-1).tag(sync=True)  # overview rows computed so far (a filling one); later rows "not yet"; -1: all
    done_rows = t.List(t.Int(), []).tag(sync=True)  # window rows [a, b) computed (a filling window), others "not yet"; []: all
    notice = t.Unicode("").tag(sync=True)
    step = t.Int(0).tag(sync=True)
    cell_px = t.Int(0)  # pixels per cell when set (> 0); else about palette.WINDOW_PX per axis
    cell_w = t.Int(1).tag(sync=True)
    cell_h = t.Int(1).tag(sync=True)
    ov_cell = t.Int(1).tag(sync=True)
    lut = t.Bytes(b"").tag(sync=True)  # [256, 3] uint8: the colour of each code for ``cmap``
    colours = colours_trait()
    _safe = safe_text(("title", "row_labels", "col_labels", "notice", "row_axis", "col_axis", "units"))

    @t.default("texts")
    def _texts(self):
        return texts("matrix.")

    @t.default("row_axis")
    def _row_axis(self):
        return msg("canvas.row")

    @t.default("col_axis")
    def _col_axis(self):
        return msg("canvas.col")

    @t.observe("cmap", type="change")
    def _on_cmap(self, change=None):
        self.lut = palette.LUTS[self.cmap].tobytes()

    @t.observe("rows", "cols", "r0", "c0", "full_rows", "full_cols", "cell_w", "cell_h", "row_labels",
               "col_labels", "vmin", "vmax", "row_axis", "col_axis", type="change")
    def _relabel(self, change=None):
        """The shown labels, colour ticks and range line follow the window (views.matrix computes them)."""
        if self._batch:
            return
        rl = axis_labels(self.row_labels, self.r0, self.rows, self.cell_h)
        cl = axis_labels(self.col_labels, self.c0, self.cols, self.cell_w, column=True)
        self.row_ticks, self.row_texts = rl.ticks, rl.texts
        self.col_ticks, self.col_texts, self.col_rotate = cl.ticks, cl.texts, cl.rotate
        self.bar_ticks = [list(x) for x in colour_ticks(self.vmin, self.vmax)] if self.colour_bar else []
        self.label_px = list(label_sizes(rl.texts, cl.texts, cl.rotate, self.row_axis, self.rows * self.cell_h,
                                         bool(self.bar_ticks)))
        notes = (range_note(self.row_axis, self.r0, self.rows, self.full_rows),
                 range_note(self.col_axis, self.c0, self.cols, self.full_cols))
        self.range_note = " · ".join(n for n in notes if n)

    def __init__(self, **kwargs):
        self._batch = True
        self._exact: OrderedDict = OrderedDict()  # blake2b(codes, range) -> float32 values of a large window
        self._exact_bytes = 0
        super().__init__(**kwargs)
        self.texts  # noqa: B018  the words in the language this canvas is built in, not the one it is first read in
        self._batch = False
        self._on_cmap()
        self._relabel()
        self.on_msg(self._on_msg)

    def set_window(self, codes: np.ndarray, win: Window, full_shape: tuple[int, int], vmin: float, vmax: float,
                   row_labels=None, col_labels=None, values: np.ndarray | None = None, done=None) -> None:
        """Show ``codes`` [rows, cols] as cells ``win`` of a ``full_shape`` matrix.

        ``values`` [rows, cols]: the exact values hovering shows; by default those ``views.quantize``
        kept with the codes (none: hovering shows the code's value, marked ≈). ``done``: only window rows
        [a, b) are computed yet (``views.window_fill.WeightsWindow.done``); the others are drawn "not yet".
        """
        exact = values if values is not None else getattr(codes, "exact", None)
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        exact = None if exact is None or np.shape(exact) != codes.shape else np.ascontiguousarray(exact, np.float32)
        with self.hold_sync():
            self._batch = True
            try:
                self.codes = codes.tobytes()
                self.rows, self.cols = codes.shape
                self.r0, self.c0 = win.r0, win.c0
                self.full_rows, self.full_cols = full_shape
                self.vmin, self.vmax = float(vmin), float(vmax)
                self.row_labels, self.col_labels = list(row_labels or []), list(col_labels or [])
                self.cell_w, self.cell_h = self.cell_px or palette.cell_px(self.cols), self.cell_px or palette.cell_px(self.rows)
                self.done_rows = [] if done is None else [int(done[0]), int(done[1])]
            finally:
                self._batch = False
            self._relabel()
            small = exact is not None and codes.size <= EXACT_CELLS
            self.values = exact.tobytes() if small else b""
            self.exact = exact is not None and not small
            if self.exact:
                self._keep(exact)

    def _key(self) -> bytes:
        return hashlib.blake2b(self.codes + np.float64([self.vmin, self.vmax]).tobytes(), digest_size=16).digest()

    def _keep(self, exact: np.ndarray) -> None:
        """Keep a large window's values (newest first, at most EXACT_STORE bytes) to answer hovers."""
        key = self._key()
        old = self._exact.pop(key, None)
        self._exact_bytes += exact.nbytes - (0 if old is None else old.nbytes)
        self._exact[key] = exact
        while self._exact_bytes > EXACT_STORE and len(self._exact) > 1:
            self._exact_bytes -= self._exact.popitem(last=False)[1].nbytes

    def _on_msg(self, _widget, content, _buffers) -> None:
        """A hovered row of a large window: its exact values and codes (matrix.js checks the codes)."""
        r = content.get("exact_row") if isinstance(content, dict) else None
        if not isinstance(r, int):
            return
        vals = self._exact.get(self._key())
        if vals is None or not 0 <= r < vals.shape[0]:
            self.send({"exact_row": r, "missing": True})
            return
        row_codes = self.window_codes()[r]
        self.send({"exact_row": r, "r0": self.r0, "c0": self.c0},
                  buffers=[np.ascontiguousarray(vals[r]).tobytes(), row_codes.tobytes()])

    def exact_values(self) -> np.ndarray | None:
        """The window's exact values [rows, cols] float32 as hovering shows them, or None."""
        if self.values:
            return np.frombuffer(self.values, dtype=np.float32).reshape(self.rows, self.cols)
        return self._exact.get(self._key()) if self.exact else None

    def set_overview(self, ov: Overview | None) -> None:
        """Show ``ov`` beside the window, with its notice; None hides the overview."""
        with self.hold_sync():
            if ov is None:
                self.ov_codes, self.ov_rows, self.ov_cols, self.ov_done, self.notice = b"", 0, 0, -1, ""
                return
            self.ov_codes = np.ascontiguousarray(ov.codes, dtype=np.uint8).tobytes()
            self.ov_rows, self.ov_cols = ov.codes.shape
            self.ov_cell = palette.overview_px(self.ov_rows, self.ov_cols)
            self.ov_fr, self.ov_fc = ov.factors
            self.ov_done = -1 if ov.done is None else int(ov.done)
            self.notice = ov.notice

    def window_codes(self) -> np.ndarray:
        """The window's codes as a [rows, cols] uint8 array (what the browser draws)."""
        return np.frombuffer(self.codes, dtype=np.uint8).reshape(self.rows, self.cols)

    def overview_codes(self) -> np.ndarray:
        """The overview's codes as a [ov_rows, ov_cols] uint8 array (empty when there is none)."""
        return np.frombuffer(self.ov_codes, dtype=np.uint8).reshape(self.ov_rows, self.ov_cols)

    def overview_rgb(self, not_yet_colours=(None, None)) -> np.ndarray:
        """The overview as the saved picture paints it, unmarked: rows from ``ov_done`` on drawn "not yet" (in
        ``not_yet_colours`` = (bg, stroke), light theme's by default). Example: ``m.overview_rgb().shape[2] == 3``"""
        return image.colorize(self.overview_codes(), self.cmap, self.ov_cell,
                              None if self.ov_done < 0 else self.ov_done, not_yet_colours)

    def _overview_png(self) -> str:
        rgb, px = self.overview_rgb(), self.ov_cell
        if self.mark_row >= 0 and 0 <= self.mark_row // self.ov_fr < self.ov_rows:
            r = self.mark_row // self.ov_fr
            rgb = image.mark_rows(rgb, r * px, (r + 1) * px)
        if self.mark_col >= 0 and 0 <= self.mark_col // self.ov_fc < self.ov_cols:
            c = self.mark_col // self.ov_fc
            rgb = image.mark_cols(rgb, c * px, (c + 1) * px)
        return image.png_data_uri(rgb)

    def caption(self) -> str:
        """The line under the colour bar: units, which colour is which (diverging maps), the range line."""
        parts = [f"{self.texts.get('units', 'units')}: {self.units}" if self.units else "",
                 self.texts.get(self.cmap, "") if self.colour_bar else "", self.range_note]
        return " · ".join(p for p in parts if p)

    def look(self) -> MatrixLook:
        """What the static pictures show: the cells, labels, marks and colour bar as now."""
        marks = []
        for kind, idx, start, n, colour, dashed in (  # the highlights under the marks, as the canvas paints them
                ("row", self.highlight_row, self.r0, self.rows, "highlight", True),
                ("col", self.highlight_col, self.c0, self.cols, "highlight", True),
                ("row", self.mark_row, self.r0, self.rows, "mark", False),
                ("col", self.mark_col, self.c0, self.cols, "mark", False)):
            if idx >= 0 and 0 <= idx - start < n:
                marks.append((kind, idx - start, colour, dashed))
        png = image.png_data_uri(image.colorize(self.window_codes(), self.cmap, (self.cell_h, self.cell_w),
                                                tuple(self.done_rows) or None))
        return matrix_look(
            self.title, png, self.rows, self.cols, self.cell_w, self.cell_h,
            AxisLabels(self.row_ticks, self.row_texts), AxisLabels(self.col_ticks, self.col_texts,
                                                                                self.col_rotate),
            self.row_axis, self.col_axis, tuple(marks), self.cmap, [tuple(x) for x in self.bar_ticks], self.caption())

    def snapshot_svg(self) -> tuple[str, int, int]:
        """The window with its axis labels, marks and colour bar as an SVG fragment, its width and height.

        Example::

            svg, width, height = m.snapshot_svg()
            page = f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}'>{svg}</svg>"
        """
        if not self.rows or not self.cols:
            fg = palette.THEME["fg"][2]
            return (f"<text x='0' y='13' font-family='sans-serif' font-size='12' fill='{fg}'>"
                    f"{html.escape(msg('canvas.empty', title=self.title))}</text>", 240, 18)
        return matrix_svg(self.look())

    def snapshot_html(self) -> str:
        """The window with its axis labels, marks and colour bar as the SVG picture (and the overview beside it)."""
        if not self.rows or not self.cols:
            return f"<div>{html.escape(msg('canvas.empty', title=self.title))}</div>"
        extra = ""
        if self.ov_rows and self.ov_cols:
            alt = html.escape(msg("canvas.overview_alt", title=self.title), quote=True)
            extra = (f"<div><img alt='{alt}' style='image-rendering:pixelated;border:1px solid "
                     f"{palette.theme_css('border')}' src='{self._overview_png()}'>"
                     f"{text_block(self.notice)}</div>")
        svg, w, h = matrix_svg(self.look())  # the picture save() draws, on its own light background
        alt = html.escape(self.title, quote=True)
        return (f"<div class='tr-matrix-snapshot' style='display:flex;gap:12px;align-items:flex-start;flex-wrap:wrap'>"
                f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' viewBox='0 0 {w} {h}' role='img' "
                f"aria-label='{alt}' style='max-width:100%;height:auto'>{svg}</svg>{extra}</div>")

    def __repr__(self) -> str:
        return (f"MatrixCanvas(title={self.title!r}, window=({self.r0}:{self.r0 + self.rows}, {self.c0}:{self.c0 + self.cols}),"
                f" full=({self.full_rows}, {self.full_cols}), overview=({self.ov_rows}, {self.ov_cols}), "
                f"mark_row={self.mark_row}, mark_col={self.mark_col})")
