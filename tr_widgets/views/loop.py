"""What a loop view shows, as numpy: one step of a :class:`~tr_widgets.engine.loops.LoopTrace` (a recurrence
the user wrote: a loop of tensor ops, or a cell module called once per step).

There are no equations of ours here: the step *is* the user's code, so the view shows the code's own lines
with this step's values beside each line, under the names the code gave them (style.md §19), as a debugger
would. Besides it: the state over time (units × steps, the same heatmap window and overview as the
recurrent view), the step's quantities as bars (bounded ones on one shared scale), and the unrolled graph
(``views.recurrent.graph_window``, drawn by the recurrent stepper's graph painter).

A quantity of the step is shown for one batch item: a tensor whose first dimension is the state's batch
dimension is indexed there, then flattened (a vector of units); the first ``units`` values are written out.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..i18n import msg
from .matrix import to_numpy
from .recurrent import fmt


def batch_size(trace) -> int | None:
    """The state's batch size (its first dimension when it has two or more), or None for an unbatched state.

    Example::

        # loop_tr: a LoopTrace of a Cell called once per step, batch 3, state 2 (the docstring runner's)
        batch_size(loop_tr) == 3     # h [3, 2]: the state's first dimension
    """
    first = trace.initial[0]
    return int(first.shape[0]) if first.ndim >= 2 else None


def loop_axes(trace) -> list[tuple[str, list[str]]]:
    """(name, option labels) of each selector: the batch item (a batched state), and which carried tensor the
    heatmap shows when the state is a tuple (its names in the code's order).

    Example::

        # loop_tr: a LoopTrace of a Cell called once per step, batch 3, state 2 (the docstring runner's)
        loop_axes(loop_tr) == [("batch", ["0", "1", "2"])]     # one carried tensor: no "state" selector
    """
    axes = []
    B = batch_size(trace)
    if B is not None:
        axes.append(("batch", [str(b) for b in range(B)]))
    if len(trace.initial) > 1:
        axes.append(("state", [state_name(trace, k) for k in range(len(trace.initial))]))
    return axes


def state_name(trace, k: int) -> str:
    """The code's name of carried tensor ``k`` (``state[k]`` where the code gave none). Example: ``"H"``"""
    name = trace.state_names[k] if k < len(trace.state_names) else ""
    return name or f"state[{k}]"


def unit_row(x, batch: int, B: int | None) -> np.ndarray:
    """A value of the step as the units the view shows for batch item ``batch``: indexed on its batch dimension
    (when its first dimension is the state's batch size), flattened, float32.

    Example: ``unit_row(torch.ones(8, 5), 2, 8).shape == (5,)``
    """
    if B is not None and x.ndim >= 2 and x.shape[0] == B:
        x = x[batch]
    return to_numpy(x).reshape(-1)  # [units]


def abbreviated(v: np.ndarray, units: int) -> str:
    """A vector as the view writes it: its first ``units`` numbers, then "…" and the count when it has more.

    Example: ``abbreviated(np.array([0.5, -1.0, 2.0]), 2) == "[0.500, -1.000, … 3]"``
    """
    if v.size == 1:
        return fmt(v[0])
    head = ", ".join(fmt(x) for x in v[:units])
    return f"[{head}, … {v.size}]" if v.size > units else f"[{head}]"


@dataclass(frozen=True)
class SourceRow:
    """One source line of the step: its number in the file, its text, and the values shown beside it as
    (name, text), in the order the step computed them.

    Example: ``SourceRow(60, "I = torch.sigmoid(...)", (("I", "[0.4…]"),))``
    """

    number: int
    code: str
    shown: tuple


@dataclass(frozen=True, eq=False)
class LoopStepView:
    """One step for one batch item: the source rows, and every value the rows name as a float32 vector.

    Example::

        # loop_tr: a LoopTrace of a Cell called once per step, batch 3, state 2 (the docstring runner's)
        sv = step_view(loop_tr, 2)
        (sv.t, sv.batch, sv.values["h[t-1]"].tolist()) == (2, 0, loop_tr.state(1)[0].tolist())
    """

    t: int
    batch: int
    rows: tuple  # SourceRow, one per line of the source
    values: dict  # name shown -> np.ndarray [units]: inputs, the state carried in, every quantity


def carried_in(trace, k: int) -> str:
    """How the view names carried tensor ``k`` on its way into the step.

    Example::

        # loop_tr: a LoopTrace of a Cell called once per step, batch 3, state 2 (the docstring runner's)
        carried_in(loop_tr, 0) == "h[t-1]"     # the code's own name for it, h
    """
    return f"{state_name(trace, k)}[t-1]"


def step_values(trace, t: int, batch: int = 0) -> dict:
    """Step ``t``'s values for batch item ``batch``, each a float32 vector: the inputs (their code names), the
    state carried in (``H[t-1]``), then every quantity in the order the step computed it.

    Example::

        # loop_tr: a LoopTrace of a Cell called once per step, batch 3, state 2 (the docstring runner's)
        vals = step_values(loop_tr, 3, batch=1)       # inputs, the state carried in, each op, in order
        list(vals) == ["x", "h[t-1]", "cat", "linear", "tanh"]
        vals["h[t-1]"].tolist() == loop_tr.state(2)[1].tolist()     # carried in: the state after step 2
    """
    B = batch_size(trace)
    state_in = trace.initial if t == 0 else trace.states[t - 1]
    inputs = trace.step_inputs[t]
    out = {name: unit_row(x, batch, B) for name, x in zip(trace.input_names, inputs)}
    out.update({carried_in(trace, k): unit_row(x, batch, B) for k, x in enumerate(state_in)})
    # through quantities(): a long loop's steady steps keep only what the trace reads; the rest is re-derived here
    out.update({name: unit_row(x, batch, B) for name, x in trace.quantities(t).items()})
    return out


def step_view(trace, t: int, batch: int = 0, units: int = 4, values: dict | None = None) -> LoopStepView:
    """Step ``t``: each source line with the values computed on it beside it. A line shows the names the code
    assigned there; a line with no assigned name (a continuation, ``outputs.append``) shows its ops' values
    under the op's name. The first line (``for X in inputs:`` or ``def forward(self, x, h):``) shows the
    step's inputs and the state carried in. ``values``: :func:`step_values` of this step and batch item, when the
    caller has them already (a long loop's steps are re-derived on each read).

    Example::

        # loop_tr: a LoopTrace of a Cell called once per step, batch 3, state 2 (the docstring runner's)
        sv = step_view(loop_tr, 2, batch=1)     # sv.rows: the forward's lines, values beside them
        sv.values["tanh"].tolist() == loop_tr.state(2)[1].tolist()     # the state step 2 carries out
    """
    vals = step_values(trace, t, batch) if values is None else values
    by_line: dict[int, list[tuple[str, bool]]] = {}
    for name, line, assigned in zip(trace.names, trace.lines, trace.assigned):
        by_line.setdefault(line, []).append((name, assigned))
    src = trace.source
    first = [*trace.input_names, *(carried_in(trace, k) for k in range(len(trace.initial)))]
    # the body's common indentation is dropped (the loop sits deep in a forward), the rest kept
    indent = min((len(c) - len(c.lstrip()) for c in src.lines if c.strip()), default=0)
    rows = []
    for i, code in enumerate(src.lines):
        number, code = src.first_line + i, code[indent:]
        here = by_line.get(number, [])
        names = [n for n, a in here if a] or [n for n, _ in here]
        if i == 0:
            names = first + names
        rows.append(SourceRow(number, code, tuple((n, abbreviated(vals[n], units)) for n in names)))
    return LoopStepView(t, batch, tuple(rows), vals)


def state_matrix(trace, part: int = 0, batch: int = 0) -> np.ndarray:
    """Carried tensor ``part`` of batch item ``batch`` over every step, as a units × steps float32 matrix
    ``[U, T]`` (time runs left to right; the state after step t is column t).

    Example::

        # loop_tr: a LoopTrace of a Cell called once per step, batch 3, state 2 (the docstring runner's)
        state_matrix(loop_tr, 0, 1)[:, 3].tolist() == loop_tr.state(3)[1].tolist()    # column t: after step t
    """
    import torch

    B = batch_size(trace)
    rows = [s[part][batch] if B is not None else s[part] for s in trace.states]  # T views of [..]
    stacked = torch.stack(rows).reshape(len(rows), -1)  # [T, U]
    return np.ascontiguousarray(to_numpy(stacked).T)  # [T, U] -> [U, T]


@dataclass(frozen=True)
class QuantityBar:
    """One bar chart of the step: the shown name, its values (at most ``max_bars``), a note when cut, and its
    scale group ("" for its own). Example: ``QuantityBar("F", v, "", "0…1")``"""

    name: str
    values: np.ndarray
    note: str
    scale: str


def scale_of(v: np.ndarray) -> str:
    """The shared scale a computed quantity joins (its name, in the active language): every value within [0, 1]
    (a gate, a probability; not all zeros) joins the 0…1 scale, so gates compare at a glance; the others share
    one more.

    Example: ``scale_of(np.array([0.2, 0.9])) == "0…1"; scale_of(np.array([-0.5])) == "other values"``
    """
    finite = v[np.isfinite(v)]
    unit = finite.size and finite.min() >= 0 and 0 < finite.max() <= 1  # all zeros (a zero start state): no gate
    return msg("loop.scale_unit") if unit else msg("loop.scale_other")


def quantity_bars(trace, t: int, batch: int = 0, max_bars: int = 128, ops: bool = False,
                  values: dict | None = None) -> list[QuantityBar]:
    """Step ``t``'s bars: the inputs (each on its own scale), the state carried in, then the quantities the code
    named (``ops=True``: every op's too), computed ones on the two shared scales of :func:`scale_of`; ``values`` as
    for :func:`step_view`.

    Example::

        # loop_tr: a LoopTrace of a Cell called once per step, batch 3, state 2 (the docstring runner's)
        [b.name for b in quantity_bars(loop_tr, 0, ops=True)] == ["x", "h[t-1]", "cat", "linear", "tanh"]
    """
    vals = step_values(trace, t, batch) if values is None else values
    named = [n for n, a in zip(trace.names, trace.assigned) if a or ops]
    carried = [carried_in(trace, k) for k in range(len(trace.initial))]
    bars = []
    for name in [*trace.input_names, *carried, *named]:
        v = vals[name]
        n = min(v.size, max_bars)
        note = msg("loop.units_note", last=n - 1, total_last=v.size - 1) if n < v.size else ""
        scale = "" if name in trace.input_names else scale_of(v)
        bars.append(QuantityBar(name, v[:n], note, scale))
    return bars
