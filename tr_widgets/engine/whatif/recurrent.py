"""State and gate edits on nn.RNN / nn.LSTM / nn.GRU and their cells, run by the module's own forward.

A module called once over the sequence (``whole``): its forward is replaced for the run by one that

1. reuses the recorded run up to the first edited step when the call's input and initial state are the
   recorded ones (the outputs and the state there come from the baseline trace: "a recurrence restarts
   from the recorded state"), else runs the module's own forward over those steps;
2. runs each step whose gate is edited with the kind's own step (``spec.step``: torch's equations on the
   module's weights), the edited gate written into the step's own tensor right after the op that made it
   (``forced.GateForce``), so everything computed from it sees the new value;
3. replaces the state carried out of an edited step (h_t is also what the module outputs at step t, so a
   trace of the run replays step t + 1 from the state it really received);
4. runs the module's own (fused) forward over the rest, from the state reached.

A cell called once per step: the call at step t runs ``spec.step`` with the gate forced, and its output
(the state the loop carries) is replaced. Multi-layer, bidirectional, projected and packed modules are
refused (one TraceInputError: an edit on a kind that cannot take it).
"""
from __future__ import annotations

import torch

from ..errors import TraceInputError, fail  # noqa: F401  (TraceInputError: named by an example)
from ..recurrent.cells import CELLS
from ..recurrent.scan import linear_scan
from .edits import new_state, new_value
from .forced import forced_step
from .recurrent_after import after_trace


def check(edits, trace) -> None:
    """Every edit fits this recurrent trace (gate names from ``trace.spec``, steps, value shapes).

    Example::

        check([Edit.gate("LSTM", "f", 2, 1.0)], tr) is None  # tr: an LSTM's trace
        try:
            check([Edit.gate("LSTM", "z", 2, 1.0)], tr); said = ""
        except TraceInputError as e:
            said = str(e)
        said.startswith("gate: expected one of the gates")
    """
    if trace.num_layers * trace.num_directions != 1 or trace.proj_size or trace.lengths is not None:
        fail("name", "a one-layer, one-direction recurrent module (no proj_size, no PackedSequence) to edit",
             f"{trace.name!r}: {trace!r}", "edit a one-layer module, or split the layers into modules of their own")
    T = trace.seq_len
    for e in edits:
        for s in e.steps:
            if not -T <= s < T:
                fail("steps" if e.gate_name else "step", f"a step in [0, {T - 1}] of {trace.name!r}",
                     repr(s), f"pick a step of the recorded sequence (T = {T})")
        if e.gate_name is not None:
            if e.gate_name not in trace.spec.gates:
                fail("gate", f"one of the gates of {trace.name!r} {list(trace.spec.gates)}", repr(e.gate_name),
                     "pick a gate from trace.spec.gates" + ("" if trace.spec.gates else
                                                            " (this kind has none: edit its state instead)"))
            new_value(e.value, trace.hidden()[e.steps[0]], "value")  # a gate is [B, H], as h is
        else:
            # the old c only where a function reads it: a shape check needs no replay of steps 0..t
            new_state(e.value, state_at(trace, e.steps[0], reads_old(e.value)), "value")


def needs_old(value) -> bool:
    """Whether an edit's value reads the old cell state (a function, or a pair keeping c with None).

    Example: ``(needs_old(0.0), needs_old((0.0, None)), needs_old(lambda s: s)) == (False, True, True)``
    """
    return callable(value) or (isinstance(value, tuple) and len(value) > 1 and (value[1] is None or callable(value[1])))


def reads_old(value) -> bool:
    """Whether an edit's value is a function of the old state (so checking it needs the real c).

    Example::

        (reads_old((0.0, None)), reads_old((None, lambda c: c * 2)), reads_old(lambda s: s)) == (False, True, True)
    """
    return callable(value) or (isinstance(value, tuple) and any(map(callable, value)))


