"""Matrices as the browser will see them: a window around the current step, an overview, uint8 codes.

What crosses to the browser is bounded by what is on screen, never by T (architecture.md, "What
crosses to the browser"). A matrix larger than the view is shown twice:

- a *window* of at most ``max_rows × max_cols`` cells around the current step, which moves in
  half-window jumps (so most step changes move only a marker, not the window);
- an *overview* of the whole matrix, reduced to at most ``max_px × max_px`` by pooling blocks. The
  pooling keeps the value of largest magnitude in each block (max-abs pooling), so one hot cell in a
  4096×4096 matrix stays visible; a visible notice says what was reduced.

Cells are sent as uint8 codes: 0..253 map linearly onto [vmin, vmax], ``NONFINITE`` marks NaN/inf and
``BLOCKED`` marks cells a mask removed (drawn hatched, never blank). Axis labels and the colour bar's
ticks live in :mod:`.axes` (re-exported here).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..i18n import msg
from .axes import (CHAR_PX, LABEL_CHARS, LABEL_PX, AxisLabels, axis_labels, colour_ticks, elide, label_ticks,
                   range_note, tick_text)

__all__ = ["BLOCKED", "CHAR_PX", "LABEL_CHARS", "LABEL_PX", "LEVELS", "NONFINITE", "OVERVIEW", "ROBUST_MIN", "WINDOW",
           "AxisLabels", "Codes", "Overview", "Window", "all_pool", "axis_labels", "colour_ticks", "dequantize",
           "elide", "label_ticks", "make_overview", "maxabs_pool", "overview_notice", "pool_factors", "quantize",
           "range_note", "tick_text", "to_numpy", "value_range", "window_around"]  # axes' names re-exported

LEVELS = 253  # codes 0..253 carry values
NONFINITE = 254
BLOCKED = 255
ROBUST_MIN = 1000  # cells from which colour ranges use the 99th percentile (see value_range)
WINDOW = 192  # cells per side of a matrix window (the widgets' default ``window``)
OVERVIEW = 256  # cells per side of an overview (the widgets' default ``overview_px``)


@dataclass(frozen=True)
class Window:
    """Half-open cell ranges ``[r0, r1) × [c0, c1)`` of a larger matrix.

    Example::

        w = Window(0, 4, 10, 16)       # rows 0-3, columns 10-15 of a larger matrix
        w.shape == (4, 6)
    """

    r0: int
    r1: int
    c0: int
    c1: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.r1 - self.r0, self.c1 - self.c0


def to_numpy(t) -> np.ndarray:
    """A torch tensor as a float32 numpy array on the host: the one place a view leaves the device.

    Example::

        a = to_numpy(torch.ones(2, 3, dtype=torch.float16, requires_grad=True))
        (a.dtype, a.shape) == (np.float32, (2, 3))
    """
    return t.detach().float().cpu().numpy()


def _span(n: int, center: int, size: int) -> tuple[int, int]:
    """A range of ``min(n, size)`` cells containing ``center``, starting on a half-window boundary."""
    if n <= size:
        return 0, n
    half = max(1, size // 2)
    # Snap the start to multiples of half a window, offset by a quarter, so `center` sits at least a
    # quarter window from either edge: the window moves only every half window of steps, so most
    # step changes send nothing but a marker.
    start = ((center - size // 4) // half) * half
    start = min(max(0, start), n - size)
    return start, start + size


def window_around(shape: tuple[int, int], row: int | None, col: int | None,
                  max_rows: int = WINDOW, max_cols: int = WINDOW) -> Window:
    """The window of a ``shape`` matrix that shows cell (row, col); None keeps that axis at 0.

    Example::

        window_around((4096, 4096), 1000, 1000)   # Window(r0=864, r1=1056, c0=864, c1=1056)
    """
    rows, cols = shape
    r0, r1 = _span(rows, 0 if row is None else row, max_rows)
    c0, c1 = _span(cols, 0 if col is None else col, max_cols)
    return Window(r0, r1, c0, c1)


def pool_factors(shape: tuple[int, int], max_px: int = OVERVIEW) -> tuple[int, int]:
    """Integer block sizes so that ``ceil(shape / factor) <= max_px`` on both axes.

    Example::

        pool_factors((4096, 300), 256)   # (16, 2)
    """
    return tuple(max(1, math.ceil(n / max_px)) for n in shape)


def maxabs_pool(a: np.ndarray, factors: tuple[int, int]) -> np.ndarray:
    """Pool ``a`` [R, C] in ``fr × fc`` blocks keeping the entry of largest |value| (its sign too).

    NaN/inf anywhere in a block make the pooled cell non-finite, so bad values stay visible too.

    Example::

        a = np.zeros((8, 8), np.float32); a[5, 2] = -3
        maxabs_pool(a, (4, 4))            # [[0, 0], [-3, 0]]
    """
    fr, fc = factors
    rows, cols = a.shape
    out_r, out_c = math.ceil(rows / fr), math.ceil(cols / fc)
    padded = np.zeros((out_r * fr, out_c * fc), dtype=np.float32)
    padded[:rows, :cols] = a
    blocks = padded.reshape(out_r, fr, out_c, fc).transpose(0, 2, 1, 3).reshape(out_r, out_c, fr * fc)
    finite = np.isfinite(blocks)
    mag = np.where(finite, np.abs(blocks), -1.0)  # [out_r, out_c, fr*fc]
    pick = np.take_along_axis(blocks, mag.argmax(-1)[..., None], -1)[..., 0]  # [out_r, out_c]
    return np.where(finite.all(-1), pick, np.nan).astype(np.float32)


def all_pool(mask: np.ndarray, factors: tuple[int, int]) -> np.ndarray:
    """Pool a bool mask: a pooled cell is True only if every cell of its block is True (padding is).

    Example::

        all_pool(np.array([[True, True, False, True]]), (1, 2)).tolist() == [[True, False]]    # all, or not
    """
    fr, fc = factors
    rows, cols = mask.shape
    out_r, out_c = math.ceil(rows / fr), math.ceil(cols / fc)
    padded = np.ones((out_r * fr, out_c * fc), dtype=bool)
    padded[:rows, :cols] = mask
    return padded.reshape(out_r, fr, out_c, fc).all(axis=(1, 3))


class Codes(np.ndarray):
    """uint8 codes that remember the float32 values they were made from (``exact``, same shape).

    Only the array :func:`quantize` returns carries ``exact``; a slice or copy is plain codes
    (``getattr(codes, "exact", None)`` is None), so a value can never be paired with the wrong cell.
    A canvas given codes sends ``exact`` too, so hovering a cell shows its value, not its colour bin.

    Example::

        codes = quantize(np.array([0.0, 0.5, 1.0]), 0.0, 1.0)
        assert isinstance(codes, Codes) and codes.exact.tolist() == [0.0, 0.5, 1.0]    # the values behind the colours
        assert getattr(codes[1:], "exact", None) is None                             # a slice is plain codes
    """

    exact: np.ndarray | None = None


def quantize(a: np.ndarray, vmin: float, vmax: float, blocked: np.ndarray | None = None) -> np.ndarray:
    """float values -> uint8 codes (0..253 on [vmin, vmax]; NONFINITE; BLOCKED where ``blocked``).

    The result is a :class:`Codes` array whose ``exact`` holds ``a`` as float32.

    Example::

        quantize(np.array([0., .5, 1.]), 0, 1)     # [0, 126, 253]
    """
    a = np.asarray(a, dtype=np.float32)
    span = vmax - vmin if vmax > vmin else 1.0
    with np.errstate(invalid="ignore"):
        codes = np.rint(np.clip((a - vmin) / span, 0.0, 1.0) * LEVELS)
    codes = np.where(np.isfinite(a), codes, NONFINITE).astype(np.uint8)
    if blocked is not None:
        codes[np.asarray(blocked, dtype=bool)] = BLOCKED
    codes = codes.view(Codes)
    codes.exact = a
    return codes


def dequantize(codes: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """uint8 codes -> float32 (NaN for NONFINITE and BLOCKED); the inverse of :func:`quantize`.

    Example::

        dequantize(quantize(np.array([0.0, 1.0]), 0.0, 1.0), 0.0, 1.0).tolist() == [0.0, 1.0]    # the ends, exactly
        assert np.isnan(dequantize(np.array([BLOCKED], np.uint8), 0.0, 1.0)[0])    # a masked cell has no value
    """
    codes = np.asarray(codes)
    vals = vmin + codes.astype(np.float32) / LEVELS * (vmax - vmin)
    return np.where(codes > LEVELS, np.nan, vals).astype(np.float32)


def value_range(a: np.ndarray, signed: bool, robust: bool = False) -> tuple[float, float]:
    """The colour range of ``a``: symmetric (-m, m) when signed, else (0, m); finite cells only.

    m is the largest |value|; with ``robust`` and at least ``ROBUST_MIN`` cells it is the 99th
    percentile instead, so one hot cell (a weight of 0.9 among weights of 1/4096) does not turn
    everything else black: it is drawn at the top colour, still the brightest cell.

    Example::

        value_range(np.array([-3.0, 1.0]), signed=True)     # (-3.0, 3.0)
    """
    a = np.asarray(a, dtype=np.float32)
    fin = np.abs(a[np.isfinite(a)]) if signed else a[np.isfinite(a)]
    if fin.size == 0:
        return (-1.0, 1.0) if signed else (0.0, 1.0)
    m = float(np.percentile(fin, 99)) if robust and fin.size >= ROBUST_MIN else float(fin.max())
    m = m if m > 0 else (float(fin.max()) if fin.max() > 0 else 1.0)
    return (-m, m) if signed else (0.0, m)


def overview_notice(shape: tuple[int, int], out_shape: tuple[int, int], factors: tuple[int, int]) -> str:
    """The visible sentence under an overview, e.g. "overview: 4096×4096 reduced to 256×256 ...".

    Example::

        notice = overview_notice((4096, 4096), (256, 256), (16, 16))  # 'overview: 4096×4096 reduced to ...'
        assert "256×256" in notice and "16×16" in notice      # what was reduced, and how (in the active language)
    """
    if tuple(factors) == (1, 1):
        return msg("view.overview_whole", rows=shape[0], cols=shape[1])
    return msg("view.overview_reduced", rows=shape[0], cols=shape[1], out_rows=out_shape[0], out_cols=out_shape[1],
               fr=factors[0], fc=factors[1])


@dataclass(eq=False)
class Overview:
    """A reduced image of a whole matrix: uint8 codes, its range, the pooling and the notice.

    Example::

        ov = make_overview([(0, np.eye(512, dtype=np.float32), None)], (512, 512), signed=False)
        (ov.codes.shape, ov.factors, ov.shape) == ((256, 256), (2, 2), (512, 512))    # 2 × 2 blocks max-pooled
        ov.codes.diagonal().tolist() == [LEVELS] * 256      # each block keeps its 1: the diagonal survives pooling
    """

    codes: np.ndarray  # [out_r, out_c] uint8
    vmin: float
    vmax: float
    factors: tuple[int, int]
    shape: tuple[int, int]  # the full matrix shape
    notice: str
    done: int | None = None  # rows of codes computed so far (a filling overview); later rows are "not yet"; None: all


def make_overview(blocks, shape: tuple[int, int], *, signed: bool, max_px: int = OVERVIEW,
                  vrange: tuple[float, float] | None = None, robust: bool = False) -> Overview:
    """Build an :class:`Overview` from row blocks without holding the whole matrix.

    ``blocks`` yields ``(r0, values [n, C] float32, blocked [n, C] bool or None)`` covering the rows
    in order; each block's row count must be a multiple of the row pooling factor (except the last).

    Example::

        a = np.random.rand(1000, 1000).astype(np.float32)
        ov = make_overview([(0, a, None)], a.shape, signed=False)
        ov.codes.shape, ov.notice          # (250, 250), 'overview: 1000×1000 reduced to 250×250 ...'
    """
    factors = pool_factors(shape, max_px)
    pooled, pooled_blocked = [], []
    for _r0, vals, blk in blocks:
        vals = np.asarray(vals, dtype=np.float32)
        if blk is not None:
            vals = np.where(blk, 0.0, vals)  # blocked cells never win the pooling
            pooled_blocked.append(all_pool(blk, factors))
        pooled.append(maxabs_pool(vals, factors))
    img = np.concatenate(pooled, axis=0)  # [out_r, out_c]
    blocked = np.concatenate(pooled_blocked, axis=0) if pooled_blocked else None
    shown = img if blocked is None else np.where(blocked, np.nan, img)
    vmin, vmax = vrange if vrange is not None else value_range(shown, signed, robust)
    codes = quantize(img, vmin, vmax, blocked)
    return Overview(codes, vmin, vmax, factors, tuple(shape), overview_notice(shape, codes.shape, factors))
