"""Edits on a hand-written recurrence recorded as a LoopTrace.

A module of the user's own called once per step (``form="module"``: d2l's cell, a ``Cell`` whose output is
fed back with a fresh input) carries its state through its output, so the state carried out of step t is
what call t returns: its forward is replaced for the run by the module's own forward, whose output at call
t is edited (state edits; a quantity inside the cell is not editable yet: refused with a Fix). A loop of
tensor operations inside one forward (``form="ops"``) takes state and gate edits (any variable its step
assigns), written right after the statement that assigns it (``inline``).
"""
from __future__ import annotations

import torch

from ..errors import fail
from . import inline
from .edits import new_state


def check(edits, trace) -> None:
    """Every edit fits the LoopTrace: its form carries the state through a call, the step, the value's shape.

    Example: ``check([Edit.state("Cell", 2, 0.0)], loop_tr) is None  # a cell called once per step``
    """
    if trace.form == "ops":
        inline.check(edits, trace)
        return
    gate = next((e for e in edits if e.kind == "gate"), None)
    if gate is not None:
        fail("edits", "state edits on a cell called once per step (its output, the state it carries)",
             f"{gate!r} on {trace.name!r}, a module called once per step",
             "edit the state it returns (Edit.state), or write the loop inside one forward to edit a quantity of it")
    T = len(trace)
    for e in edits:
        s = e.steps[0]
        if not -T <= s < T:
            fail("step", f"a step in [0, {T - 1}] of {trace.name!r}", repr(s), f"pick a recorded step (T = {T})")
        new_state(e.value, trace.states[s], "value")


def install(iv, module, trace, edits) -> None:
    """Put the edited forward on the step's module for the run (``iv``: the run's Interventions).

    Example::

        from tr_widgets.engine.whatif.apply import Interventions
        cell, h = Cell(5, 2), torch.zeros(3, 2)
        with tr_widgets.capture(cell) as cap:
            h = cell(torch.ones(3, 3), cell(torch.ones(3, 3), h))  # two steps
        with Interventions(cell) as iv:
            install(iv, cell, cap["Cell"], [Edit.state("Cell", 0, 0.0)])
            h0 = cell(torch.ones(3, 3), torch.zeros(3, 2))  # call 0: its output, the state carried, is edited
        float(h0.abs().sum()) == 0.0
    """
    if trace.form == "ops":
        return inline.install(iv, module, trace, edits)
    forward = _LoopForward(module, trace, {e.steps[0] % len(trace): e.value for e in edits})
    iv.override(module, forward)
    return forward


class _LoopForward:
    """Call t returns the edited state. The capture builds a module loop's trace by running the forward again
    on each call's own arguments (``capture.module_steps``): a call on the very arguments of an edited call
    (the same tensors, or detached views of them: the same memory, shape and strides) is that call again, and
    gets the same edit."""

    def __init__(self, module, trace, states):
        self.m, self.tr, self.states, self.calls, self.seen = module, trace, states, 0, {}
        self.own = type(module).forward

    applied = property(lambda self: self.calls > max(self.states), doc="whether the run reached every edited step")
    finishes = True  # the loop's trace is built (its steps run again) while this forward is on

    def _step(self, args) -> int:
        key = tuple((a.data_ptr(), tuple(a.shape), a.stride()) if isinstance(a, torch.Tensor) else id(a)
                    for a in args)
        if key in self.seen:
            return self.seen[key]
        t, self.calls = self.calls, self.calls + 1
        if t in self.states:
            self.seen[key] = t
        return t

    def __call__(self, *args, **kwargs):
        t = self._step(args)
        out = self.own(self.m, *args, **kwargs)
        if t not in self.states:
            return out
        parts = out if isinstance(out, tuple) else (out,)
        if len(parts) != len(self.tr.initial):
            fail("name", f"a step module returning its state {list(self.tr.state_names)}",
                 f"{self.tr.name!r} returning {len(parts)} values", "edit a module whose output is the state")
        new = new_state(self.states[t], parts, "value")
        return new if isinstance(out, tuple) else new[0]
