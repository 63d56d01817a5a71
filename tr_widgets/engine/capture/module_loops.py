"""A module called repeatedly as a clock: the user's own cell (makemore's RNNCell / GRUCell, called once per
step inside a forward) or a whole model called in a loop around it (PyTorch's char-RNN tutorial:
``for i in range(T): output, hidden = rnn(line[i], hidden)``). The calls become one LoopTrace
(``form="module"``) whose quantities are the cell forward's intermediates under the code's names.

Found by data flow, never by type. Call n+1 of a module continues call n's loop when

* part of its input is part of call n's output: a tensor argument (or an element of a tuple argument) is a
  tensor call n returned (or an element of the tuple it returned), the same memory at the same version.
  The loop keeps call n's output alive, so that memory cannot have been reused by another tensor;
* it takes a fresh input: another tensor argument, of the shape it had in call n, that is not the tensor
  call n got there (a different ``data_ptr``: ``line[i]`` is a new view each step), is not held in call n's
  output, and is no view of a parameter or buffer (a step embedding is the model's, not data);
* which outputs feed which arguments, and which arguments are fresh, stay the same from call to call.

The fresh input tells a recurrence in time from reuse in depth. ALBERT's shared layer, a universal
transformer's block and ``for _ in range(n): x = layer(x)`` take the previous output and nothing new (at
most the same mask, or a parameter), so they give no trace, as before. A single call gives none either.

Which modules: those whose class is defined outside installed packages (the user's own code: a notebook,
a script, a test), that capture does not record by type, that are no sequence mixer and hold none of
either (their recurrence is theirs). Library modules (torch, Hugging Face, Keras) are called repeatedly in
depth or recorded by type; leaving them out keeps the hooks off their calls. ``merge_cells=False`` turns
this off. Cost at capture: a forward hook of its own on such a module (the recorder's hooks stay off it)
and a few pointer comparisons per call; the cell's intermediates are re-derived when the trace is first
built (``module_steps``), not on the forward's clock.

Never silent: a loop whose state is not a tensor (a cell returning a list it gets back) and a loop over the
memory budget are reported in ``rec.skipped`` (so in the capture's warning), each with its Fix.
"""
from __future__ import annotations

import glob
import inspect
import os
import site
import sys
import sysconfig
import threading

import torch
from torch import nn

from ..errors import describe, get_memory_budget
from .entries import Entry
from .module_calls import Call, Loop, feeds, same_memory
from .module_steps import arg_name, flat_out, forward_code, module_loop_trace

_LIBRARY_DIRS = tuple({*(sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib")), *site.getsitepackages(),
                       site.getusersitepackages()})
_DROPOUT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)
_USER_CLASS: dict = {}  # class -> whether it is defined outside installed packages


def user_class(cls) -> bool:
    """Whether ``cls`` is defined in the user's code, not in an installed package (cached per class): a package
    in site-packages or the standard library, or one a package installer put elsewhere (``pip install --target``
    onto ``PYTHONPATH``: its file is listed in the RECORD of a ``*.dist-info`` beside it).

    Example::

        class MyCell(nn.Module): pass
        (user_class(nn.Linear), user_class(MyCell)) == (False, True)
    """
    hit = _USER_CLASS.get(cls)
    if hit is None:
        try:
            path = inspect.getsourcefile(cls) or inspect.getfile(cls)
        except (TypeError, OSError):
            path = None  # defined in a notebook cell or exec'd text: the user's
        hit = _USER_CLASS[cls] = path is None or not (path.startswith(_LIBRARY_DIRS) or _installed(path))
    return hit


_RECORDS: dict = {}  # a sys.path folder -> the files its *.dist-info RECORDs list (relative, "/"-separated)


def _installed(path: str) -> bool:
    """Whether a package installer wrote ``path``: a RECORD in the sys.path folder holding it lists it."""
    path = os.path.abspath(path)
    for root in {os.path.abspath(p) for p in sys.path if p}:
        if not path.startswith(root + os.sep):
            continue
        if root not in _RECORDS:
            files = set()
            for rec in glob.glob(os.path.join(glob.escape(root), "*.dist-info", "RECORD")):
                try:
                    with open(rec, encoding="utf-8") as f:
                        files.update(line.split(",", 1)[0] for line in f)
                except OSError:
                    continue
            _RECORDS[root] = files
        if os.path.relpath(path, root).replace(os.sep, "/") in _RECORDS[root]:
            return True
    return False


