"""OpRecorder: every torch operation called from the lines of a given code object, named as the code names it.

A ``TorchFunctionMode`` on torch's stack only while a watched code object runs (``start``/``stop``, e.g. from
a module's forward pre- and post-hook). For each torch call it walks up the Python frames from the call to
the first frame running a watched code object, so an op inside ``nn.Linear`` called on line 14 of a cell's
forward is attributed to line 14 (and marked ``via_module``: it ran inside a submodule's call). Ops whose
result holds no tensor (``x.shape``, ``len(x)``, ``iter(x)``) are not kept.

Names come from the source, read once with ``ast`` (``source.code_info``): when a statement's ops are done
(the next op comes from another statement), its last op gets the assigned variable's name (``I = torch.
sigmoid(...)`` names the sigmoid's result ``I``). A tuple target (``h, c = ...``) splits a tuple result, and
otherwise reads the frame's locals once to name the ops whose results the variables hold (by identity).
Every other op keeps the op's own name (``matmul``, ``add``); :func:`quantity_names` makes them unique.

Cost: one Python call per torch op while watching (the mode), a frame walk of a few frames, one dict lookup
for the line's statement; nothing is copied (results are kept by reference).
"""
from __future__ import annotations

import sys

import torch
from torch.overrides import TorchFunctionMode

from ..capture.torchstate import remove_mode
from .source import code_info

_MODULE_CALL = frozenset({"_call_impl", "_wrapped_call_impl"})  # nn.Module.__call__'s frames
_MAX_DEPTH = 48  # frames walked up from an op; deeper calls are not attributed to the watched code


class Op:
    """One recorded torch call: statement index, line, op name, result, arguments; ``name`` once known."""

    __slots__ = ("stmt", "line", "op", "out", "args", "kwargs", "via_module", "name")

    def __init__(self, stmt, line, op, out, args, kwargs, via_module):
        self.stmt, self.line, self.op, self.out = stmt, line, op, out
        self.args, self.kwargs, self.via_module, self.name = args, kwargs, via_module, None

    def tensors_in(self) -> list:
        """The tensor arguments, through one level of lists and tuples (``torch.cat([a, b])``)."""
        out = []
        for a in (*self.args, *self.kwargs.values()):
            if isinstance(a, torch.Tensor):
                out.append(a)
            elif isinstance(a, (list, tuple)):
                out.extend(x for x in a if isinstance(x, torch.Tensor))
        return out

    def __repr__(self) -> str:
        return f"Op({self.name or self.op!r}, line {self.line})"


def _has_tensor(out) -> bool:
    return isinstance(out, torch.Tensor) or (isinstance(out, (tuple, list)) and bool(out)
                                             and isinstance(out[0], torch.Tensor))


class Recording:
    """The ops one run of a watched code object made, in call order (``ops``), with names as they become known.

    Example: ``[(op.name or op.op, op.line) for op in recording.ops]``
    """

    def __init__(self, code):
        self.code, self.info = code, code_info(code)
        self.ops: list[Op] = []
        self._open = 0  # index of the first op of the statement being executed
        self.closed = False

    def add(self, frame, func, args, kwargs, out, via_module) -> None:
        info = self.info
        line = frame.f_lineno
        stmt = info.stmt_of_line.get(line, -1) if info is not None else -1
        ops = self.ops
        if ops and ops[-1].stmt != stmt:
            self._name_statement(frame)
        name = getattr(func, "__name__", None) or type(func).__name__
        ops.append(Op(stmt, line, name.strip("_") or name, out, args, kwargs or {}, via_module))

    def _name_statement(self, frame) -> None:
        """The ops from self._open on were one statement, now done: give its targets their names."""
        ops, start = self.ops, self._open
        self._open = len(ops)
        last = ops[-1]
        if self.info is None or last.stmt < 0:
            return
        st = self.info.stmts[last.stmt]
        if not st.targets:
            return
        if not st.tuple_target:
            last.name = st.targets[0]
            return
        if isinstance(last.out, (tuple, list)) and len(last.out) == len(st.targets):
            last.name = st.targets  # one op returned the whole tuple (chunk, split, a cell's (h, c))
            return
        if frame is None:
            return
        try:
            local = frame.f_locals  # read once, for this tuple assignment only
        except Exception:  # noqa: BLE001 - an unusual frame: the ops keep their op names
            return
        by_id = {id(op.out): op for op in ops[start:]}
        for tname in st.targets:
            op = by_id.get(id(local.get(tname)))
            if op is not None and op.name is None:
                op.name = tname

    def finish(self) -> None:
        """The watched code returned: name its last statement's ops (no frame left: tuple targets that no op
        returned whole keep their op names)."""
        if self.ops and not self.closed:
            self._name_statement(None)
        self.closed = True


class OpRecorder(TorchFunctionMode):
    """Records the torch ops called from the lines of watched code objects (innermost watched frame wins).

    Example::

        rec = OpRecorder()
        recording = rec.start(type(cell).forward.__code__)
        h = cell(x, h)
        rec.stop(recording)
        [(op.name or op.op, op.line) for op in recording.ops]   # [('matmul', 12), ..., ('h', 14)]
    """

    def __init__(self):
        super().__init__()
        self.watching: dict = {}  # code -> [Recording, ...] (a stack: the same code may run nested)
        self._pushed = False

    def start(self, code) -> Recording:
        """Watch ``code`` (a function's ``__code__``) from now until :meth:`stop`; returns its Recording."""
        r = Recording(code)
        self.watching.setdefault(code, []).append(r)
        if not self._pushed:
            torch._C._push_on_torch_function_stack(self)
            self._pushed = True
        return r

    def stop(self, recording: Recording) -> Recording:
        """Stop watching ``recording``'s code (the mode leaves torch's stack when nothing is watched)."""
        stack = self.watching.get(recording.code, [])
        if recording in stack:
            stack.remove(recording)
        if not stack:
            self.watching.pop(recording.code, None)
        recording.finish()
        if not self.watching and self._pushed:
            remove_mode(self)
            self._pushed = False
        return recording

    def close(self) -> None:
        """Stop everything (a forward that raised): the mode leaves torch's stack."""
        for stack in list(self.watching.values()):
            for r in list(stack):
                self.stop(r)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if not _has_tensor(out):
            return out
        watching = self.watching
        f, via, depth = sys._getframe(1), False, 0
        while f is not None and depth < _MAX_DEPTH:
            code = f.f_code
            stack = watching.get(code)
            if stack:
                try:
                    stack[-1].add(f, func, args, kwargs, out, via)
                except Exception:  # noqa: BLE001 - recording must never break the user's forward
                    pass
                break
            if code.co_name in _MODULE_CALL:
                via = True
            f, depth = f.f_back, depth + 1
        return out


def quantity_names(ops) -> list[tuple[str, bool]]:
    """``(name, assigned)`` per op, unique within ``ops``: the code's variable where it assigned one (a tuple
    result's names joined by ', '), else the op's name; repeats get ``_2``, ``_3``...

    Example: ``quantity_names(recording.ops)  # [('matmul', False), ('matmul_2', False), ('I', True), ...]``
    """
    seen, out = {}, []
    for op in ops:
        base = op.name if isinstance(op.name, str) else (", ".join(op.name) if op.name else op.op)
        n = seen.get(base, 0) + 1
        seen[base] = n
        out.append((base if n == 1 else f"{base}_{n}", op.name is not None))
    return out
