"""What a gradient view shows, as numpy: one backward step, the norms filling in, the gradient matrix.

Backpropagation through time runs the clock backwards: δh_t = ∂L/∂h_t is complete only once every
later step has sent its share, so the backward pass visits t = T−1, T−2, …, 0 (the reverse direction
of a bidirectional module ran forward from T−1 to 0, so its backward pass visits t = 0, 1, …, T−1).
One counting convention everywhere: **backward step k of T visits time t = backward_time(k)**,
k = 0 first; forward direction t = T−1−k, reverse direction t = k. At step k the view shows what
arrives at t (its direct part from the loss or the layer above, and the part sent by the step before
it in backward order), the local factor that multiplies it, and what leaves towards t−1; for an LSTM
both paths, through h and through c (δc_{t−1} = f_t ⊙ δc_t). Series over time show only the steps the
backward pass has already visited. Every array is bounded: vectors by ``max_bars`` units, series by
``max_points`` bins.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from ..engine.gradients.backward import gate_blocks
from ..i18n import msg
from .matrix import to_numpy
from .recurrent import EquationRow, fmt

def label(text: str) -> str:
    """A gradient spec's word for something (``engine.gradients.backward``): a message key in the active
    language, or a formula as written.

    Example: ``label("gradients.factor_lstm") == "f_t forget gate"`` in English; ``label("δa_t") == "δa_t"``
    """
    return msg(text) if text.startswith("gradients.") else text


def backward_time(k: int, T: int, direction: int = 0) -> int:
    """The time position visited by backward step ``k`` (k = 0 first): T−1−k, or k for the reverse direction.

    Example::

        backward_time(0, 100), backward_time(0, 100, direction=1)     # (99, 0)
    """
    return k if direction == 1 else T - 1 - k


def visited(T: int, k: int, direction: int = 0) -> np.ndarray:
    """Bool ``[T]``: the time positions the backward pass has visited after step ``k`` (k included).

    Example::

        visited(5, 1).tolist()     # [False, False, False, True, True]: t = 4 and t = 3
    """
    t = np.arange(T)
    return t <= k if direction == 1 else t >= T - 1 - k


@dataclass(eq=False)
class GradientView:
    """One backward step of one layer/direction/batch item, as float32 vectors and table rows.

    ``h_path``: (label, values) charts of arriving → local factor → leaving through h; ``c_path`` the
    same through the LSTM cell (None otherwise). ``values``: every vector by its GradientStep name.

    Example: ``gradient_view(g, 0).t == len(g) - 1  # backward step 0 visits the last time``
    """

    k: int
    t: int
    kind: str
    values: dict[str, np.ndarray]
    h_path: list[list[tuple[str, np.ndarray]]]  # columns of the flow; charts per column
    c_path: list[list[tuple[str, np.ndarray]]] | None
    equations: list[EquationRow]  # the step's arithmetic for a few units (as StepView.equations)
    units: list[int]
    gain: float  # ‖J_tᵀ δs_t‖ / ‖δs_t‖: what this step passes back
    norm: float  # ‖∂L/∂h_t‖ of this batch item


def _gate_gradient(g, t: int, layer: int, direction: int, batch: int, st) -> np.ndarray:
    """δa_t: the gradient of step t's pre-activations, the vector W_hhᵀ multiplies on the h path."""
    back = g.backward
    k = back.factors(g.forward, layer, direction, t, t + 1)["k"][0, batch]  # [G*H]: this step's derivatives
    dc = st["dc_t"] if g.spec.has_cell else None
    return to_numpy(back.pre(k, g.forward.params[layer][direction], st["dh_t"], dc))


def _rows(back, v: dict, units: list[int]) -> list[EquationRow]:
    """The step's arithmetic per unit; '·' where a unit has no such number (a projected h)."""
    def cell(j, template, *names):
        if any(j >= len(v[n]) for n in names):
            return "·"
        return template.format(*(fmt(v[n][j]) for n in names))
    rows = [(msg("gradients.eq_dh"), "δh_t", "{} + {} = {}", ("dh_direct", "dh_from_next", "dh_t"))]
    rows += [(label(text), lhs, tpl, names) for text, lhs, tpl, names in back.rows]
    rows += [(back.leaving, "δh_{t-1}", "{}", ("dh_to_prev",))]
    return [EquationRow(latex, lhs, [cell(j, tpl, *names) for j in units]) for latex, lhs, tpl, names in rows]


def _paths(back, v: dict, max_bars: int, has_cell: bool, blocks: int):
    """The flow's columns: arriving → local factor → leaving through h, and through the cell (LSTM)."""
    cut = lambda name: v[name][:max_bars]  # noqa: E731  bounded bars
    factor = (label(back.factor_label), cut(back.factor[0] + "_t"))
    pre = (label(back.pre_label), v["da"][:blocks * max_bars])  # δa of every gate block
    arriving = [(msg("gradients.dh_direct"), cut("dh_direct")), (msg("gradients.dh_from_next"), cut("dh_from_next")),
                (msg("gradients.dh_arriving"), cut("dh_t"))]
    middle = ([factor] if back.factor_on_h_path else []) + [pre]
    h_path = [arriving, middle, [(label(back.leaving_label), cut("dh_to_prev"))]]
    if not has_cell:
        return h_path, None
    c_path = [[(msg("gradients.dc_via_c"), cut("dc_via_c")), (msg("gradients.dc_via_h"), cut("dc_via_h")),
               (msg("gradients.dc_arriving"), cut("dc_t"))], [factor], [(msg("gradients.dc_leaving"), cut("dc_to_prev"))]]
    return h_path, c_path


