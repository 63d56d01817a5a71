"""The recording machinery behind ``capture`` (what is recorded, and why this way: see ``capture.py``).

``Recorder`` registers the module hooks, keeps the stack of modules being executed, receives the
``F.scaled_dot_product_attention`` calls (``capture_sdpa``), and keeps one ``_Entry`` per recorded call:
``trace = build(*held)``, run on first access, where ``held`` is what exact recomputation needs (q, k, v, or
a module's inputs and a snapshot of its weights), never a T×T matrix.
"""
from __future__ import annotations

import math
import sys
import threading
import weakref

import torch
from torch import nn
from torch.nn.modules import module as _nn_module

from . import capture_mha, capture_sdpa
from .attention import AttentionTrace, _expand_gqa
from .errors import TraceInputError
from .recurrent import _CELLS, _FULL
from .run_recurrent import _check_module, _params, trace_recurrent_call

_SDPA_ARGS = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")
_FAST = (nn.MultiheadAttention, nn.TransformerEncoderLayer, nn.TransformerEncoder)  # fast paths to protect
_TARGETS = _FULL + _CELLS + (nn.MultiheadAttention,)


def _arg(args, kwargs, i, name, default=None):
    return args[i] if len(args) > i else kwargs.get(name, default)


def _version(t):
    try:
        return t._version
    except (RuntimeError, AttributeError):  # inference tensors (and nested ones) have no version counter
        return None


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


