"""A recording worked out (``Table``): one entry per op, its line, statement execution and assigned name.

Kept as parallel lists rather than one object per op: a loop of T steps makes T times its ops, and objects
that outlive the forward cost the garbage collector on every later allocation. ``Op`` is one entry as an
object, for the few places (a step's template, a cell's ops) that want one.
"""
from __future__ import annotations

import torch

WIDTH = 7  # entries per op in a Recording's flat raw list
_LINES: dict = {}  # code -> the line of each code unit (co_positions), to find an op's line from f_lasti
_NAMES: dict = {}  # torch function -> its short name ('__matmul__' -> 'matmul')


class Op:
    """One recorded torch call: statement index, line, op name, result, arguments; ``name`` once known."""

    __slots__ = ("stmt", "line", "op", "out", "args", "kwargs", "via_module", "name", "run")

    def __init__(self, stmt, line, op, out, args, kwargs, via_module, run):
        self.stmt, self.line, self.op, self.out = stmt, line, op, out
        self.args, self.kwargs, self.via_module, self.name = args, kwargs or {}, via_module, None
        self.run = run  # which execution of its statement (a loop runs one statement many times)

    def tensors_in(self) -> list:
        """The tensor arguments, through one level of lists and tuples (``torch.cat([a, b])``)."""
        return tensors_in(self.args, self.kwargs)

    def __repr__(self) -> str:
        return f"Op({self.name or self.op!r}, line {self.line})"


def tensors_in(args, kwargs) -> list:
    """An op's tensor arguments, through one level of lists and tuples. Example: ``tensors_in((x, [a, b]), {})``"""
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
    the forward cost the garbage collector on every later allocation."""

    def __init__(self, raw, info, code):
        lastis, childs, via, funcs, args, kwargs, outs = (raw[k::WIDTH] for k in range(WIDTH))
        keep = [i for i, o in enumerate(outs) if isinstance(o, torch.Tensor) or (
            isinstance(o, (tuple, list)) and o and isinstance(o[0], torch.Tensor))]
        if len(keep) != len(outs):
            lastis, childs, via, funcs, args, kwargs, outs = ([c[i] for i in keep] for c in (
                lastis, childs, via, funcs, args, kwargs, outs))
        table = _line_table(code)
        of_line = info.stmt_of_line if info is not None else {}
        self.lasti, self.via, self.args, self.kwargs, self.out = lastis, via, args, kwargs, outs
        at = {k: table[k >> 1] if (k >> 1) < len(table) else None for k in set(lastis)}  # a loop: few sites
        self.line = list(map(at.__getitem__, lastis))
        stmt_at = {k: of_line.get(ln, -1) for k, ln in at.items()}
        self.stmt = list(map(stmt_at.__getitem__, lastis))
        self.op = [_NAMES.get(f) or _short(f) for f in funcs]
        self.run, ends = self._runs(childs), []
        self.name = [None] * len(outs)
        for i in range(1, len(outs)):
            if self.run[i] != self.run[i - 1]:
                ends.append(i - 1)
        if outs:
            ends.append(len(outs) - 1)
        for e in ends:
            self._name(e, info)

    def _runs(self, childs) -> list:
        # A new execution of a statement starts when the statement changes, when the frame went back in its
        # bytecode (`h = tanh(h @ W)` run again by the loop), or when one call site was called anew (another
        # child frame): so a loop whose body is one line still splits into its steps.
        lastis, stmts, run, out = self.lasti, self.stmt, 0, [0] * len(self.lasti)
        for i in range(1, len(lastis)):
            k, p = lastis[i], lastis[i - 1]
            if stmts[i] != stmts[i - 1] or k < p or (k == p and (childs[i] is None or childs[i] is not childs[i - 1])):
                run += 1
            out[i] = run
        return out

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
                self.run[i])
        op.name = self.name[i]
        return op
