"""What capture records for module calls: nn.MultiheadAttention, a fused TransformerEncoderLayer, and
the recurrent modules and cells (the hooks that call these live in ``capture_record.Recorder``).

Each record keeps the call's inputs (detached; see ``capture.py`` for when a tensor is copied) and a
snapshot of the weights, shared by the calls of a module while its weights stay unchanged; the trace is
built from them on first access (``capture_mha.project`` for attention, ``trace_recurrent_call`` for
recurrent modules, so nothing runs twice).
"""
from __future__ import annotations

import math
import weakref

import torch
from torch import nn

from . import capture_mha
from .attention import AttentionTrace
from .errors import TraceInputError
from .recurrent import _CELLS, _FULL
from .run_recurrent import _check_module, _params, trace_recurrent_call


def _version(t):
    try:
        return t._version
    except (RuntimeError, AttributeError):  # inference tensors (and nested ones) have no version counter
        return None


def _arg(args, kwargs, i, name, default=None):
    return args[i] if len(args) > i else kwargs.get(name, default)


def _detach(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach()
    return tuple(_detach(o) for o in obj) if isinstance(obj, (tuple, list)) else obj


class _Entry:
    """One recorded call (or one chain of cell calls): how to build its trace, and what it keeps."""

    __slots__ = ("module", "build", "kept", "held", "trace")

    def __init__(self, module, build, kept, held):
        self.module, self.build, self.kept, self.held = module, build, kept, held  # trace = build(*held)
        self.trace = None


def _mha_trace(p, query, key, value, key_padding_mask, attn_mask, src_shape=None) -> AttentionTrace:
    if query.is_nested:  # the encoder's nested tensor: pad back to [B, T, E], padding -> key padding mask
        lengths = [t.shape[0] for t in query.unbind()]
        T = src_shape[1] if src_shape else max(lengths)
        query = key = value = query.to_padded_tensor(0.0, (len(lengths), T, query.size(-1)))  # [B, T, E]
        key_padding_mask = (torch.arange(T, device=query.device)[None]
                            >= torch.tensor(lengths, device=query.device)[:, None])  # [B, T] True = padding
    q, k, v, mask = capture_mha.project(p, query, key, value, key_padding_mask, attn_mask)
    return AttentionTrace(q, k, v, mask, False, 1.0 / math.sqrt(q.shape[-1]), batch_names=("batch", "head"))


class ModuleRecords:
    """The module half of :class:`~tr_widgets.engine.capture_record.Recorder`."""

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
