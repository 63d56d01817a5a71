"""OpRecorder: every torch operation called from the lines of a given code object, named as the code names it.

A ``TorchFunctionMode`` on torch's stack only while a watched code object runs (``start``/``stop``, e.g. from
a module's forward pre- and post-hook). For each torch call it finds the frame running watched code: the
caller itself in the common case (one dict lookup), else walking up the frames, so an op inside ``nn.Linear``
called on line 14 of a cell's forward is attributed to line 14 (and marked ``via_module``: it ran inside a
submodule's call). Innermost watched frame wins.

Cost: on the forward's clock each op only appends one tuple (where the frame was in its bytecode, the op,
its arguments and result, all by reference; nothing is copied), and every 512 ops the bytes kept are
counted against the memory budget. Everything else (the line of each op, which statement execution it
belongs to, the names) is worked out once, when the recording is first read (``Recording.ops``). Once a
loop's step is known (``steady.py``), the recorder leaves torch's stack for the loop's later steps where it
can (``fast.py``: a line tracer on the forward's frame reads each step's state and input instead).

Names come from the source, read once with ``ast`` (``source.code_info``): when a statement's ops are done,
its last op gets the assigned variable's name (``I = torch.sigmoid(...)`` names the sigmoid's result ``I``);
a tuple target (``h, c = ...``) splits a tuple result (``chunk``, a cell's ``(h, c)``). Every other op keeps
the op's own name (``matmul``, ``add``); :func:`quantity_names` makes them unique within a step. Ops whose
result holds no tensor (``x.shape``, ``iter(x)``) are left out.
"""
from __future__ import annotations

import sys

import torch
from torch import nn  # noqa: F401 - the examples use it
from torch.overrides import TorchFunctionMode

from ..capture import patch  # patch.SDPA read at call time: capture rebinds every other name bound to it
from ..capture.torchstate import remove_mode
from ..errors import MemoryBudgetError, get_memory_budget
from .source import code_info
from .fast import Tail
from .steady import TRIES, learn
from .table import DROPPED, WIDTH, Op, Table, tensors_in  # noqa: F401 - Op, tensors_in: imported from here by others

_MODULE_CALL = frozenset({"_call_impl", "_wrapped_call_impl"})  # nn.Module.__call__'s frames
_MAX_DEPTH = 48  # frames walked up from an op; deeper calls are not attributed to the watched code
_CHECK_EVERY = 512  # ops between two counts of the bytes kept
_FIRST_LOOK = 160  # ops before a recording first looks for a steady loop (steady.learn)
_SDPA: dict = {}  # torch function -> whether it is scaled_dot_product_attention (or capture's wrapper of it)


def _nbytes(out) -> int:
    if isinstance(out, torch.Tensor):
        return out.nbytes
    if isinstance(out, (tuple, list)):
        return sum(t.nbytes for t in out if isinstance(t, torch.Tensor))
    return 0


