"""AttentionStepper: scaled dot-product attention, one query at a time.

For the current query i, each stage over a window of keys: raw scores q_i·k_j → scaled (× 1/√d) →
masked (masked keys hatched) → softmax weights → o_i = Σ_j w_ij v_j, next to torch's own SDPA row;
each term w_ij·v_j as a heatmap; the whole weights matrix (window + overview) with row i marked; the
cross-checks Σ_j w_ij = 1 and max |o_i − SDPA_i|. ("Attention Is All You Need", eq. 1.)
"""
from __future__ import annotations

import html

import ipywidgets as w
import numpy as np
import torch

from ..engine import AttentionTrace
from ..views import (Window, batch_axes, labels, quantize, row_view, value_range, weights_overview,
                     weights_window, window_around)
from ._html import TABLE, TD, TH, check_html
from .base import COMMON_OPTIONS, Stepper, _int_in, tqdm_progress
from .canvas import BarsCanvas, MatrixCanvas

LONG = 1 << 20  # L*S cells from which building the overview shows a progress bar
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5, torch.float16: 1e-2, torch.bfloat16: 5e-2}


LABEL_CHARS = 12  # canvas labels are cut so a window of labels stays a few KiB


def _short(lbls, a: int, b: int):
    """Window labels for a canvas, cut to LABEL_CHARS (the full text is in the caption and tables)."""
    if lbls is None:
        return None
    return [s if len(s) <= LABEL_CHARS else s[:LABEL_CHARS - 1] + "…" for s in lbls[a:b]]


def _tok(lbls, i: int) -> str:
    return "" if lbls is None else f" “{lbls[i]}”"


