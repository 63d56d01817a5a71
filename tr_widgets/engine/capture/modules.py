"""What capture records for module calls: nn.MultiheadAttention, a fused TransformerEncoderLayer, the
recurrent modules and cells, and the state-space / linear-attention mixers of ``engine.state`` (the hooks
that call these live in ``recorder.Recorder``).

Each record keeps the call's inputs (``entries.keep``) and a snapshot of the weights, shared by the calls
of a module while its weights stay unchanged; the trace is built from them on first access
(``mha.project`` for attention, ``trace_recurrent_call`` for recurrent modules, ``trace_mixer_call`` for
state mixers, so nothing runs twice). A state mixer keeps references to its weights, watched for
in-place changes, and the cache's state from before the call (``state_before``, taken by a pre-hook)
when the call continued a cache (a decode tick).
"""
from __future__ import annotations

import math
import weakref

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from ..attention import make_trace
from ..errors import TraceInputError
from ..recurrent import CELLS, FULL, all_params, check_module, trace_recurrent_call
from ..state import mixer_kind, state_before, trace_mixer_call
from . import keras, mha
from .entries import Entry, detach_all, keep, version_of
from .repeats import record_full_step
from .sdpa import dropout_note


def _arg(args, kwargs, i, name, default=None):
    return args[i] if len(args) > i else kwargs.get(name, default)


def mha_trace(p, query, key, value, key_padding_mask, attn_mask, src_shape=None, dropout=0.0, *, name=""):
    """The AttentionTrace of one nn.MultiheadAttention call, rebuilt from its inputs and weights.

    Example::

        attn, x8 = nn.MultiheadAttention(8, 2).eval(), torch.randn(5, 1, 8)  # [L, B, E]
        at8 = mha_trace(mha.snapshot(attn), x8, x8, x8, None, None)
        at8.q.shape == (1, 2, 5, 4)  # [B, H, L, E / H]
        assert torch.allclose(at8.weights.mean(1), attn(x8, x8, x8)[1], atol=1e-6)  # torch averages the heads
    """
    if query.is_nested:  # the encoder's nested tensor: pad back to [B, T, E], padding -> key padding mask
        lengths = [t.shape[0] for t in query.unbind()]
        T = src_shape[1] if src_shape else max(lengths)
        query = key = value = query.to_padded_tensor(0.0, (len(lengths), T, query.size(-1)))  # [B, T, E]
        key_padding_mask = (torch.arange(T, device=query.device)[None]
                            >= torch.tensor(lengths, device=query.device)[:, None])  # [B, T] True = padding
    q, k, v, mask = mha.project(p, query, key, value, key_padding_mask, attn_mask)
    return make_trace(q, k, v, mask, False, 1.0 / math.sqrt(q.shape[-1]), name=name, notes=dropout_note(dropout))


