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

from ..engine.gradients.factors import derivative_factors
from ..i18n import msg
from .matrix import to_numpy
from .recurrent import EquationRow, fmt

# name of the elementwise local factor in GradientStep, and how the view labels it (a formula, or the
# i18n key of a label in words)
FACTOR = {"rnn_tanh": ("phi_prime_t", "φ'(a_t) = 1 − h_t²"), "rnn_relu": ("phi_prime_t", "φ'(a_t) = [h_t > 0]"),
          "gru": ("z_t", "gradients.factor_gru"), "lstm": ("f_t", "gradients.factor_lstm")}


def factor_label(kind: str) -> str:
    """How the view labels the local factor of ``kind``, in the active language.

    Example: ``factor_label("lstm") == "f_t forget gate"`` in English.
    """
    label = FACTOR[kind][1]
    return msg(label) if label.startswith("gradients.") else label


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
    fac = derivative_factors(g.forward, layer, direction, t, t + 1)
    k = fac["k"][0, batch]  # [G*H]: elementwise derivatives of this step
    p = g.forward.params[layer][direction]
    dh = st["dh_t"]
    if g.kind == "lstm":
        dm = dh @ p.w_hr if p.w_hr is not None else dh  # [H]: δ(o ⊙ tanh c)
        return to_numpy(k * torch.cat([st["dc_t"]] * 3 + [dm]))  # [4H]: δa_i, δa_f, δa_g, δa_o
    if g.kind == "gru":
        return to_numpy(k * torch.cat([dh] * 3))  # [3H]: δ(W_hh h_{t-1} + b_hh) for r, z, n
    return to_numpy(k * dh)  # [H]: δa_t = φ'(a_t) ⊙ δh_t


def _rows(kind: str, v: dict, units: list[int]) -> list[EquationRow]:
    """The step's arithmetic per unit; '·' where a unit has no such number (a projected h)."""
    def cell(j, template, *names):
        if any(j >= len(v[n]) for n in names):
            return "·"
        return template.format(*(fmt(v[n][j]) for n in names))
    fac = FACTOR[kind][0]
    rows = [(msg("gradients.eq_dh"), "δh_t", "{} + {} = {}", ("dh_direct", "dh_from_next", "dh_t"))]
    if kind == "lstm":
        rows += [(msg("gradients.eq_dc"), "δc_t", "{} + {} = {}", ("dc_via_c", "dc_via_h", "dc_t")),
                 ("δc_{t-1} ← f_t ⊙ δc_t", "δc_{t-1}", "{} · {} = {}", ("f_t", "dc_t", "dc_to_prev"))]
    elif kind == "gru":
        rows += [(msg("gradients.eq_leak"), "leak:", "{} · {} = {}", ("z_t", "dh_t", "leak"))]
    else:
        rows += [("δa_t = φ'(a_t) ⊙ δh_t", "δa_t", "{} · {} = {}", (fac, "dh_t", "da"))]
    rows += [("δh_{t-1} ← " + ("z_t ⊙ δh_t + " if kind == "gru" else "") + "W_hhᵀ δa_t", "δh_{t-1}", "{}", ("dh_to_prev",))]
    return [EquationRow(latex, lhs, [cell(j, tpl, *names) for j in units]) for latex, lhs, tpl, names in rows]


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
    fac, label = FACTOR[g.kind][0], factor_label(g.kind)
    if g.kind == "gru":
        v["leak"] = v["z_t"] * v["dh_t"]
    cut = lambda name: v[name][:max_bars]  # noqa: E731  bounded bars
    arriving = [(msg("gradients.dh_direct"), cut("dh_direct")), (msg("gradients.dh_from_next"), cut("dh_from_next")),
                (msg("gradients.dh_arriving"), cut("dh_t"))]
    if g.kind == "lstm":
        h_path = [arriving, [(msg("gradients.da_lstm"), v["da"][:4 * max_bars])],
                  [(msg("gradients.dh_leaving_lstm"), cut("dh_to_prev"))]]
        c_path = [[(msg("gradients.dc_via_c"), cut("dc_via_c")), (msg("gradients.dc_via_h"), cut("dc_via_h")),
                   (msg("gradients.dc_arriving"), cut("dc_t"))], [(label, cut(fac))],
                  [(msg("gradients.dc_leaving"), cut("dc_to_prev"))]]
    else:
        middle = [(label, cut(fac))] + ([(msg("gradients.da_gru"), v["da"][:3 * max_bars])] if g.kind == "gru"
                                        else [("δa_t = φ'(a_t) ⊙ δh_t", cut("da"))])
        h_path, c_path = [arriving, middle, [(msg("gradients.dh_leaving"), cut("dh_to_prev"))]], None
    shown = list(range(min(units, g.hidden_size)))
    rows = _rows(g.kind, v, shown)
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
    the mean of log10 gain per bin), indexed by time, left to right."""

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
    if g.kind == "lstm":
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
