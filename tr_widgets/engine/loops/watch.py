"""The capture side of hand-written loops: when to switch the op recorder on, and the LoopTrace it yields.

When (the cost: every torch op pays one Python call while the recorder is on): only while the forward of a
module runs that (1) capture does not record by type and is no sequence mixer (those have their own
records), (2) is not inside a module that is (nn.LSTM, attention: their insides are theirs), and (3) whose
forward's source holds a ``for``/``while`` loop (read once per code object with ``ast``) that does not
iterate over a submodule container of the module (``for block in self.h``: a stack of layers, as in every
Hugging Face model's forward, whose ops would otherwise all pay the recorder). When the forward returns,
``detect.find`` looks for a recurrence in what it recorded; each one found becomes a LoopTrace, built at
once so that a loop that cannot be traced (a state that changes shape, a step that ran other code, the
memory budget) is reported by the capture's warning, with its Fix, and never silently missing.

Names: a loop's trace is named after its module (``""``-path modules take the model's class name, like every
record); a second loop in the same forward, or the same module called again, gets ``#2``, ``#3``... as any
repeated record does (``Capture._call_names``).
"""
from __future__ import annotations

import dataclasses
import inspect

from torch import nn

from ..capture.entries import Entry
from ..errors import fail
from .aside import Aside
from .builder import LoopTraceBuilder
from .detect import Found, find
from .ops import OpRecorder, quantity_names, tensors_in
from .replay import FORCED, StepReplay
from .steady import assigned_name
from .table import DROPPED
from .source import code_info
from .trace import Source


def _forward_code(module):
    """The code of ``module``'s forward, under its decorators (Hugging Face wraps forwards): where ops run."""
    fn = getattr(type(module), "forward", None)
    try:
        fn = inspect.unwrap(fn) if fn is not None else None
    except ValueError:  # a cycle of __wrapped__
        pass
    return getattr(fn, "__code__", None)


def _template(rep):
    """(names, lines, assigned) of one step's quantities, a tuple result split into its parts."""
    out = []
    for op, (name, assigned) in zip(rep, quantity_names(rep)):
        if isinstance(op.out, (tuple, list)):
            parts = op.name if isinstance(op.name, tuple) and len(op.name) == len(op.out) else None
            out += [(parts[j] if parts else f"{name}[{j}]", op.line, bool(parts)) for j in range(len(op.out))]
        else:
            out.append((name, op.line, assigned))
    return tuple(zip(*out)) if out else ((), (), ())


def _part(out, j):
    return out[j] if isinstance(out, (tuple, list)) else out


def _flat(outs) -> tuple:
    return tuple(t for o in outs for t in (o if isinstance(o, (tuple, list)) else (o,)))


def build_loop_trace(found: Found, output, *, name: str = "", budget: int | None = None):
    """The LoopTrace of a recurrence ``detect.find`` found (``output``: what the forward returned).

    Example::

        # scan_rec: an OpRecorder's recording of scan_h = scan(torch.zeros(2), xs) (the docstring runner's)
        one = build_loop_trace(find(scan_rec)[0], scan_h, name="scan")
        assert len(one) == 5 and torch.equal(one.state(4), scan_h) and torch.equal(one.inputs(2), xs[2])
    """
    loop, reps, table = found.loop, found.reps, found.table
    where = f"{name or 'loop'} (the loop at line {loop.first})"
    if found.problem:
        fail(where, "a recurrence whose steps run the same code", found.problem,
             "move the step-dependent branch out of the loop, or trace the steps separately")
    ins = found.fresh
    input_names = tuple((reps[0][p].name if isinstance(reps[0][p].name, str) else reps[0][p].op) if kind == "op"
                        else (loop.target if len(ins) == 1 and loop.target.isidentifier() else f"x{i}")
                        for i, (kind, p, _) in enumerate(ins))
    b = LoopTraceBuilder(name, "ops", found.source, input_names=input_names, budget=budget,
                         state_names=tuple(assigned_name(reps[0][pos], j) for pos, j, _ in found.state))
    b.declare(*_template(reps[0]))
    split = any(isinstance(op.out, (tuple, list)) for op in reps[0])
    outs, args, kwargs = table.out, table.args, table.kwargs
    prev = tuple(reps[0][p].tensors_in()[k] for _, _, (p, k) in found.state)
    for n, (s, e) in enumerate(found.bounds):
        if n and any(tensors_in(args[s + p], kwargs[s + p])[k] is not h for (_, _, (p, k)), h in zip(found.state, prev)):
            fail(where, f"step {n} to read the state step {n - 1} produced, as every step before",
                 "another tensor in its place", "carry the state from step to step in one variable (h = f(h, x))")
        x = tuple(outs[s + p] if kind == "op" else tensors_in(args[s + p], kwargs[s + p])[k] for kind, p, k in ins)
        out = tuple(_part(outs[s + pos], j) for pos, j, _ in found.state)
        b.add_values(x, prev, out, _flat(outs[s:e]) if split else outs[s:e])
        prev = out
    tail, first = found.tail, len(b.states)
    if tail is not None:  # fast.Tail: the later steps' state and input, as the code's variables held them
        b.add_steps(tail.inputs, tail.states, (DROPPED,) * len(b.names))
    dropped = tail is not None or any(v is DROPPED for v in outs[found.bounds[0][0]:found.bounds[-1][1]])
    varying = {p: [outs[s + p] for s, _ in found.bounds] for p in found.varying}
    replay = StepReplay(reps[0], found.state, ins, found.reads, split, where, varying) if dropped else None
    src = found.source
    forced = (FORCED.get() or {}).get((src.file, src.first_line)) if src is not None else None
    if replay is not None and forced:  # a what-if wrote into this loop as it ran: its steps re-derive with that
        replay = replay.forcing(forced)
    trace = b.build(output, derive=replay)
    if tail is not None and len(trace) > first:  # proved now, not when looked at: re-derived, they must give
        for t in (first, len(trace) - 1):  # the state the code carried out, bitwise (else StepReplay refuses)
            trace.quantities(t)
    if len(found.state) == 1:
        trace = dataclasses.replace(trace, state_is_tuple=False)
    return trace


