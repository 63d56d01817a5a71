"""The recording machinery behind ``capture`` (what is recorded, and why this way: see ``record.py``).

``Recorder`` registers the module hooks, keeps the stack of modules being executed, receives the
``F.scaled_dot_product_attention`` calls (``patch``) and keeps one entry per recorded call:
``trace = build(*held, name=...)``, run on first access, where ``held`` is what exact recomputation needs
(q, k, v, or a module's inputs and a snapshot of its weights; ``modules``), never a T×T matrix.

Hooks go on the modules recorded by type (``modules.RECORDED``) and on the sequence mixers named by
``mixers.MIXERS``; inside an attention mixer ``hand.HandMode`` is on torch's function-mode stack until
the module returns, unless that module was seen before to call the patched SDPA and nothing else
(``_LEARNED``: the cheap path, so decoding pays the mode once). A mixer that ran with nothing recorded
inside is noted in ``unrecorded``, with the reason. Each module on the stack is a ``frame.Frame``.

Compiled code (``torch.compile``) runs eagerly while a capture is active (``torch.compiler.set_stance(
"force_eager")``), so every call is seen and nothing of the recorder is traced by dynamo; where that stance
cannot be set, the hooks are kept out of compilation with ``torch._dynamo.disable`` (a cost on every call).
"""
from __future__ import annotations

import sys
import threading
import weakref

import torch
from torch import nn
from torch.nn.modules import module as nn_module

from . import hand, hand_trace, keras, mixers, patch, torchstate
from .entries import compact_queries
from .frame import FAST_PATHS, Frame, Kinds, recorded_kind
from .module_loops import ModuleLoops
from .modules import ModuleRecorder, is_state_mixer
from .sdpa import fast_entry, sdpa_entry, sdpa_trace
from ..loops.watch import LoopWatch

__all__ = ["Recorder", "recorded_kind"]  # recorded_kind: re-exported from .frame

_LEARNED = weakref.WeakKeyDictionary()  # module -> its attention implementation when it called the patched SDPA