class AttentionStepper(Stepper):
    """Step through an :class:`~tr_widgets.AttentionTrace` one query row at a time.

    Example::

        at = tr_widgets.trace_attention(q, k, v, is_causal=True, tokens=toks)   # q [1, 4, T, E]
        s = AttentionStepper(at, head=1)
        s.step = 5; s.select(head=2)     # query 5 of head 2: every panel follows
    """

    OPTIONS = {**COMMON_OPTIONS,
               "dims": (*_int_in(1, 64), "dims=32 (value dimensions shown)"),
               "top_k": (*_int_in(1, 16), "top_k=6 (largest terms listed)")}

    def __init__(self, trace: AttentionTrace, **options):
        super().__init__(trace, **options)

    def _axes(self):
        return [(name, [str(i) for i in range(n)]) for name, n in batch_axes(self.trace)]

    def _n_steps(self) -> int:
        return self.trace.L

    def _step_name(self) -> str:
        return "query"

    def _build(self, opts: dict) -> None:
        at = self.trace
        self.window = opts.get("window", 192)
        self.overview_px = opts.get("overview_px", 256)
        self.dims = opts.get("dims", 32)
        self.top_k = opts.get("top_k", 6)
        self.qlabels, self.klabels = labels(at)
        self.stages = BarsCanvas(title="")
        self.terms = MatrixCanvas(title="each term w_ij·v_j (keys × value dims)", cmap="diverging",
                                  row_axis="key", col_axis="dim")
        self.output = w.HTML()
        self.output.add_class("tr-output")
        self.weights = MatrixCanvas(title="attention weights (queries × keys), current query marked",
                                    row_axis="query", col_axis="key")
        self.panels = [self.stages, w.HBox([self.terms, self.output]), self.weights]
        self._win = None
        self._overviews: dict[tuple, object] = {}

    def _index(self) -> tuple:
        s = self.controller.selection
        return tuple(s.get(name, 0) for name, _ in batch_axes(self.trace))

    def _key_center(self, i: int) -> int:
        at = self.trace
        return min(i, at.S - 1) if at.L == at.S else round(i * (at.S - 1) / max(at.L - 1, 1))

    def _update(self, new_selection: bool) -> None:
        at, i, index = self.trace, self.step, self._index()
        if new_selection:
            self._win = None
            big = at.L > self.window or at.S > self.window
            if big and index not in self._overviews:
                self._overviews[index] = weights_overview(
                    at, index, self.overview_px, progress=tqdm_progress(self.progress and at.L * at.S >= LONG))
            ov = self._overviews.get(index) if big else None
            self.weights.set_overview(ov)
        win = window_around((at.L, at.S), i, self._key_center(i), self.window, self.window)
        with self.weights.hold_sync():
            if win != self._win:
                ww = weights_window(at, index, win)  # its own colour range: see value_range
                self.weights.set_window(ww.codes, win, (at.L, at.S), ww.vmin, ww.vmax,
                                        _short(self.qlabels, win.r0, win.r1),
                                        _short(self.klabels, win.c0, win.c1))
                self._win = win
            self.weights.mark_row = i
            self.weights.step = i
        rv = row_view(at, i, index, (win.c0, win.c1), dims=self.dims, top_k=self.top_k)
        self._set_stages(rv, win)
        self._set_terms(rv, win)
        self.output.value = self._output_html(rv, index)
        where = ", ".join(f"{n} {v}" for (n, _), v in zip(batch_axes(at), index))
        self.controller.set_caption(f"query {i}{_tok(self.qlabels, i)} of {at.L}" + (f" · {where}" if where else ""))

    def _set_stages(self, rv, win: Window) -> None:
        at, i = self.trace, rv.i
        keys = f"keys {win.c0}–{win.c1 - 1} of {at.S}"
        top = int(np.argmax(np.where(rv.blocked, -1.0, rv.weights))) if len(rv.weights) else -1
        default = abs(at.scale - at.E ** -0.5) < 1e-12
        scaled = f"scaled ÷√{at.E}" if default else f"scaled ×{at.scale:.4g}"
        series = [("raw scores q_i·k_j", rv.scores, None, top, keys),
                  (scaled, rv.scaled, None, top, keys),
                  ("masked (hatched = masked out)", rv.masked, rv.blocked, top, keys),
                  ("softmax weights w_ij", rv.weights, rv.blocked, top, keys),
                  ("o_i = Σ_j w_ij v_j", rv.output, None, -1, f"dims 0–{len(rv.output) - 1} of {at.Ev}"),
                  ("torch SDPA output row", rv.sdpa, None, -1, "cross-check")]
        with self.stages.hold_sync():
            self.stages.title = f"query {i}{_tok(self.qlabels, i)}: each stage over the keys, in turn"
            self.stages.set_series(series, [[0], [1], [2], [3], [4, 5]])
            self.stages.step = i

    def _set_terms(self, rv, win: Window) -> None:
        vr = value_range(np.where(rv.blocked[:, None], np.nan, rv.terms), signed=True, robust=True)
        codes = quantize(rv.terms, *vr, np.broadcast_to(rv.blocked[:, None], rv.terms.shape))
        tw = Window(win.c0, win.c1, 0, rv.terms.shape[1])
        with self.terms.hold_sync():
            self.terms.set_window(codes, tw, (self.trace.S, self.trace.Ev), *vr,
                                  _short(self.klabels, win.c0, win.c1), None)
            top = int(np.argmax(np.where(rv.blocked, -1.0, rv.weights))) if len(rv.weights) else -1
            self.terms.mark_row = win.c0 + top if top >= 0 else -1
            self.terms.step = rv.i

    def _output_html(self, rv, index: tuple) -> str:
        at, d = self.trace, min(4, len(rv.output))
        vec = lambda v: " ".join(f"{x:+.4f}" for x in v[:d])  # noqa: E731
        toks = self.klabels is not None  # a token column only when the trace has tokens
        span = 4 if toks else 3
        head = (f"<tr><th style='{TH}'>key j</th>" + (f"<th style='{TH}'>token</th>" if toks else "") +
                f"<th style='{TH}'>w_ij</th><th style='{TH}'>v_j[:{d}]</th><th style='{TH}'>w_ij·v_j[:{d}]</th></tr>")
        rows = [head]
        for j, wj, vj, term in rv.top:
            tok = f"<td style='{TD}'>{html.escape(self.klabels[j])}</td>" if toks else ""
            rows.append(f"<tr><td style='{TD}'>{j}</td>{tok}<td style='{TD}'>{wj:.4f}</td>"
                        f"<td style='{TD}'>{vec(vj)}</td><td style='{TD}'>{vec(term)}</td></tr>")
        rest = max(at.S - len(rv.top), 0)
        masked = int(rv.blocked_total)
        what = f"the other {rest} terms, summed" + (f" ({masked} masked keys: w_ij = 0)" if masked else "")
        rows.append(f"<tr><td style='{TD}' colspan='{span}'>{what}</td>"
                    f"<td style='{TD}'>{vec(rv.rest)}</td></tr>")
        rows.append(f"<tr><th style='{TH}' colspan='{span}'>o_i = Σ_j w_ij·v_j</th>"
                    f"<th style='{TH}'>{vec(rv.output)}</th></tr>")
        rows.append(f"<tr><td style='{TD}' colspan='{span}'>torch SDPA, row {rv.i}</td>"
                    f"<td style='{TD}'>{vec(rv.sdpa)}</td></tr>")
        tol = TOLERANCE.get(at.q.dtype, 1e-5) * (1 + float(np.abs(rv.sdpa).max(initial=0)))
        if rv.fully_masked:
            sum_ok = abs(rv.row_sum) < 1e-6
            sum_text = f"every key is masked: all weights 0 (Σ_j w_ij = {rv.row_sum:.6f}), as SDPA does"
        else:
            sum_ok = abs(rv.row_sum - 1) < max(tol, 1e-6)
            sum_text = f"Σ_j w_ij = {rv.row_sum:.6f} (|1 − Σ| = {abs(1 - rv.row_sum):.1e})"
        checks = (check_html(sum_ok, sum_text) + check_html(
            rv.max_abs_diff <= tol, f"max |o_i − SDPA_i| = {rv.max_abs_diff:.2e} (tolerance {tol:.1e})"))
        return (f"<div class='tr-panel tr-output-panel' data-tr-step='{rv.i}'><div style='font-weight:600'>"
                f"o_{rv.i} = Σ_j w_ij v_j: the {len(rv.top)} largest weights</div>"
                f"<table style='{TABLE}'>{''.join(rows)}</table>{checks}</div>")
