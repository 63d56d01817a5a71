"""Static images of matrices for saved notebooks: colour maps and a numpy + zlib PNG encoder.

The live view draws uint8 codes on a <canvas> (``static/matrix.js``); a saved or exported notebook
has no kernel and no JavaScript state, so each widget's ``text/html`` snapshot embeds the same
picture as a base64 PNG made here, with the colours of ``palette`` (which the canvas is sent too), so the
snapshot looks like the live view. Encoding is deterministic (fixed zlib level, no timestamps).
"""
from __future__ import annotations

import base64
import html
import math
import struct
import unicodedata
import zlib
from dataclasses import dataclass

import numpy as np

from ..i18n import msg
from .matrix import BLOCKED, LEVELS, NONFINITE, AxisLabels
from .palette import COLOURS, LUTS, THEME, theme_css

def colorize(codes: np.ndarray, cmap: str, scale=1) -> np.ndarray:
    """uint8 codes [R, C] -> RGB [R*sr, C*sc, 3]; blocked cells hatched, NaN/inf magenta.

    ``scale`` is pixels per cell: one int, or (rows, cols) for non-square cells.

    Example::

        colorize(np.array([[0, 253], [255, 254]], np.uint8), "sequential", scale=4).shape  # (8, 8, 3)
    """
    sr, sc = (scale, scale) if isinstance(scale, int) else scale
    codes = np.asarray(codes, dtype=np.uint8)
    rgb = LUTS[cmap][codes]  # [R, C, 3]
    rgb[codes == BLOCKED] = COLOURS["blocked"]
    rgb[codes == NONFINITE] = COLOURS["nonfinite"]
    if sr > 1 or sc > 1:
        rgb = rgb.repeat(sr, axis=0).repeat(sc, axis=1)  # [R*sr, C*sc, 3]
        if sr >= 3 and sc >= 3:  # a diagonal hatch inside blocked cells, like the canvas draws
            big = (codes == BLOCKED).repeat(sr, axis=0).repeat(sc, axis=1)
            yy, xx = np.indices(big.shape)
            rgb[big & ((yy % sr + xx % sc) == max(sr, sc) - 1)] = COLOURS["hatch"]
    return rgb


def mark_rows(rgb: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Outline pixel rows [start, stop) of an RGB image (the current query/row marker)."""
    rgb = rgb.copy()
    stop = max(stop, start + 1)
    rgb[max(start - 1, 0), :] = COLOURS["mark"]
    rgb[min(stop, rgb.shape[0] - 1), :] = COLOURS["mark"]
    return rgb


def mark_cols(rgb: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Outline pixel columns [start, stop) of an RGB image (the current step marker)."""
    return mark_rows(rgb.transpose(1, 0, 2), start, stop).transpose(1, 0, 2)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(rgb: np.ndarray) -> bytes:
    """Encode an RGB uint8 image [H, W, 3] as PNG (filter 0, zlib level 6: deterministic).

    Example::

        png_bytes(np.zeros((2, 3, 3), np.uint8))[:8]   # b'\\x89PNG\\r\\n\\x1a\\n'
    """
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = rgb.shape
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rgb.reshape(h, w * 3)], axis=1)  # [H, 1 + 3W]
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
            + _chunk(b"IEND", b""))


