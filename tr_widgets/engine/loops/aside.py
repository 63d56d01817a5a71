"""Calls aside: the op recorder steps off torch's stack for a submodule's call once the loop it runs in is
known to give no trace of ops (its state comes out of that call: a cell module, nn.LSTM called per step).

Why: while a watched forward runs, every torch op pays a Python call, the ops inside a submodule called from
the forward included (``ops.OpRecorder._walk`` attributes them to the calling line). In makemore's style
(``ht = self.cell(xt, hprev)`` in a ``for``) or seed 001's (``self.lstm(x_t, (h_t, c_t))`` per step) those
ops are many and their loop is left to capture's module recording (``detect.examine``: a state produced
inside a submodule's call is that module's recurrence), so recording them only costs time.

When, exactly: on the k-th call (k ≥ 3) from one call site of the forward, the ops recorded so far are
looked at once (at most a few times per site). When the loop whose body holds the call site runs alone (no
loop nested in it or around it), has begun its third step, and ``detect.examine`` already finds no
recurrence of ops in its first two steps, that run's verdict is final: ``examine`` reads only those two
steps (and the start of the third). From then on each call of a direct child module of the forward, made
from the forward's own code while that run lasts, runs with the op recorder popped (one pop and one push
per call instead of a callback per op inside). The ops the forward itself runs are still recorded, so the
run's end is seen: an op outside the loop's body ends the verdict and everything is recorded again.

Traces are what they were: the run gave no trace of ops before and gives none now; what is recorded
before the verdict, and everything outside the run, is unchanged. A child whose own forward (or one of its
submodules') is watched for loops keeps the recorder on: its recording needs it.

Settled: when the forward's code has that one loop only, the run is the loop's first, no op outside its body
came since, and this is the only forward watched, nothing more this forward runs can give a trace of ops
(find looks only at runs of loops; a loop not nested runs once per call). The recorder then leaves torch's
stack for the rest of the forward (``OpRecorder.step_off``) and ``detect.find`` is not run at its end. The
one case this could differ, by construction only: a generator in the ``for`` header whose own torch ops on
some later steps would split the run, followed by body code that changes its data flow on those steps.
"""
from __future__ import annotations

import functools
import sys

import torch
from torch import nn  # noqa: F401 - the example uses it

from .detect import body_runs, examine
from .table import Table

_MODULE_CALL = frozenset({"_call_impl", "_wrapped_call_impl"})
_FIRST = 3  # the call from one site at which its loop is first looked at (two steps done, a third begun)
_LOOKS = 3  # looks per call site before giving up
_LINES: dict = {}  # code -> the line of each code unit, to find an op's line from its f_lasti


def _line_table(code) -> list:
    table = _LINES.get(code)
    if table is None:
        table = _LINES[code] = [p[0] for p in code.co_positions()]
    return table


def _steps(table, lo, hi) -> int:
    """How many steps a body run has begun (as ``detect`` splits them: each time its first statement comes
    round again)."""
    stmt, run, s0 = table.stmt, table.run, table.stmt[lo]
    return sum(1 for i in range(lo, hi) if stmt[i] == s0 and (i == lo or run[i - 1] != run[i]))


class _Site:
    """Per recording: calls counted per call site (f_lasti), and the loop run found to give no trace."""

    __slots__ = ("calls", "loop", "seen", "ended", "only", "off")

    def __init__(self):
        self.calls, self.loop, self.seen, self.ended, self.only, self.off = {}, None, 0, False, False, False


