"""LoopTrace: the trace of a recurrence the user wrote themselves, one entry per time step.

A recurrence written by hand (a loop of tensor operations inside a forward, d2l's RNNScratch / LSTMScratch /
GRUScratch, or a cell module called once per step) has no equations of ours: its step *is* the user's code.
So the trace keeps, per step, the values the code computed (the state carried out, the fresh input, every
intermediate under the name the code gave it) together with the step's source lines, and a stepper shows
the code with this step's values beside each line, as a debugger would (style.md §19). Values are the
code's own tensors (detached, by reference), counted against the memory budget by the builder
(:class:`~tr_widgets.engine.loops.builder.LoopTraceBuilder`), which is the only way to make one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..batch import check_index
from ..errors import fail
from ..files.saving import Saveable

FORMS = ("ops", "module")  # a loop of tensor operations in a forward; a module called once per step


@dataclass(frozen=True, eq=False)
class Source:
    """Where a step's code lives: the file, the number of its first line, and the lines (the loop body, or the
    cell's forward).

    Example::

        src = Source("model.py", 12, ("for X in inputs:", "    H = torch.tanh(X @ W + H @ U)"))
        src.line(13) == "    H = torch.tanh(X @ W + H @ U)"
    """

    file: str
    first_line: int
    lines: tuple[str, ...]

    def line(self, number: int) -> str:
        """The text of line ``number`` (a line number of ``file``). Example: ``src.line(src.first_line)``"""
        i = number - self.first_line
        return self.lines[i] if 0 <= i < len(self.lines) else ""

    def __repr__(self) -> str:
        return f"Source({self.file.rsplit('/', 1)[-1]!r}, lines {self.first_line}-{self.first_line + len(self.lines) - 1})"


@dataclass(frozen=True, eq=False)
class LoopTrace(Saveable):
    """A hand-written recurrence, step by step: what :func:`~tr_widgets.capture` records for a loop of tensor
    operations in a forward (``form="ops"``) or a module called once per step (``form="module"``).

    Example::

        # Scan: a module whose forward's loop carries h, from a source in linecache (the docstring runner's)
        with tr_widgets.capture(scan := Scan()) as cap:
            out = scan(torch.zeros(2), xs := torch.randn(5, 2))
        name, tr = cap.traces[0]  # d2l's LSTMScratch gives state ('H', 'C') and gates under the code's names
        (len(tr), tr.state_names, tr.source.line(tr.line_of("h")).strip()) == (5, ("h",), "h = torch.tanh(h + x)")
        assert torch.equal(tr.state(4), out) and torch.equal(tr.inputs(2), xs[2])
    """

    name: str
    form: str  # one of FORMS
    state_names: tuple[str, ...]  # what the code calls each carried tensor (e.g. ('H', 'C')); '' if unnamed
    state_is_tuple: bool  # state(t) is a tuple (H, C) rather than one tensor
    initial: tuple[torch.Tensor, ...]  # the state carried into step 0
    states: tuple[tuple[torch.Tensor, ...], ...]  # [T] state carried out of each step
    input_names: tuple[str, ...]
    step_inputs: tuple[tuple[torch.Tensor, ...], ...]  # [T] the fresh input(s) each step read
    names: tuple[str, ...]  # every quantity a step computes, in the order it computed them
    lines: tuple[int, ...]  # the source line each quantity came from (a line number of source.file)
    assigned: tuple[bool, ...]  # True where the name is a variable the code assigned, False for an op's name
    values: tuple[tuple[torch.Tensor, ...], ...]  # [T][len(names)]
    output: Any  # what the forward (or the last call) returned
    source: Source
    nbytes: int  # bytes of the distinct tensors kept (counted against the memory budget)
    derive: Any = None  # derive(trace, t, values) -> step t's values with none left out (loops.replay), or None

    def __len__(self) -> int:
        return len(self.states)

    @property
    def seq_len(self) -> int:
        """T, the number of steps (same as ``len(trace)``). Example: ``trace.seq_len  # 256``"""
        return len(self.states)

    def _t(self, t: int) -> int:
        return check_index("t", t, len(self.states), "pick a step 0 ≤ t < len(trace)")

    def _pack(self, parts: tuple, as_tuple: bool):
        return parts if as_tuple else parts[0]

    def state(self, t: int):
        """The state carried out of step ``t``: one tensor, or a tuple in the code's order (e.g. ``(H, C)``).

        Example: ``H, C = trace.state(0)``
        """
        return self._pack(self.states[self._t(t)], self.state_is_tuple)

    def state_in(self, t: int):
        """The state carried into step ``t`` (``state(t - 1)``; the initial state for t = 0).

        Example: ``trace.state_in(0)  # zeros, for d2l's models``
        """
        t = self._t(t)
        return self._pack(self.initial if t == 0 else self.states[t - 1], self.state_is_tuple)

    def inputs(self, t: int):
        """The fresh input step ``t`` read (e.g. ``X`` = ``inputs[t]``): a tensor, or a tuple if it read several.

        Example: ``trace.inputs(2).shape  # torch.Size([8, 28])``
        """
        return self._pack(self.step_inputs[self._t(t)], len(self.input_names) != 1)

    def quantities(self, t: int, assigned_only: bool = False) -> dict[str, torch.Tensor]:
        """Every intermediate step ``t`` computed, under the name the code gave it (else the op's name), in order.

        Example: ``trace.quantities(0, assigned_only=True).keys()  # I, F, O, C_tilde, C, H``
        """
        t = self._t(t)
        vals = self.values[t] if self.derive is None else self.derive(self, t, self.values[t])
        return {n: v for n, a, v in zip(self.names, self.assigned, vals) if a or not assigned_only}

    def line_of(self, name: str) -> int:
        """The source line the quantity ``name`` came from. Example: ``trace.line_of("I")  # 17``"""
        if name not in self.names:
            fail("name", f"one of the quantities {list(self.names)[:12]}", repr(name), "use a name from trace.names")
        return self.lines[self.names.index(name)]

    def __repr__(self) -> str:
        state = ", ".join(f"{n or '?'}{tuple(s.shape)}" for n, s in zip(self.state_names, self.initial))
        return (f"LoopTrace(name={self.name!r}, form={self.form!r}, T={len(self)}, state=[{state}], "
                f"quantities={len(self.names)})")