def png_data_uri(rgb: np.ndarray) -> str:
    """A ``data:image/png;base64,...`` URI for an <img> in a static snapshot."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(rgb)).decode("ascii")


# ---- the matrix with its axes, marks and colour bar, as an SVG fragment and as static HTML ----------

BAR_W, BAR_GAP, TICK_W, TITLE_H, AXIS_H = 12, 10, 56, 18, 16
LATIN_EM, WIDE_EM = 0.62, 1.0  # a conservative width per character (saved pictures never overlap text)
SANS = "DejaVu Sans, WenQuanYi Micro Hei, sans-serif"  # fonts with Latin and CJK glyphs (the PNG rasteriser's)
MONO = "DejaVu Sans Mono, WenQuanYi Micro Hei Mono, WenQuanYi Micro Hei, monospace"
TITLE_MIN = 360  # px a picture's title may take before it wraps (the screen wraps a long title too)


def text_px(s: str, size: float) -> float:
    """An upper estimate of how many px ``s`` takes at font size ``size``: 0.62 em a character, 1 em a wide one.

    Example: ``text_px("ab", 10) == 12.4``
    """
    return size * sum(WIDE_EM if unicodedata.east_asian_width(ch) in "WF" else LATIN_EM for ch in s)


def wrap_px(s: str, size: float, width: float) -> list[str]:
    """``s`` broken at spaces into lines of at most ``width`` px (a longer word keeps its own line).

    Example: ``wrap_px("a b c", 10, 40) == ["a b", "c"]``
    """
    lines: list[str] = []
    for word in s.split(" "):
        if lines and text_px(lines[-1] + " " + word, size) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


@dataclass(frozen=True)
class MatrixLook:
    """Everything a static matrix picture shows, in the canvas's own geometry (px per cell)."""

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
    marks: tuple  # (("row" | "col", window-relative index, theme colour name, dashed), ...)
    cmap: str
    ticks: list  # colour_ticks(vmin, vmax)
    caption: str  # units, which colour is which sign, the range line


def bar_png(cmap: str) -> str:
    """The colour bar's picture: codes LEVELS (top) .. 0 (bottom), one pixel each, BAR_W wide."""
    codes = np.arange(LEVELS, -1, -1, dtype=np.uint8)[:, None]  # [254, 1]
    return png_data_uri(colorize(codes, cmap, (1, BAR_W)))


def _geometry(m: MatrixLook) -> dict:
    row_w = math.ceil(max([text_px(s, 11) for s in m.row_labels.texts] + [text_px(m.row_axis + " ↓", 11), 8]) + 8)
    col_h = math.ceil(max([text_px(s, 11) for s in m.col_labels.texts] + [8]) + 6) if m.col_labels.rotate else AXIS_H
    w, h = m.cols * m.cell_w, m.rows * m.cell_h
    x0, y0 = row_w, TITLE_H + AXIS_H
    bar_h = min(max(h, 80), 240) if m.ticks else 0  # no ticks: no colour bar (categories)
    tick_w = math.ceil(max([text_px(s, 11) for _, s in m.ticks] + [8]) + 5)
    body_w = max(x0 + w + (BAR_GAP + BAR_W + tick_w if m.ticks else 0), x0 + text_px(m.col_axis + " →", 11))
    title = wrap_px(m.title, 12, max(body_w, TITLE_MIN))
    caption = wrap_px(m.caption, 11, max(body_w, TITLE_MIN)) if m.caption else []
    width = max([body_w] + [text_px(s, 12) for s in title] + [text_px(s, 11) for s in caption])
    top = 16 * (len(title) - 1)  # more title lines push the matrix down
    y0 += top
    axis_y = y0 + h + 4 + col_h + 10  # the column axis name's baseline: under the colour bar where it reaches it
    if x0 + text_px(m.col_axis + " →", 11) > x0 + w + BAR_GAP - 2:
        axis_y = max(axis_y, y0 + bar_h + 18)
    bottom = max(axis_y + 4, y0 + bar_h + 8)
    return dict(row_w=row_w, col_h=col_h, w=w, h=h, x0=x0, y0=y0, bar_x=x0 + w + BAR_GAP, bar_h=bar_h,
                width=int(width + 1.999), title=title, caption=caption, top=top, axis_y=axis_y, bottom=bottom,
                height=int(bottom + 14 * len(caption) + 4.999))


