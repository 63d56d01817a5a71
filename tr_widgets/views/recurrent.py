"""What a recurrent view shows, as numpy: one step's numbers, the hidden-state matrix, the graph.

The equations are torch's (``cells.EQUATIONS``: nn.RNN / nn.LSTM / nn.GRU docs). For one step the
view substitutes the step's numbers into each equation for a few units, splitting every
pre-activation into its input part (W_i· x_t + b_i·) and its recurrent part (W_h· h_{t-1} + b_h·),
so a reader can redo the arithmetic by hand.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..engine import cells
from .matrix import to_numpy


def recurrent_axes(trace) -> list[tuple[str, list[str]]]:
    """(name, option labels) of each selector: layer, direction, batch.

    Example::

        recurrent_axes(trace_recurrent(nn.LSTM(3, 4, num_layers=2), torch.randn(5, 1, 3)))
        # [('layer', ['0', '1']), ('direction', ['forward']), ('batch', ['0'])]
    """
    dirs = ["forward", "reverse"][:trace.num_directions]
    return [("layer", [str(i) for i in range(trace.num_layers)]), ("direction", dirs),
            ("batch", [str(b) for b in range(trace.batch_size)])]


def hidden_matrix(trace, layer: int = 0, direction: int = 0, batch: int = 0) -> np.ndarray:
    """h_t of every step as a units × steps float32 matrix ``[Hout, T]`` (time runs left to right).

    Example::

        hidden_matrix(tr, 0, 0, 0)[:, 3]     # equals tr.hidden()[3, 0]
    """
    return np.ascontiguousarray(to_numpy(trace.hidden(layer, direction)[:, batch, :]).T)  # [T, H] -> [H, T]


def fmt(x: float) -> str:
    """A number as the view prints it: 3 decimals, scientific when tiny or huge (deterministic)."""
    x = float(x)
    if not np.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) >= 1000 or abs(x) < 1e-3):
        return f"{x:.2e}"
    return f"{x:.3f}"


def _p(x: float) -> str:
    """A number as an operand: negatives in parentheses, as one writes them by hand."""
    s = fmt(x)
    return f"({s})" if s.startswith("-") else s


@dataclass(eq=False)
class EquationRow:
    """One equation: its LaTeX (torch's), and the substituted arithmetic for each shown unit."""

    latex: str
    lhs: str  # e.g. "i_t"
    cells: list[str]  # one string per shown unit, e.g. "σ(0.120 + (-0.400)) = σ(-0.280) = 0.430"


@dataclass(eq=False)
class StepView:
    """One step of one layer/direction/batch item: full float32 vectors and the substituted equations."""

    t: int
    kind: str
    values: dict[str, np.ndarray]  # x_t, h_prev, (c_prev), gates, (c_t), h_t, pre-activations, parts
    equations: list[EquationRow]
    units: list[int]  # the units the equations show
    flow: list[list[str]] = field(default_factory=list)  # stages of the flow chart: names per column


def _parts(trace, st, layer: int, direction: int) -> dict[str, np.ndarray]:
    """Input and recurrent parts of each pre-activation: W_i· x_t + b_i· and W_h· h_{t-1} + b_h·."""
    p = trace.params[layer][direction]
    with torch.no_grad():
        xw = F.linear(st["x_t"], p.w_ih, p.b_ih)  # [G*H]
        hw = F.linear(st["h_prev"], p.w_hh, p.b_hh)  # [G*H]
    names = cells.GATE_NAMES[trace.kind] or ("a",)
    H = trace.hidden_size
    out = {}
    for g, name in enumerate(names):
        out[f"x_part_{name}"] = to_numpy(xw[g * H:(g + 1) * H])
        out[f"h_part_{name}"] = to_numpy(hw[g * H:(g + 1) * H])
    return out


def _gate_cell(act: str, v: dict, name: str, pre: str, j: int) -> str:
    return (f"{act}({fmt(v['x_part_' + name][j])} + {_p(v['h_part_' + name][j])}) = "
            f"{act}({fmt(v[pre][j])}) = {fmt(v[name if name != 'a' else 'h_t'][j])}")


def _cells(kind: str, lhs: str, v: dict, j: int, hout: int) -> str:
    if kind.startswith("rnn"):
        return _gate_cell("tanh" if kind == "rnn_tanh" else "ReLU", v, "a", "a", j)
    if lhs in ("i_t", "f_t", "o_t", "r_t", "z_t"):
        g = lhs[0]
        return _gate_cell("σ", v, g, "a_" + g, j)
    if lhs == "g_t":
        return _gate_cell("tanh", v, "g", "a_g", j)
    if lhs == "n_t":
        return (f"tanh({fmt(v['x_part_n'][j])} + {_p(v['r'][j])}·{_p(v['hn'][j])}) = "
                f"tanh({fmt(v['a_n'][j])}) = {fmt(v['n'][j])}")
    if lhs == "c_t":
        return (f"{fmt(v['f'][j])}·{_p(v['c_prev'][j])} + {fmt(v['i'][j])}·{_p(v['g'][j])} = "
                f"{fmt(v['c_t'][j])}")
    h = fmt(v["h_t"][j]) if j < hout else "·"
    if kind == "gru":
        return f"(1 - {fmt(v['z'][j])})·{_p(v['n'][j])} + {fmt(v['z'][j])}·{_p(v['h_prev'][j])} = {h}"
    if v["h_t"].shape[0] != v["o"].shape[0]:  # projected LSTM: h_t = W_hr (o ⊙ tanh c), a full mix
        return f"W_hr · (o ⊙ tanh(c))  →  h_t[{j}] = {h}" if j < hout else "·"
    return f"{fmt(v['o'][j])}·tanh({_p(v['c_t'][j])}) = {h}"


FLOW = {
    "lstm": [["x_t", "h_prev", "c_prev"], ["i", "f", "g", "o"], ["c_t"], ["h_t"]],
    "gru": [["x_t", "h_prev"], ["r", "z"], ["n"], ["h_t"]],
    "rnn_tanh": [["x_t", "h_prev"], ["a"], ["h_t"]],
    "rnn_relu": [["x_t", "h_prev"], ["a"], ["h_t"]],
}


def step_view(trace, t: int, layer: int = 0, direction: int = 0, batch: int = 0, units: int = 6) -> StepView:
    """Step ``t``: every vector (float32) and each equation with the numbers of ``units`` units.

    Example::

        sv = step_view(trace_recurrent(nn.LSTM(2, 3), torch.randn(4, 1, 2)), t=2)
        sv.equations[4].cells[0]     # 'f·c_prev + i·g = c_t' with unit 0's numbers
    """
    st = trace.step(t, layer=layer, direction=direction, batch=batch)
    values = {name: to_numpy(x) for name, x in st.tensors.items()}
    values.update(_parts(trace, st, layer, direction))
    shown = list(range(min(units, trace.hidden_size)))
    rows = []
    for latex in st.equations:
        lhs = latex.split("=")[0].strip()
        rows.append(EquationRow(latex, lhs, [_cells(trace.kind, lhs, values, j, trace.out_size) for j in shown]))
    return StepView(st.t, trace.kind, values, rows, shown, FLOW[trace.kind])


@dataclass(eq=False)
class GraphWindow:
    """The unrolled graph up to the current step, windowed: the positions drawn, and those elided."""

    steps: list[int]  # input positions drawn, left to right
    current: int
    elided: int  # computed steps not drawn (before the window; after it for the reverse direction)
    direction: int
    total: int  # T
    norms: list[float]  # ‖h_τ‖ for each drawn step


def graph_window(hidden: np.ndarray, t: int, direction: int = 0, max_nodes: int = 12) -> GraphWindow:
    """Steps computed so far (0..t forward; t..T-1 reverse), at most ``max_nodes`` nearest to t.

    ``hidden`` is the ``[H, T]`` matrix of :func:`hidden_matrix`.

    Example::

        graph_window(np.zeros((4, 100)), 50).steps     # [39, 40, ..., 50]; elided == 39
    """
    T = hidden.shape[1]
    if direction == 0:
        done = range(0, t + 1)
        steps = list(done[-max_nodes:])
    else:
        done = range(t, T)
        steps = list(done[:max_nodes])
    norms = [float(np.linalg.norm(hidden[:, s])) for s in steps]
    return GraphWindow(steps, t, len(done) - len(steps), direction, T, norms)
