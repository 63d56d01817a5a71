"""capture(model): record every recurrent module, nn.MultiheadAttention and F.scaled_dot_product_attention
call of a forward as it runs, keeping only what exact recomputation needs.

    with tr_widgets.capture(model) as rec:
        model(x)
    rec.traces                      # [(qualified module name, trace), ...] in call order
    rec["transformer.h.0.attn"]     # one AttentionTrace / RecurrentTrace

How, and why this way (modules of this package: ``patch``, ``recorder``, ``modules``, ``mha``; what a
capture is called and says in ``naming`` and ``report``):

* ``F.scaled_dot_product_attention`` (Hugging Face's default sdpa attention, nanoGPT-style code, a user's
  own call): while the block runs, every module-level name bound to it is rebound to a wrapper that calls
  the real function with the same arguments, then keeps q, k, v, the mask and the options (``patch``).
  ``via="mode"`` uses a ``TorchFunctionMode`` instead, which also sees calls through references kept
  elsewhere, but costs a Python round trip on every torch op (benchmarks/bench_capture.py measures both).
  A call is named after the innermost
  module of the model executing it (``transformer.h.0.attn``; ``#2``, ``#3``... for repeated calls).
* Modules: hooks on the recurrent modules and nn.MultiheadAttention of the model only, so the rest of the
  forward runs hook-free. nn.TransformerEncoderLayer refuses its fused kernel when any of its submodules
  carries a hook, so a model holding one is watched through *global* hooks instead, filtered to the
  model's modules. A layer that ran ``torch._transformer_encoder_layer_fwd`` never calls its ``self_attn``:
  the hook notices and rebuilds the attention from the layer's input (norm1 first when norm_first; a
  nested-tensor input is padded back and its padding becomes a key padding mask).
* nn.MultiheadAttention runs fused kernels that never expose q, k, v: they are rebuilt from the call's
  inputs and a snapshot of the in-projection, the two masks merged into one SDPA mask (``mha``);
  the trace's weights equal the module's own ``need_weights`` weights per head.
* Recurrent modules: the hook has input, hx and output, so nothing runs twice (``trace_recurrent_call``).
  Successive calls of one cell that feed its last state back in (a user's loop over time) form one trace
  over all those steps, equal to ``trace_recurrent(cell, x_seq, h0)`` (``merge_cells=False``: one per call).
  So do one-step calls of nn.RNN/LSTM/GRU with the state carried (``repeats``), and a PackedSequence input is
  traced with each sequence at its own length. A module of the user's own called once per step, its output
  fed back with a fresh input each call, is one LoopTrace of its step (``module_loops``).

Dropout inside attention (``dropout_p > 0``, a module in training mode) is not replayed: a trace shows the
attention without it. Nothing is changed: hooks return None, the wrapper returns the real result, the attention implementation
is left alone, and with ``via="mode"`` the mode steps aside while torch's transformer modules run, so their
fast paths stay on. Outputs are bitwise identical with and without capture (tests).

Memory: q, k, v are kept detached on their device, never a T×T matrix; stages are derived when accessed.
Tensors are kept by reference, not copied, except (1) a k or v written in place before (``entries.keep``);
(2) at exit, a q that is a view of a much larger storage nothing else recorded uses (Hugging
Face GPT-2's q inside its fused qkv projection, whose k and v parts the KV cache copied) is copied out, so
the record holds about the bytes of q, k and v. A kept tensor changed in place anyway is reported by a
warning when the capture ends or its traces are built.
"""
from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping

from torch import nn

from ..errors import TraceInputError, describe, fail
from ..files.saving import Saveable
from . import keras
from .entries import tensors_of, version_of
from .naming import SDPA_NAME, base_names, call_names
from .recorder import Recorder
from .sdpa import fast_entry, sdpa_call
from .report import SUPPORTED, CaptureWarning, report

__all__ = ["SDPA_NAME", "SUPPORTED", "Capture", "CaptureWarning", "TraceNameError", "capture"]  # re-exported