def matrix_svg(m: MatrixLook) -> tuple[str, int, int]:
    """An SVG fragment (no outer <svg>, light theme colours as hex) and its width and height in px.

    Every text fits in the fragment: titles and the caption wrap, the row labels' column is as wide as
    its widest label (``text_px``). Example::

        svg, width, height = matrix_svg(look)    # look: a MatrixLook (MatrixCanvas.snapshot_svg builds it)
    """
    g, light = _geometry(m), {k: v[2] for k, v in THEME.items()}
    e = lambda s: html.escape(s, quote=True)  # noqa: E731
    fg, muted = light["fg"], light["fg-muted"]
    font = f"font-size='11' fill='{fg}'"
    out = [f"<g font-family='{SANS}'><rect x='0' y='0' width='{g['width']}' height='{g['height']}' fill='{light['bg']}'/>"]
    out += [f"<text x='0' y='{13 + 16 * i}' font-size='12' font-weight='600' fill='{fg}'>{e(s)}</text>"
            for i, s in enumerate(g["title"])]
    out += [f"<text x='{g['x0'] - 4:g}' y='{g['top'] + TITLE_H + 11}' text-anchor='end' font-size='11' "
            f"fill='{muted}'>{e(m.row_axis)} ↓</text>",
            f"<image x='{g['x0']:g}' y='{g['y0']}' width='{g['w']}' height='{g['h']}' preserveAspectRatio='none' "
            f"style='image-rendering:pixelated' href='{m.png}'/>",
            f"<rect x='{g['x0'] - .5:g}' y='{g['y0'] - .5}' width='{g['w'] + 1}' height='{g['h'] + 1}' fill='none' "
            f"stroke='{light['border']}'/>"]
    for i, s in zip(m.row_labels.ticks, m.row_labels.texts):
        out.append(f"<text x='{g['x0'] - 4:g}' y='{g['y0'] + (i + .5) * m.cell_h + 4:g}' text-anchor='end' {font}>{e(s)}</text>")
    cy = g["y0"] + g["h"] + 4
    for j, s in zip(m.col_labels.ticks, m.col_labels.texts):
        cx = g["x0"] + (j + .5) * m.cell_w
        if m.col_labels.rotate:
            out.append(f"<text transform='translate({cx + 4:g},{cy}) rotate(-90)' text-anchor='end' {font}>{e(s)}</text>")
        else:
            out.append(f"<text x='{cx:g}' y='{cy + 10}' text-anchor='middle' {font}>{e(s)}</text>")
    out.append(f"<text x='{g['x0']:g}' y='{g['axis_y']:g}' font-size='11' fill='{muted}'>{e(m.col_axis)} →</text>")
    for kind, k, colour, dashed in m.marks:
        x, y, w, h = ((g["x0"], g["y0"] + k * m.cell_h, g["w"], m.cell_h) if kind == "row"
                      else (g["x0"] + k * m.cell_w, g["y0"], m.cell_w, g["h"]))
        dash = " stroke-dasharray='4 2'" if dashed else ""
        out.append(f"<rect x='{x:g}' y='{y}' width='{w}' height='{h}' fill='none' stroke='{light[colour]}' "
                   f"stroke-width='2'{dash}/>")
    bx, by, bh = g["bar_x"], g["y0"], g["bar_h"]
    if m.ticks:
        out.append(f"<image x='{bx:g}' y='{by}' width='{BAR_W}' height='{bh}' preserveAspectRatio='none' "
                   f"href='{bar_png(m.cmap)}'/>")
    for pos, s in m.ticks:
        ty = by + (1 - pos) * bh
        out.append(f"<line x1='{bx + BAR_W:g}' x2='{bx + BAR_W + 3:g}' y1='{ty:g}' y2='{ty:g}' stroke='{fg}'/>"
                   f"<text x='{bx + BAR_W + 5:g}' y='{ty + 4:g}' {font}>{e(s)}</text>")
    out += [f"<text x='0' y='{g['bottom'] + 12 + 14 * i:g}' font-size='11' fill='{muted}'>{e(s)}</text>"
            for i, s in enumerate(g["caption"])]
    return "".join(out) + "</g>", g["width"], g["height"]


