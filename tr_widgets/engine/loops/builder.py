"""LoopTraceBuilder: the one way to make a :class:`LoopTrace`, from per-step values, checked as they come.

Whoever found the recurrence (``detect`` for a loop of ops in a forward, the capture of a module called once
per step) hands each step's values to :meth:`LoopTraceBuilder.add_step`; the builder checks that the state
keeps its structure and shapes from step to step (a state that changes shape mid-sequence is one
TraceInputError naming the step), that every step computed the same quantities, and counts the bytes of
the distinct tensors it keeps against the memory budget (``errors.get_memory_budget``), raising
MemoryBudgetError with a Fix above it. Tensors are kept detached, by reference: the code's own values.
"""
from __future__ import annotations

import operator

import torch

from ..errors import MemoryBudgetError, describe, fail, get_memory_budget
from .trace import FORMS, LoopTrace, Source


_NBYTES = operator.attrgetter("nbytes")
_REQUIRES_GRAD = operator.attrgetter("requires_grad")


def _fmt(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n} B"


def _parts(state, what: str, t: int) -> tuple[torch.Tensor, ...]:
    parts = tuple(state) if isinstance(state, (tuple, list)) else (state,)
    for j, p in enumerate(parts):
        if not isinstance(p, torch.Tensor):
            at = f" (part {j})" if len(parts) > 1 else ""
            fail(f"{what} at step {t}{at}", "a tensor (or a tuple of tensors) carried from step to step",
                 describe(p), "carry tensors only; keep other values (counters, lists) outside the state")
    return tuple(p.detach() if p.requires_grad else p for p in parts)


def _detached(values) -> tuple:
    return tuple(v.detach() if isinstance(v, torch.Tensor) and v.requires_grad else v for v in values)


