"""Fast tail: once a loop's step is known, the op recorder leaves torch's stack and a line tracer on the one
forward frame keeps, per further step, only the state and the fresh input the code holds in its variables.

Why: a ``TorchFunctionMode`` costs every torch op a Python call (an empty one alone costs ~1.25x of d2l's
LSTMScratch forward), so no per-op recording can be cheap. A line tracer set on the forward's own frame
(``frame.f_trace``; ``sys.settrace`` with a global function that traces no other frame) costs a call per
line of the loop, not per op, and reads the step's variables at the loop's header, once per step.

How (``Tail``), after ``steady.learn`` found the step and the recorder turned steady (``ops.Recording``):

1. the next header line ends a step: the lines of the following step are collected (the mode still on);
2. at the header after that, the step just recorded names its tensors: the state it carried out and the
   fresh input it read must each be a variable of the frame (by identity: ``H``, ``C``, ``X``); its lines
   are the step's template. Then the recorder leaves torch's stack;
3. at each further header: the lines run since must be the template's (else the step ran other code: the
   trace says so and is refused), and the variables' tensors are kept (the code's own, by reference);
4. a line outside the loop ends it: the recorder is pushed back and records the rest of the forward.

What the kept steps did not keep is re-derived by ``replay.StepReplay`` from the recorded step, checked
bitwise against the state the code carried out; ``watch.build_loop_trace`` checks the first kept step and
the last one when it builds the trace, so a wrong reading is refused at capture, never shown.

Only where nothing else could see the difference: a ``for`` loop, not nested and holding no loop, whose body
is straight code (no ``if``, ``break``, ``continue``, ``return``, ``raise``, ``try``, ``with`` or ``match``: a
loop that may branch keeps the recorder on, as before, rather than be refused when a step branches), whose
header line holds no statement of its body, fresh inputs held in variables at the header (``for X in
inputs``, or ``X = inputs[t]``; not ``tanh(inputs[t] @ W ...)``), no per-step slice of a parameter, the only
forward watched, and no tracer already set (a debugger, coverage; a what-if's edit inside the loop declares
``chains_lines`` and is called first on every event): else the recorder stays on, as before.
"""
from __future__ import annotations

import sys

from .table import WIDTH, tensors_in


def _none(frame, event, arg):  # the global trace function: no other frame is traced
    return None


def eligible(info, loop) -> bool:
    """Whether ``loop`` (a ``source.Loop`` of ``info``) may run its later steps under the line tracer.

    Example::

        from tr_widgets.engine.loops import code_info
        info = code_info(nn.Sequential.forward.__code__)  # for module in self: input = module(input)
        eligible(info, info.loops[0]) == True
    """
    if not loop.target or not loop.straight or any(o is not loop and o.first <= loop.last and loop.first <= o.last for o in info.loops):
        return False
    return not any(info.stmts[i].first <= loop.first <= info.stmts[i].last for i in loop.body)


def _holder(t, want: str, loc, glob):
    """(name, is global) of a variable holding ``t`` (``want`` first), or None."""
    for n in (want, *loc):
        if n in loc and loc[n] is t:
            return n, False
    for n in (want, *glob):
        if n in glob and glob[n] is t:
            return n, True
    return None