class ModuleRecorder:
    """The module half of a :class:`~tr_widgets.engine.capture.recorder.Recorder`: it owns the weight
    snapshots and the chains of cell calls, and appends its entries to the recorder's.

    Example::

        from tr_widgets.engine.capture.recorder import Recorder
        r = Recorder(lstm, True, "patch")  # a capture's recorder; r.modules is its ModuleRecorder
        r.modules.record_recurrent(lstm, (x,), {}, lstm(x))  # what the forward hook does
        e = r.entries[-1]
        assert torch.allclose(e.build(*e.held, name="lstm").step(2)["h_t"], tr.step(2)["h_t"])
    """

    def __init__(self, rec):
        self.rec = rec
        self.chains: dict = {}  # id(cell) -> the loop of calls it is in
        self.snaps: dict = {}  # id(module) -> (module, parameter versions, snapshot)
        self.before: dict = {}  # id(state mixer) -> the cache's state before its running call (or None)

    def clear(self) -> None:
        self.chains.clear()
        self.snaps.clear()
        self.before.clear()

    def _snapshot(self, module, make):
        vers = tuple(version_of(p) for p in module.parameters())
        hit = self.snaps.get(id(module))
        if hit is None or hit[1] != vers:  # weights changed in place (or first call): take a new copy
            hit = self.snaps[id(module)] = (module, vers, make())
        return hit[2]

    def _add(self, module, build, kept, held) -> Entry:
        entry = Entry(module, build, kept, held)
        self.rec.entries.append(entry)
        self.rec.cover("hand")
        return entry

    def record(self, frame, module, args, kwargs, output):
        """One finished module call (from the forward hook): the first matching entry of RECORDED records it."""
        if isinstance(module, nn.TransformerEncoderLayer):
            if not frame.saw_mha:
                parent = self.rec.stack[-1] if self.rec.stack else None
                self._record_fused_layer(module, args, kwargs, parent.src_shape if parent else None)
            return
        for test, fn in RECORDED:
            if matches(test, module):
                return fn(self, module, args, kwargs, output)
        return self.rec.repeats.record(module, args, kwargs, output)  # perhaps a step (module_loops.py)

    def record_mha(self, m, args, kwargs, output=None):
        for f in self.rec.stack:
            f.saw_mha = True
        self._record_mha(m, args, kwargs)

    def _record_mha(self, m, args, kwargs):
        kept = []
        query, key, value = (keep(_arg(args, kwargs, i, n), n, kept) for i, n in enumerate(("query", "key", "value")))
        if query.is_nested:
            raise TraceInputError("nn.MultiheadAttention called with nested tensors is not traced")
        kpm = keep(_arg(args, kwargs, 3, "key_padding_mask"), "key_padding_mask", kept)
        am = keep(_arg(args, kwargs, 5, "attn_mask"), "attn_mask", kept)
        p = self._snapshot(m, lambda: mha.snapshot(m))
        drop = m.dropout if m.training else 0.0  # applied to the weights in training mode, not replayed
        self._add(m, mha_trace, kept, [p, query, key, value, kpm, am, None, drop])

    def _record_fused_layer(self, layer, args, kwargs, src_shape):
        """A TransformerEncoderLayer that ran fused: its self_attn never ran; rebuild from the layer input."""
        kept = []
        src = keep(_arg(args, kwargs, 0, "src"), "src", kept)
        src_mask = keep(_arg(args, kwargs, 1, "src_mask"), "src_mask", kept)
        kpm = keep(_arg(args, kwargs, 2, "src_key_padding_mask"), "src_key_padding_mask", kept)
        p = self._snapshot(layer, lambda: mha.snapshot(layer.self_attn, layer.norm1 if layer.norm_first else None))
        drop = layer.self_attn.dropout if layer.training else 0.0
        self._add(layer.self_attn, mha_trace, kept, [p, src, src, src, kpm, src_mask, src_shape, drop])

    def record_recurrent(self, m, args, kwargs, output):
        x, hx = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "hx")
        packed = isinstance(x, PackedSequence) and isinstance(m, FULL)  # traced at each sequence's own length
        if not (isinstance(x, torch.Tensor) or packed):
            raise TraceInputError(f"input is {type(x).__name__}, not a tensor (a cell takes one step: pass "
                                  "the step's tensor)")
        check_module(m)  # e.g. dropout between layers in training mode cannot be replayed
        params = self._snapshot(m, lambda: all_params(m))
        kept = []
        x = x._replace(data=keep(x.data, "input", kept)) if packed else keep(x, "input", kept)
        if isinstance(m, CELLS) and self.rec.merge_cells:
            return self._record_cell(m, x, hx, output, params, kept)
        if self.rec.merge_cells and not packed and record_full_step(self.chains, self.rec.entries, self._add, m, x,
                                                                    hx, output, params, kept):
            return None  # one step of a loop over time (repeats.py)

        def build(x, hx, out, params, *, name=""):
            return trace_recurrent_call(m, x, hx, out, params=params, name=name)
        self._add(m, build, kept, [x, detach_all(hx), detach_all(output), params])

    def _record_cell(self, m, x, hx, output, params, kept):
        lstm = isinstance(m, nn.LSTMCell)
        h, c = output if lstm else (output, None)
        batched = x.dim() == 2
        chain = self.chains.get(id(m))
        prev = hx[0] if lstm and isinstance(hx, (tuple, list)) else hx
        linked = (chain is not None and prev is not None and chain["batched"] == batched
                  and chain["last"][0]() is prev and (not lstm or chain["last"][1]() is hx[1])
                  and chain["x"][-1].shape == x.shape)
        if not linked:  # a new loop (or the first call): its own trace
            chain = {"batched": batched, "x": [], "h": [], "c": [], "hx0": detach_all(hx)}

            def build(ch, params, *, name=""):
                return _cell_trace(m, ch, params, name)
            chain["entry"] = self._add(m, build, kept, [chain, params])
            self.chains[id(m)] = chain
        else:
            chain["entry"].trace = None  # grew: rebuild on next access
            chain["entry"].kept.extend(kept)
        chain["x"].append(x)
        chain["h"].append(h.detach())
        chain["c"].append(None if c is None else c.detach())
        chain["last"] = (weakref.ref(h), weakref.ref(c) if c is not None else None)


    def state_pre(self, module, args, kwargs):
        """Forward pre-hook (``with_kwargs=True``) of a state mixer: a copy of the layer's cache state before
        the call, when the call continues a cache that holds one (None otherwise)."""
        try:
            self.before[id(module)] = state_before(module, args, kwargs)
        except Exception as e:  # noqa: BLE001 - capture must never break the forward: the build reports it
            self.before[id(module)] = e
        return None

    def record_state(self, m, args, kwargs, output):
        """A state-space / linear-attention mixer call: its inputs, output and the snapshot taken before it."""
        hooked = id(m) in self.before  # capture() without a model has no pre-hook on the mixer
        initial = self.before.pop(id(m), None)
        if isinstance(initial, Exception):
            raise initial
        kept = []
        args = tuple(keep(a, "hidden_states" if i == 0 else f"arg{i}", kept) for i, a in enumerate(args))
        kwargs = {k: keep(v, k, kept) for k, v in kwargs.items()}
        kept += [(f"weight {n}", p, version_of(p)) for n, p in m.named_parameters()]  # referenced, not copied

        def build(args, kwargs, output, initial, *, name=""):
            try:
                return trace_mixer_call(m, args, kwargs, output, name=name, initial=initial)
            except TraceInputError as e:
                if hooked or "initial" not in str(e):
                    raise
                raise TraceInputError(f"{e} (capture(model) takes that snapshot before every mixer call; "
                                      "capture() without a model cannot: pass the model)") from None
        self._add(m, build, kept, [args, kwargs, output, initial])


