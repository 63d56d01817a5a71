"""The matrix anywidget (``static/matrix.js``) and what every canvas panel shares (``bars.py`` has the bars).

State lives in traits; arrays travel as ``Bytes`` traits, which ipywidgets sends as binary
buffers (never a JSON table). The JavaScript is ``static/matrix.js`` / ``static/bars.js`` inside the
package: nothing loads from a CDN. It paints what Python sends: the colour table and named colours of
``views.palette`` and the cell sizes computed here, so the canvas and the static ``text/html`` snapshot
(a base64 PNG or an inline SVG, for notebooks read without a kernel) agree by construction.
"""
from __future__ import annotations

import html
import pathlib

import anywidget
import ipywidgets as w
import numpy as np
import traitlets as t

from ..engine.text import safe_label, safe_labels

from ..views import image, palette
from ..views.matrix import Overview, Window
from .markup import text_block

STATIC = pathlib.Path(__file__).resolve().parent.parent / "static"


class Quiet:
    """A widget whose trait changes can be kept from the browser while ``quiet_sync`` is True.

    With the frames in the browser (``frames.py``), the browser sets the panels itself; Python then
    follows the step with the same values without sending them back (which would race a playing clock).
    """

    quiet_sync = False

    def _should_send_property(self, key, value):
        if self.quiet_sync:
            if self._holding_sync:
                self._states_to_send.discard(key)
            return False
        return super()._should_send_property(key, value)


class HTMLPanel(Quiet, w.HTML):
    """An ipywidgets HTML panel that frames can drive (its ``value`` is our own escaped markup)."""


def safe_text(trait_names):
    """A validator that passes every label and title through ``engine.text.safe_label(s)``."""
    def check(self, proposal):
        v = proposal["value"]
        return safe_labels(v) if isinstance(v, (list, tuple)) else safe_label(v)
    return t.validate(*trait_names)(check)


class Snapshot:
    """Deterministic repr and a mimebundle with the widget view, text/plain and a text/html snapshot."""

    def snapshot_html(self) -> str:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs):
        data = {"text/plain": repr(self), "text/html": self.snapshot_html()}
        if self._view_name is not None and self.comm is not None:
            data["application/vnd.jupyter.widget-view+json"] = {
                "version_major": 2, "version_minor": 1, "model_id": self.model_id}
        return data


def colours_trait():
    return t.Dict(palette.widget_palette()["colours"]).tag(sync=True)