def matrix_html(m: MatrixLook, extra: str = "") -> str:
    """The same picture as static HTML (text labels, the cells and the bar as PNGs), in theme colours.

    ``extra`` (our own markup, e.g. the overview) goes beside the colour bar. Deterministic for nbval.
    """
    g, e = _geometry(m), html.escape
    fg, muted, border = theme_css("fg"), theme_css("fg-muted"), theme_css("border")
    lab = f"position:absolute;font:11px/13px sans-serif;color:{fg};white-space:nowrap;unicode-bidi:isolate"
    parts = [f"<div style='font-weight:600;color:{fg}'>{e(m.title)}</div>",
             "<div style='display:flex;gap:12px;align-items:flex-start;flex-wrap:wrap'>",
             f"<div style='position:relative;width:{g['x0'] + g['w']}px;height:{g['y0'] - g['top'] - TITLE_H + g['h'] + g['col_h'] + AXIS_H}px'>",
             f"<div style='{lab};color:{muted};right:{g['w'] + 4}px;top:0'>{e(m.row_axis)} ↓</div>"]
    top = AXIS_H
    for i, s in zip(m.row_labels.ticks, m.row_labels.texts):
        parts.append(f"<div class='tr-axis-label' style='{lab};right:{g['w'] + 4}px;"
                     f"top:{top + (i + .5) * m.cell_h - 6.5:g}px'>{e(s)}</div>")
    parts.append(f"<img alt='{e(m.title, quote=True)}' style='position:absolute;left:{g['x0']}px;top:{top}px;"
                 f"width:{g['w']}px;height:{g['h']}px;image-rendering:pixelated;outline:1px solid {border}' src='{m.png}'>")
    for kind, k, colour, dashed in m.marks:
        box = (f"left:{g['x0']}px;top:{top + k * m.cell_h}px;width:{g['w']}px;height:{m.cell_h}px" if kind == "row"
               else f"left:{g['x0'] + k * m.cell_w}px;top:{top}px;width:{m.cell_w}px;height:{g['h']}px")
        parts.append(f"<div style='position:absolute;box-sizing:border-box;{box};"
                     f"border:2px {'dashed' if dashed else 'solid'} {theme_css(colour)}'></div>")
    cy = top + g["h"] + 3
    for j, s in zip(m.col_labels.ticks, m.col_labels.texts):
        cx = g["x0"] + (j + .5) * m.cell_w
        style = (f"left:{cx - 6.5:g}px;top:{cy}px;writing-mode:vertical-rl;transform:rotate(180deg)"
                 if m.col_labels.rotate else f"left:{cx:g}px;top:{cy}px;transform:translateX(-50%)")
        parts.append(f"<div class='tr-axis-label' style='{lab};{style}'>{e(s)}</div>")
    parts.append(f"<div style='{lab};color:{muted};left:{g['x0']}px;top:{cy + g['col_h']}px'>{e(m.col_axis)} →</div>")
    parts.append("</div>")
    parts.append(f"<div style='position:relative;width:{BAR_W + TICK_W}px;height:{g['bar_h'] + 8}px;margin-top:{AXIS_H}px'>"
                 + (f"<img alt='{e(msg('matrix.bar'), quote=True)}' style='position:absolute;left:0;top:0;"
                    f"width:{BAR_W}px;height:{g['bar_h']}px' src='{bar_png(m.cmap)}'>" if m.ticks else ""))
    for pos, s in m.ticks:
        parts.append(f"<div style='{lab};left:{BAR_W + 4}px;top:{(1 - pos) * g['bar_h'] - 6.5:g}px'>{e(s)}</div>")
    parts.append(f"</div>{extra}</div><div style='font-size:11px;color:{muted}'>{e(m.caption)}</div>")
    return "<div class='tr-matrix-snapshot'>" + "".join(parts) + "</div>"