class Recording:
    """The ops one run of a watched code object made, in call order (``ops``: worked out on first read).

    Example::

        from tr_widgets.engine.loops import OpRecorder
        seq, rec = nn.Sequential(nn.Linear(3, 3), nn.Tanh()), OpRecorder()
        r = rec.start(nn.Sequential.forward.__code__)  # its forward: for module in self: input = module(input)
        seq(torch.ones(1, 3)); rec.stop(r)
        [(op.name, op.op) for op in r.ops] == [("input", "linear"), ("input", "tanh")]
    """

    def __init__(self, code, budget: int | None = None, steady: bool = False):
        self.code, self.info = code, code_info(code)
        self.steady = None  # steady.Steady while a loop's further steps keep only what the trace reads
        self.tail = None  # fast.Tail once a line tracer reads the loop's later steps (the recorder off)
        self._learn = TRIES if steady else 0  # checkpoints left at which to look for a steady loop
        self.raw: list = []  # flat, WIDTH entries per op: f_lasti, child frame or None, via_module, func, args, kwargs, out
        self._table = self._ops = None
        self.budget = get_memory_budget() if budget is None else budget
        self.nbytes, self.over, self._counted = 0, False, 0
        self.check_at = (_FIRST_LOOK if steady else _CHECK_EVERY) * WIDTH  # a loop's step is known early

    def check(self) -> None:
        """Count the bytes kept since the last count; past the budget, drop everything (the user's memory
        comes first) and remember it (:meth:`check_budget` says so after the forward)."""
        raw = self.raw
        outs = raw[self._counted + WIDTH - 1::WIDTH]
        self.nbytes += sum([o.nbytes for o in outs if type(o) is torch.Tensor]) + sum(  # noqa: E721 - exact type: fast
            [_nbytes(o) for o in outs if type(o) is not torch.Tensor and o is not DROPPED])
        self._counted = len(raw)
        self.check_at = len(raw) + _CHECK_EVERY * WIDTH
        if self.nbytes > self.budget:
            self.over, self.raw, self._counted, self.check_at = True, [], 0, sys.maxsize
            self.steady, self._learn = None, 0
        elif self._learn and self.steady is None:
            self._learn -= 1
            self.steady = learn(self)

    def add(self, lasti, child, via, func, args, kwargs, out) -> None:
        """One op (the frame walk's path; the direct path inlines this)."""
        st = self.steady
        if st is None or not st.add(self.raw, lasti, child, via, func, args, kwargs, out):
            self.steady = None  # the loop ended (or went another way): keep everything from here
            self.raw.extend((lasti, child, via, func, args, kwargs, out))
        if len(self.raw) >= self.check_at:
            self.check()

    def check_budget(self, what: str) -> None:
        """Raise MemoryBudgetError (with a Fix) if the results this recording would keep ran over the budget."""
        if not self.over:
            self.check()
        if self.over:
            raise MemoryBudgetError(
                f"{what}: expected the values of a recurrence within the memory budget of {self.budget / 2**20:.1f} "
                f"MiB, got more ({self.nbytes / 2**20:.1f} MiB kept when recording stopped), which exceeds it. Fix: "
                "capture a shorter sequence or a smaller batch, or raise the budget with "
                "tr_widgets.set_memory_budget(nbytes).")

    @property
    def table(self) -> Table:
        """The recorded ops as parallel lists (:class:`Table`), worked out once."""
        if self._table is None:
            self._table, self.raw = Table(self.raw, self.info, self.code), []
        return self._table

    @property
    def ops(self) -> list:
        """The recorded ops (``Op``), in call order, named. Example: ``recording.ops[-1].name  # 'h'``"""
        if self._ops is None:
            t = self.table
            self._ops = [t.op_at(i) for i in range(len(t))]
        return self._ops