def state_at(trace, t: int, cell: bool = True) -> tuple:
    """The recorded state carried out of step ``t`` (``(h,)`` or ``(h, c)``, each ``[B, H]``). The fused kernel
    returns only the last c, so an LSTM's c_t is the trace's own when it has derived its cells already, else
    it comes from replaying steps 0..t only (two batched products and a scan: on a GPU far cheaper than running
    them again, on one CPU thread about as costly, the same products); ``cell=False`` gives zeros in its
    place (shape only).

    Example: ``torch.allclose(state_at(tr, 2)[1], tr.cell()[2])  # an LSTM's (h_2, c_2)``
    """
    t = t % trace.seq_len
    h = trace.hidden()[t]
    if not trace.spec.has_cell:
        return (h,)
    if not cell:
        return h, torch.zeros_like(h)
    if trace.cell_states is not None or ("cell", 0, 0) in trace.derived:  # already there: read, not replayed
        return h, trace.cell()[t]
    with torch.no_grad():
        g = trace.spec.replay(trace.x[:t + 1], trace.hidden()[:t + 1], trace.h0[0], trace.params[0][0], False)
        c = linear_scan(g["f"], g["i"] * g["g"], trace.c0[0])  # [t + 1, B, H]
    return h, c[-1]


def _events(edits, T):
    norm = lambda s: s % T  # noqa: E731 - steps may count from the end, as everywhere
    gates, states = {}, {}
    for e in edits:
        for s in e.steps:
            if e.gate_name is not None:
                gates.setdefault(norm(s), {})[e.gate_name] = e.value
            else:
                states[norm(s)] = e.value
    return gates, states


def install(iv, module, trace, edits) -> None:
    """Put the edited forward on ``module`` for the run (``iv``: the run's Interventions).

    Example::

        from tr_widgets.engine.whatif.apply import Interventions
        with Interventions(lstm) as iv:  # tr: lstm's trace on x
            install(iv, lstm, tr, [Edit.state("LSTM", 3, 0.0)])
            out = lstm(x)[0].detach()
        float(out[3].abs().sum()) == 0.0 and torch.equal(out[:3], tr.output[:3])
    """
    gates, states = _events(edits, trace.seq_len)
    step = _CellForward if isinstance(module, CELLS) else _WholeForward
    forward = step(module, trace, gates, states)
    iv.override(module, forward)
    return forward


def finish(after, forward):
    """The after-run's trace of an edited recurrent module (an ``AfterTrace``): it shows the gates the run really
    used at each gate-edited step, and for an LSTM called once over the sequence the cell states it really
    carried (a trace replays its gates and c_t from h_{t-1} and x_t, which cannot know a gate or a c that was
    edited). Nothing is replayed here: the trace puts them in when its gates or cells are first read.

    Example::

        wi = tr_widgets.what_if(lstm, lambda: lstm(x), Edit.state("LSTM", 2, (None, 0.0)))  # c_2 zeroed
        float(wi.after["LSTM"].cell()[2].abs().sum()) == 0.0  # what_if finished the trace with finish()
    """
    cells = getattr(forward, "cells", None) if after.spec.has_cell else None
    return after_trace(after, cells or {}, forward.forced)