def _named(trace, *, name=""):
    return dataclasses.replace(trace, name=name)


class LoopWatch:
    """Switches the op recorder on for the forwards that may hold a recurrence, and records what it finds.

    A capture's recorder holds one (``cap.recorder.loops``); its hooks call ``pre`` and ``post``.

    Example::

        # Scan: a module whose forward's loop carries h, from a source in linecache (the docstring runner's)
        with tr_widgets.capture(scan := Scan()) as cap:
            out = scan(torch.zeros(2), xs := torch.randn(5, 2))
        assert isinstance(cap.recorder.loops, LoopWatch)
        [(name, len(t)) for name, t in cap.traces] == [("Scan", 5)]
    """

    def __init__(self, rec, recorded_kind):
        self.rec, self.recorded_kind = rec, recorded_kind
        self.ops = OpRecorder(steady=True)  # further steps of a known loop keep only what the trace reads
        self.active: dict = {}  # id(frame) -> Recording
        self._wants: dict = {}  # id(module) -> (module, bool)
        self.aside = Aside(self.ops, self.wants)  # a cell's call in a loop left to module recording: no op callbacks
        self.hooks: dict = {}  # id(frame) -> the Aside hooks of its recording

    def wants(self, module) -> bool:
        """Whether ``module``'s forward gets the op recorder (see the module docstring)."""
        hit = self._wants.get(id(module))
        if hit is not None and hit[0] is module:
            return hit[1]
        ok = False
        code = _forward_code(module)
        if code is not None and self.recorded_kind(module) is None and not self._is_mixer(module):
            info = code_info(code)
            ok = info is not None and any(
                not any(isinstance(getattr(module, a, None), nn.Module) for a in lp.over)
                for lp in info.loops)
        self._wants[id(module)] = (module, ok)
        return ok

    def _is_mixer(self, module) -> bool:
        from ..capture import mixers
        return mixers.kind_of(module) is not None

    def pre(self, module, frame) -> None:
        if not self.wants(module):
            return
        for f in self.rec.stack[:-1]:  # inside a module recorded by type or a mixer: its insides are its own
            if f.kind is not None or self.recorded_kind(f.module) is not None:
                return
        r = self.active[id(frame)] = self.ops.start(_forward_code(module))
        self.hooks[id(frame)] = self.aside.attach(module, r)

    def post(self, module, frame, output, returned: bool = True) -> None:
        """``module``'s forward ended (``returned``: normally, with ``output``): look for its recurrences."""
        r = self.active.pop(id(frame), None)
        if r is None:
            return
        settled = self.aside.detach(r, self.hooks.pop(id(frame), ()))
        self.ops.stop(r)
        if not returned:
            return
        try:
            r.check_budget(f"{type(module).__name__}.forward")
            found = [] if settled else find(r)  # settled: its one loop's run was already found to give no trace
        except Exception as e:  # noqa: BLE001 - a note in rec.skipped, reported by capture's warning
            self.rec.skipped.append((module, f"{type(e).__name__}: {e}"))
            return
        if r.tail is not None and r.tail.at is not None and not any(f.tail is r.tail for f in found):
            self.rec.skipped.append((module, f"{type(module).__name__}.forward: its loop's later steps were read "
                                     "but the steps before them gave no recurrence, so no trace was made"))
        for f in found:
            f.source = loop_source(r.info, f.loop)
            try:
                trace = build_loop_trace(f, output, name=type(module).__name__)
            except Exception as e:  # noqa: BLE001
                self.rec.skipped.append((module, f"{type(e).__name__}: {e}"))
                continue
            self.rec.entries.append(Entry(module, _named, [], [trace]))

    def close(self) -> None:
        """The capture ends (or a forward raised past the hooks): the recorder leaves torch's stack."""
        for key, r in self.active.items():
            self.aside.detach(r, self.hooks.get(key, ()))
        self.hooks.clear()
        self.aside.clear()
        self.ops.close()
        self.active.clear()
        self._wants.clear()


def loop_source(info, loop) -> Source:
    """The lines of ``loop`` (header and body) as a Source.

    Example::

        info = code_info(nn.Sequential.forward.__code__)
        loop_source(info, info.loops[0]).lines[0].strip() == "for module in self:"
    """
    lo, hi = loop.first - info.first_line, loop.last - info.first_line + 1
    return Source(info.file, loop.first, info.lines[lo:hi])