class OpRecorder(TorchFunctionMode):
    """Records the torch ops called from the lines of watched code objects (innermost watched frame wins).

    Example::

        seq, rec = nn.Sequential(nn.Linear(3, 3), nn.Tanh()), OpRecorder()
        r = rec.start(nn.Sequential.forward.__code__)     # its forward: for module in self: input = module(input)
        seq(torch.ones(1, 3))
        rec.stop(r)
        [(op.op, op.name) for op in r.ops] == [("linear", "input"), ("tanh", "input")]
    """

    def __init__(self, budget: int | None = None, steady: bool = False):
        super().__init__()
        self.budget = budget  # per recording (None: the memory budget when it starts)
        self.steady = steady  # recordings may turn steady (``steady.py``): their traces re-derive what they drop
        self.watching: dict = {}  # code -> [Recording, ...] (a stack: the same code may run nested)
        self.top: dict = {}  # code -> its innermost Recording
        self._pushed = False

    def start(self, code) -> Recording:
        """Watch ``code`` (a function's ``__code__``) from now until :meth:`stop`; returns its Recording."""
        r = Recording(code, self.budget, self.steady)
        self.watching.setdefault(code, []).append(r)
        self.top[code] = r
        if not self._pushed:
            torch._C._push_on_torch_function_stack(self)
            self._pushed = True
        return r

    def stop(self, recording: Recording) -> Recording:
        """Stop watching ``recording``'s code (the mode leaves torch's stack when nothing is watched)."""
        if recording.tail is not None and recording.tail.frame is not None:
            recording.tail.stop()  # its frame is done
        stack = self.watching.get(recording.code, [])
        if recording in stack:
            stack.remove(recording)
        if stack and (stack[-1].tail is None or stack[-1].tail.at is None or stack[-1].tail.frame is None):
            self.top[recording.code] = stack[-1]
        elif stack:  # the outer run's loop is read by its line tracer (fast.Tail): its ops are not recorded
            self.top.pop(recording.code, None)
        else:
            self.watching.pop(recording.code, None)
            self.top.pop(recording.code, None)
        if not self.watching and self._pushed:
            remove_mode(self)
            self._pushed = False
        return recording

    def step_off(self) -> None:
        """Leave torch's stack until the next :meth:`start` (``aside.py``: the one forward watched needs no more
        ops); :meth:`stop` then has nothing to take off."""
        if self._pushed:
            remove_mode(self)
            self._pushed = False

    def step_on(self) -> None:
        """Back on torch's stack after :meth:`step_off` (``fast.Tail``: the loop ended, the forward goes on)."""
        if not self._pushed and self.watching:
            torch._C._push_on_torch_function_stack(self)
            self._pushed = True

    def close(self) -> None:
        """Stop everything (a forward that raised): the mode leaves torch's stack, line tracers stop."""
        for stack in list(self.watching.values()):
            for r in list(stack):
                if r.tail is not None:
                    r.tail.stop()
                self.stop(r)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        sdpa = _SDPA.get(func)
        if sdpa is None:
            sdpa = _SDPA[func] = patch.is_sdpa(func)
        if sdpa and patch.in_wrapper():  # torch hands modes capture's SDPA wrapper: the outer wrapper call
            func = patch.SDPA  # records it; calling the wrapper again would record it twice
        out = func(*args, **(kwargs or {}))
        f = sys._getframe(1)
        rec = self.top.get(f.f_code)
        if rec is not None:  # called from the watched code itself: the common case, kept short
            raw, st, lasti = rec.raw, rec.steady, f.f_lasti
            if st is not None:  # a known loop's step (steady.Steady.add, inlined: this runs for every op)
                k = st.pos
                if lasti == st.lasti[k]:
                    e = st.entries[k]
                    if e is None:
                        m = st.keep[k]
                        e = (lasti, None, False, func, args if m & 2 else None, kwargs if m & 2 else None,
                             out if m & 1 else DROPPED)
                    raw.extend(e)
                    if k + 1 < st.size:
                        st.pos = k + 1
                    else:  # a step done: count what was kept, once per step
                        st.pos = 0
                        if len(raw) >= rec.check_at:
                            rec.check()
                    return out
                rec.steady = None  # the loop ended (or went another way): keep everything from here
            raw.extend((lasti, None, False, func, args, kwargs, out))  # tuples in a list would outlive the forward
            if len(raw) >= rec.check_at:
                rec.check()
                if rec.steady is not None and rec.steady.fast is not None and rec.tail is None:
                    Tail.arm(self, rec, f)  # the loop's later steps: read by a line tracer, the mode off
            return out
        try:
            self._walk(f, func, args, kwargs, out)
        except Exception:  # noqa: BLE001 - recording must never break the user's forward
            pass
        return out

    def _walk(self, f, func, args, kwargs, out) -> None:
        """Walk up from ``f`` to the innermost watched frame; the op is attributed to its current line."""
        top, child, via = self.top, f, False
        if f.f_code.co_name in _MODULE_CALL:
            via = True
        f = f.f_back
        for _ in range(_MAX_DEPTH):
            if f is None:
                return
            rec = top.get(f.f_code)
            if rec is not None:
                rec.add(f.f_lasti, child, via, func, args, kwargs, out)
                return
            if f.f_code.co_name in _MODULE_CALL:
                via = True
            child, f = f, f.f_back


def quantity_names(ops) -> list[tuple[str, bool]]:
    """``(name, assigned)`` per op, unique within ``ops``: the code's variable where it assigned one (a tuple
    result's names joined by ', '), else the op's name; repeats get ``_2``, ``_3``...

    Example::

        seq, rec = nn.Sequential(nn.Linear(3, 3), nn.Tanh()), OpRecorder()
        r = rec.start(nn.Sequential.forward.__code__)
        seq(torch.ones(1, 3))
        rec.stop(r)
        quantity_names(r.ops) == [("input", True), ("input_2", True)]
    """
    seen, out = {}, []
    for op in ops:
        base = op.name if isinstance(op.name, str) else (", ".join(op.name) if op.name else op.op)
        n = seen.get(base, 0) + 1
        seen[base] = n
        out.append((base if n == 1 else f"{base}_{n}", op.name is not None))
    return out
