"""Static images of matrices for saved notebooks: colour maps and a numpy + zlib PNG encoder.

The live view draws uint8 codes on a <canvas> (``static/matrix.js``); a saved or exported notebook
has no kernel and no JavaScript state, so each widget's ``text/html`` snapshot embeds the same
picture as a base64 PNG made here, with the colours of ``palette`` (which the canvas is sent too), so the
snapshot looks like the live view. Encoding is deterministic (fixed zlib level, no timestamps). Also the
text size estimate every Look lays out with (``text_px``), and the colour bar's picture.
"""
from __future__ import annotations

import base64
import functools
import struct
import unicodedata
import zlib

import numpy as np

from .matrix import BLOCKED, LEVELS, NONFINITE
from .palette import COLOURS, LUTS, THEME

NOT_YET_STEP = 6  # px between the diagonal strokes over rows not computed yet (static/matrix/paint.js: the same)


def not_yet(rgb: np.ndarray, top: int, bg=None, stroke=None, bottom: int | None = None) -> np.ndarray:
    """Paint pixel rows ``top``.. of ``rgb`` [H, W, 3] (only up to ``bottom`` when given) as "not computed yet":
    the panel background with a light diagonal stroke every ``NOT_YET_STEP`` px (pixels with ``(x + y) %
    NOT_YET_STEP == NOT_YET_STEP - 1``), so a region still being computed reads as neither a value nor NaN.
    ``bg`` and ``stroke`` default to the light theme's "bg" and "border" (the live canvas paints the page theme's).

    Example::

        rgb = not_yet(np.zeros((12, 12, 3), np.uint8), 6)      # the lower half: white, with grey diagonals
        assert (rgb[:6] == 0).all() and (rgb[6:] != 0).any()
    """
    bg = _rgb(THEME["bg"][2]) if bg is None else bg
    stroke = _rgb(THEME["border"][2]) if stroke is None else stroke
    bottom = rgb.shape[0] if bottom is None else min(bottom, rgb.shape[0])
    if top >= bottom:
        return rgb
    yy, xx = np.indices(rgb[top:bottom].shape[:2])
    rgb[top:bottom] = bg
    rgb[top:bottom][(xx + yy + top) % NOT_YET_STEP == NOT_YET_STEP - 1] = stroke
    return rgb


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


def colorize(codes: np.ndarray, cmap: str, scale=1, done_rows: int | None = None,
             not_yet_colours=(None, None)) -> np.ndarray:
    """uint8 codes [R, C] -> RGB [R*sr, C*sc, 3]; blocked cells hatched, NaN/inf magenta.

    ``scale`` is pixels per cell: one int, or (rows, cols) for non-square cells. With ``done_rows`` (a filling
    overview's ``Overview.done``: rows [0, done) computed; or a filling window's ``WeightsWindow.done``, rows
    [a, b)) the other rows are drawn "not computed yet" (:func:`not_yet`, in ``not_yet_colours`` = (bg, stroke)
    when given).

    Example::

        colorize(np.array([[0, 253], [255, 254]], np.uint8), "sequential", scale=4).shape  # (8, 8, 3)
        colorize(np.zeros((4, 4), np.uint8), "sequential", 2, done_rows=1)   # rows 1-3 "not yet", not magenta
        colorize(np.zeros((4, 4), np.uint8), "sequential", 2, done_rows=(1, 3))   # rows 0 and 3 "not yet"
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
    if done_rows is not None:
        a, b = (0, done_rows) if isinstance(done_rows, (int, np.integer)) else done_rows
        if (a, b) != (0, codes.shape[0]):
            rgb = not_yet(np.ascontiguousarray(rgb), b * sr, *not_yet_colours)
            rgb = not_yet(rgb, 0, *not_yet_colours, bottom=a * sr)
    return rgb


def mark_rows(rgb: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Outline pixel rows [start, stop) of an RGB image (the current query/row marker).

    Example: ``(mark_rows(np.zeros((4, 2, 3), np.uint8), 1, 2)[0] == COLOURS["mark"]).all()``
    """
    rgb = rgb.copy()
    stop = max(stop, start + 1)
    rgb[max(start - 1, 0), :] = COLOURS["mark"]
    rgb[min(stop, rgb.shape[0] - 1), :] = COLOURS["mark"]
    return rgb


def mark_cols(rgb: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Outline pixel columns [start, stop) of an RGB image (the current step marker).

    Example: ``(mark_cols(np.zeros((2, 4, 3), np.uint8), 1, 2)[:, 0] == COLOURS["mark"]).all()``
    """
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
    """A ``data:image/png;base64,...`` URI for an <img> in a static snapshot.

    Example: ``png_data_uri(np.zeros((1, 1, 3), np.uint8)).startswith("data:image/png;base64,")``
    """
    return "data:image/png;base64," + base64.b64encode(png_bytes(rgb)).decode("ascii")


# ---- text sizes and the colour bar, for the Looks (views.looks*) and the SVG painter (views.svg) ----------

BAR_W = 12  # px: the colour bar's width
LATIN_EM, WIDE_EM = 0.62, 1.0  # a conservative width per character (saved pictures never overlap text)
SANS = "DejaVu Sans, WenQuanYi Micro Hei, sans-serif"  # fonts with Latin and CJK glyphs (the PNG rasteriser's)
MONO = "DejaVu Sans Mono, WenQuanYi Micro Hei Mono, WenQuanYi Micro Hei, monospace"


@functools.lru_cache(maxsize=8192)  # the same labels and names are measured at every step
def text_px(s: str, size: float) -> float:
    """An upper estimate of how many px ``s`` takes at font size ``size``: 0.62 em a character, 1 em a wide one.

    Example: ``text_px("ab", 10) == 12.4``
    """
    return size * sum(WIDE_EM if unicodedata.east_asian_width(ch) in "WF" else LATIN_EM for ch in s)


def wrap_px(s: str, size: float, width: float) -> list[str]:
    """``s`` broken at spaces into lines of at most ``width`` px (a longer word keeps its own line).

    Example: ``wrap_px("a b c", 10, 20) == ["a b", "c"]``
    """
    lines: list[str] = []
    for word in s.split(" "):
        if lines and text_px(lines[-1] + " " + word, size) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def bar_png(cmap: str) -> str:
    """The colour bar's picture: codes LEVELS (top) .. 0 (bottom), one pixel each, BAR_W wide.

    Example: ``bar_png("sequential").startswith("data:image/png;base64,")``
    """
    codes = np.arange(LEVELS, -1, -1, dtype=np.uint8)[:, None]  # [254, 1]
    return png_data_uri(colorize(codes, cmap, (1, BAR_W)))
