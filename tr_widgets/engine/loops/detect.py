"""Find a recurrence in time in the ops one run of a forward recorded (``ops.Recording``), by data flow.

For each loop of the forward's source (outermost first), the ops its body ran form *runs* (one per time the
loop ran); a run splits into *repetitions*, one per pass through the body (a new one starts each time the
first statement that ran ops comes round again). A run is a recurrence in time when:

* the same sequence of (statement, op) repeats in every repetition (the same source lines, once per step);
* a state flows: tensors produced in repetition n are arguments of ops in repetition n+1, always from the
  same op to the same argument (data flow by tensor identity; a growing output buffer is no state);
* each repetition takes a fresh input: a tensor from outside the loop, not a parameter, that is a
  different tensor at the same argument each step (``for X in inputs``), or that an op independent of the
  state selects with a different index each step (``inputs[t]``, ``inputs[:, t]``).

Reuse in depth (``for W in self.layers: x = f(x @ W)``, an ALBERT-like shared layer) carries a state but
reads only parameters and the state: no fresh input, so no trace. A state produced inside a submodule's call
(a cell module, nn.LSTM called once per step) is left to capture's module recording: it is that module's
recurrence, not this loop's.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass

import torch
from torch import nn

_BUFFER_OPS = frozenset({"cat", "stack", "hstack", "vstack", "concat", "concatenate"})


@dataclass
class Found:
    """A recurrence found in a run: its repetitions (bounds in the table), the state's (op position, result index)
    and the argument slot each is read at, and the fresh inputs' slots; ``problem`` says why it cannot be
    traced (one message), or is None.

    Example::

        # scan_rec: an OpRecorder's recording of scan_h = scan(torch.zeros(2), xs) (the docstring runner's)
        found = find(scan_rec)[0]
        (len(found.bounds), found.problem, found.loop.target) == (5, None, "x")  # 5 steps, traceable
    """

    loop: object  # source.Loop
    table: object  # table.Table: every op of the forward
    bounds: list  # [(start, end), ...] of each repetition in the table
    reps: list  # the first two repetitions as lists of Op (what the analysis looked at)
    state: list  # [(pos, j, (reader_pos, arg_k)), ...] in the order step n+1 first reads them
    fresh: list  # [("arg", pos, k) | ("op", pos, None), ...]
    reads: dict  # (op pos, arg k) -> which part of the state a step reads there (every slot, not just the first)
    varying: list  # positions of state-free ops whose arguments change each step (kept: a replay takes them)
    problem: str | None = None
    source: object = None  # trace.Source of the loop, set by whoever builds the trace
    tail: object = None  # fast.Tail: the steps after ``bounds``, read from the frame's variables (see fast.py)


def _outs(op):
    return op.out if isinstance(op.out, (tuple, list)) else (op.out,)


def body_runs(table, body):
    """(lo, hi) of each stretch of consecutive ops whose statements lie in the loop's body.

    Example::

        from tr_widgets.engine.loops import OpRecorder
        seq, rec = nn.Sequential(nn.Linear(3, 3), nn.Tanh()), OpRecorder()
        r = rec.start(nn.Sequential.forward.__code__)     # its forward: for module in self: input = module(input)
        seq(torch.ones(1, 3))
        rec.stop(r)
        list(body_runs(r.table, r.info.loops[0].body)) == [(0, 2)]
    """
    lo = None
    for i, st in enumerate(table.stmt):
        if st in body:
            lo = i if lo is None else lo
        elif lo is not None:
            yield lo, i
            lo = None
    if lo is not None:
        yield lo, len(table.stmt)


def _split(table, lo, hi) -> list:
    """(start, end) of each repetition: a new one starts each time the first statement comes round again."""
    stmt, run, s0 = table.stmt, table.run, table.stmt[lo]
    starts = [i for i in range(lo, hi) if stmt[i] == s0 and (i == lo or run[i - 1] != run[i])]
    return list(zip(starts, starts[1:] + [hi]))


def _produced(rep) -> dict:
    return {id(t): (p, j) for p, op in enumerate(rep) for j, t in enumerate(_outs(op)) if isinstance(t, torch.Tensor)}


def _carried(prev, rep) -> dict:
    """(source pos, j) -> [(reader pos, arg k), ...]: what ``rep`` reads from ``prev``'s results."""
    made, out = _produced(prev), {}
    for p, op in enumerate(rep):
        for k, a in enumerate(op.tensors_in()):
            src = made.get(id(a))
            if src is not None:
                out.setdefault(src, []).append((p, k))
    return out


def _external(rep, carried_slots) -> list:
    """(pos, k, tensor) for the tensor arguments that come from outside the loop (not made in this step, not
    the carried state, not a parameter)."""
    made, out = set(), []
    for p, op in enumerate(rep):
        for k, a in enumerate(op.tensors_in()):
            if id(a) not in made and (p, k) not in carried_slots and not isinstance(a, nn.Parameter):
                out.append((p, k, a))
        made.update(id(t) for t in _outs(op))
    return out


def _static(op) -> str:
    return repr([a for a in op.args if not isinstance(a, torch.Tensor)]) + repr(sorted(op.kwargs))


