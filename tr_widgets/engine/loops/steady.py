"""Steady state: once a loop's step is known, keep of each further step only what the trace needs.

Keeping every intermediate of every step costs memory and time on the forward's clock (each result lands in
fresh memory instead of the cache-warm block the allocator would have reused). So, a few hundred ops into a
forward (``Recording.check``), :func:`learn` looks at what was recorded: when a loop is running whose steps
already form a recurrence (``detect.examine``) and repeat the same bytecode positions, the recording turns
*steady*: for each further op it checks that the op comes where the step's template says, and keeps only
the results and arguments the trace reads (the state out, the state read, the fresh input); the others are
``DROPPED``. An op anywhere else (the loop ended) turns it back to keeping everything.

What was dropped is re-derived exactly when a step is looked at (``replay.StepReplay``): the step's ops are
called again on that step's state and input, and the state they give must equal the one kept, bitwise. A
step with in-place or random ops is never made steady (calling it again would change something or differ).
Where the loop allows it (``fast.eligible``), the steady recorder then hands the later steps to
``fast.Tail``, which leaves torch's stack altogether.
"""
from __future__ import annotations

from .detect import body_runs, examine
from .fast import eligible
from .table import DROPPED, WIDTH, Table

_RANDOM = ("rand", "dropout", "bernoulli", "multinomial", "normal", "uniform", "poisson", "exponential", "cauchy",
           "geometric", "log_normal", "random")
TRIES = 3  # checkpoints at which learning is tried before giving up (each reads everything recorded so far)


def _replayable(ops) -> bool:
    for op in ops:
        name = op.op
        if (name.endswith("_") and not name.startswith("_")) or name in ("setitem", "iadd", "isub", "imul", "idiv",
                                                                         "itruediv") or any(r in name for r in _RANDOM):
            return False
    return True


class Steady:
    """The template of one step: the bytecode position of each op (``lasti``) and, for each position, the entry
    recorded in place of the op (``entries[k]``: its result DROPPED, arguments not kept), or None where some
    of it is kept: ``keep[k]`` 1 the result (a state out, a fresh input selected), 2 the arguments (a state or
    fresh input read), 3 both. ``pos``: where the running step is.

    Example::

        import linecache; from tr_widgets.engine.loops import OpRecorder
        src = "def scan(h, xs):\\n    for x in xs:\\n        h = torch.tanh(2 * torch.tanh(h + x))\\n    return h\\n"
        linecache.cache["<scan>"] = (len(src), None, src.splitlines(True), "<scan>")  # as IPython does a cell's
        exec(compile(src, "<scan>", "exec"))  # a loop of 4 ops a step: add, tanh, mul, tanh -> h
        ops = OpRecorder(); r = ops.start(scan.__code__)
        h = scan(torch.zeros(2), torch.randn(4, 2)); ops.stop(r)
        r.raw = r.raw[:-WIDTH]  # as Recording.check sees it mid-loop (160 ops in, for a long loop)
        (type(learn(r)), learn(r).keep) == (Steady, [2, 0, 0, 1])  # add: its arguments h, x; h: its result
    """

    __slots__ = ("lasti", "entries", "keep", "size", "pos", "fast")

    def __init__(self, lasti, entries, keep, pos, fast=None):
        self.lasti, self.entries, self.keep, self.size, self.pos = lasti, entries, keep, len(lasti), pos
        self.fast = fast  # (loop, state's (position, part), fresh inputs' (position, arg), the state's variable
        # names): ``fast.Tail`` may read the later steps

    def add(self, raw, lasti, child, via, func, args, kwargs, out) -> bool:
        """Record one op as the template says; False when it is not where the template expects it."""
        k = self.pos
        if lasti != self.lasti[k]:
            return False
        self.pos = k + 1 if k + 1 < self.size else 0
        e = self.entries[k]
        if e is None:
            m = self.keep[k]
            e = (lasti, child, via, func, args if m & 2 else None, kwargs if m & 2 else None, out if m & 1 else DROPPED)
        raw.extend(e)
        return True