class Tail:
    """The later steps of one recording's loop, read from the frame's variables (see the module docstring).

    ``states``/``inputs``: per kept step, the tensors the code held; ``at``: how many ops were recorded when
    the recorder left (the kept steps come after them); ``problem``: why the kept steps cannot be traced (the
    kept step after the last one in ``states`` did what it says).

    Example::

        import linecache; from tr_widgets.engine.loops import OpRecorder
        src = "def scan(h, xs):\\n    for x in xs:\\n        h = torch.tanh(2 * torch.tanh(h + x))\\n    return h\\n"
        linecache.cache["<scan>"] = (len(src), None, src.splitlines(True), "<scan>")  # as IPython does a cell's
        exec(compile(src, "<scan>", "exec"))  # a loop of 4 ops a step: add, tanh, mul, tanh -> h
        ops = OpRecorder(steady=True); r = ops.start(scan.__code__)
        h = scan(torch.zeros(2), torch.randn(300, 2)); ops.stop(r)  # learned 160 ops in, traced since
        (type(r.tail), r.tail.names, len(r.tail.states) > 250) == (Tail, (("h", False),), True)  # h: a local
    """

    def __init__(self, ops, rec, frame, spec):
        self.ops, self.rec, self.frame = ops, rec, frame
        self.loop, self.state_at, self.fresh_at, self.wanted = spec
        self.header, self.last = self.loop.first, self.loop.last
        self.phase, self.seq, self.template = 0, [], None
        self.names = self.xnames = None
        self.states, self.inputs = [], []
        self.at, self.problem, self.nbytes = None, None, 0
        self.prev = None  # the frame's tracer before the tail's, called first (``chains_lines``), put back after

    @classmethod
    def arm(cls, ops, rec, frame) -> Tail | None:
        """Start the line tracer on ``frame`` (running ``rec``'s code) when the loop allows it; else None."""
        st, other = rec.steady, sys.gettrace()
        chained = other is not None and getattr(getattr(other, "__self__", None), "chains_lines", False)
        if st is None or st.fast is None or rec.tail is not None or (other is not None and not chained) \
                or frame.f_code is not rec.code or len(ops.watching) != 1 or len(ops.watching[rec.code]) != 1:
            return None
        tail = rec.tail = cls(ops, rec, frame, st.fast)
        if chained:  # a tracer of ours on this frame (a what-if's edit): it sees every event first, then the tail
            tail.prev = frame.f_trace
        frame.f_trace = tail.line
        if other is None:
            sys.settrace(_none)
        return tail

    def line(self, frame, event, arg):
        """The frame's local trace function."""
        if self.prev is not None:
            self.prev(frame, event, arg)  # a chained tracer's errors are its own: they reach the forward
        try:
            if event == "line":
                ln = frame.f_lineno
                if ln == self.header:
                    self._boundary(frame)
                elif self.header < ln <= self.last:
                    self.seq.append(ln)
                else:
                    self.end(push=True)  # the loop ended: the rest of the forward is recorded as before
            elif event == "return":
                self.end(push=False)
        except Exception:  # noqa: BLE001 - tracing must never break the user's forward: keep the mode on
            self.problem = self.problem or "held no tensor in a variable that held the state at the steps before"
            self.end(push=True)
        return None

    def _boundary(self, frame) -> None:
        if self.phase == 0:  # a step begins: its lines are the template
            self.phase, self.seq = 1, []
        elif self.phase == 1:
            if not self._name(frame.f_locals, frame.f_globals):
                self.stop()  # the recorder stays on, steady, as before
                return
            self.template, self.seq, self.phase = self.seq, [], 2
            self.at = len(self.rec.raw) // WIDTH
            self.rec.steady = None
            self.ops.top.pop(self.rec.code, None)  # ops a child's recording sees from here are not this loop's
            self.ops.step_off()
        elif self.seq != self.template:
            self.problem = ("ran other lines of the loop than the steps before (a branch taken on some steps only), "
                            "so the steps cannot be shown as one recurrence")
            self.end(push=False)  # what follows is not recorded: this forward's traces are refused anyway
        else:
            self.seq = []
            loc, glob = frame.f_locals, frame.f_globals
            s = tuple((glob if g else loc)[n] for n, g in self.names)
            x = tuple((glob if g else loc)[n] for n, g in self.xnames)
            self.states.append(s)
            self.inputs.append(x)
            self.nbytes += sum(t.nbytes for t in s) + sum(t.nbytes for t in x)
            rec = self.rec
            if rec.nbytes + self.nbytes > rec.budget:
                rec.nbytes += self.nbytes
                rec.over, rec.raw, self.states, self.inputs = True, [], [], []
                self.end(push=False)

    def _name(self, loc, glob) -> bool:
        """Name the state and the fresh inputs of the step just recorded by the frame's variables holding them
        (local, else global: ``%%tr_step`` runs a cell as a function whose names are global)."""
        rec, st = self.rec, self.rec.steady
        if st is None or not self.seq:
            return False
        # the template may start mid-step (an op whose result holds no tensor, ``X.shape``, opens the step): the
        # latest op at template position q began the current cycle (q < pos) or ended the last one
        cur, raw = len(rec.raw) // WIDTH - st.pos, rec.raw

        def at(q: int) -> int:
            return (cur + q if q < st.pos else cur - st.size + q) * WIDTH
        if cur - st.size < 0:
            return False
        outs = [o[j] if isinstance(o := raw[at(q) + 6], (tuple, list)) else o for q, j in self.state_at]
        ins = [raw[at(q) + 6] if k is None else tensors_in(raw[at(q) + 4], raw[at(q) + 5])[k] for q, k in self.fresh_at]
        names = [_holder(t, w, loc, glob) for t, w in zip((*outs, *ins), self.wanted)]  # the code's names first
        if any(n is None for n in names):
            return False
        self.names, self.xnames = tuple(names[:len(outs)]), tuple(names[len(outs):])
        return True

    def end(self, push: bool) -> None:
        """The loop ended (or the forward returned): stop tracing; ``push``: record the rest as before."""
        if self.phase == 2 and self.seq and self.problem is None:
            self.problem = ("left the loop in the middle of the step (a break or a return on some steps), so the "
                            "steps cannot be shown as one recurrence")
        live = self.phase == 2
        self.stop()
        if live and push and self.problem is None:
            rec = self.rec
            rec._learn = 0
            self.ops.top[rec.code] = rec
            self.ops.step_on()

    def stop(self) -> None:
        """Stop the line tracer (the recorder's state is left as it is)."""
        self.phase = -1 if self.at is None else 3  # done: kept steps (or none), never armed again
        if self.frame is not None:
            self.frame.f_trace = self.prev
            self.frame = None
        if sys.gettrace() is _none:
            sys.settrace(None)
