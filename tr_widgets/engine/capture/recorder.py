"""The recording machinery behind ``capture`` (what is recorded, and why this way: see ``record.py``).

``Recorder`` registers the module hooks, keeps the stack of modules being executed, receives the
``F.scaled_dot_product_attention`` calls (``patch``) and keeps one entry per recorded call:
``trace = build(*held, name=...)``, run on first access, where ``held`` is what exact recomputation needs
(q, k, v, or a module's inputs and a snapshot of its weights; ``modules``), never a T×T matrix.
"""
from __future__ import annotations

import sys
import threading
import weakref

import torch
from torch import nn
from torch.nn.modules import module as _nn_module

from ..attention import make_trace
from ..errors import TraceInputError
from ..recurrent import CELLS, FULL
from . import patch
from .entries import Entry, keep
from .modules import ModuleRecorder

_SDPA_ARGS = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")
_FAST = (nn.MultiheadAttention, nn.TransformerEncoderLayer, nn.TransformerEncoder)  # fast paths to protect
_TARGETS = FULL + CELLS + (nn.MultiheadAttention,)


def _walk(root: nn.Module) -> list:
    """root and every submodule (``modules()`` without the names, several times faster)."""
    out, i = [root], 0
    while i < len(out):
        out.extend(m for m in out[i]._modules.values() if m is not None)
        i += 1
    return out


_TREE = {"generation": 0, "hook": None}  # bumped whenever any module registers a submodule
_INFO = weakref.WeakKeyDictionary()  # model -> (generation, ids, targets, has an encoder layer)


def _bump(module, name, submodule):
    _TREE["generation"] += 1


def _model_info(model: nn.Module):
    """ids of the model's modules, weak refs to the ones recorded, and whether it holds a
    TransformerEncoderLayer; cached until a module anywhere registers a submodule (walking a model
    costs more than the rest of a capture's start and stop)."""
    if _TREE["hook"] is None:
        _TREE["hook"] = _nn_module.register_module_module_registration_hook(_bump)
    hit = _INFO.get(model)
    if hit is not None and hit[0] == _TREE["generation"]:
        return hit[1:]
    mods = _walk(model)
    targets = {id(m): weakref.ref(m) for m in mods if isinstance(m, _TARGETS)}  # weak: the model may be one
    info = ({id(m) for m in mods}, list(targets.values()), any(isinstance(m, nn.TransformerEncoderLayer) for m in mods))
    _INFO[model] = (_TREE["generation"], *info)
    return info


class _Frame:
    __slots__ = ("module", "suspended", "saw_mha", "src_shape")

    def __init__(self, module):
        self.module, self.suspended, self.saw_mha, self.src_shape = module, False, False, None


def sdpa_trace(q, k, v, mask, is_causal, scale, gqa, *, name=""):
    """The AttentionTrace of one scaled_dot_product_attention call, from the arguments it was given."""
    return make_trace(q, k, v, mask, bool(is_causal), scale, gqa=bool(gqa), name=name)


