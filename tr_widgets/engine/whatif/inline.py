"""Edits inside a loop the user wrote in a forward (a LoopTrace of ``form="ops"``: d2l's RNNScratch,
LSTMScratch, a learner's first RNN): the state carried out of a step, or a quantity the code names, changed
right after the statement that assigns it.

The loop has no call to change from outside, so the edited run sets Python's line tracer on the one frame
running the loop's code (every other frame is left untraced). A statement of the loop's body runs once per
step (the trace was recorded from a loop whose steps all ran the same statements), so its k-th execution in
the run is step k. When the statement assigning the edited name has run for an edited step:

- ``Edit.gate(name, q, steps, value)``: the tensor the code just assigned to ``q`` is overwritten with the
  value, so every later line of the step reads it (a "gate" of hand-written code is any quantity it names:
  ``F``, ``I``, ``C_tilde``);
- ``Edit.state(name, step, value)``: once the last statement assigning a state variable has run (``H``, or
  LSTMScratch's ``C`` then ``H``), every part of the state is overwritten: what the step outputs
  (``outputs.append(H)``) and what step + 1 receives, as for torch's modules.

The write is in place, so the code goes on with the very tensor it holds, and the capture of the edited run
(which keeps the code's tensors by reference) shows the value the run used. Therefore it is refused where it
would reach past the run: a tensor sharing memory with a parameter, a buffer or an argument of the forward (the
user's data). A backward through an edited step is refused by torch (the tensor's version changed), and a
debugger or coverage tool already tracing the kernel is not displaced: the edit is refused, naming it.

Capture's fast tail (``loops.fast``) reads a settled loop's later steps with a line tracer of its own: this one
declares ``chains_lines``, so the tail traces the frame after it (an edit is written before the tail reads the
step), and the values written are handed to the after-trace's build (``loops.replay.FORCED``), which checks
re-derived steps against the state the code carried. The edited run so costs about one capture.
"""
from __future__ import annotations

import sys

import torch

from ..errors import fail
from ..loops.replay import FORCED
from ..loops.source import code_info
from .edits import new_state, new_value


def _variables(name: str) -> list[str]:
    """The variables a quantity's name stands for (``"h, c"`` for a tuple assignment)."""
    return [p.strip() for p in name.split(",")]


def _site_lines(trace, var: str) -> list[int]:
    """The lines of every statement in the loop's body assigning the variable ``var``."""
    src = trace.source
    return [ln for n, a, ln in zip(trace.names, trace.assigned, trace.lines)
            if a and var in _variables(n) and src.first_line <= ln < src.first_line + len(src.lines)]


def check(edits, trace) -> None:
    """Every edit fits the loop: a state edit's step and value, a gate edit's quantity (a variable the loop's
    code assigns) and steps.

    Example::

        with tr_widgets.capture(s := Scan()) as cap:  # for x in xs: h = torch.tanh(h + x)
            s(torch.zeros(2), xs)
        check([Edit.gate("Scan", "h", [3], 0.0)], cap["Scan"]) is None  # d2l's LSTMScratch: "F", "C_tilde"...
    """
    T = len(trace)
    for e in edits:
        for s in e.steps:
            if not -T <= s < T:
                fail("steps" if e.kind == "gate" else "step", f"a step in [0, {T - 1}] of {trace.name!r}", repr(s),
                     f"pick a recorded step (T = {T})")
        if e.kind == "state":
            if not all(trace.state_names) or not all(_site_lines(trace, v) for v in trace.state_names):
                fail("name", "a loop whose state is held in variables it assigns each step",
                     f"{trace.name!r} carrying {list(trace.state_names)}", "assign the state to a variable each step")
            new_state(e.value, trace.states[e.steps[0]], "value")
            continue
        if not _site_lines(trace, e.gate_name):
            named = sorted({v for n, a in zip(trace.names, trace.assigned) if a for v in _variables(n)})
            fail("gate", f"a variable the loop of {trace.name!r} assigns each step, one of {named}",
                 repr(e.gate_name), "pick a name from trace.quantities(t, assigned_only=True)")
        qs = trace.quantities(e.steps[0], assigned_only=True)
        old = next((v for n, v in qs.items() if e.gate_name in _variables(n)), None)
        if isinstance(old, torch.Tensor):
            new_value(e.value, old, "value")


