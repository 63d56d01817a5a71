"""Axis labels, the colour bar's ticks and the range line of a matrix panel: computed here, placed as sent.

This module owns which cells get a label (``LABEL_PX`` apart), how a label is elided, whether column
labels stand vertical, the colour bar's tick texts and the "key 0–63 of 0–4095" line; matrix.js only
places what it is sent. :mod:`.matrix` re-exports every name.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..i18n import msg

LABEL_PX = 14  # the least pixels between the centres of two shown labels (11 px text on 13 px lines)
CHAR_PX = 7  # about how wide one character of 11 px text is (elision and horizontal spacing)
LABEL_CHARS = 12  # a shown label's most characters; longer ones are elided (full text on hover)


def elide(s: str, n: int = LABEL_CHARS) -> str:
    """``s`` cut to at most ``n`` characters, the last one "…" when cut.

    Example: ``elide("transformers", 6) == "trans…"``
    """
    return s if len(s) <= n else s[:max(n - 1, 0)] + "…"


def label_ticks(n: int, cell_px: int, min_px: int = LABEL_PX, start: int = 0) -> list[int]:
    """Which of ``n`` cells (window-relative) get a label, so that shown labels are ``min_px`` apart.

    Every cell when cells are at least ``min_px``; else the first cell, the last one whenever it fits,
    and between them the cells whose absolute index (``start + i``) is a multiple of a round step
    (1, 2, 5, 10, 20, 50, …) at least ``min_px / cell_px``. Neighbouring ticks are never closer.

    Example::

        label_ticks(64, 2, 14)        # [0, 10, 20, 30, 40, 50, 63]
    """
    if n <= 0:
        return []
    k = max(1, math.ceil(min_px / max(cell_px, 1)))  # the least cells between two labels
    if k == 1:
        return list(range(n))
    step = next(m * 10 ** e for e in range(12) for m in (1, 2, 5) if m * 10 ** e >= k)
    inner = [i for i in range(k, n - 1 - k + 1) if (start + i) % step == 0]
    return [0] + inner + ([n - 1] if n - 1 >= k else [])


@dataclass(frozen=True)
class AxisLabels:
    """The labels shown along one matrix axis: window-relative cells, their (elided) text, rotation.

    Example: ``AxisLabels([0, 2], ["<s>", "cat"]).rotate == False``
    """

    ticks: list[int]
    texts: list[str]
    rotate: bool = False  # column labels drawn vertically (reading upwards)


def axis_labels(labels, start: int, n: int, cell_px: int, column: bool = False) -> AxisLabels:
    """The labels of ``n`` cells from absolute index ``start``: ``labels`` (tokens) where given, else indices.

    Rows are labelled horizontally, ``LABEL_PX`` apart. Columns are labelled horizontally when that shows
    every label the vertical ones would (short labels, wide cells), else vertically.

    Example::

        axis_labels(["<s>", "the", "cat"], 0, 3, 24, column=True).texts   # ['<s>', 'the', 'cat']
    """
    full = [str(s) for s in labels] if labels else [str(start + i) for i in range(n)]
    full = (full + [str(start + i) for i in range(len(full), n)])[:n]
    texts = [elide(s) for s in full]
    ticks = label_ticks(n, cell_px, LABEL_PX, start)
    rotate = False
    if column and ticks:
        wide = max(len(texts[i]) for i in ticks) * CHAR_PX + 6  # px a horizontal label needs
        flat = label_ticks(n, cell_px, wide, start)
        rotate = flat != ticks
    return AxisLabels(ticks, [texts[i] for i in ticks], rotate)


def tick_text(v: float) -> str:
    """A colour-bar number: 3 significant digits, a real minus sign. Example: ``tick_text(-0.07692) == "−0.0769"``"""
    return f"{v:.3g}".replace("-", "−")


def colour_ticks(vmin: float, vmax: float) -> list[tuple[float, str]]:
    """The colour bar's ticks: (position from 0 = vmin to 1 = vmax, text) for min, 0 when inside, max.

    Example::

        colour_ticks(-2.0, 2.0)       # [(0.0, '−2'), (0.5, '0'), (1.0, '2')]
    """
    ticks = [(0.0, tick_text(vmin))]
    if vmin < 0 < vmax:
        ticks.append(((0 - vmin) / (vmax - vmin), "0"))
    return ticks + [(1.0, tick_text(vmax))]


def range_note(axis: str, a: int, n: int, full: int) -> str:
    """"key 0–63 of 0–4095" when a window shows part of a longer axis, else "" (the labels say it all).

    Example: ``range_note("key", 0, 64, 4096)   # 'key 0–63 of 0–4095'``
    """
    return msg("view.range_note", axis=axis, first=a, last=a + n - 1, full_last=full - 1) if 0 < n < full else ""
