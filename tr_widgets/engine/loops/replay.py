"""Re-deriving a steady step's dropped values (``steady.py``): the step's ops called again, checked bitwise.

The template is the first step's ops, kept whole: each op's torch function, arguments and result. For step
t, each op is called again with its tensor arguments replaced: where the template read the state, step t's
state in; where it read the fresh input, step t's input; where it read a result of an earlier op of the step,
that op's new result; anything else (parameters, constants) as it was. The state the ops give must equal
the state step t carried out, which the trace kept, bitwise: then every value is the one the code computed
(the same kernels on the same inputs); otherwise the step is refused with a Fix, never shown approximately.
"""
from __future__ import annotations

import contextvars

import torch

from ..errors import fail
from .table import DROPPED

_CACHE_STEPS = 32  # steps whose re-derived values are kept (a stepper looks at one step, then the next)
# (file, first line of a loop's source) -> {step: {variable: tensor}}: values a what-if wrote into a loop while it
# ran (``whatif.inline``), so the trace built from that run re-derives its steps with them (``forcing``)
FORCED: contextvars.ContextVar = contextvars.ContextVar("tr_widgets_loop_forced", default=None)


def _parts(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _forced(name, r, forced: dict):
    """``r`` (an op's result, assigned to ``name``: a variable or a tuple of them) with the forced ones in."""
    if isinstance(name, str):
        return forced.get(name, r)
    parts = tuple(forced.get(n, p) for n, p in zip(name, _parts(r)))
    return type(r)(parts) if isinstance(r, (tuple, list)) else parts


class StepReplay:
    """Called by ``LoopTrace.quantities``: ``replay(trace, t, values)`` -> step t's values, none dropped.

    Example::

        import linecache; from tr_widgets.engine.loops import OpRecorder
        src = "def scan(h, xs):\\n    for x in xs:\\n        h = torch.tanh(2 * torch.tanh(h + x))\\n    return h\\n"
        linecache.cache["<scan>"] = (len(src), None, src.splitlines(True), "<scan>")  # as IPython does a cell's
        exec(compile(src, "<scan>", "exec"))  # a loop of 4 ops a step: add, tanh, mul, tanh -> h
        from tr_widgets.engine.loops.detect import find; from tr_widgets.engine.loops.watch import build_loop_trace
        ops = OpRecorder(steady=True); r = ops.start(scan.__code__)
        h = scan(torch.zeros(2), xs := torch.randn(300, 2)); ops.stop(r)  # steady: step 250's tanh was not kept
        one = build_loop_trace(find(r)[0], h)
        (type(one.derive), one.values[250][1] is DROPPED) == (StepReplay, True)
        assert torch.equal(one.quantities(250)["tanh"], torch.tanh(one.state_in(250) + xs[250]))  # re-derived
    """

    def __init__(self, template, state, fresh, reads, split: bool, where: str, varying=None):
        self.template, self.state, self.split, self.where = template, state, split, where
        self.varying = varying or {}  # op pos -> [its result at each step] (state-free ops taking per-step args)
        self.reads = dict(reads)  # (pos, k) -> state part
        self.fresh_ops, self.fresh_ids = {}, {}
        for i, (kind, p, k) in enumerate(fresh):
            if kind == "op":
                self.fresh_ops[p] = i
            else:
                self.fresh_ids[id(template[p].tensors_in()[k])] = i  # read at every slot that reads it
        self.cache: dict = {}
        self.forced: dict = {}  # step -> {variable: the tensor the step went on with} (a what-if's edits)

    def forcing(self, forced: dict) -> "StepReplay":
        """This replay for a run whose code was handed other values at some steps (``whatif.inline``):
        ``forced[t][name]`` stands for the result of the op assigning ``name`` at step t, so the ops after it
        (and the state check) see what the run saw.

        Example: ``StepReplay([], [], [], {}, False, "scan").forcing({3: {"h": torch.ones(2)}}).forced[3]["h"].sum() == 2``
        """
        other = StepReplay.__new__(StepReplay)
        other.__dict__.update(self.__dict__)
        other.cache, other.forced = {}, forced
        return other

    def __call__(self, trace, t: int, values: tuple) -> tuple:
        if not any(v is DROPPED for v in values):
            return values
        hit = self.cache.get(t)
        if hit is None:
            hit = self._derive(trace, t, values)
            if len(self.cache) >= _CACHE_STEPS:
                self.cache.pop(next(iter(self.cache)))
            self.cache[t] = hit
        return hit

    def _derive(self, trace, t, values) -> tuple:
        s_in = trace.initial if t == 0 else trace.states[t - 1]
        x, env, results = trace.step_inputs[t], {}, []
        with torch.no_grad():
            for p, op in enumerate(self.template):
                if p in self.fresh_ops:
                    r = x[self.fresh_ops[p]]
                elif p in self.varying:
                    r = self.varying[p][t]
                else:
                    args, kwargs = self._arguments(p, op, env, s_in, x)
                    r = op.func(*args, **kwargs)
                if t in self.forced and op.name:
                    r = _forced(op.name, r, self.forced[t])
                for old, new in zip(_parts(op.out), _parts(r)):
                    env[id(old)] = new
                results.append(r)
        for i, (pos, j, _) in enumerate(self.state):
            got = _parts(results[pos])[j] if isinstance(results[pos], (tuple, list)) else results[pos]
            want = trace.states[t][i]
            if got.shape != want.shape or not torch.equal(got, want):
                fail(f"{self.where}, step {t}", "the state the step carried out when its ops run again on its state "
                     "and input (the trace re-derives the intermediates it did not keep)",
                     "another value (the step reads something besides its state and input, e.g. a per-step index)",
                     "capture a shorter loop (the first steps keep every value), or make the step depend on its "
                     "state and input only")
        flat = tuple(v for r in results for v in _parts(r)) if self.split else tuple(results)
        return tuple(n if v is DROPPED else v for v, n in zip(values, flat))

    def _arguments(self, p, op, env, s_in, x):
        k = 0

        def sub(a):
            nonlocal k
            if not isinstance(a, torch.Tensor):
                return a
            slot, k = (p, k), k + 1
            if slot in self.reads:
                return s_in[self.reads[slot]]
            i = self.fresh_ids.get(id(a))
            return x[i] if i is not None else env.get(id(a), a)

        def walk(a):
            return type(a)(sub(e) for e in a) if isinstance(a, (list, tuple)) else sub(a)
        args = tuple(walk(a) for a in op.args)
        kwargs = {key: walk(v) for key, v in op.kwargs.items()}
        return args, kwargs