def _fresh(reps, carried_slots) -> tuple[list, list]:
    """The fresh inputs (see the module docstring), and the positions of the other state-free ops whose
    arguments change from step to step (``self.bias[t]``: a parameter is no input, but a step replayed must
    take its own)."""
    ext0, ext1 = _external(reps[0], carried_slots), _external(reps[1], carried_slots)
    fresh, seen = [], set()
    for (p, k, a), (p1, k1, b) in zip(ext0, ext1):
        if (p, k) == (p1, k1) and a is not b and a.shape == b.shape and id(a) not in seen:
            seen.add(id(a))  # one input read by several ops (X @ W_xi, X @ W_xf...) is one input
            fresh.append(("arg", p, k))
    # an op that selects this step's slice of an outside tensor (inputs[t]): depends on no state
    state_dep, outside, made = set(), {(q, k) for q, k, _ in ext1}, {}
    for p, op in enumerate(reps[1]):
        ins = op.tensors_in()
        if any((p, k) in carried_slots for k in range(len(ins))) or any(made.get(id(a)) in state_dep for a in ins):
            state_dep.add(p)
        made.update((id(t), p) for t in _outs(op))
    varying = []
    for p, (a, b) in enumerate(zip(reps[0], reps[1])):
        if p in state_dep or not isinstance(b.out, torch.Tensor) or _static(a) == _static(b):
            continue
        if any((p, k) in outside for k in range(len(b.tensors_in()))):
            fresh.append(("op", p, None))
        else:
            varying.append(p)
    return fresh, varying


def examine(table, lo, hi, loop, partial: bool = False) -> Found | None:
    """The recurrence in one run of a loop's body, or None when it is not one (see the module docstring);
    ``partial``: the loop is still running, its last step need only begin as the others do.

    Example::

        # scan_rec: an OpRecorder's recording of scan_h = scan(torch.zeros(2), xs) (the docstring runner's)
        loop = scan_rec.info.loops[0]
        lo, hi = next(body_runs(scan_rec.table, loop.body))  # the ops of the loop's body, in one stretch
        len(examine(scan_rec.table, lo, hi, loop).bounds) == 5
    """
    bounds = _split(table, lo, hi)
    if len(bounds) < 2:
        return None
    reps = [[table.op_at(i) for i in range(s, e)] for s, e in bounds[:2]]
    carried = _carried(reps[0], reps[1])
    # an output buffer (outputs = torch.cat([outputs, H[None]])) grows by one step's part each step: a tensor
    # read in the next step only by concatenations whose results are carried on again is not a state
    buffers = {src for src, slots in carried.items()
               if all(reps[1][p].op in _BUFFER_OPS and (p, 0) in carried for p, _ in slots)}
    carried = {src: slots for src, slots in carried.items() if src not in buffers}
    if not carried:
        return None
    slot_set = {slot for slots in carried.values() for slot in slots}
    fresh, varying = _fresh(reps, slot_set)
    if not fresh:
        return None  # reuse in depth: the state goes round, but nothing new comes in
    state = sorted(((pos, j, min(slots)) for (pos, j), slots in carried.items()), key=lambda s: s[2])
    reads = {slot: i for i, (pos, j, _) in enumerate(state) for slot in carried[(pos, j)]}
    if any(reps[0][pos].via_module for pos, _, _ in state):
        return None  # the state comes out of a submodule's call: that module's recurrence (capture records it)
    found = Found(loop, table, bounds, reps, state, fresh, reads, varying)
    sig = table.lasti[bounds[0][0]:bounds[0][1]]  # the same bytecode positions: the same lines and ops
    for n, (s, e) in enumerate(bounds[1:], 1):
        if table.lasti[s:e] != (sig[:e - s] if partial and n == len(bounds) - 1 else sig):
            found.problem = (f"step {n} ran different code than step 0 (a branch taken on some steps only), so "
                             "the steps cannot be shown as one recurrence")
            return found
    return found


def find(recording) -> list[Found]:
    """Every recurrence in what ``recording`` saw, outermost loops first; a run inside a loop already found
    is not examined again.

    Example::

        # scan_rec: an OpRecorder's recording of scan_h = scan(torch.zeros(2), xs) (the docstring runner's)
        [len(f.bounds) for f in find(scan_rec)] == [5]  # one recurrence, 5 steps
    """
    info = recording.info
    if info is None:
        return []
    table = recording.table
    out, taken = [], []
    tail = recording.tail if recording.tail is not None and recording.tail.at is not None else None
    at = bisect.bisect_left(table.idx, tail.at) if tail is not None else -1  # the table's ops before the tail
    for loop in info.loops:
        for lo, hi in body_runs(table, loop.body):
            if any(a <= lo < b for a, b in taken):
                continue
            f = examine(table, lo, hi, loop)
            if f is not None and tail is not None and lo < at <= hi:
                f.tail = tail
                if tail.problem and f.problem is None:
                    f.problem = f"step {len(f.bounds) + len(tail.states)} {tail.problem}"
            if f is not None:
                out.append(f)
                taken.append((lo, hi))
    return out
