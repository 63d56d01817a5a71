"""A recording worked out (``Table``): one entry per op, its line, statement execution and assigned name.

Kept as parallel lists rather than one object per op: a loop of T steps makes T times its ops, and objects
that outlive the forward cost the garbage collector on every later allocation. ``Op`` is one entry as an
object, for the few places (a step's template, a cell's ops) that want one.
"""
from __future__ import annotations

import itertools

import torch

WIDTH = 7  # entries per op in a Recording's flat raw list
_LINES: dict = {}  # code -> the line of each code unit (co_positions), to find an op's line from f_lasti
_NAMES: dict = {}  # torch function -> its short name ('__matmul__' -> 'matmul')


class _Dropped:
    """Stands for a result not kept (``steady``: a step like the ones before, re-derived when asked for)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "DROPPED"


DROPPED = _Dropped()


class Op:
    """One recorded torch call: statement index, line, op name, result, arguments; ``name`` once known.

    Example::

        op = Op(0, 12, "tanh", torch.zeros(2), (torch.ones(2),), {}, False, 0, torch.tanh)
        (repr(op), len(op.tensors_in())) == ("Op('tanh', line 12)", 1)
    """

    __slots__ = ("stmt", "line", "op", "out", "args", "kwargs", "via_module", "name", "run", "func")

    def __init__(self, stmt, line, op, out, args, kwargs, via_module, run, func=None):
        self.stmt, self.line, self.op, self.out = stmt, line, op, out
        self.args, self.kwargs, self.via_module, self.name = args or (), kwargs or {}, via_module, None
        self.run = run  # which execution of its statement (a loop runs one statement many times)
        self.func = func  # the torch function called (to call it again)

    def tensors_in(self) -> list:
        """The tensor arguments, through one level of lists and tuples (``torch.cat([a, b])``)."""
        return tensors_in(self.args, self.kwargs)

    def __repr__(self) -> str:
        return f"Op({self.name or self.op!r}, line {self.line})"


def tensors_in(args, kwargs) -> list:
    """An op's tensor arguments, through one level of lists and tuples.

    Example: ``len(tensors_in((torch.ones(2), [torch.ones(1), 3.0]), {"out": torch.ones(1)})) == 3``
    """
    out = []
    for a in (*args, *(kwargs or {}).values()):
        if isinstance(a, torch.Tensor):
            out.append(a)
        elif isinstance(a, (list, tuple)):
            out.extend(x for x in a if isinstance(x, torch.Tensor))
    return out


def _short(func) -> str:
    name = _NAMES.get(func)
    if name is None:
        full = getattr(func, "__name__", None) or type(func).__name__
        name = _NAMES[func] = full.strip("_") or full
    return name


def _line_table(code) -> list:
    table = _LINES.get(code)
    if table is None:
        table = _LINES[code] = [p[0] for p in code.co_positions()]
    return table


class Table:
    """A recording worked out: parallel lists, one entry per op whose result holds a tensor, in call order
    (``lasti``, ``line``, ``stmt``, ``run``: which execution of its statement, ``op``: its short name,
    ``args``, ``kwargs``, ``out``, ``via``: ran inside a submodule's call, ``name``: the assigned name or None).
    Lists rather than one object per op: a loop of T steps makes T times its ops, and objects that outlive
    the forward cost the garbage collector on every later allocation.

    Example::

        from tr_widgets.engine.loops import OpRecorder
        seq, rec = nn.Sequential(nn.Linear(3, 3), nn.Tanh()), OpRecorder()
        r = rec.start(nn.Sequential.forward.__code__)  # its forward: for module in self: input = module(input)
        seq(torch.ones(1, 3)); rec.stop(r)
        t = r.table
        (len(t), t.op, t.name, t.run) == (2, ["linear", "tanh"], ["input", "input"], [0, 1])
    """

    def __init__(self, raw, info, code):
        lastis, childs, via, funcs, args, kwargs, outs = cols = [raw[k::WIDTH] for k in range(WIDTH)]
        tensor = torch.Tensor
        dropped = [i for i, o in enumerate(outs) if type(o) is not tensor and o is not DROPPED and not (  # noqa: E721
            isinstance(o, tensor) or (isinstance(o, (tuple, list)) and o and isinstance(o[0], tensor)))]  # x.shape
        self.idx = list(range(len(outs)))  # the index in the recording of each op kept here
        for i in reversed(dropped):  # few: deleting them beats copying every column
            for c in (*cols, self.idx):
                del c[i]
        self.func = funcs
        table = _line_table(code)
        of_line = info.stmt_of_line if info is not None else {}
        self.lasti, self.via, self.args, self.kwargs, self.out = lastis, via, args, kwargs, outs
        at = {k: table[k >> 1] if (k >> 1) < len(table) else None for k in set(lastis)}  # a loop: few sites
        self.line = list(map(at.__getitem__, lastis))
        stmt_at = {k: of_line.get(ln, -1) for k, ln in at.items()}
        self.stmt = list(map(stmt_at.__getitem__, lastis))
        self.op = [_NAMES.get(f) or _short(f) for f in funcs]
        # A new execution of a statement starts when the statement changes, when the frame went back in its
        # bytecode (`h = tanh(h @ W)` run again by the loop), or when one call site was called anew (another
        # child frame): so a loop whose body is one line still splits into its steps.
        st = self.stmt
        new = [s != ps or k < pk or (k == pk and (c is None or c is not pc))
               for s, ps, k, pk, c, pc in zip(st[1:], st, lastis[1:], lastis, childs[1:], childs)]
        self.run = list(itertools.accumulate(new, initial=0))
        self.name = [None] * len(outs)
        ends = [i for i, n in enumerate(new) if n] + ([len(outs) - 1] if outs else [])
        for e in ends:
            self._name(e, info)

    def _name(self, last: int, info) -> None:
        """Op ``last`` ended an execution of its statement: it gets the assigned name (a tuple target splits a
        tuple result: chunk, split, a cell's (h, c))."""
        if info is None or self.stmt[last] < 0:
            return
        st = info.stmts[self.stmt[last]]
        if st.targets and not st.tuple_target:
            self.name[last] = st.targets[0]
        elif st.targets and isinstance(self.out[last], (tuple, list)) and len(self.out[last]) == len(st.targets):
            self.name[last] = st.targets

    def __len__(self) -> int:
        return len(self.out)

    def op_at(self, i: int) -> Op:
        """Op ``i`` as an object (named)."""
        op = Op(self.stmt[i], self.line[i], self.op[i], self.out[i], self.args[i], self.kwargs[i], self.via[i],
                self.run[i], self.func[i])
        op.name = self.name[i]
        return op