class TraceNameError(TraceInputError, KeyError):
    """``rec[name]`` for a name that was not recorded; the message lists the names that were.

    Example::

        try:
            rec["nope"]; raised = None  # rec: a capture of an LSTM
        except TraceNameError as err:
            raised = err
        assert isinstance(raised, KeyError) and "LSTM" in str(raised)  # the message lists the recorded names
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Capture(Saveable):
    """What :func:`capture` returns: a context manager, then the record of what ran inside it.

    Example::

        with capture(lstm) as cap:  # capture(...) returns a Capture; the with-block records
            out = lstm(x)
        (type(cap), cap.names) == (Capture, ["LSTM"])  # no scope: named by the module's class
        assert torch.allclose(cap["LSTM"].step(5)["h_t"], out[0][5, 0])  # the module's own output at t = 5
    """

    def __init__(self, model=None, *, scope=None, merge_cells=True, via="patch"):
        if model is not None and not isinstance(model, nn.Module):
            keras.check_model(model)  # Keras on another backend: its own message
            fail("model", "an nn.Module (or None to record every module)", describe(model),
                 "pass the model itself, e.g. tr_widgets.capture(model)")
        if not (isinstance(via, str) and via in ("patch", "mode")):
            fail("via", "'patch' (default) or 'mode'", describe(via), "leave it out, or pass via='mode'")
        if scope is not None and not isinstance(scope, Mapping):
            fail("scope", "a namespace dict whose module variables name what was recorded (or None)",
                 describe(scope), "pass scope=globals(), or leave it out")
        self.model, self.scope = model, scope
        self.recorder = Recorder(model, merge_cells, via)
        self._used, self._quiet, self._drained, self._names = False, False, 0, None

    def __enter__(self) -> "Capture":
        if self._used:
            fail("capture", "a fresh capture(...) for each with-block", "one that was already used",
                 "call tr_widgets.capture(model) again")
        self._used = True
        self.recorder.start()
        return self

    def __exit__(self, *exc) -> bool:
        self.recorder.stop(exc)
        self._check_stale()
        self.recorder.compact()
        if exc[0] is None and not self._quiet:
            report(self.recorder, self._base_names, self._drained)
        return False

    # -- for decode: take what was recorded so far ---------------------------------------------
    def drain(self, calls: bool = False) -> list:
        """``[(module, trace), ...]`` recorded since the last drain, built now (unnamed), then forgotten, so a
        long run (one decode tick after another) holds only what its caller keeps. ``calls=True``: a plain
        SDPA call comes as an :class:`~.sdpa.SdpaCall` (its operands, no trace object built: decode's tick).

        Example: ``with capture(model) as cap: model(ids); cap.drain()  # [(attn module, AttentionTrace), ...]``
        """
        rec = self.recorder
        out = []
        for e in rec.entries:
            try:
                if type(e) is tuple and calls:  # the fast path's record (Recorder.on_sdpa): no trace built
                    out.append((e[0], sdpa_call(e)))
                else:
                    e = fast_entry(e) if type(e) is tuple else e
                    out.append((e.module, e.build(*e.held, name="")))
            except Exception as err:  # noqa: BLE001 - a record that cannot be traced is a note
                rec.skipped.append((e[0] if type(e) is tuple else e.module, f"{type(err).__name__}: {err}"))
        self._drained += len(rec.entries)
        rec.entries.clear()
        return out

    def name_of(self, module) -> str:
        """The name a recorded module gets (its path in the model, or ``SDPA_NAME`` for None), worked out once
        after the block while the record stays the same. Example: ``cap.name_of(model.h[0].attn) == "h.0.attn"``"""
        if module is None:
            return SDPA_NAME
        rec = self.recorder
        key = (len(rec.entries), len(rec.skipped), len(rec.unrecorded))
        if rec.active or self._names is None or self._names[0] != key:
            self._names = (None if rec.active else key, self._base_names())
        return self._names[1].get(id(module), type(module).__name__)

    # -- what was recorded -----------------------------------------------------------------
    def _base_names(self) -> dict:
        """id(module) -> name (see :func:`.naming.base_names`)."""
        return base_names(self.model, self.scope, self.recorder)

    def _call_names(self) -> dict:
        """id(entry) -> its name, ``#2``, ``#3``... for repeated calls (see :func:`.naming.call_names`)."""
        return call_names(self.recorder.entries, self._base_names())

    def _check_stale(self, entries=None) -> None:
        for e in entries if entries is not None else self.recorder.normalize():
            changed = sorted({label for label, t, ver in e.kept if version_of(t) != ver})
            if changed:
                e.kept = []  # warn once
                name = self._base_names().get(id(e.module), SDPA_NAME)
                warnings.warn(f"capture: {', '.join(changed)} of {name!r} changed in place after it was recorded, "
                              "so its trace shows the changed values. Fix: clone it before the call, or "
                              "capture a shorter run.", stacklevel=3)

    @property
    def traces(self) -> list:
        """``[(name, trace), ...]`` in call order (traces are built on first access; stages stay lazy).

        Example::

            with tr_widgets.capture(model) as rec:
                model(ids)
            [name for name, _ in rec.traces]    # ['transformer.h.0.attn', 'transformer.h.1.attn']
        """
        rec = self.recorder
        todo = [e for e in rec.normalize() if e.trace is None and e.build is not None]
        self._check_stale(todo)
        names = self._call_names()
        failed = []
        for e in todo:
            try:
                e.trace = e.build(*e.held, name=names[id(e)])
            except Exception as err:  # noqa: BLE001 - a record that cannot be traced is a note, not a crash
                e.build = None
                rec.skipped.append((e.module, f"{type(err).__name__}: {err}"))
                failed.append(f"{names[id(e)]!r} ({type(e.module).__name__}): {err}")
        if failed and not self._quiet:  # never silent: a record whose trace failed its build (e.g. its output check)
            warnings.warn(f"capture: {len(failed)} recorded call(s) could not be traced: {'; '.join(failed[:3])}. "
                          "Fix: see rec.skipped for each reason", CaptureWarning, stacklevel=3)
        if not rec.active:  # the record is final: drop the raw inputs a trace was built from
            for e in rec.entries:
                if e.trace is not None:
                    e.build, e.held = None, []
        names = self._call_names()  # again: a record that failed to build takes no number
        for e in rec.entries:
            if e.trace is not None and e.trace.name != names[id(e)]:
                e.trace = dataclasses.replace(e.trace, name=names[id(e)])
        return [(e.trace.name, e.trace) for e in rec.entries if e.trace is not None]

    @property
    def names(self) -> list[str]:
        """The recorded names, in call order. Example: ``rec.names[0]  # 'lstm'``"""
        return [n for n, _ in self.traces]

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """``[(name, reason), ...]``: calls that could not be traced (e.g. a cell given a PackedSequence), and the sequence
        mixers that ran with nothing recorded inside (e.g. a Mamba mixer, flash attention).

        Example: ``rec.skipped  # [('backbone.layers.0.mixer', 'a state-space mixer: ...')]``
        """
        base = self._base_names()
        out = [(SDPA_NAME if m is None else base[id(m)], why) for m, why in self.recorder.skipped]
        return out + [(base[id(m)], why) for m, _, why in self.recorder.unrecorded.values()]

    @property
    def nbytes(self) -> int:
        """Bytes of the distinct tensor storages this record holds (q, k, v, masks, inputs, weight copies).

        Example: ``rec.nbytes / sum(t.q.nbytes + t.k.nbytes + t.v.nbytes for _, t in rec)``
        """
        seen, total = set(), 0
        for e in self.recorder.normalize():
            for t in tensors_of([e.trace, e.held]):
                try:
                    st = t.untyped_storage()
                except (RuntimeError, NotImplementedError):
                    continue
                key = (st.data_ptr(), str(t.device))
                if key not in seen:
                    seen.add(key)
                    total += st.nbytes()
        return total

    def __getitem__(self, name: str):
        if not isinstance(name, str):
            raise TraceNameError(f"name: expected a recorded module name (a str, one of rec.names), got "
                                 f"{describe(name)}. Fix: use a name from rec.names")
        for n, tr in self.traces:
            if n == name:
                return tr
        names = self.names
        shown = ", ".join(map(repr, names[:30])) + (f", ... ({len(names) - 30} more)" if len(names) > 30 else "")
        for n, why in self.skipped:
            if n == name:
                raise TraceNameError(f"name: {name!r} ran but is not supported ({why}); expected one of the "
                                     f"recorded names [{shown or 'nothing was recorded'}]. Supported: {SUPPORTED}. "
                                     "Fix: use a name from rec.names")
        raise TraceNameError(f"name: expected one of the recorded names [{shown or 'nothing was recorded'}], "
                             f"got {name!r}. Fix: use a name from rec.names")

    def __len__(self) -> int:
        return len(self.traces)

    def __iter__(self):
        """Iterate ``(name, trace)`` pairs, like ``rec.traces``."""
        return iter(self.traces)

    def __repr__(self) -> str:
        items = self.traces
        head = f"Capture({len(items)} trace{'s' if len(items) != 1 else ''}"
        skipped = self.recorder.skipped
        head += f", {len(skipped)} skipped)" if skipped else ")"
        return "\n".join([head] + [f"  {n}: {tr!r}" for n, tr in items])


def capture(model: nn.Module | None = None, *, scope: dict | None = None, merge_cells: bool = True,
            via: str = "patch") -> Capture:
    """Record every recurrent module, nn.MultiheadAttention and ``F.scaled_dot_product_attention`` call
    made while the ``with`` block runs, without changing the model or its outputs.

    ``model``: record its modules, named by their path in it (``None``: every module anywhere).
    ``scope``: a namespace (e.g. ``globals()``) whose module variables name what was recorded
    (``"model.transformer.h.0.attn"``). ``merge_cells``: one trace per loop of a cell (default) or per call.
    ``via``: ``"patch"`` (default, cheap) or ``"mode"`` (a TorchFunctionMode: also sees SDPA calls made
    through a reference to the function taken before the capture, at a cost on every torch op).

    Example::

        model, tok = tr_widgets.load_tiny()  # the bundled tiny GPT; a Hugging Face GPT-2 is captured the same way
        with tr_widgets.capture(model) as rec:
            out = model(torch.tensor([tok.encode("The cat sat on the")]))  # ids [1, 5]
        at = rec["h.0.attn"]  # rec.names: ['h.0.attn', 'h.1.attn'], paths in the model
        (at.weights.shape, at.batch_names) == ((1, 4, 5, 5), ("batch", "head"))  # [B, H, L, S]
        at.weights[0, 0, 0, 1:].sum().item() == 0.0  # causal: query 0 sees key 0 only
    """
    return Capture(model, scope=scope, merge_cells=merge_cells, via=via)