def _detach(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach()
    return tuple(_detach(o) for o in obj) if isinstance(obj, (tuple, list)) else obj


def _tensors(obj, depth=0):
    """Every tensor reachable from a trace or record (dataclass fields, lists, dicts), for ``nbytes``."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif depth < 6 and isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors(o, depth + 1)
    elif depth < 6 and isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors(o, depth + 1)
    elif depth < 6 and hasattr(obj, "__dataclass_fields__"):
        for o in vars(obj).values():
            yield from _tensors(o, depth + 1)


class _Frame:
    __slots__ = ("module", "suspended", "saw_mha", "src_shape")

    def __init__(self, module):
        self.module, self.suspended, self.saw_mha, self.src_shape = module, False, False, None


class _Entry:
    """One recorded call (or one chain of cell calls): how to build its trace, and what it keeps."""

    __slots__ = ("module", "build", "kept", "held", "trace")

    def __init__(self, module, build, kept, held):
        self.module, self.build, self.kept, self.held = module, build, kept, held  # trace = build(*held)
        self.trace = None


def _sdpa_trace(q, k, v, mask, is_causal, scale, gqa) -> AttentionTrace:
    if gqa and k.dim() >= 3 and k.shape[-3] != q.shape[-3]:
        k, v = _expand_gqa(q, k, v)  # [*b, Hk, S, E] -> [*b, Hq, S, E]
    n = q.dim() - 2
    names = tuple(f"dim{i}" for i in range(n - 2)) + ("batch", "head")[max(0, 2 - n):]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    return AttentionTrace(q, k, v, mask, bool(is_causal), scale, batch_names=names)


def _mha_trace(p, query, key, value, key_padding_mask, attn_mask, src_shape=None) -> AttentionTrace:
    if query.is_nested:  # the encoder's nested tensor: pad back to [B, T, E], padding -> key padding mask
        lengths = [t.shape[0] for t in query.unbind()]
        T = src_shape[1] if src_shape else max(lengths)
        query = key = value = query.to_padded_tensor(0.0, (len(lengths), T, query.size(-1)))  # [B, T, E]
        key_padding_mask = (torch.arange(T, device=query.device)[None]
                            >= torch.tensor(lengths, device=query.device)[:, None])  # [B, T] True = padding
    q, k, v, mask = capture_mha.project(p, query, key, value, key_padding_mask, attn_mask)
    return AttentionTrace(q, k, v, mask, False, 1.0 / math.sqrt(q.shape[-1]), batch_names=("batch", "head"))


class Recorder:
    """Hooks and records; :class:`~tr_widgets.engine.capture.Capture` adds the public side."""

    def __init__(self, model, scope, merge_cells, via):
        self.model, self.scope, self.merge_cells, self.via = model, scope, merge_cells, via
        self._entries, self._skipped, self._stack = [], [], []
        self._chains, self._snaps, self._handles = {}, {}, []
        self._ids, self._mode, self._active, self._global, self._thread = None, None, False, True, None

    def _start(self) -> None:
        self._active, self._thread = True, threading.get_ident()
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
            self._mode = capture_sdpa.SDPAMode(self)
            self._mode.__enter__()
        else:
            capture_sdpa.start(self)

    def _stop(self, exc) -> None:
        try:
            if self._mode is not None:
                self._mode.__exit__(*exc)
            else:
                capture_sdpa.stop(self)
        finally:
            for h in self._handles:
                h.remove()
            self._active = False
            self._normalize()
            self._stack.clear()
            self._chains.clear()
            self._snaps.clear()

    def _compact(self) -> None:
        """Copy out each q that pins a much larger storage, so the record holds about what it uses.

        Hugging Face GPT-2's q is a view of the fused [B, T, 3E] projection whose k and v parts the KV cache
        has already copied: keeping q alone would keep all three. Done once, at exit, as one stacked copy
        per shape (one call for all layers: this is on the forward's clock).
        """
        groups = {}
        for e in self._normalize():
            if e.build is not _sdpa_trace:  # modules' records keep whole inputs
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
        self._stack.append(frame)
        return None

    def _post(self, module, args, *rest):
        # (module, args, kwargs, output). When the forward raised, torch calls a global always_call hook as
        # (module, args, output) and a module's own as (module, args, kwargs, None): nothing to record.
        if not self._stack or self._stack[-1].module is not module:
            return None
        frame = self._stack.pop()
        try:
            if len(rest) == 2 and rest[1] is not None:
                self._guarded(module, self._record_module, frame, module, args, rest[0], rest[1])
        finally:
            if frame.suspended:
                torch._C._push_on_torch_function_stack(self._mode)
        return None

    def _guarded(self, module, fn, *args):
        try:  # capture must never break the user's forward: a failure becomes a `skipped` note
            fn(*args)
        except Exception as e:  # noqa: BLE001
            if module is None and self._stack:
                module = self._stack[-1].module
            self._skipped.append((module, f"{type(e).__name__}: {e}"))

    # -- recording -------------------------------------------------------------------------
    @staticmethod
    def _keep(t, label, kept, cache=False):
        """Detach ``t``; clone a k/v that was written in place before (see capture.py)."""
        if not isinstance(t, torch.Tensor):
            return t
        if t.requires_grad:
            t = t.detach()
        try:
            ver = t._version
        except RuntimeError:  # inference tensors have no version counter
            ver = None
        if cache and (ver is None or ver > 0):
            return t.clone()
        if ver is not None:
            kept.append((label, t, ver))
        return t

    def _snapshot(self, module, make):
        vers = tuple(_version(p) for p in module.parameters())
        hit = self._snaps.get(id(module))
        if hit is None or hit[1] != vers:  # weights changed in place (or first call): take a new copy
            hit = self._snaps[id(module)] = (module, vers, make())
        return hit[2]

    def _add(self, module, build, kept, held) -> _Entry:
        entry = _Entry(module, build, kept, held)
        self._entries.append(entry)
        return entry

    def _record_module(self, frame, module, args, kwargs, output):
        if isinstance(module, nn.MultiheadAttention):
            for f in self._stack:
                f.saw_mha = True
            self._record_mha(module, args, kwargs)
        elif isinstance(module, nn.TransformerEncoderLayer) and not frame.saw_mha:
            parent = self._stack[-1] if self._stack else None
            self._record_fused_layer(module, args, kwargs, parent.src_shape if parent else None)
        elif isinstance(module, _FULL + _CELLS):
            self._record_recurrent(module, args, kwargs, output)

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

    def _on_sdpa(self, args, kwargs):
        """One scaled_dot_product_attention call. This runs on the forward's clock, so the usual case (no
        grad, fresh k and v) only appends one tuple; ``_normalize`` makes it an entry at exit."""
        try:
            if self._stack and any(isinstance(f.module, nn.MultiheadAttention) for f in self._stack):
                return  # the MultiheadAttention's own record covers it (with its masks and name)
            n = len(args)
            q, k, v = (args[0] if n else kwargs["query"], args[1] if n > 1 else kwargs["key"],
                       args[2] if n > 2 else kwargs["value"])
            mask = args[3] if n > 3 else kwargs.get("attn_mask")
            if (k._version or v._version or q.requires_grad or k.requires_grad or v.requires_grad or q.is_nested
                    or (mask is not None and mask.requires_grad)):
                return self._guarded(None, self._record_sdpa, args, kwargs)  # copies or detaches needed
            if self._global:
                module = self._stack[-1].module if self._stack else None
            else:
                module = capture_sdpa.hf_module()
                if module is None or (self._ids is not None and id(module) not in self._ids):
                    module = self._caller()
            self._entries.append((module, q, k, v, mask, args[5] if n > 5 else kwargs.get("is_causal", False),
                                  args[6] if n > 6 else kwargs.get("scale"),
                                  args[7] if n > 7 else kwargs.get("enable_gqa", False),
                                  q._version, None if mask is None else mask._version))
        except RuntimeError:  # inference tensors have no version counter: the careful path copies k and v
            self._guarded(None, self._record_sdpa, args, kwargs)
        except Exception as e:  # noqa: BLE001 - capture must never break the forward
            self._skipped.append((self._stack[-1].module if self._stack else None, f"{type(e).__name__}: {e}"))

    def _record_sdpa(self, args, kwargs):
        a = dict(zip(_SDPA_ARGS, args))
        a.update(kwargs)
        if a["query"].is_nested:
            raise TraceInputError("nested-tensor queries are not traced")
        kept = []
        q = self._keep(a["query"], "q", kept)
        k, v = self._keep(a["key"], "k", kept, cache=True), self._keep(a["value"], "v", kept, cache=True)
        mask = self._keep(a.get("attn_mask"), "attn_mask", kept)
        module = (self._stack[-1].module if self._stack else None) if self._global else self._caller()
        options = [bool(a.get("is_causal", False)), a.get("scale"), bool(a.get("enable_gqa", False))]
        self._entries.append(_Entry(module, _sdpa_trace, kept, [q, k, v, mask, *options]))

    def _normalize(self) -> list:
        """Turn the fast path's tuples into entries (in place, keeping call order); returns the entries."""
        for j, e in enumerate(self._entries):
            if type(e) is tuple:
                module, q, k, v, mask, causal, scale, gqa, qver, mver = e
                kept = [("q", q, qver), ("k", k, 0), ("v", v, 0)]
                if mask is not None:
                    kept.append(("attn_mask", mask, mver))
                held = [q, k, v, mask, bool(causal), scale, bool(gqa)]
                self._entries[j] = _Entry(module, _sdpa_trace, kept, held)
        return self._entries

    def _record_mha(self, m, args, kwargs):
        kept = []
        query, key, value = (self._keep(_arg(args, kwargs, i, n), n, kept)
                             for i, n in enumerate(("query", "key", "value")))
        if query.is_nested:
            raise TraceInputError("nn.MultiheadAttention called with nested tensors is not traced")
        kpm = self._keep(_arg(args, kwargs, 3, "key_padding_mask"), "key_padding_mask", kept)
        am = self._keep(_arg(args, kwargs, 5, "attn_mask"), "attn_mask", kept)
        p = self._snapshot(m, lambda: capture_mha.snapshot(m))
        self._add(m, _mha_trace, kept, [p, query, key, value, kpm, am])

    def _record_fused_layer(self, layer, args, kwargs, src_shape):
        """A TransformerEncoderLayer that ran fused: its self_attn never ran; rebuild from the layer input."""
        kept = []
        src = self._keep(_arg(args, kwargs, 0, "src"), "src", kept)
        src_mask = self._keep(_arg(args, kwargs, 1, "src_mask"), "src_mask", kept)
        kpm = self._keep(_arg(args, kwargs, 2, "src_key_padding_mask"), "src_key_padding_mask", kept)
        p = self._snapshot(layer, lambda: capture_mha.snapshot(layer.self_attn,
                                                                layer.norm1 if layer.norm_first else None))
        self._add(layer.self_attn, _mha_trace, kept, [p, src, src, src, kpm, src_mask, src_shape])

    def _record_recurrent(self, m, args, kwargs, output):
        x, hx = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "hx")
        if not isinstance(x, torch.Tensor):
            raise TraceInputError(f"input is {type(x).__name__}, not a tensor (PackedSequence inputs are not "
                                  "traced: pass a padded tensor to trace this module)")
        _check_module(m)  # e.g. dropout between layers in training mode cannot be replayed
        D = 2 if getattr(m, "bidirectional", False) else 1
        params = self._snapshot(m, lambda: [[_params(m, l, d) for d in range(D)]
                                            for l in range(getattr(m, "num_layers", 1))])
        kept = []
        x = self._keep(x, "input", kept)
        if isinstance(m, _CELLS) and self.merge_cells:
            return self._record_cell(m, x, hx, output, params, kept)
        hx_k, out = _detach(hx), _detach(output)
        build = lambda x, hx, out, params: trace_recurrent_call(m, x, hx, out, params=params)
        self._add(m, build, kept, [x, hx_k, out, params])

    def _record_cell(self, m, x, hx, output, params, kept):
        lstm = isinstance(m, nn.LSTMCell)
        h, c = output if lstm else (output, None)
        batched = x.dim() == 2
        chain = self._chains.get(id(m))
        prev = hx[0] if lstm and isinstance(hx, (tuple, list)) else hx
        linked = (chain is not None and prev is not None and chain["batched"] == batched
                  and chain["last"][0]() is prev and (not lstm or chain["last"][1]() is hx[1])
                  and chain["x"][-1].shape == x.shape)
        if not linked:  # a new loop (or the first call): its own trace
            chain = {"batched": batched, "x": [], "h": [], "c": [], "hx0": _detach(hx)}
            entry = self._add(m, lambda ch, params: self._cell_trace(m, ch, params), kept, [chain, params])
            chain["entry"] = entry
            self._chains[id(m)] = chain
        else:
            chain["entry"].trace = None  # grew: rebuild on next access
            chain["entry"].kept.extend(kept)
        chain["x"].append(x)
        chain["h"].append(h.detach())
        chain["c"].append(None if c is None else c.detach())
        chain["last"] = (weakref.ref(h), weakref.ref(c) if c is not None else None)

    @staticmethod
    def _cell_trace(m, chain, params):
        one = (lambda t: t) if chain["batched"] else (lambda t: t[None])  # unbatched [I] -> [1, I]
        xs = torch.stack([one(x) for x in chain["x"]])  # [T, B, I]
        hs = torch.stack([one(h) for h in chain["h"]])  # [T, B, H]
        cs = torch.stack([one(c) for c in chain["c"]]) if chain["c"][0] is not None else None  # [T, B, H]
        hx0 = chain["hx0"]
        if hx0 is not None and not chain["batched"]:
            hx0 = tuple(one(h) for h in hx0) if isinstance(hx0, tuple) else one(hx0)
        return trace_recurrent_call(m, xs, hx0, (hs, cs), params=params)


_OWN_CODE = {Recorder._caller.__code__, Recorder._on_sdpa.__code__, Recorder._guarded.__code__,
             Recorder._record_sdpa.__code__, capture_sdpa.SDPAMode.__torch_function__.__code__}