class LoopEdits:
    """The line tracer of one edited run: at each edited (statement, step), the variables written over.

    ``applied``: every edited step was reached. Installed by :func:`install`; off again when the run's
    ``Interventions`` close, whatever happened.

    Example::

        s = Scan()  # for x in xs: h = torch.tanh(h + x)
        wi = tr_widgets.what_if(s, lambda: s(torch.zeros(2), xs), Edit.state("Scan", 2, 0.0))
        wi.diverges_at == {"Scan": 2}
    """

    expects = " (a loop that ran as many steps as in the first run)"
    finishes = True  # the after-trace is built while the edits are on: its re-derived steps read ``written`` (FORCED)
    chains_lines = True  # capture's fast tail may trace the same frame after this tracer (loops.fast.Tail)
    fix = "make run() call the model on the same inputs each time"

    def __init__(self, trace, edits, protect):
        self.trace, self.protect, self.file, self.loop_line = trace, protect, trace.source.file, trace.source.first_line
        self.T, self.info, self.frame = len(trace), None, None
        self.plan: dict[int, dict[int, list]] = {}  # a line of the assigning statement -> step -> [(names, edit)]
        self.todo = 0
        for e in edits:
            names = trace.state_names if e.kind == "state" else (e.gate_name,)
            at = max(max(_site_lines(trace, v)) for v in names)  # the state: after the last of its statements
            for s in e.steps:
                self.plan.setdefault(at, {}).setdefault(s % self.T, []).append((names, e))
                self.todo += 1
        self.sites: dict[int, dict] = {}  # statement index (code_info) -> step -> [(names, edit)]
        self.count: dict[int, int] = {}
        self.inside, self.guard = None, set()
        self.written: dict[int, dict] = {}  # step -> {variable: the tensor written over (the code's own)}

    applied = property(lambda self: self.todo == 0, doc="whether the run reached every edited step")

    def start(self) -> None:
        if sys.gettrace() is not None:
            fail("edits", "a kernel with no debugger or coverage tool tracing it (edits inside a loop of a forward use "
                 "Python's line tracer)", f"the tracer {sys.gettrace()!r}", "run the what-if outside the debugger")
        sys.settrace(self._call)

    def stop(self) -> None:
        if sys.gettrace() == self._call:
            sys.settrace(None)
        if self.frame is not None:
            self.frame.f_trace = None
            self.frame = None

    def _call(self, frame, event, arg):
        code = frame.f_code
        if self.frame is not None or code.co_filename != self.file or not \
                code.co_firstlineno <= self.loop_line <= max(ln for _, _, ln in code.co_lines() if ln):
            return None
        info = code_info(code)
        if info is None:
            return None
        self.info, self.frame = info, frame
        for line, steps in self.plan.items():
            i = info.stmt_of_line[line]
            loop = info.loops[info.stmts[i].loop] if info.stmts[i].loop >= 0 else None
            if loop is None or not loop.straight:
                fail("edits", "a loop whose steps all run the same statements (no if / break / continue inside it)",
                     f"{self.trace.name!r}: {info.lines[line - info.first_line].strip()!r} in a loop that may branch",
                     "edit a loop with a straight body, or move the step into a module called once per step")
            self.sites[i] = steps
        held = [v for v in frame.f_locals.values() if isinstance(v, (torch.Tensor, tuple, list))]
        held = [t for v in held for t in (v if isinstance(v, (tuple, list)) else (v,)) if isinstance(t, torch.Tensor)]
        self.guard = self.protect | {t.untyped_storage().data_ptr() for t in held}  # the forward's arguments
        return self._line

    def _line(self, frame, event, arg):
        if event not in ("line", "return"):
            return self._line
        stmt = self.info.stmt_of_line.get(frame.f_lineno) if event == "line" else None
        if self.inside is not None and stmt != self.inside:
            self._done(frame, self.inside)  # the statement has run: the next line (or the return) is another's
            self.inside = None
        if stmt in self.sites:
            self.inside = stmt
        return self._line

    def _done(self, frame, stmt: int) -> None:
        """Statement ``stmt`` has run once more (its k-th time: step k): overwrite what this step's edits name."""
        k = self.count.get(stmt, 0)
        self.count[stmt] = k + 1
        for names, e in self.sites[stmt].get(k, ()):
            loc, glob = frame.f_locals, frame.f_globals
            held = [loc[n] if n in loc else glob.get(n) for n in names]
            if not all(isinstance(t, torch.Tensor) for t in held):
                fail("name", f"a step whose {list(names)} hold tensors", str([type(t).__name__ for t in held]),
                     "edit a variable holding a tensor")
            if any(t.untyped_storage().data_ptr() in self.guard for t in held):
                fail("edits", "a value the loop computed (written in place for the run)",
                     f"{'/'.join(names)} at step {k}, sharing memory with a parameter or an argument of the forward",
                     "edit a quantity the step computes, not one it reads")
            with torch._C.DisableTorchFunction(), torch.no_grad():  # not an op of the step: the capture sees none
                new = new_state(e.value, tuple(held), "value") if e.kind == "state" else \
                    (new_value(e.value, held[0], "value"),)
                for n, t, v in zip(names, held, new):
                    t.copy_(v)
                    self.written.setdefault(k, {})[n] = t
            self.todo -= 1


def install(iv, module, trace, edits) -> LoopEdits:
    """Arm the line tracer for the run (``iv``: the run's Interventions), off again when they close.

    Example::

        from tr_widgets.engine.whatif.apply import Interventions
        with tr_widgets.capture(s := Scan()) as cap:
            s(torch.zeros(2), xs)
        with Interventions(s) as iv:
            edits_on = install(iv, s, cap["Scan"], [Edit.state("Scan", 1, 0.0)])
            h = s(torch.zeros(2), xs)
        edits_on.applied == True
    """
    protect = {p.untyped_storage().data_ptr() for p in (*module.parameters(), *module.buffers())}
    edits_on = LoopEdits(trace, edits, protect)

    def on(*_):
        edits_on.frame, edits_on.inside = None, None
        edits_on.start()

    def off(*_):
        edits_on.stop()
    iv.hook(module.register_forward_pre_hook(on))
    iv.hook(module.register_forward_hook(off, always_call=True))
    iv.undo.insert(0, edits_on.stop)
    forced = dict(FORCED.get() or {})
    forced[(trace.source.file, trace.source.first_line)] = edits_on.written  # the after-trace's build reads it
    token = FORCED.set(forced)
    iv.undo.append(lambda: FORCED.reset(token))
    return edits_on