def gradient_view(g, k: int, layer: int = 0, direction: int = 0, batch: int = 0, units: int = 3,
                  max_bars: int = 128) -> GradientView:
    """Backward step ``k`` (time t = :func:`backward_time`): what arrives, the local factor, what leaves.

    Example::

        gv = gradient_view(trace_gradients(nn.RNN(2, 3), torch.randn(4, 1, 2), loss_fn), k=0)
        gv.t, gv.values["dh_t"]        # 3, equal to g.hidden()[3, 0]
    """
    T = len(g)
    t = backward_time(k, T, direction)
    st = g.step(t, layer=layer, direction=direction, batch=batch)
    v = {name: to_numpy(x) for name, x in st.tensors.items() if name != "J"}
    v["da"] = _gate_gradient(g, t, layer, direction, batch, st)
    for name, a, b in g.backward.products:  # e.g. the GRU's leak z_t ⊙ δh_t
        v[name] = v[a] * v[b]
    h_path, c_path = _paths(g.backward, v, max_bars, g.spec.has_cell, gate_blocks(g.spec))
    shown = list(range(min(units, g.hidden_size)))
    rows = _rows(g.backward, v, shown)
    if direction == 1:  # the reverse direction's "step before" is t-1 and its gradient leaves towards t+1
        h_path, c_path = _mirror(h_path), c_path and _mirror(c_path)
        rows = [EquationRow(_mirror_text(r.latex), r.lhs, r.cells) for r in rows]
    return GradientView(k, t, g.kind, v, h_path, c_path, rows, shown, float(st["gain"]),
                        float(np.linalg.norm(v["dh_t"])))


def _mirror_text(s: str) -> str:
    return s.replace("t+1", "t\0").replace("t-1", "t+1").replace("t\0", "t-1")


def _mirror(path):
    return [[(_mirror_text(name), a) for name, a in col] for col in path]


def _bins(T: int, max_points: int) -> int:
    return max(1, -(-T // max_points))  # steps per bin: ceil(T / max_points)


def _pool(a: np.ndarray, mask: np.ndarray, f: int, how) -> np.ndarray:
    """Pool ``a`` [T] in bins of ``f`` steps over the finite entries in ``mask``; NaN for a bin with none."""
    n = -(-len(a) // f)
    pa = np.full(n * f, np.nan, np.float64)
    pa[:len(a)] = np.where(mask, a, np.nan)
    with warnings.catch_warnings():  # an all-NaN bin (not visited yet) is expected: it stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return how(pa.reshape(n, f), axis=1).astype(np.float32)


@dataclass(eq=False)
class NormSeries:
    """log10 of ‖∂L/∂h_t‖ (and ‖∂L/∂c_t‖) and log10 of each step's gain over time, NaN where not yet
    visited (or zero); at most ``max_points`` bins of ``steps_per_bin`` steps (max per bin for norms,
    the mean of log10 gain per bin), indexed by time, left to right.

    Example: ``int(norm_series(g, 0).visited.sum()) == 1  # after backward step 0, one time visited``
    """

    log_norm: np.ndarray  # [n] float32
    log_cell_norm: np.ndarray | None  # [n] LSTM only
    log_gain: np.ndarray  # [n]
    visited: np.ndarray  # [n] bool
    steps_per_bin: int
    current: int  # the bin of the current time t
    t: int
    T: int


def _log10(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        out = np.log10(np.asarray(x, np.float64))
    return np.where(np.isfinite(out), out, np.nan)


def norm_series(g, k: int, layer: int = 0, direction: int = 0, max_points: int = 256) -> NormSeries:
    """The norms over time as the backward clock has filled them in after step ``k`` (all batch items).

    Example::

        s = norm_series(g, k=0)           # only t = T-1 is visited
        10 ** s.log_norm[-1]              # == g.norms()[-1]
    """
    T = len(g)
    mask = visited(T, k, direction)
    f = _bins(T, max_points)
    log_norm = _pool(_log10(to_numpy(g.norms(layer, direction))), mask, f, np.nanmax)
    cell = None
    if g.spec.has_cell:
        cn = torch.linalg.vector_norm(g.cell(layer, direction), dim=(1, 2))  # [T]
        cell = _pool(_log10(to_numpy(cn)), mask, f, np.nanmax)
    log_gain = _pool(_log10(to_numpy(g.factor_norms(layer, direction))), mask, f, np.nanmean)
    has = np.pad(mask, (0, len(log_norm) * f - T)).reshape(-1, f).any(1)  # [n]: bins with a visited step
    t = backward_time(k, T, direction)
    return NormSeries(log_norm, cell, log_gain, has, f, t // f, t, T)


def gradient_matrix(g, layer: int = 0, direction: int = 0, batch: int = 0) -> np.ndarray:
    """∂L/∂h_t of every step as a units × steps float32 matrix ``[Hout, T]`` (time left to right).

    Example::

        gradient_matrix(g, 0, 0, 0)[:, 3]     # equals g.hidden(0)[3, 0]
    """
    return np.ascontiguousarray(to_numpy(g.hidden(layer, direction)[:, batch, :]).T)  # [T, H] -> [H, T]