class LoopTraceBuilder:
    """Collects a hand-written recurrence step by step, then :meth:`build` makes the frozen LoopTrace.

    Example::

        b = LoopTraceBuilder("rnn", "module", Source("cell.py", 10, ("h = torch.tanh(x + h)",)),
                             state_names=("h",), input_names=("x",))
        h = torch.zeros(1, 3)
        for x_t in torch.ones(4, 1, 3):
            h_new = torch.tanh(x_t + h)
            b.add_step(x_t, h, h_new, [("h", 10, h_new, True)])
            h = h_new
        trace = b.build(output=h)
        len(trace) == 4
    """

    def __init__(self, name: str, form: str, source: Source, *, state_names=(), input_names=("x",),
                 budget: int | None = None):
        if form not in FORMS:
            fail("form", f"one of {FORMS}", describe(form), "pass 'ops' or 'module'")
        self.name, self.form, self.source = name, form, source
        self.state_names, self.input_names = tuple(state_names), tuple(input_names)
        self.budget = get_memory_budget() if budget is None else budget
        self.initial = None
        self.state_is_tuple = None
        self.states, self.inputs, self.values = [], [], []
        self.names = self.lines = self.assigned = None
        self._seen, self.nbytes = set(), 0

    def _count(self, tensors, t: int) -> None:
        seen = self._seen
        fresh = [x for x in tensors if id(x) not in seen]  # a state is also a quantity: counted once
        seen.update(map(id, fresh))
        self.nbytes += sum(map(_NBYTES, fresh))
        self._budget(t)

    def _budget(self, t: int) -> None:
        if self.nbytes > self.budget:
            raise MemoryBudgetError(
                f"{self.name or 'loop'}: expected the values of a recurrence within the memory budget of "
                f"{_fmt(self.budget)}, got {_fmt(self.nbytes)} kept by step {t}, which exceeds it. Fix: capture "
                "a shorter sequence or a smaller batch, or raise the budget with tr_widgets.set_memory_budget(nbytes).")

    def _check_state(self, parts: tuple, t: int, what: str) -> None:
        ref = self.initial
        if len(parts) != len(ref):
            fail(f"{what} at step {t}", f"{len(ref)} tensor(s), as at step 0", f"{len(parts)}",
                 "carry the same tensors at every step")
        for j, (p, r) in enumerate(zip(parts, ref)):
            if p.shape != r.shape:
                name = self.state_names[j] if j < len(self.state_names) and self.state_names[j] else f"part {j}"
                fail(f"{self.name or 'loop'}: state {name} at step {t}",
                     f"shape {tuple(r.shape)}, as at step 0 (a recurrence carries one shape through time)",
                     f"shape {tuple(p.shape)}", "keep the state's shape fixed inside the loop "
                     "(reshape or pad the input instead, or trace the steps of each shape separately)")

    def add_step(self, inputs, state_in, state_out, quantities) -> None:
        """One step: its fresh input(s), the state carried in and out (a tensor or a tuple in the code's order),
        and ``quantities``: ``[(name, line, tensor, assigned), ...]`` in the order the step computed them.

        Example: ``b.add_step(x_t, (h, c), (h2, c2), [("i", 12, i, True), ("matmul", 12, m, False)])``
        """
        names = tuple(q[0] for q in quantities)
        if self.names is None:
            self.declare(names, tuple(int(q[1]) for q in quantities), tuple(bool(q[3]) for q in quantities))
        elif names != self.names:
            fail(f"{self.name or 'loop'}: quantities at step {len(self.states)}",
                 f"the ones step 0 computed {list(self.names)[:8]}", f"{list(names)[:8]}",
                 "make every step run the same code (a branch taken on some steps only cannot be stepped as one "
                 "recurrence)")
        self.add_values(inputs, state_in, state_out, tuple(q[2] for q in quantities))

    def declare(self, names, lines, assigned) -> None:
        """Name the quantities once (before :meth:`add_values`): names, source lines, assigned flags.

        Example: ``b.declare(("matmul", "h"), (11, 11), (False, True))``
        """
        self.names, self.lines, self.assigned = tuple(names), tuple(lines), tuple(assigned)

    def add_values(self, inputs, state_in, state_out, values) -> None:
        """One step whose quantities were named by :meth:`declare`: ``values`` in that order.

        Example: ``b.add_values(x_t, h, h2, (m, h2))``
        """
        t = len(self.states)
        s_in, s_out = _parts(state_in, "state_in", t), _parts(state_out, "state", t)
        if self.initial is None:
            self.initial, self.state_is_tuple = s_in, isinstance(state_out, (tuple, list))
        self._check_state(s_in, t, "state_in")
        self._check_state(s_out, t, "state")
        x = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
        vals = tuple(values)
        if len(vals) != len(self.names or ()):
            fail(f"{self.name or 'loop'}: values at step {t}", f"{len(self.names or ())} (one per declared name)",
                 f"{len(vals)}", "pass one value per name given to declare()")
        kept = [v for v in (*s_in, *s_out, *x, *vals) if isinstance(v, torch.Tensor)]
        if any(map(_REQUIRES_GRAD, kept)):  # keep no autograd graph alive
            x, vals = _detached(x), _detached(vals)
            kept = [v for v in (*s_in, *s_out, *x, *vals) if isinstance(v, torch.Tensor)]
        self._count(kept, t)
        self.states.append(s_out)
        self.inputs.append(x)
        self.values.append(vals)

    def add_steps(self, inputs, states, blank) -> None:
        """Steps whose quantities were all left out (``blank``: one placeholder per name, re-derived on access by
        ``derive``): their fresh inputs and the states they carried out, each a tuple of tensors. The same checks
        as :meth:`add_values`, in bulk (a long loop's later steps).

        Example: ``b.add_steps([(x3,), (x4,)], [(h3,), (h4,)], (DROPPED,) * len(b.names))``
        """
        shapes, blank = [r.shape for r in self.initial], tuple(blank)
        for x, s in zip(inputs, states):
            t = len(self.states)
            if len(s) != len(shapes) or any(type(p) is not torch.Tensor or p.shape != sh  # noqa: E721 - fast
                                            for p, sh in zip(s, shapes)):
                self._check_state(_parts(s, "state", t), t, "state")  # the one message, naming the step
            if any(map(_REQUIRES_GRAD, s)) or any(map(_REQUIRES_GRAD, x)):
                s, x = _detached(s), _detached(x)
            self.nbytes += sum(map(_NBYTES, s)) + sum(map(_NBYTES, x))
            self._budget(t)
            self.states.append(s)
            self.inputs.append(x)
            self.values.append(blank)

    def build(self, output=None, derive=None) -> LoopTrace:
        """The frozen trace of the steps added (``derive``: re-derives values left out, see ``LoopTrace.derive``).

        Example: ``trace = b.build(output=y)``
        """
        if not self.states:
            fail(f"{self.name or 'loop'}", "at least one step", "none", "call add_step once per step first")
        if isinstance(output, torch.Tensor):
            output = output.detach()
        state_names = self.state_names or ("",) * len(self.initial)
        input_names = self.input_names if len(self.input_names) == len(self.inputs[0]) else \
            tuple(f"x{j}" for j in range(len(self.inputs[0])))
        return LoopTrace(self.name, self.form, state_names, bool(self.state_is_tuple), self.initial,
                         tuple(self.states), input_names, tuple(self.inputs), self.names or (),
                         self.lines or (), self.assigned or (), tuple(self.values), output, self.source, self.nbytes,
                         derive)