class Aside:
    """Hooks a watched forward's direct children so their calls run with the op recorder popped once the loop
    they run in is known to give no trace of ops (see the module docstring).

    ``watch.LoopWatch`` does the same. Example::

        from tr_widgets.engine.loops import OpRecorder
        seq, rec = nn.Sequential(nn.Linear(2, 2), nn.Tanh()), OpRecorder()
        aside = Aside(rec, lambda module: False)       # LoopWatch passes its ``wants``
        r = rec.start(nn.Sequential.forward.__code__)  # the forward's recording starts
        handles = aside.attach(seq, r)                 # a pre- and a forward hook per child
        seq(torch.ones(1, 2))
        aside.detach(r, handles)
        rec.stop(r)
        len(handles) == 4
    """

    def __init__(self, ops, watched):
        self.ops, self.watched = ops, watched
        self.sites: dict = {}  # id(recording) -> _Site
        self.popped: list = []  # per hooked call in progress: whether its pre-hook popped the recorder
        self._clear: dict = {}  # id(child) -> (child, bool): no module in it is watched for loops

    def attach(self, module, recording) -> list:
        """Hook ``module``'s direct children for ``recording``; returns the handles."""
        enter, leave = functools.partial(self._enter, recording), self._leave
        if "torch._dynamo" in sys.modules:  # never traced by dynamo, as capture's own hooks
            enter, leave = torch._dynamo.disable(enter), torch._dynamo.disable(leave)
        handles = []
        for child in module.children():
            if self._is_clear(child):
                handles += [child.register_forward_pre_hook(enter),
                            child.register_forward_hook(leave, always_call=True)]
        self.sites[id(recording)] = _Site()
        return handles

    def detach(self, recording, handles) -> bool:
        """Remove ``recording``'s hooks (its forward ended); returns whether the forward is known to give no trace
        of ops: its code has one loop, whose run was found to give none and lasted to the end (a loop not
        nested in another runs once per call, so no other run of it can hold a recurrence)."""
        for h in handles:
            h.remove()
        st = self.sites.pop(id(recording), None)
        return st is not None and (st.off or self._settled(st, recording))

    def _settled(self, st, rec) -> bool:
        return bool(st.loop is not None and st.only and not st.ended and not rec.over and len(rec.info.loops) == 1
                    and self._still_in(st, rec))

    def clear(self) -> None:
        """The capture ended."""
        self.sites.clear()
        self.popped.clear()
        self._clear.clear()

    def _is_clear(self, child) -> bool:
        hit = self._clear.get(id(child))
        if hit is None or hit[0] is not child:
            hit = self._clear[id(child)] = (child, not any(self.watched(m) for m in child.modules()))
        return hit[1]

    def _enter(self, recording, child, args):
        pop = False
        try:
            pop = self._aside(recording)
        except Exception:  # noqa: BLE001 - deciding must never break the user's forward: record as before
            pop = False
        if pop:
            n = torch._C._len_torch_function_stack()
            pop = n > 0 and torch._C._get_function_stack_at(n - 1) is self.ops
            if pop:
                torch._C._pop_torch_function_stack()
        self.popped.append((pop, recording))
        return None

    def _leave(self, child, args, output):
        pop, rec = self.popped.pop() if self.popped else (False, None)
        if pop:
            st = self.sites.get(id(rec))
            if st is not None and len(self.ops.watching) == 1 and len(self.ops.watching.get(rec.code, ())) == 1 \
                    and output is not None and self._settled(st, rec):
                st.off = True  # the one forward watched is settled: no op of it matters any more
                self.ops.step_off()
            else:
                torch._C._push_on_torch_function_stack(self.ops)
        return None

    def _aside(self, rec) -> bool:
        """Whether this call (of a hooked child) runs with the recorder popped."""
        st = self.sites.get(id(rec))
        if st is None or st.off or rec.over or self.ops.top.get(rec.code) is not rec:
            return False
        f = sys._getframe(2)  # _enter <- (dynamo's wrapper) <- _call_impl <- _wrapped_call_impl <- the forward
        for _ in range(6):
            if f is None or f.f_code is rec.code:
                break
            f = f.f_back
        if f is None or f.f_code is not rec.code:
            return False  # called from elsewhere (a helper function): recorded as before
        if st.loop is not None and not self._still_in(st, rec):
            st.loop, st.ended = None, True  # the run ended: record everything again
        if st.loop is None:
            n = st.calls[f.f_lasti] = st.calls.get(f.f_lasti, 0) + 1
            if not _FIRST <= n < _FIRST + _LOOKS:
                return False
            with torch._C.DisableTorchFunction():  # looking (x.shape...) must not record ops of its own
                st.loop, st.only = _no_trace_loop(rec, f.f_lasti)
            if st.loop is None:
                return False
            st.seen = len(rec.raw)
        return True

    def _still_in(self, st, rec) -> bool:
        """The ops recorded since the last look all ran in the run's loop body (the loop has not ended)."""
        raw, lines, of_line, body = rec.raw, _line_table(rec.code), rec.info.stmt_of_line, st.loop.body
        for k in range(st.seen, len(raw), 7):  # WIDTH entries per op, f_lasti first
            ln = lines[raw[k] >> 1] if (raw[k] >> 1) < len(lines) else None
            if of_line.get(ln, -1) not in body:
                return False
        st.seen = len(raw)
        return True


def _no_trace_loop(rec, lasti):
    """(the loop running the call site at ``lasti``, when its current run is final with no trace of ops (see
    the module docstring), else None; whether that run is the loop's first)."""
    info = rec.info
    if info is None or not rec.raw:
        return None, False
    ln = _line_table(rec.code)[lasti >> 1]
    stmt = info.stmt_of_line.get(ln, -1)
    loops = [lp for lp in info.loops if stmt in lp.body]
    if len(loops) != 1:
        return None, False
    loop = loops[0]
    if any(o is not loop and o.first <= loop.last and loop.first <= o.last for o in info.loops):
        return None, False  # nested loops: an outer run would see this one's ops
    table = Table(rec.raw, info, rec.code)
    runs = list(body_runs(table, loop.body))
    if not runs or runs[-1][1] != len(table):
        return None, False
    lo, hi = runs[-1]
    if _steps(table, lo, hi) < 3 or examine(table, lo, hi, loop, partial=True) is not None:
        return None, False
    return loop, len(runs) == 1