def is_state_mixer(module) -> bool:
    """Whether ``engine.state`` has a spec whose structure the module has (``mixer_kind``: a class-name family
    such as ``*MambaMixer`` or ``*GatedDeltaNet`` holding the parts the spec reads).

    Example::

        from transformers import MambaConfig
        from transformers.models.mamba.modeling_mamba import MambaMixer
        is_state_mixer(MambaMixer(MambaConfig(hidden_size=8, state_size=4), layer_idx=0)) == True  # by structure
        is_state_mixer(type("MambaMixer", (nn.Module,), {"__module__": "mine"})()) == False  # the name alone is not enough
        is_state_mixer(lstm) == False  # a recurrent module, traced by engine.recurrent instead
    """
    return mixer_kind(module) is not None


def matches(test, module) -> bool:
    """Whether a module is recorded by a RECORDED entry: ``test`` is a tuple of types or a predicate.

    Example::

        matches((nn.LSTM,), nn.LSTM(1, 2)), matches(is_state_mixer, nn.LSTM(1, 2))    # True, False
    """
    return isinstance(module, test) if isinstance(test, tuple) else bool(test(module))


def _cell_trace(m, chain, params, name):
    """One trace over a loop of cell calls: the states the loop produced, stacked over time."""
    one = (lambda t: t) if chain["batched"] else (lambda t: t[None])  # unbatched [I] -> [1, I]
    xs = torch.stack([one(x) for x in chain["x"]])  # [T, B, I]
    hs = torch.stack([one(h) for h in chain["h"]])  # [T, B, H]
    cs = torch.stack([one(c) for c in chain["c"]]) if chain["c"][0] is not None else None  # [T, B, H]
    hx0 = chain["hx0"]
    if hx0 is not None and not chain["batched"]:
        hx0 = tuple(one(h) for h in hx0) if isinstance(hx0, tuple) else one(hx0)
    return trace_recurrent_call(m, xs, hx0, (hs, cs), params=params, name=name)


# The modules a capture records through hooks, first match wins: (a tuple of types or a predicate,
# fn(module_recorder, module, args, kwargs, output)). A new recorded kind is one entry here (its mixers then
# count as recorded, see mixers.py). State mixers are found by ``engine.state``'s table (by class name along
# the MRO: the engine never imports transformers); they also get a pre-hook (``state_pre``).
RECORDED = [
    ((nn.MultiheadAttention,), ModuleRecorder.record_mha),
    (FULL + CELLS, ModuleRecorder.record_recurrent),
    (is_state_mixer, ModuleRecorder.record_state),
    (keras.is_rnn_layer, keras.record_rnn),
]
