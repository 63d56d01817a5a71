"""What a module loop keeps of each call (``module_loops`` decides which calls form a loop).

A call's arguments and output are kept by reference; only the output's version counters are read when the
call returns, the rest once a next call looks like it continues it (``Call.settle``), so a module called
only once costs one small object.
"""
from __future__ import annotations

import torch

from .entries import keep
from .module_steps import flat_in, flat_out


def _detached(output):
    if isinstance(output, torch.Tensor):
        return output.detach()
    return type(output)(_detached(o) for o in output) if type(output) in (tuple, list) else output


class Call:
    """One recorded call: its arguments and output, by reference. Only the output's versions are read at
    once; the rest (detached, flattened) when a next call looks like it continues this one (``settle``), so
    a module called once (a block in depth) costs one tuple.

    Example::

        cell, h = nn.RNNCell(3, 4), torch.zeros(1, 4)
        out = cell(x[0], h)
        call = Call((x[0], h), {}, out, flat_out(out)).settle()
        (sorted(call.ins), call.outs[0][0]) == ([(0,), (1,)], ())  # input, hx -> the new h
    """

    __slots__ = ("args", "kwargs", "output", "ins", "outs", "versions", "out_ptrs", "kept")

    def __init__(self, args, kwargs, output, outs):
        self.args, self.kwargs, self.output, self.outs = args, kwargs, output, outs
        self.versions = [t._version for _, t in outs]
        self.ins = self.out_ptrs = None
        self.kept = []  # (label, tensor, version): an argument changed in place later is reported

    def settle(self) -> "Call":
        """Detach and flatten what the call kept (once). Example: ``call.settle().ins[(1,)]  # hprev``"""
        if self.ins is None:
            kept = self.kept
            self.args = tuple(keep(a, f"arg{i}", kept) for i, a in enumerate(self.args))
            self.kwargs = {k: keep(v, k, kept) for k, v in self.kwargs.items()}
            self.output = _detached(self.output)
            self.ins, self.outs = dict(flat_in(self.args, self.kwargs)), flat_out(self.output)
            self.out_ptrs = {t.untyped_storage().data_ptr() for _, t in self.outs}
        return self

    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.ins.values()) + sum(t.nbytes for _, t in self.outs)


class Loop:
    """The calls of one module that form one loop over time (``module_loops``' docstring says when).

    Example::

        cell, h = nn.RNNCell(3, 4), torch.zeros(1, 4)
        out = cell(x[0], h)
        loop = Loop(Call((x[0], h), {}, out, flat_out(out)))
        (len(loop.calls), loop.links) == (1, None)  # links ((out_key, in_key), ...) are set by module_loops
    """

    __slots__ = ("calls", "links", "fresh", "entry", "index", "nbytes", "tensors")

    def __init__(self, first: Call):
        self.calls, self.links, self.fresh, self.entry, self.index, self.nbytes = [first], None, None, None, -1, 0
        self.tensors = []  # every tensor the calls keep, where rec.nbytes can see them

    def keeps(self, call: Call) -> None:
        """Count ``call``'s tensors as kept. Example: ``loop.keeps(call)``"""
        self.tensors += [*call.ins.values(), *(t for _, t in call.outs)]


def feeds(prev: Call, args, kwargs) -> bool:
    """A cheap first look: some tensor argument starts where a tensor ``prev`` returned starts.

    Example::

        cell, h = nn.RNNCell(3, 4), torch.zeros(1, 4)
        h1 = cell(x[0], h)
        prev = Call((x[0], h), {}, h1, flat_out(h1))
        feeds(prev, (x[1], h1), {}) == True  # the next step reads what prev returned
        feeds(prev, (x[1], h), {}) == False
    """
    ptrs = [t.data_ptr() for _, t in prev.outs]
    for a in (*args, *kwargs.values()) if kwargs else args:
        if isinstance(a, torch.Tensor):
            if a.data_ptr() in ptrs:
                return True
        elif type(a) in (tuple, list) and any(isinstance(t, torch.Tensor) and t.data_ptr() in ptrs for t in a):
            return True
    return False


def same_memory(t, o, version) -> bool:
    """``t`` is ``o``'s memory at ``version`` (same start, shape, no write since).

    Example::

        h = torch.zeros(2)
        v = h._version
        same_memory(h[:], h, v) == True
        h.add_(1)
        same_memory(h, h, v) == False  # written since
    """
    return t.numel() > 0 and t.data_ptr() == o.data_ptr() and t.shape == o.shape and t._version == version