class MatrixCanvas(Quiet, Snapshot, anywidget.AnyWidget):
    """A matrix window (uint8 codes) with the current row/column marked, plus an overview image.

    Example::

        m = MatrixCanvas(title="attention weights")
        m.set_window(codes, Window(0, 8, 0, 8), (8, 8), 0.0, 1.0)
        m.mark_row = 3
    """

    _esm = STATIC / "matrix.js"
    _css = STATIC / "tr.css"
    title = t.Unicode("").tag(sync=True)
    codes = t.Bytes(b"").tag(sync=True)
    rows = t.Int(0).tag(sync=True)
    cols = t.Int(0).tag(sync=True)
    r0 = t.Int(0).tag(sync=True)
    c0 = t.Int(0).tag(sync=True)
    full_rows = t.Int(0).tag(sync=True)
    full_cols = t.Int(0).tag(sync=True)
    vmin = t.Float(0.0).tag(sync=True)
    vmax = t.Float(1.0).tag(sync=True)
    cmap = t.Unicode("sequential").tag(sync=True)
    mark_row = t.Int(-1).tag(sync=True)
    mark_col = t.Int(-1).tag(sync=True)
    row_axis = t.Unicode("row").tag(sync=True)
    col_axis = t.Unicode("col").tag(sync=True)
    row_labels = t.List(t.Unicode()).tag(sync=True)
    col_labels = t.List(t.Unicode()).tag(sync=True)
    ov_codes = t.Bytes(b"").tag(sync=True)
    ov_rows = t.Int(0).tag(sync=True)
    ov_cols = t.Int(0).tag(sync=True)
    ov_fr = t.Int(1).tag(sync=True)
    ov_fc = t.Int(1).tag(sync=True)
    notice = t.Unicode("").tag(sync=True)
    step = t.Int(0).tag(sync=True)
    cell_px = t.Int(0)  # pixels per cell when set (> 0); else about palette.WINDOW_PX per axis
    cell_w = t.Int(1).tag(sync=True)
    cell_h = t.Int(1).tag(sync=True)
    ov_cell = t.Int(1).tag(sync=True)
    lut = t.Bytes(b"").tag(sync=True)  # [256, 3] uint8: the colour of each code for ``cmap``
    colours = colours_trait()
    _safe = safe_text(("title", "row_labels", "col_labels", "notice", "row_axis", "col_axis"))

    @t.observe("cmap", type="change")
    def _on_cmap(self, change=None):
        self.lut = palette.LUTS[self.cmap].tobytes()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._on_cmap()

    def set_window(self, codes: np.ndarray, win: Window, full_shape: tuple[int, int], vmin: float, vmax: float,
                   row_labels=None, col_labels=None) -> None:
        """Show ``codes`` [rows, cols] as cells ``win`` of a ``full_shape`` matrix."""
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        with self.hold_sync():
            self.codes = codes.tobytes()
            self.rows, self.cols = codes.shape
            self.r0, self.c0 = win.r0, win.c0
            self.full_rows, self.full_cols = full_shape
            self.vmin, self.vmax = float(vmin), float(vmax)
            self.row_labels = list(row_labels or [])
            self.col_labels = list(col_labels or [])
            self.cell_w = self.cell_px or palette.cell_px(self.cols)
            self.cell_h = self.cell_px or palette.cell_px(self.rows)

    def set_overview(self, ov: Overview | None) -> None:
        """Show ``ov`` beside the window, with its notice; None hides the overview."""
        with self.hold_sync():
            if ov is None:
                self.ov_codes, self.ov_rows, self.ov_cols, self.notice = b"", 0, 0, ""
                return
            self.ov_codes = np.ascontiguousarray(ov.codes, dtype=np.uint8).tobytes()
            self.ov_rows, self.ov_cols = ov.codes.shape
            self.ov_cell = palette.overview_px(self.ov_rows, self.ov_cols)
            self.ov_fr, self.ov_fc = ov.factors
            self.notice = ov.notice

    def window_codes(self) -> np.ndarray:
        """The window's codes as a [rows, cols] uint8 array (what the browser draws)."""
        return np.frombuffer(self.codes, dtype=np.uint8).reshape(self.rows, self.cols)

    def overview_codes(self) -> np.ndarray:
        """The overview's codes as a [ov_rows, ov_cols] uint8 array (empty when there is none)."""
        return np.frombuffer(self.ov_codes, dtype=np.uint8).reshape(self.ov_rows, self.ov_cols)

    def _png(self, codes: np.ndarray, fr: int, fc: int, r0: int, c0: int, sr: int, sc: int) -> str:
        rgb = image.colorize(codes, self.cmap, (sr, sc))
        if self.mark_row >= 0 and 0 <= (self.mark_row - r0) // fr < codes.shape[0]:
            r = (self.mark_row - r0) // fr
            rgb = image.mark_rows(rgb, r * sr, (r + 1) * sr)
        if self.mark_col >= 0 and 0 <= (self.mark_col - c0) // fc < codes.shape[1]:
            c = (self.mark_col - c0) // fc
            rgb = image.mark_cols(rgb, c * sc, (c + 1) * sc)
        return image.png_data_uri(rgb)

    def snapshot_html(self) -> str:
        """The window (and overview) as base64 PNGs with the marker, title, ranges and notice."""
        if not self.rows or not self.cols:
            return f"<div>{html.escape(self.title)}: (empty)</div>"
        alt = html.escape(self.title, quote=True)
        parts = [f"<div style='font-weight:600'>{html.escape(self.title)}</div>",
                 "<div style='display:flex;gap:12px;align-items:flex-start;flex-wrap:wrap'>",
                 f"<img alt='{alt}' style='image-rendering:pixelated;border:1px solid #bbb' "
                 f"src='{self._png(self.window_codes(), 1, 1, self.r0, self.c0, self.cell_h, self.cell_w)}'>"]
        if self.ov_rows and self.ov_cols:
            parts.append(f"<div><img alt='overview of {alt}' style='image-rendering:pixelated;border:1px solid #bbb' "
                         f"src='{self._png(self.overview_codes(), self.ov_fr, self.ov_fc, 0, 0, self.ov_cell, self.ov_cell)}'>"
                         f"{text_block(self.notice)}</div>")
        parts.append("</div>")
        parts.append(text_block(
            f"{self.row_axis} {self.r0}–{self.r0 + self.rows - 1} of {self.full_rows} · {self.col_axis} "
            f"{self.c0}–{self.c0 + self.cols - 1} of {self.full_cols} · colour range "
            f"[{self.vmin:.3g}, {self.vmax:.3g}]"))
        return "<div class='tr-matrix-snapshot'>" + "".join(parts) + "</div>"

    def __repr__(self) -> str:
        return (f"MatrixCanvas(title={self.title!r}, window=({self.r0}:{self.r0 + self.rows}, "
                f"{self.c0}:{self.c0 + self.cols}), full=({self.full_rows}, {self.full_cols}), "
                f"overview=({self.ov_rows}, {self.ov_cols}), mark_row={self.mark_row}, mark_col={self.mark_col})")