class ModuleLoops:
    """The recorder's half that finds modules called repeatedly and keeps one Loop per module.

    Example::

        from tr_widgets.engine.capture.recorder import Recorder
        loops = ModuleLoops(Recorder(None, True, "patch"))  # merge_cells=True: loops of module calls wanted
        class MyCell(nn.Module): pass
        (loops.wants(MyCell()), loops.wants(nn.Linear(3, 3))) == (True, False)  # the user's classes only
    """

    def __init__(self, rec):
        self.rec = rec
        self.loops: dict = {}  # id(module) -> Loop (its last calls)
        self._wants: dict = {}  # id(module) -> (module, bool)
        self._holds: dict = {}  # id(module) -> (module, bool): it is or holds a module recorded otherwise
        self._by_type: dict = {}  # class -> recorded by type or a sequence mixer
        self._params = None  # storage pointers of the model's parameters and buffers
        self._plain: dict = {}  # id(module) -> (its last output,) when that held no tensor
        self._stopped: set = set()  # id(module) of loops refused during this capture
        self.replaying = False  # a trace is re-deriving a step: its calls are not new ones

    def clear(self) -> None:
        self.loops.clear()
        self._wants.clear()
        self._holds.clear()
        self._by_type.clear()
        self._plain.clear()
        self._stopped.clear()
        self._params = None

    def wants(self, module) -> bool:
        """Whether calls of ``module`` are looked at (see the module docstring); cached per module."""
        hit = self._wants.get(id(module))
        if hit is not None and hit[0] is module:
            return hit[1]
        ok = self.rec.merge_cells and user_class(type(module)) and not self._holds_recorded(module)
        self._wants[id(module)] = (module, ok)
        return ok

    def _holds_recorded(self, module) -> bool:
        """``module`` is, or holds, a module recorded by type or a sequence mixer (memoised per capture)."""
        hit = self._holds.get(id(module))
        if hit is not None and hit[0] is module:
            return hit[1]
        cls = type(module)
        if cls not in self._by_type:  # what capture records is decided by type
            from . import mixers
            from .recorder import recorded_kind
            self._by_type[cls] = recorded_kind(module) is not None or mixers.kind_of(module) is not None
        out = self._by_type[cls] or any(self._holds_recorded(c) for c in module.children())
        self._holds[id(module)] = (module, out)
        return out

    def hook(self, module):
        """A forward hook of our own on ``module`` (one the recorder does not hook for other reasons), so its
        calls pay this check only; returns the handle. Example: ``handles.append(loops.hook(cell))``"""
        fn = self.on_call
        if "torch._dynamo" in sys.modules:  # never traced by dynamo, as the recorder's own hooks
            fn = torch._dynamo.disable(fn)
        return module.register_forward_hook(fn, with_kwargs=True)

    def on_call(self, module, args, kwargs, output):
        """The forward hook: record the call; a failure is a note, never the user's forward's error."""
        if threading.get_ident() != self.rec.thread:
            return None
        try:
            self.record(module, args, kwargs, output)
        except Exception as e:  # noqa: BLE001 - capture must never break the forward
            self.rec.skipped.append((module, f"{type(e).__name__}: {e}"))
        return None

    def _param_ptrs(self, module) -> set:
        if self._params is None:
            root = self.rec.model if self.rec.model is not None else module
            self._params = {t.untyped_storage().data_ptr() for t in (*root.parameters(), *root.buffers())}
        return self._params

    def record(self, module, args, kwargs, output) -> None:
        """One finished call of a module (from the forward hook): start a loop, or continue its loop."""
        if self.replaying or id(module) in self._stopped or not self.wants(module):
            return
        loop = self.loops.get(id(module))
        entries = self.rec.entries
        if loop is not None and loop.entry is not None and not (
                loop.index < len(entries) and entries[loop.index] is loop.entry):
            loop = None  # drained (decode): a new loop
        outs = flat_out(output)
        if not outs:
            prev = self._plain.get(id(module))
            if prev is not None and any(a is prev[0] for a in (*args, *kwargs.values())):
                self._stop(module, None, "TraceInputError: state: expected a tensor (or a tuple of tensors) "
                           "carried from step to step by a module called once per step, got what its last call "
                           f"returned, {describe(output)}. Fix: return the state as a tensor, e.g. `return h` or "
                           "`return out, (h, c)`")
            self._plain[id(module)] = (output,)
            self.loops.pop(id(module), None)
            return
        call = Call(args, kwargs, output, outs)
        links = None
        if loop is not None and feeds(loop.calls[-1], args, kwargs):
            links = self._link(module, loop.calls[-1].settle(), call.settle())
        if links is None or (loop.links is not None and links != (loop.links, loop.fresh)):
            self.loops[id(module)] = Loop(call)  # a new loop starts here (maybe), nothing recorded yet
            return
        loop.links, loop.fresh = links
        loop.calls.append(call)
        loop.keeps(call)
        if loop.entry is None:  # the second call: now it is a loop
            loop.index = len(entries)
            kept = loop.calls[0].kept + call.kept
            loop.keeps(loop.calls[0])
            loop.entry = Entry(module, lambda lp, _kept, *, name="": self._build(module, lp, name), kept,
                               [loop, loop.tensors])
            entries.append(loop.entry)
            self.rec.cover("hand")
            if module.training and any(isinstance(m, _DROPOUT) and m.p > 0 for m in module.modules()):
                return self._stop(module, loop, "TraceInputError: module: expected a step that gives the same values "
                                  "when run again (the trace re-derives each step), got dropout in training mode. "
                                  "Fix: call model.eval() before the capture")
        else:
            loop.entry.trace = None  # grew: rebuilt on next access
            loop.entry.kept.extend(call.kept)
        self._check(module, loop, call)

    def _link(self, module, prev: Call, call: Call):
        """``((out_key, in_key), ...), (fresh in_key, ...)`` when ``call`` continues ``prev``, else None."""
        links = tuple((ok, ik) for ik, t in call.ins.items()
                      for (ok, o), ver in zip(prev.outs, prev.versions) if same_memory(t, o, ver))
        if not links:
            return None
        state, taken = {ik for _, ik in links}, self._param_ptrs(module) | prev.out_ptrs
        fresh = tuple(ik for ik, t in call.ins.items() if ik not in state and ik in prev.ins
                      and t.shape == prev.ins[ik].shape and t.data_ptr() != prev.ins[ik].data_ptr()
                      and t.untyped_storage().data_ptr() not in taken)
        return (links, fresh) if fresh else None

    def _check(self, module, loop, call) -> None:
        """Refuse, with a note, a state that changed shape mid-sequence and a loop over the memory budget."""
        t, first = len(loop.calls) - 1, loop.calls[0]
        for _, ik in loop.links:
            if call.ins[ik].shape != first.ins[ik].shape:
                return self._stop(module, loop, (
                    f"TraceInputError: state {arg_name(forward_code(module), ik)} at step "
                    f"{t}: expected shape {tuple(first.ins[ik].shape)}, as at step 0 (a recurrence carries one shape "
                    f"through time), got shape {tuple(call.ins[ik].shape)}. Fix: keep the state's shape fixed inside "
                    "the loop (reshape or pad the input instead)"))
        loop.nbytes += call.nbytes() + (first.nbytes() if t == 1 else 0)
        budget = get_memory_budget()
        if loop.nbytes > budget:
            self._stop(module, loop, (
                f"MemoryBudgetError: a module called once per step: expected the inputs and outputs of its {t + 1} "
                f"calls within the memory budget of {budget / 2**20:.1f} MiB, got {loop.nbytes / 2**20:.1f} MiB. "
                "Fix: capture a shorter sequence or a smaller batch, or raise the budget with "
                "tr_widgets.set_memory_budget(nbytes)"))

    def _stop(self, module, loop, why: str) -> None:
        """A loop that cannot be traced: no trace, one note in ``rec.skipped`` (the capture's warning says it)."""
        if loop is not None and loop.entry is not None:
            loop.entry.build = None
        self.loops.pop(id(module), None)
        self._stopped.add(id(module))  # the rest of its calls would be a piece of the same loop
        if not any(m is module for m, _ in self.rec.skipped):  # one note per module
            self.rec.skipped.append((module, why))

    def _build(self, module, loop: Loop, name: str):
        self.replaying = True
        try:
            return module_loop_trace(module, loop, name=name)
        finally:
            self.replaying = False