class Recorder:
    """Hooks and records; :class:`~tr_widgets.engine.capture.Capture` holds one and adds the public side."""

    def __init__(self, model, merge_cells, via):
        self.model, self.merge_cells, self.via = model, merge_cells, via
        self.entries, self.skipped, self.stack = [], [], []  # skipped: (module, reason)
        self.modules = ModuleRecorder(self)
        self._handles, self._ids, self._mode = [], None, None
        self.active, self._global, self.thread = False, True, None

    def start(self) -> None:
        self.active, self.thread = True, threading.get_ident()
        if self.model is None:
            self._ids, targets, has_layer = None, (), True
        else:
            self._ids, targets, has_layer = _model_info(self.model)
        # Global hooks see every module (the stack then names SDPA callers) and leave the encoder layer's
        # fused path on; per-module hooks on the few modules recorded cost nothing elsewhere.
        self._global = has_layer or self.via == "mode"
        if self._global:
            self._handles = [_nn_module.register_module_forward_pre_hook(self._pre),
                             _nn_module.register_module_forward_hook(self._post, with_kwargs=True,
                                                                     always_call=True)]
        else:
            for ref in targets:
                m = ref()
                self._handles += [m.register_forward_pre_hook(self._pre),
                                  m.register_forward_hook(self._post, with_kwargs=True, always_call=True)]
        if self.via == "mode":
            self._mode = patch.SDPAMode(self)
            self._mode.__enter__()
        else:
            patch.start(self)

    def stop(self, exc) -> None:
        try:
            if self._mode is not None:
                self._mode.__exit__(*exc)
            else:
                patch.stop(self)
        finally:
            for h in self._handles:
                h.remove()
            self.active = False
            self.normalize()
            self.stack.clear()
            self.modules.clear()

    def compact(self) -> None:
        """Copy out each q that pins a much larger storage, so the record holds about what it uses.

        Hugging Face GPT-2's q is a view of the fused [B, T, 3E] projection whose k and v parts the KV cache
        has already copied: keeping q alone would keep all three. Done once, at exit, as one stacked copy
        per shape (one call for all layers: this is on the forward's clock).
        """
        groups = {}
        for e in self.normalize():
            if e.build is not sdpa_trace:  # modules' records keep whole inputs
                continue
            q = e.held[0]
            st = q.untyped_storage()
            size = st.nbytes()
            if size <= 1.25 * q.nbytes:  # q uses (about) its whole storage
                continue
            used, ptr = q.nbytes, st.data_ptr()
            for t in e.held[1:3]:
                if t.untyped_storage().data_ptr() == ptr:
                    used += t.nbytes
            if used <= 0.8 * size:  # k and v do not keep the rest of it alive anyway
                groups.setdefault((q.shape, q.dtype, q.device), []).append(e)
        for entries in groups.values():
            copies = torch.stack([e.held[0] for e in entries]).unbind(0)  # one storage for the group
            for e, q in zip(entries, copies):
                e.held[0] = q
                e.kept = [kept for kept in e.kept if kept[0] != "q"]  # a copy can no longer go stale

    # -- hooks -----------------------------------------------------------------------------
    def _mode_on_top(self) -> bool:
        n = torch._C._len_torch_function_stack()
        return self._mode is not None and n > 0 and torch._C._get_function_stack_at(n - 1) is self._mode

    def _pre(self, module, args):
        if self._ids is not None and id(module) not in self._ids:
            return None
        frame = _Frame(module)
        if isinstance(module, _FAST) and self._mode_on_top():
            torch._C._pop_torch_function_stack()  # keep has_torch_function false: the fast path stays on
            frame.suspended = True
        if isinstance(module, nn.TransformerEncoder) and args and isinstance(args[0], torch.Tensor):
            frame.src_shape = tuple(args[0].shape)  # its layers may see a nested tensor; pad back to this
        self.stack.append(frame)
        return None

    def _post(self, module, args, *rest):
        # (module, args, kwargs, output). When the forward raised, torch calls a global always_call hook as
        # (module, args, output) and a module's own as (module, args, kwargs, None): nothing to record.
        if not self.stack or self.stack[-1].module is not module:
            return None
        frame = self.stack.pop()
        try:
            if len(rest) == 2 and rest[1] is not None:
                self._guarded(module, self.modules.record, frame, module, args, rest[0], rest[1])
        finally:
            if frame.suspended:
                torch._C._push_on_torch_function_stack(self._mode)
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

    def on_sdpa(self, args, kwargs):
        """One scaled_dot_product_attention call. This runs on the forward's clock, so the usual case (no
        grad, fresh k and v) only appends one tuple; ``_normalize`` makes it an entry at exit."""
        try:
            if self.stack and any(isinstance(f.module, nn.MultiheadAttention) for f in self.stack):
                return  # the MultiheadAttention's own record covers it (with its masks and name)
            n = len(args)
            q, k, v = (args[0] if n else kwargs["query"], args[1] if n > 1 else kwargs["key"],
                       args[2] if n > 2 else kwargs["value"])
            mask = args[3] if n > 3 else kwargs.get("attn_mask")
            if (k._version or v._version or q.requires_grad or k.requires_grad or v.requires_grad or q.is_nested
                    or (mask is not None and mask.requires_grad)):
                return self._guarded(None, self._record_sdpa, args, kwargs)  # copies or detaches needed
            if self._global:
                module = self.stack[-1].module if self.stack else None
            else:
                module = patch.hf_module()
                if module is None or (self._ids is not None and id(module) not in self._ids):
                    module = self._caller()
            self.entries.append((module, q, k, v, mask, args[5] if n > 5 else kwargs.get("is_causal", False),
                                  args[6] if n > 6 else kwargs.get("scale"),
                                  args[7] if n > 7 else kwargs.get("enable_gqa", False),
                                  q._version, None if mask is None else mask._version))
        except RuntimeError:  # inference tensors have no version counter: the careful path copies k and v
            self._guarded(None, self._record_sdpa, args, kwargs)
        except Exception as e:  # noqa: BLE001 - capture must never break the forward
            self.skipped.append((self.stack[-1].module if self.stack else None, f"{type(e).__name__}: {e}"))

    def _record_sdpa(self, args, kwargs):
        a = dict(zip(_SDPA_ARGS, args))
        a.update(kwargs)
        if a["query"].is_nested:
            raise TraceInputError("nested-tensor queries are not traced")
        kept = []
        q = keep(a["query"], "q", kept)
        k, v = keep(a["key"], "k", kept, cache=True), keep(a["value"], "v", kept, cache=True)
        mask = keep(a.get("attn_mask"), "attn_mask", kept)
        module = (self.stack[-1].module if self.stack else None) if self._global else self._caller()
        options = [bool(a.get("is_causal", False)), a.get("scale"), bool(a.get("enable_gqa", False))]
        self.entries.append(Entry(module, sdpa_trace, kept, [q, k, v, mask, *options]))

    def normalize(self) -> list:
        """Turn the fast path's tuples into entries (in place, keeping call order); returns the entries."""
        for j, e in enumerate(self.entries):
            if type(e) is tuple:
                module, q, k, v, mask, causal, scale, gqa, qver, mver = e
                kept = [("q", q, qver), ("k", k, 0), ("v", v, 0)]
                if mask is not None:
                    kept.append(("attn_mask", mask, mver))
                held = [q, k, v, mask, bool(causal), scale, bool(gqa)]
                self.entries[j] = Entry(module, sdpa_trace, kept, held)
        return self.entries


_OWN_CODE = {Recorder._caller.__code__, Recorder.on_sdpa.__code__, Recorder._guarded.__code__,
             Recorder._record_sdpa.__code__, patch.SDPAMode.__torch_function__.__code__}