class Recorder:
    """Hooks and records; :class:`~tr_widgets.engine.capture.Capture` holds one and adds the public side.

    Example: ``r = Recorder(lstm, True, "patch"); r.start(); out = lstm(x); r.stop((None,) * 3); len(r.entries) == 1``
    """

    def __init__(self, model, merge_cells, via):
        self.model, self.merge_cells, self.via = model, merge_cells, via
        self.entries, self.skipped, self.stack = [], [], []  # skipped: (module, reason)
        self.unrecorded = {}  # id(module) -> (module, reason): mixers that ran with nothing recorded inside
        self.modules = ModuleRecorder(self)
        self.repeats = ModuleLoops(self)  # a module called once per step (module_loops.py)
        self._handles, self._ids, self._mode, self._stance = [], None, None, None
        self._state_handles = []  # per-module pre-hooks (with kwargs) of the state mixers: the cache before a call
        self._kind = Kinds()  # module -> (module, recorded kind, mixer kind, attention implementation), once
        self.active, self._global, self.thread, self.hand = False, True, None, hand.HandMode(self)
        self.loops = LoopWatch(self, recorded_kind)  # loops of ops in a forward (engine/loops/watch.py)
        self.logits_numel, self.compiled, self.stepped_aside = 0, False, []

    # -- start and stop ---------------------------------------------------------------------
    def start(self) -> None:
        self.active, self.thread = True, threading.get_ident()
        if self.model is None:
            mods, self._ids, has_layer = (), None, True
        else:
            mods = keras.walk(self.model)  # Keras 3 tracks its layers itself
            self._ids = {id(m) for m in mods}
            has_layer = any(isinstance(m, nn.TransformerEncoderLayer) for m in mods)
        self.compiled = any(type(m).__name__ == "OptimizedModule" or getattr(m, "_compiled_call_impl", None)
                            is not None for m in mods)
        self.stepped_aside = torchstate.compiled_backends(mods)
        if self.stepped_aside:  # outputs must stay bitwise the same: touch nothing, say why (record.py)
            self.skipped += [(m, f"compiled with backend {b!r}: it ran compiled and was not recorded (recording "
                                 "runs compiled code eagerly, which can change the last bits of its outputs)")
                             for m, b in self.stepped_aside]
            return
        self._stance = torchstate.force_eager()
        # Global hooks see every module (the stack then names SDPA callers) and leave the encoder layer's
        # fused path on; per-module hooks on the few modules recorded or watched cost nothing elsewhere.
        self._global = has_layer or self.via == "mode"
        pre, post = self._pre, self._post
        if "torch._dynamo" in sys.modules and self._stance is None:  # no force_eager stance: kept out of dynamo
            pre, post = torch._dynamo.disable(pre), torch._dynamo.disable(post)  # (a graph break, then Python)
        if self._global:
            self._handles = [nn_module.register_module_forward_pre_hook(pre),
                             nn_module.register_module_forward_hook(post, with_kwargs=True, always_call=True)]
        else:
            for m in mods:
                if recorded_kind(m) is not None or mixers.kind_of(m) is not None or self.loops.wants(m):
                    self._handles += [m.register_forward_pre_hook(pre),
                                      m.register_forward_hook(post, with_kwargs=True, always_call=True)]
                elif self.repeats.wants(m):  # a light hook of its own (module_loops.py)
                    self._handles.append(self.repeats.hook(m))
        state_pre = self.modules.state_pre
        if "torch._dynamo" in sys.modules:
            state_pre = torch._dynamo.disable(state_pre)
        self._state_handles = [m.register_forward_pre_hook(state_pre, with_kwargs=True)
                               for m in mods if is_state_mixer(m)]
        if self.via == "mode":
            self._mode = self.hand
            torch._C._push_on_torch_function_stack(self.hand)  # sees every call: the wrappers are not needed
        else:
            patch.start(self, mods)

    def stop(self, exc) -> None:
        try:
            if self._mode is None:
                patch.stop(self)
            if self._mode is not None:
                torchstate.remove_mode(self._mode)
            for f in self.stack:  # a forward that raised past our hooks: take our mode off the stack
                if f.pushed:
                    torchstate.remove_mode(self.hand)
        finally:
            for h in self._handles:
                torchstate.remove_global_hook(h) if self._global else h.remove()
            for h in self._state_handles:
                h.remove()
            self._handles, self._state_handles = [], []
            if self._stance is not None:
                self._stance.__exit__(None, None, None)
                self._stance = None
            self.active = False
            self._kind.clear()
            self.normalize()
            self.stack.clear()
            self.modules.clear()
            self.repeats.clear()
            self.hand.clear()
            self.loops.close()

    def compact(self) -> None:
        """Copy out each SDPA call's q that pins a much larger storage (``entries.compact_queries``)."""
        compact_queries([e for e in self.normalize() if e.build is sdpa_trace])  # modules keep whole inputs

    # -- hooks -----------------------------------------------------------------------------
    def _on_top(self) -> bool:
        n = torch._C._len_torch_function_stack()
        return n > 0 and torch._C._get_function_stack_at(n - 1) is self.hand

    def _on_stack(self) -> bool:
        return any(torch._C._get_function_stack_at(i) is self.hand
                   for i in range(torch._C._len_torch_function_stack()))

    def _pre(self, module, args):
        if self._ids is not None and id(module) not in self._ids:
            return None
        _, _, kind, impl = self._kind(module)
        if kind is not None and any(self._kind(f.module)[1] is not None for f in self.stack):
            kind = None  # part of a module recorded whole (RG-LRU inside its recurrent block): that record covers it
        frame = Frame(module, kind)
        if isinstance(module, FAST_PATHS) and self._on_top():
            torch._C._pop_torch_function_stack()  # keep has_torch_function false: the fast path stays on
            frame.suspended = True
        elif kind is not None and kind.attention and not self._on_stack():
            learned = _LEARNED.get(module, False)
            if learned is False or learned != impl:
                torch._C._push_on_torch_function_stack(self.hand)
                frame.pushed = True
        if isinstance(module, nn.TransformerEncoder) and args and isinstance(args[0], torch.Tensor):
            frame.src_shape = tuple(args[0].shape)  # its layers may see a nested tensor; pad back to this
        self.stack.append(frame)
        self.loops.pre(module, frame)
        return None

    def _post(self, module, args, *rest):
        # (module, args, kwargs, output). When the forward raised, torch calls a global always_call hook as
        # (module, args, output) and a module's own as (module, args, kwargs, None): nothing to record.
        if not self.stack or self.stack[-1].module is not module:
            return None
        frame = self.stack.pop()
        try:
            self.loops.post(module, frame, rest[-1] if len(rest) == 2 else None, len(rest) == 2 and rest[1] is not None)
            if frame.pushed:
                torchstate.remove_mode(self.hand)
            if len(rest) == 2 and rest[1] is not None:
                if frame.kind is None:
                    self._guarded(module, self.modules.record, frame, module, args, rest[0], rest[1])
                else:
                    self._account(frame)
        finally:
            if frame.suspended:
                torch._C._push_on_torch_function_stack(self.hand)
        return None

    def _account(self, frame) -> None:
        """A mixer returned: learn the cheap path, or note it as unrecorded (innermost mixers only)."""
        module = frame.module
        if frame.covered:
            if frame.pushed and frame.sdpa and not frame.raw and not frame.hand:
                _LEARNED[module] = self._kind(module)[3]
            return
        if not frame.pushed:
            _LEARNED.pop(module, None)  # it called the patched SDPA before, not this time
        for f in self.stack:
            f.child_missing = True
        if frame.child_missing or id(module) in self.unrecorded:
            return
        why = frame.kind.reason + (f" ({frame.note})" if frame.note else "")
        self.unrecorded[id(module)] = (module, frame.kind, why)

    def cover(self, how: str) -> None:
        """Something was recorded: every module on the stack did record (``how``: sdpa, raw, hand)."""
        for f in self.stack:
            f.covered = True
            setattr(f, how, getattr(f, how) + 1)

    def note(self, msg: str) -> None:
        if self.stack and self.stack[-1].note is None:
            self.stack[-1].note = msg

    def heads_hint(self):
        """The head count an enclosing module declares (``num_heads``, ``n_head``, ...), innermost first."""
        for f in reversed(self.stack):
            for a in hand.HEAD_ATTRS:
                n = getattr(f.module, a, None)
                if isinstance(n, int) and not isinstance(n, bool) and n > 0:
                    return n
        return None

    def _guarded(self, module, fn, *args):
        try:  # capture must never break the user's forward: a failure becomes a `skipped` note
            fn(*args)
        except Exception as e:  # noqa: BLE001
            if module is None and self.stack:
                module = self.stack[-1].module
            self.skipped.append((module, f"{type(e).__name__}: {e}"))

    def _caller(self):
        """The innermost module of the model whose code is running (per-module hooks keep no full stack).

        Reading a frame's ``f_locals`` builds a dict of all its locals, the costly step here: it is done
        only for functions whose first argument is ``self``, and never for capture's own frames."""
        f = sys._getframe(1)
        while f is not None:
            code = f.f_code
            if code.co_argcount and code.co_varnames[0] == "self" and code not in _OWN_CODE:
                obj = f.f_locals.get("self")
                if isinstance(obj, nn.Module) and (self._ids is None or id(obj) in self._ids):
                    return obj
            f = f.f_back
        return None

    def _module(self):
        if self._global:
            return self.stack[-1].module if self.stack else None
        module = patch.hf_module()
        if module is None or (self._ids is not None and id(module) not in self._ids):
            module = self.stack[-1].module if self.stack else self._caller()
        return module

    # -- records -------------------------------------------------------------------------------
    def on_sdpa(self, args, kwargs, raw=False):
        """One scaled_dot_product_attention call. This runs on the forward's clock, so the usual case (no
        grad, fresh k and v) only appends one tuple; ``normalize`` makes it an entry at exit."""
        try:
            if self.stack and any(isinstance(f.module, nn.MultiheadAttention) for f in self.stack):
                return  # the MultiheadAttention's own record covers it (with its masks and name)
            self.cover("raw" if raw else "sdpa")
            n = len(args)
            q, k, v = (args[0] if n else kwargs["query"], args[1] if n > 1 else kwargs["key"],
                       args[2] if n > 2 else kwargs["value"])
            mask = args[3] if n > 3 else kwargs.get("attn_mask")
            packed = patch.hf_query_shape()
            if packed is not None and (len(packed) != 4 or packed[2] != 1 or tuple(q.shape) == packed
                                       or q.dim() != 4 or q.shape[1] * q.shape[2] != packed[1]):
                packed = None
            dropout = args[4] if n > 4 else kwargs.get("dropout_p", 0.0)
            if (dropout or k._version or v._version or q.requires_grad or k.requires_grad or v.requires_grad or q.is_nested
                    or (mask is not None and mask.requires_grad)):
                return self._guarded(None, self._record_sdpa, args, kwargs, packed)  # copies or detaches needed
            self.entries.append((self._module(), q, k, v, mask, args[5] if n > 5 else kwargs.get("is_causal", False),
                                 args[6] if n > 6 else kwargs.get("scale"),
                                 args[7] if n > 7 else kwargs.get("enable_gqa", False),
                                 q._version, None if mask is None else mask._version, packed))
        except RuntimeError:  # inference tensors have no version counter: the careful path copies k and v
            self._guarded(None, self._record_sdpa, args, kwargs, None)
        except Exception as e:  # noqa: BLE001 - capture must never break the forward
            self.skipped.append((self.stack[-1].module if self.stack else None, f"{type(e).__name__}: {e}"))

    def _record_sdpa(self, args, kwargs, packed):
        self.entries.append(sdpa_entry(self._module(), args, kwargs, packed))

    def add_hand(self, chain, v, vo, layout) -> None:
        """A softmax(q·kᵀ ...)·v written by hand completed (from ``hand.HandMode``)."""
        module = next((f.module for f in reversed(self.stack) if f.kind is not None), None)
        if module is None:
            module = self.stack[-1].module if self.stack else None
        hand_trace.add_entry(self, module, chain, v, vo, layout)

    def normalize(self) -> list:
        """Turn the fast path's tuples into entries (in place, keeping call order); returns the entries."""
        for j, e in enumerate(self.entries):
            if type(e) is tuple:
                self.entries[j] = fast_entry(e)
        return self.entries


_OWN_CODE = {Recorder._caller.__code__, Recorder.on_sdpa.__code__, Recorder._guarded.__code__,
             Recorder._record_sdpa.__code__, Recorder._module.__code__, hand.HandMode.__torch_function__.__code__}
