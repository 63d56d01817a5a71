"""Rows of a filling overview that are not computed yet read as "not yet", never as NaN (issue 26).

The overview of a long trace fills in on the event loop (``widgets.filling``); meanwhile its later rows have no
value. They are coded NONFINITE (no value) and ``Overview.done`` / ``MatrixCanvas.ov_done`` say where they start,
so the saved picture (``views.image.colorize``, the snapshot's PNG) paints them in the panel background with a
light diagonal stroke, not in the NaN colour; the live canvas paints the same pixels (tests/browser/
test_browser_overview_not_yet.py). A real NaN in a computed row stays magenta. Once filled, nothing is "not yet".
"""
from __future__ import annotations

import asyncio
import base64
import re
import struct
import zlib

import numpy as np
import pytest

from tr_widgets.i18n import language, texts
from tr_widgets.views import image, weights_overview
from tr_widgets.views.matrix import NONFINITE
from tr_widgets.views.palette import COLOURS
from tr_widgets.widgets import show
from .test_long_overview import _in_own_thread, _trace, _until_done, long_here, small_slices  # noqa: F401

NAN_RGB = np.array(COLOURS["nonfinite"], np.uint8)


def _png_pixels(uri: str) -> np.ndarray:
    """Decode the PNG ``views.image.png_bytes`` writes (8-bit RGB, filter 0 on every row, one IDAT)."""
    raw = base64.b64decode(uri.split(",", 1)[1])
    w, h = struct.unpack(">II", raw[16:24])
    at = raw.index(b"IDAT")
    n = struct.unpack(">I", raw[at - 4:at])[0]
    rows = np.frombuffer(zlib.decompress(raw[at + 4:at + 4 + n]), np.uint8).reshape(h, 1 + 3 * w)
    return rows[:, 1:].reshape(h, w, 3)


def _is_nan_colour(rgb: np.ndarray) -> np.ndarray:
    return (rgb == NAN_RGB).all(-1)


def test_colorize_paints_not_yet_rows_apart_from_nan():
    codes = np.full((6, 5), NONFINITE, np.uint8)
    codes[:2] = np.arange(5) * 50
    codes[1, 3] = NONFINITE  # a real NaN in a computed row
    plain = image.colorize(codes, "sequential", 3)
    rgb = image.colorize(codes, "sequential", 3, done_rows=2)
    assert np.array_equal(rgb[:6], plain[:6])  # the computed rows as before, their NaN magenta
    assert _is_nan_colour(rgb[3:6, 9:12]).all()
    below = rgb[6:]
    assert not _is_nan_colour(below).any()  # nothing not yet computed reads as NaN
    colours = {tuple(c) for c in below.reshape(-1, 3)}
    assert len(colours) == 2  # the background and the light stroke, nothing else
    assert _is_nan_colour(plain[6:]).all()  # (without done_rows the same codes are NaN: what this replaces)


def test_filling_overview_picture_says_not_yet_and_ends_as_the_one_computed_up_front(small_slices):
    at = _trace()

    async def session():
        s = show(at, progress=False)
        assert s.weights.ov_done == 0  # nothing computed: every row "not yet"
        while not 0.2 < s.overview_progress < 0.8:
            await asyncio.sleep(0)
        w = s.weights
        done, px = w.ov_done, w.ov_cell
        assert 0 < done < w.ov_rows and (w.overview_codes()[done:] == NONFINITE).all()
        rgb = w.overview_rgb()
        assert not _is_nan_colour(rgb[done * px:]).any()
        assert np.array_equal(rgb[:done * px], image.colorize(w.overview_codes()[:done], w.cmap, px))
        src = re.search(r"<img [^>]*src='(data:image/png;base64,[^']+)'", w.snapshot_html())[1]
        shown = _png_pixels(src)  # the exported snapshot's overview: the same picture, plus the marks
        assert shown.shape == rgb.shape and not _is_nan_colour(shown[(done + 1) * px:]).any()
        assert (shown != rgb).any(-1).mean() < 0.05  # only the mark lines differ
        i = s._targets.index(w)
        recorded = list(s._recorded.values())  # the exported page's frames: the page paints them "not yet" too
        assert recorded and all(f[i]["ov_done"] == done and f[i]["ov_codes"] == w.ov_codes for f in recorded)
        await _until_done(s)
        return s

    s = _in_own_thread(lambda: asyncio.run(session()))
    assert s.weights.ov_done == -1  # filled: nothing "not yet"
    assert np.array_equal(s.weights.overview_codes(), weights_overview(at, (0, 0), s.overview_px).codes)
    assert np.array_equal(s.weights.overview_rgb(), image.colorize(s.weights.overview_codes(), s.weights.cmap,
                                                                   s.weights.ov_cell))
    i = s._targets.index(s.weights)
    assert all(f[i]["ov_done"] == -1 for f in s._recorded.values())  # the frames carry it too


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_hover_words_for_not_yet(lang):
    with language(lang):
        words = texts("matrix.")
    assert words["not_yet"] and words["not_yet"] != words["nonfinite"]