def learn(rec) -> Steady | None:
    """The steady state of the loop running now in ``rec`` (a Recording), or None (no recurrence yet, steps that
    differ, ops that cannot be called again).

    Example::

        import linecache; from tr_widgets.engine.loops import OpRecorder
        src = "def scan(h, xs):\\n    for x in xs:\\n        h = torch.tanh(2 * torch.tanh(h + x))\\n    return h\\n"
        linecache.cache["<scan>"] = (len(src), None, src.splitlines(True), "<scan>")  # as IPython does a cell's
        exec(compile(src, "<scan>", "exec"))  # a loop of 4 ops a step: add, tanh, mul, tanh -> h
        ops = OpRecorder(); r = ops.start(scan.__code__)
        scan(torch.zeros(2), torch.randn(4, 2)); ops.stop(r)
        r.raw = r.raw[:-WIDTH]  # as Recording.check sees it mid-loop: step 3's last op not run yet
        (learn(r).size, learn(r).pos) == (4, 3)  # 4 ops a step; the running step is at its 4th
    """
    info, raw = rec.info, rec.raw
    if info is None or not raw:
        return None
    table = Table(raw, info, rec.code)
    n = len(table)
    for loop in info.loops:
        for lo, hi in body_runs(table, loop.body):
            if hi != n:
                continue  # a loop that ended: nothing more to save
            found = examine(table, lo, hi, loop, partial=True)  # the last step is still running
            if found is not None and found.problem is None and len(found.bounds) >= 3:
                return _steady(raw, table, found, info)
    return None


def assigned_name(op, j) -> str:
    """The variable the code assigned part ``j`` of ``op``'s result to ('' if none).

    Example::

        from types import SimpleNamespace as Op
        assigned_name(Op(name=("h", "c")), 1) == "c"      # h, c = cell(...)
        assigned_name(Op(name="H"), 1) == ""               # H = ...: one result, no part 1
    """
    if isinstance(op.name, tuple):
        return op.name[j] if j < len(op.name) else ""
    return (op.name or "") if j == 0 else ""


def _steady(raw, table, found, info) -> Steady | None:
    if not _replayable(found.reps[0]):
        return None
    idx, bounds = table.idx, found.bounds
    r0, r1 = idx[bounds[0][0]], idx[bounds[1][0]]
    size, lastis = r1 - r0, raw[0::WIDTH]
    tmpl = lastis[r0:r1]
    starts = [idx[s] for s, _ in bounds]
    if any(st != r0 + i * size or lastis[st:st + size] != tmpl for i, st in enumerate(starts[:-1])):
        return None
    last = starts[-1] if starts[-1] == r0 + (len(starts) - 1) * size else None
    if last is None:
        return None
    pos = len(lastis) - last
    if not 0 <= pos <= size or lastis[last:] != tmpl[:pos]:
        return None
    pos %= size  # a step just done: the next op begins one
    keep = [0] * size
    where = [idx[bounds[0][0] + p] - r0 for p in range(len(found.reps[0]))]  # op p of a step -> its raw position
    for p, _, (rp, _) in found.state:
        keep[where[p]] |= 1
    for slot in found.reads:
        keep[where[slot[0]]] |= 2
    for kind, p, _ in found.fresh:
        keep[where[p]] |= 1 if kind == "op" else 2
    for p in found.varying:
        keep[where[p]] |= 1
    is_tensor = [False] * size
    for q in where:
        is_tensor[q] = True
    fast = None
    if not found.varying and eligible(info, found.loop):  # a fresh input selected by an op (X = inputs[t]): its
        rep = found.reps[0]  # result, named as assigned (k None); one read as an argument: the loop's target first
        fast = (found.loop, [(where[p], j) for p, j, _ in found.state], [(where[p], k) for _, p, k in found.fresh],
                [assigned_name(rep[p], j) for p, j, _ in found.state] +
                [assigned_name(rep[p], 0) if kind == "op" else found.loop.target for kind, p, _ in found.fresh])
    entries = []
    for q in range(size):  # the first step's own entry, its result and arguments left out
        lasti, child, via, func, _, _, out = raw[(r0 + q) * WIDTH:(r0 + q + 1) * WIDTH]
        entries.append(None if keep[q] else (lasti, child, via, func, None, None, DROPPED if is_tensor[q] else out))
    return Steady(tmpl, entries, keep, pos, fast)