class _WholeForward:
    """The edited forward of a module called once over the whole sequence."""

    def __init__(self, module, trace, gates, states):
        self.m, self.tr, self.gates, self.states = module, trace, gates, states
        self.own = type(module).forward
        self.bf = bool(getattr(module, "batch_first", False))
        self.cells = {}  # step -> the c_t the run carried out of an edited step (for ``finish``)
        self.forced = {}  # step -> the gates a gate-edited step used (for ``finish``)
        self.applied = False

    finishes = property(lambda self: bool(self.cells or self.forced),
                        doc="whether ``finish`` has a cell state or gates to put in")

    def _run(self, xs, parts):
        """The module's own forward over ``xs`` [T', B, I] from state ``parts``: (out [T', B, H], parts)."""
        hx = tuple(p[None] for p in parts) if len(parts) > 1 else parts[0][None]  # [1, B, H] each
        out, hn = self.own(self.m, xs.transpose(0, 1) if self.bf else xs, hx)
        out = out.transpose(0, 1) if self.bf else out  # [T', B, H]
        return out, tuple(p[0] for p in hn) if isinstance(hn, tuple) else (hn[0],)

    def __call__(self, input, hx=None):
        tr, unbatched = self.tr, input.dim() == 2
        self.applied = True
        xs = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if self.bf else input)  # [T, B, I]
        if xs.shape[0] != tr.seq_len:
            fail("name", f"a call of {tr.name!r} over the recorded {tr.seq_len} steps", f"{xs.shape[0]} steps",
                 "edit a run whose calls are the recorded ones")
        h0 = rec0 = (tr.h0[0], tr.c0[0]) if tr.spec.has_cell else (tr.h0[0],)
        if hx is not None:
            hx = hx if isinstance(hx, tuple) else (hx,)
            h0 = tuple((h.unsqueeze(1) if unbatched else h)[0] for h in hx)  # [B, H] each
        T, k = xs.shape[0], min([*self.gates, *(s + 1 for s in self.states)])
        same = torch.equal(xs, tr.x) and all(map(torch.equal, h0, rec0))
        if k == 0:
            outs, parts = [], h0
        elif same:  # the recorded run up to step k - 1: nothing before the edit runs again
            outs, parts = [tr.top[:k]], state_at(tr, k - 1, k in self.gates or needs_old(self.states.get(k - 1)))
        else:
            out, parts = self._run(xs[:k], h0)
            outs = [out]
        outs, parts = self._edit_state(k - 1, outs, parts)
        t = k
        while t < T:
            if t in self.gates:
                parts = forced_step(tr.spec, tr.params[0][0], xs[t], parts, self.gates[t],
                                    self.forced.setdefault(t, {}))
                outs.append(parts[0][None])
                self._keep(t, parts)
                t += 1
            else:
                stop = min([g for g in self.gates if g > t] + [s + 1 for s in self.states if s >= t] + [T])
                out, parts = self._run(xs[t:stop], parts)
                outs.append(out)
                t = stop
            outs, parts = self._edit_state(t - 1, outs, parts)
        out = torch.cat(outs)  # [T, B, H]
        out = out[:, 0] if unbatched else (out.transpose(0, 1) if self.bf else out)
        hn = tuple(p[0] if unbatched else p[None] for p in parts)
        return out, hn if len(hn) > 1 else hn[0]

    def _keep(self, t, parts):
        if len(parts) > 1:
            self.cells[t] = parts[1]

    def _edit_state(self, t, outs, parts):
        if t not in self.states:
            return outs, parts
        value = self.states[t]
        parts = new_state(value, parts, "value")
        if not (isinstance(value, tuple) and value[-1] is None):  # c kept as it was: a replay gives it anyway
            self._keep(t, parts)
        last = outs[-1]
        outs[-1] = torch.cat([last[:-1], parts[0][None].to(last.dtype)])  # h_t out = the state carried on
        return outs, parts


class _CellForward:
    """The edited forward of a cell called once per step (its output is the state the loop carries)."""

    def __init__(self, module, trace, gates, states):
        self.m, self.tr, self.gates, self.states, self.calls = module, trace, gates, states, 0
        self.own = type(module).forward
        self.forced = {}  # step -> the gates a gate-edited step used (the trace holds the states it carried)

    applied = property(lambda self: self.calls > max([*self.gates, *self.states]),
                       doc="whether the run reached every edited step")
    finishes = property(lambda self: bool(self.forced), doc="whether ``finish`` has gates to put in")

    def __call__(self, input, hx=None):
        t, tr = self.calls, self.tr
        self.calls += 1
        if t in self.gates:
            one = input.dim() == 1
            x = input[None] if one else input  # [B, I]
            B, H = x.shape[0], tr.hidden_size
            prev = hx if isinstance(hx, tuple) else ((hx,) if hx is not None else None)
            parts = tuple(torch.zeros(B, H, dtype=x.dtype, device=x.device) for _ in range(1 + tr.spec.has_cell))
            if prev is not None:
                parts = tuple(p[None] if one else p for p in prev)
            parts = forced_step(tr.spec, tr.params[0][0], x, parts, self.gates[t], self.forced.setdefault(t, {}))
            out = tuple(p[0] if one else p for p in parts)
        else:
            out = self.own(self.m, input, hx)
            out = out if isinstance(out, tuple) else (out,)
        if t in self.states:
            out = new_state(self.states[t], out, "value")
        return out if len(out) > 1 else out[0]
