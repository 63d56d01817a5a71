"""The bar-chart anywidget: small multiples of float32 vectors (``static/bars.js``), grouped into a flow."""
from __future__ import annotations

import html

import anywidget
import numpy as np
import traitlets as t

from ..views import palette
from .canvas import STATIC, Quiet, Snapshot, colours_trait, safe_text
from .markup import bars_svg


class BarsCanvas(Quiet, Snapshot, anywidget.AnyWidget):
    """Small bar charts of float32 vectors, grouped into a left-to-right flow (arrows between groups).

    Example::

        b = BarsCanvas(title="gates")
        b.set_series([("x_t", x, None, -1, ""), ("h_t", h, None, -1, "")], groups=[[0], [1]])
    """

    _esm = STATIC / "bars.js"
    _css = STATIC / "tr.css"
    title = t.Unicode("").tag(sync=True)
    values = t.Bytes(b"").tag(sync=True)
    blocked = t.Bytes(b"").tag(sync=True)
    lengths = t.List(t.Int()).tag(sync=True)
    names = t.List(t.Unicode()).tag(sync=True)
    notes = t.List(t.Unicode()).tag(sync=True)
    marks = t.List(t.Int()).tag(sync=True)
    groups = t.List(t.List(t.Int())).tag(sync=True)
    arrow = t.Unicode("→").tag(sync=True)
    step = t.Int(0).tag(sync=True)
    bar_px = t.List(t.Int()).tag(sync=True)  # pixels per bar, one per series
    colours = colours_trait()
    _safe = safe_text(("title", "names", "notes"))

    def set_series(self, series, groups=None) -> None:
        """``series``: ``(name, values, blocked or None, marked index or -1, note)`` per chart."""
        vals = [np.asarray(s[1], dtype=np.float32).ravel() for s in series]
        any_blocked = any(s[2] is not None for s in series)
        with self.hold_sync():
            self.values = np.concatenate(vals).tobytes() if vals else b""
            self.blocked = (np.concatenate([np.zeros(len(v), np.uint8) if s[2] is None else
                                            np.asarray(s[2], dtype=np.uint8).ravel() for s, v in zip(series, vals)])
                            .tobytes() if any_blocked else b"")
            self.lengths = [len(v) for v in vals]
            self.bar_px = [palette.bar_px(len(v)) for v in vals]
            self.names = [str(s[0]) for s in series]
            self.marks = [int(s[3]) for s in series]
            self.notes = [str(s[4]) for s in series]
            self.groups = groups if groups is not None else [[i] for i in range(len(series))]

    def series(self) -> dict[str, np.ndarray]:
        """name -> float32 values, decoded from the buffer the browser receives."""
        vals = np.frombuffer(self.values, dtype=np.float32)
        out, start = {}, 0
        for name, n in zip(self.names, self.lengths):
            out[name] = vals[start:start + n]
            start += n
        return out

    def blocked_series(self) -> dict[str, np.ndarray]:
        """name -> bool mask of blocked entries (all False when nothing is blocked)."""
        blk = np.frombuffer(self.blocked, dtype=np.uint8) if self.blocked else None
        out, start = {}, 0
        for name, n in zip(self.names, self.lengths):
            out[name] = np.zeros(n, bool) if blk is None else blk[start:start + n].astype(bool)
            start += n
        return out

    def snapshot_html(self) -> str:
        """Each series as a small inline SVG bar chart, in the flow's group order."""
        vals, blk = self.series(), self.blocked_series()
        cols = []
        for group in self.groups:
            charts = [bars_svg(self.names[s], vals[self.names[s]], blk[self.names[s]], self.marks[s], self.notes[s])
                      for s in group if s < len(self.names)]
            cols.append("<div style='display:flex;flex-direction:column;gap:4px'>" + "".join(charts) + "</div>")
        arrow = f"<div style='font-size:20px;color:#888'>{html.escape(self.arrow)}</div>"
        return (f"<div class='tr-bars-snapshot'><div style='font-weight:600'>{html.escape(self.title)}</div>"
                f"<div style='display:flex;flex-wrap:wrap;gap:6px;align-items:center'>{arrow.join(cols)}</div></div>")

    def __repr__(self) -> str:
        return f"BarsCanvas(title={self.title!r}, series={list(zip(self.names, self.lengths))})"
