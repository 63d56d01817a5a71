"""The overview of a long attention trace: its softmax weights max-pooled to a small image, in bands.

The work is cut into chunks of about ``block_cells`` scores (a band of query rows × a run of keys), each
scoring only keys its rows may see (``AttentionTrace.open_keys``: a causal band ends at its last row), so
memory stays bounded, causal costs about half, and a caller can stop between any two chunks
(``overview_bands`` is a generator: widgets run a few chunks at a time between the user's steps).

The softmax is never written out. exp is increasing, so the largest weight of query i within a pooling
block of keys B is exp(m_iB − lse_i), with m_iB = max_{j∈B} s_ij and lse_i = log Σ_j exp(s_ij) the row's
log-normaliser. Scores are taken in base 2 (q scaled by scale·log2 e once: torch's exp2 costs less than half
its exp on a CPU), so the weight is 2^(m_iB − lse2_i). Each chunk keeps, per pooling block, m_iB, and per
row its own log2 Σ_{j∈chunk} 2^(s_ij): unshifted when no score of the band can be far from 0 (|s_ij| <=
|q_i||k_j| <= SHIFT_FREE, checked once per band: no check per chunk), else shifted by the row's largest
score in a chunk that has one past SHIFT_FREE; when a band's last chunk is done, lse2_i is the
log2-sum-exp2 of the band's fixed [chunks, n] table. Every sum runs over one chunk or over that table,
never across a varying number of chunks, and the chunks are fixed by ``plan`` alone: an overview filled
in a few chunks at a time between steps is the same bits as the one computed at once. (Another
``block_cells`` changes the matmuls' shapes, and with them torch's own rounding of QKᵀ: a few ulps.)
It equals the softmax to rounding (far below the image's 253 colour levels), at one matmul into a buffer
kept for the whole overview, three passes over each chunk (block max, exp2, sum: exp2 is most of them,
about 0.3 of the matmul's time on an AVX2 CPU) and a few torch calls through views made once per band.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import check_budget
from .trace import AttentionTrace

NEG_INF = float("-inf")
SHIFT_FREE = 60.0  # |largest score| (base 2) below which 2^s is summed unshifted: terms 2^-66 of the sum
# and less flush to zero, far below float32's rounding of it (2^-24)
LOG2E = 1.0 / math.log(2.0)  # scores in base 2: w = 2^(s·log2 e − log2 Σ 2^(s·log2 e))
BLOCK_CELLS = 1 << 19  # scores one chunk holds (2 MiB in float32: it stays in cache for its passes)
BAND_ROWS = 512  # query rows per band (rounded to the row pooling factor): long rows reuse each key chunk


@dataclass(frozen=True)
class Band:
    """Rows ``[a, b)`` of the pooled image, finished, and how much of the work is done.

    ``pooled [b - a, nc]`` float32 and ``blocked [b - a, nc]`` bool (or None without a mask) cover the
    first ``nc`` pooled columns (later ones are masked for these rows: weight 0, blocked). ``band`` is None
    while a band is still being scored; ``done`` and ``total`` count scores.

    Example::

        pooled, blocked = empty_overview(at, (2, 2))
        for step in overview_bands(at, (0, 0), (2, 2)):
            if step.band is not None: pooled[step.a:step.b, :step.pooled.shape[1]] = step.pooled
    """

    done: int
    total: int
    a: int = 0
    b: int = 0
    pooled: torch.Tensor | None = None
    blocked: torch.Tensor | None = None

    @property
    def band(self):
        """The finished rows, ``(a, b)``, or None between chunks of a band."""
        return None if self.pooled is None else (self.a, self.b)


def _block_max(s: torch.Tensor, fc: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """Max of ``s [n, c]`` over each run of ``fc`` columns (the last run may be short), ``[n, ceil(c/fc)]``
    (written into ``out`` when given)."""
    n, c = s.shape
    g = c // fc
    out = s.new_empty(n, -(-c // fc)) if out is None else out
    if g:
        torch.amax(s[:, :g * fc].view(n, g, fc), -1, out=out[:, :g])  # [n, c // fc]: a view, no copy
    if g * fc < c:
        torch.amax(s[:, g * fc:], -1, keepdim=True, out=out[:, g:])
    return out


def _row_pool(x: torch.Tensor, fr: int, fill, op) -> torch.Tensor:
    """``op`` over each run of ``fr`` rows of ``x [n, m]`` (short runs padded with ``fill``)."""
    pad = -x.shape[0] % fr
    x = F.pad(x, (0, 0, 0, pad), value=fill) if pad else x
    return op(x.reshape(-1, fr, x.shape[1]), 1)  # [ceil(n / fr), m]


def plan(trace, factors, block_cells: int | None = None) -> tuple[int, int]:
    """(query rows per band, keys per chunk): bands a multiple of the row pooling factor, chunks of the
    column one, about ``block_cells`` scores a chunk (never fewer than one pooling block of each).

    Example: ``plan(at, (512, 512))   # T=131072: (512, 1024)``
    """
    fr, fc = int(factors[0]), int(factors[1])
    block_cells = BLOCK_CELLS if block_cells is None else block_cells  # read now: a test may shrink it
    rows = min(max(1, BAND_ROWS // fr) * fr, -(-trace.L // fr) * fr)
    if type(trace).weights_rows is not AttentionTrace.weights_rows:  # a trace's own weights: whole rows
        rows = min(max(1, block_cells // max(trace.S, 1) // fr) * fr, -(-trace.L // fr) * fr)
        return rows, trace.S
    keys = max(1, block_cells // rows // fc) * fc
    return rows, min(keys, -(-trace.S // fc) * fc)


def overview_bands(trace, index=(), factors=(1, 1), block_cells: int | None = None):
    """Yield a :class:`Band` after each chunk of the pooled weights of one batch/head entry.

    Stop iterating at any time: nothing is left behind. ``pooled_weights`` is this run to the end.

    Example::

        steps = overview_bands(at, (0, 0), (64, 64), block_cells=1 << 16)
        first = next(steps)        # one chunk scored: first.done of first.total scores
    """
    fr, fc = int(factors[0]), int(factors[1])
    rows, keys = plan(trace, factors, block_cells)
    check_budget("pooled_weights", (rows, keys), torch.float32, "a smaller block_cells")
    bands = _bands(trace, rows, fc)
    total = sum((r1 - r0) * c1 for r0, r1, c1 in bands)
    plain = type(trace).weights_rows is AttentionTrace.weights_rows  # softmax(masked): else the trace's own
    done = 0
    sc = _Scorer(trace, index, rows, keys, fc) if plain else None
    for r0, r1, c1 in bands:
        if plain:
            band = _Band(sc, r0, r1, c1)
            for c0 in range(0, c1, keys):
                band.add(c0, min(c0 + keys, c1))
                done += (r1 - r0) * (min(c0 + keys, c1) - c0)
                if c0 + keys < c1:
                    yield Band(done, total)
            w, out = band.finish()
        else:
            with torch.no_grad():
                wr, blk = trace.weights_rows(r0, r1, index, keys=c1)  # [n, c1]
            w, out = _block_max(wr.float(), fc), _block_all(blk, fc)
            done += (r1 - r0) * c1
        yield Band(done, total, r0 // fr, r0 // fr + -(-(r1 - r0) // fr), _row_pool(w, fr, NEG_INF, torch.amax),
                   _row_pool(out, fr, True, torch.all) if trace.has_mask else None)


def _bands(trace, rows: int, fc: int) -> list[tuple[int, int, int]]:
    """(r0, r1, keys scored) of each band: a causal band's keys end at its last row (whole pooling blocks)."""
    L, S = trace.L, trace.S
    return [(r0, min(r0 + rows, L), min(S, -(-trace.open_keys(r0, min(r0 + rows, L)) // fc) * fc))
            for r0 in range(0, L, rows)]


def count_steps(trace, factors, block_cells: int | None = None) -> int:
    """How many items :func:`overview_bands` yields (a progress bar's total).

    Example: ``count_steps(at, (1, 1)) == len(list(overview_bands(at, (0, 0), (1, 1))))``
    """
    rows, keys = plan(trace, factors, block_cells)
    return sum(-(-c1 // keys) for _, _, c1 in _bands(trace, rows, int(factors[1])))


class _Scorer:
    """What every band of one overview shares: the entry's keys, one buffer for every chunk's scores (no
    allocation per chunk) and each key prefix's largest norm."""

    def __init__(self, trace, index, rows: int, keys: int, fc: int):
        self.t, self.fc, self.keys, self.idx = trace, fc, keys, trace._index(index)
        self.k = trace.k.expand(*trace.batch_shape, trace.S, trace.E)[self.idx]  # [S, E]
        self.kT = self.k.T  # [E, S]: a chunk's keys are one slice of it
        dev = trace.q.device
        self.buf = torch.empty(rows * keys, dtype=torch.float32, device=dev)
        plain = trace.attn_mask is None or trace.attn_mask.dtype == torch.bool  # scores only, or -inf
        self.kmax = (torch.linalg.vector_norm(self.k.float(), dim=-1).cummax(0).values  # [S]
                     if dev.type == "cpu" and plain else None)

    def free(self, q: torch.Tensor, c1: int) -> bool:
        """Whether every score of queries ``q`` over keys [0, c1) is within ±SHIFT_FREE, by Cauchy-Schwarz
        (|q·k| <= |q||k|; a margin of 2^-6 for the matmul's rounding): then no chunk needs a shift."""
        if self.kmax is None or c1 <= 0:
            return False
        bound = torch.linalg.vector_norm(q.float(), dim=-1).amax() * self.kmax[c1 - 1]
        return bool(bound * (1 + 2 ** -6) <= SHIFT_FREE)  # NaN or inf: False


class _Band:
    """Queries [r0, r1) of a softmax trace: per pooling block of keys the largest score, per chunk of keys
    each row's log-normaliser over that chunk, filled chunk by chunk (see the module docstring). A chunk of
    ``keys`` scores per row goes through views made once per band: a few torch calls per chunk."""

    def __init__(self, sc: _Scorer, r0: int, r1: int, c1: int):
        t, n, keys, fc = sc.t, r1 - r0, sc.keys, sc.fc
        self.sc, self.r0, self.r1, self.nc = sc, r0, r1, -(-c1 // fc)
        # the scale folded into q once (not a pass over every score): the same rounding whenever a band is
        # scored, so filled and at-once images stay the same bits; off the softmax by a few ulps at most
        self.q = t.q.expand(*t.batch_shape, t.L, t.E)[sc.idx][r0:r1] * (t.scale * LOG2E)  # [n, E]
        self.free = sc.free(self.q, c1)  # decided per band: no check (and no sync) per chunk
        chunks, g = max(-(-c1 // keys), 1), keys // fc  # keys is a multiple of fc (plan)
        self.peaks = torch.empty(chunks, n, g, dtype=torch.float32, device=t.q.device)  # chunk j's block maxima
        self.lses = torch.empty(chunks, n, dtype=torch.float32, device=t.q.device)  # chunk j's log2 Σ (Σ if free)
        self.s = sc.buf[:n * keys].view(n, keys)  # a whole chunk's scores
        self.s3 = self.s.view(n, g, fc)
        self.j = 0  # chunks done

    def _scores(self, c0: int, c1: int) -> torch.Tensor:
        """Masked base-2 scores of keys [c0, c1), ``[n, c1 - c0]`` float32, in the buffer when q is float32."""
        sc, t, n, c = self.sc, self.sc.t, self.r1 - self.r0, c1 - c0
        if self.q.dtype == torch.float32:
            s = self.s if c == sc.keys else sc.buf[:n * c].view(n, c)
            torch.matmul(self.q, sc.kT[:, c0:c1], out=s)
        else:
            s = (self.q @ sc.kT[:, c0:c1]).float()
        if t.is_causal and c1 - 1 > self.r0:  # top-left: query i sees keys 0..i, so only keys a.. past r0
            a, dev = max(c0, self.r0 + 1), s.device
            after = torch.arange(a, c1, device=dev) > torch.arange(self.r0, self.r1, device=dev)[:, None]
            s[:, a - c0:].masked_fill_(after, NEG_INF)  # [n, c1 - a]: the chunk's keys before r0 stay
        elif not t.is_causal and t.attn_mask is not None:
            mask = t._mask_rows(sc.idx, self.r0, self.r1)[:, c0:c1]
            s = (s.masked_fill(~mask, NEG_INF) if mask.dtype == torch.bool else s + mask * LOG2E).float()
        return s

    def add(self, c0: int, c1: int) -> None:
        """Score keys [c0, c1) (c0 a multiple of keys) and keep their blocks' maxima and the chunk's
        log2 Σ_j 2^(s_ij) (scores in base 2: torch's exp2 costs less than half its exp)."""
        out = self.lses[self.j]
        with torch.no_grad():
            s = self._scores(c0, c1)  # [n, c]
            if s is self.s:
                peak = torch.amax(self.s3, -1, out=self.peaks[self.j])  # [n, g] (contiguous: no strided writes)
            else:
                peak = _block_max(s, self.sc.fc, self.peaks[self.j, :, :-(-(c1 - c0) // self.sc.fc)])
            if self.free:  # 2^s neither overflows nor loses a term: no shift, log2 at the end
                torch.sum(s.exp2_(), -1, out=out)
            else:
                top = peak.amax(-1, keepdim=True)  # [n, 1]: each row's largest score in the chunk
                if s.device.type == "cpu" and bool((top.abs() <= SHIFT_FREE).all()):  # (no sync on a GPU)
                    torch.sum(s.exp2_(), -1, out=out).log2_()
                else:
                    top = top.masked_fill_(torch.isneginf(top), 0.0)  # a row masked here: 2^-inf = 0
                    out.copy_(s.sub_(top).exp2_().sum(-1).log2_().add_(top[:, 0]))
        self.j += 1

    def finish(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(each key block's largest weight [n, nc], whether all its keys are masked [n, nc])."""
        with torch.no_grad():
            lses, peak = self.lses[:self.j], self.peaks.transpose(0, 1).flatten(1)[:, :self.nc]  # [chunks, n], [n, nc]
            if self.free:
                lses.log2_()
            top = lses.amax(0)  # [n]
            dead = torch.isneginf(top)  # fully masked queries: all-zero weights, as SDPA
            top = top.masked_fill(dead, 0.0)
            lse = top + (lses - top).exp2_().sum(0).log2_()  # [n]
            return (peak - lse[:, None]).exp2_().masked_fill_(dead[:, None], 0.0), torch.isneginf(peak)


def pooled_weights(trace, index=(), factors=(1, 1), block_cells: int | None = None, progress=None):
    """The weights of one batch/head entry max-pooled in ``fr × fc`` blocks.

    Returns ``(pooled [ceil(L/fr), ceil(S/fc)] float32, blocked [same] bool or None)``: a pooled cell is
    blocked when every cell of its block is masked. ``progress`` wraps an iterable (tqdm).

    Example::

        pooled, blocked = pooled_weights(at, (0, 0), (64, 64))    # T=16384: [256, 256]
    """
    pooled, blocked = empty_overview(trace, factors)
    steps = overview_bands(trace, index, factors, block_cells)
    if progress is not None:
        steps = progress(steps, total=count_steps(trace, factors, block_cells), desc="attention overview")
    for step in steps:
        put_band(pooled, blocked, step)
    return pooled, blocked


def empty_overview(trace, factors) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(pooled zeros, blocked all True or None) to fill with :func:`put_band`.

    Example: ``pooled, blocked = empty_overview(at, (64, 64))   # T=16384: [256, 256] each``
    """
    shape = (-(-trace.L // int(factors[0])), -(-trace.S // int(factors[1])))
    dev = trace.q.device
    return (torch.zeros(shape, dtype=torch.float32, device=dev),
            torch.ones(shape, dtype=torch.bool, device=dev) if trace.has_mask else None)


def put_band(pooled: torch.Tensor, blocked: torch.Tensor | None, step: Band) -> None:
    """Write a finished band into the image (a step between chunks writes nothing).

    Example::

        pooled, blocked = empty_overview(at, (2, 2))
        for step in overview_bands(at, (0, 0), (2, 2)): put_band(pooled, blocked, step)
    """
    if step.band is None:
        return
    nc = step.pooled.shape[1]
    pooled[step.a:step.b, :nc] = step.pooled
    if blocked is not None:
        blocked[step.a:step.b, :nc] = step.blocked


def _block_all(b: torch.Tensor, fc: int) -> torch.Tensor:
    """Whether all of each run of ``fc`` columns of ``b [n, c]`` is True, ``[n, ceil(c/fc)]``."""
    return ~_block_max((~b).to(torch.uint8), fc).bool()
