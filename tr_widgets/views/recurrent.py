"""What a recurrent view shows, as numpy: one step's numbers, the hidden-state matrix, the graph.

The equations are torch's (nn.RNN / nn.LSTM / nn.GRU docs), from the kind's spec
(``engine.recurrent.cells``). For one step the view substitutes the step's numbers into each equation's
arithmetic template for a few units; every pre-activation is split into its input part (W_i· x_t + b_i·)
and its recurrent part (W_h· h_{t-1} + b_h·), as the engine's step computed them, so a reader can redo
the arithmetic by hand.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import string

import numpy as np

from ..engine.recurrent import equations
from ..i18n import msg
from .matrix import to_numpy


def recurrent_axes(trace) -> list[tuple[str, list[str]]]:
    """(name, option labels) of each selector: layer, direction, batch.

    Example::

        recurrent_axes(trace_recurrent(nn.LSTM(3, 4, num_layers=2), torch.randn(5, 1, 3)))
        # [('layer', ['0', '1']), ('direction', ['forward']), ('batch', ['0'])]
    """
    dirs = [msg("recurrent.forward"), msg("recurrent.reverse")][:trace.num_directions]
    return [("layer", [str(i) for i in range(trace.num_layers)]), ("direction", dirs),
            ("batch", [str(b) for b in range(trace.batch_size)])]


def hidden_matrix(trace, layer: int = 0, direction: int = 0, batch: int = 0) -> np.ndarray:
    """h_t of every step as a units × steps float32 matrix ``[Hout, T]`` (time runs left to right).

    Example::

        hidden_matrix(tr, 0, 0, 0)[:, 3]     # equals tr.hidden()[3, 0]
    """
    return np.ascontiguousarray(to_numpy(trace.hidden(layer, direction)[:, batch, :]).T)  # [T, H] -> [H, T]


def fmt(x: float) -> str:
    """A number as the view prints it: 3 decimals, scientific when tiny or huge (deterministic).

    Example::

        fmt(0.5) == "0.500"
        fmt(-2e-5) == "-2.00e-05"     # tiny or huge: scientific
    """
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
    """One equation: its LaTeX (torch's), and the substituted arithmetic for each shown unit.

    Example::

        row = step_view(trace_recurrent(nn.LSTM(3, 4), torch.randn(5, 1, 3)), 2).equations[0]    # the input gate
        (row.lhs, len(row.cells)) == ("i_t", 4)     # one substituted equation per shown unit (hidden size 4)
    """

    latex: str
    lhs: str  # e.g. "i_t"
    cells: list[str]  # one string per shown unit, e.g. "σ(0.120 + (-0.400)) = σ(-0.280) = 0.430"


@dataclass(eq=False)
class StepView:
    """One step of one layer/direction/batch item: full float32 vectors and the substituted equations.

    Example::

        sv = step_view(trace_recurrent(nn.GRU(3, 4), torch.randn(5, 1, 3)), 2)
        (sv.t, sv.kind, sv.values["h_t"].shape, sv.units) == (2, "gru", (4,), [0, 1, 2, 3])
    """

    t: int
    kind: str
    values: dict[str, np.ndarray]  # x_t, h_prev, (c_prev), gates, (c_t), h_t, pre-activations, parts
    equations: list[EquationRow]
    units: list[int]  # the units the equations show
    flow: list[list[str]] = field(default_factory=list)  # stages of the flow chart: names per column


class _Arithmetic(string.Formatter):
    """Fills an equation's template with one unit's numbers: ``{f}`` a number, ``{c_prev:p}`` an operand."""

    def __init__(self, values: dict, j: int):
        self.values, self.j = values, j

    def get_value(self, key, args, kwargs):
        if key == "j":
            return self.j
        v = self.values[key]
        if self.j >= len(v):
            raise IndexError(key)  # this unit has no such number (a projected h_t)
        return float(v[self.j])

    def format_field(self, value, spec):
        return str(value) if isinstance(value, int) else (_p(value) if spec == "p" else fmt(value))

    def cell(self, template: str) -> str:
        try:
            return self.format(template)
        except IndexError:
            return "·"


def step_view(trace, t: int, layer: int = 0, direction: int = 0, batch: int = 0, units: int = 6) -> StepView:
    """Step ``t``: every vector (float32) and each equation with the numbers of ``units`` units.

    Example::

        sv = step_view(trace_recurrent(nn.LSTM(2, 3), torch.randn(4, 1, 2)), t=2)
        sv.equations[4].cells[0]     # 'f·c_prev + i·g = c_t' with unit 0's numbers
    """
    st = trace.step(t, layer=layer, direction=direction, batch=batch)
    values = {name: to_numpy(x) for name, x in st.tensors.items()}
    shown = list(range(min(units, trace.hidden_size)))
    rows = [EquationRow(eq.latex, eq.lhs, [_Arithmetic(values, j).cell(eq.arithmetic) for j in shown])
            for eq in equations(trace.spec, bool(trace.proj_size))]
    return StepView(st.t, trace.kind, values, rows, shown, [list(c) for c in trace.spec.flow])


@dataclass(eq=False)
class GraphWindow:
    """The unrolled graph up to the current step, windowed: the positions drawn, and those elided.

    Example::

        gw = graph_window(np.zeros((4, 100)), 50)      # step 50 of 100, at most 12 nodes
        (gw.steps[0], gw.steps[-1], gw.elided) == (39, 50, 39)    # steps 39..50 drawn, 0..38 elided
    """

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
