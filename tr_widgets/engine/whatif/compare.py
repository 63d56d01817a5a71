"""Comparison: two runs of the same thing side by side, step by step (what :func:`compare` and ``what_if`` return).

A run is a :class:`~tr_widgets.engine.capture.Capture` (each recorded call compared with the other's call in the
same place of the call order: the same name for one model run twice, ``"RNN | LSTM"`` for two models) or one
trace. Each trace type says what a step *outputs* (one table, :data:`OUTPUTS`, looked up along the type's MRO,
never by a kind's name):

* RecurrentTrace: h_t of the top layer (every direction), ``top[t]``;
* LoopTrace: the state carried out of step t, every carried tensor (``(H, C)`` for d2l's LSTMScratch);
* StateTrace: the mixer's y_t (the module's output when it is a ``[B, T, ...]`` tensor, else the scan output);
* AttentionTrace: o_i, the output row of query i;
* DecodeTrace: at tick t, every attention layer's o for the new query and every state mixer's y for it
  (``decodes``; what each run's cache holds after the tick: ``cache_delta_norm``, ``kv_delta_by_position``).

``diverges_at[name]`` is the first step whose output differs (more than ``atol``; NaN where both are NaN counts
as equal), or None. Outputs are derived on first use and kept, so building a Comparison costs nothing: its
shapes are checked from what the traces already hold, and again (exactly) when the outputs are first derived.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from ..attention import AttentionTrace
from ..capture import Capture
from ..decode import DecodeTrace
from ..errors import describe, fail
from ..loops import LoopTrace
from ..recurrent import RecurrentTrace
from ..state import StateTrace
from . import decodes
from .decodes import signature, state_y, tick_outputs


def _loop_sig(tr: LoopTrace) -> dict:
    return {"steps": len(tr), "state shapes": [tuple(x.shape) for x in tr.initial]}


@dataclass(frozen=True)
class Outputs:
    """How one trace type gives its per-step outputs: a cheap signature two comparable traces share (a dict of
    length and shapes, read without deriving anything), the steps' outputs as ``[T, N]``, and the word for a step.

    Example: ``OUTPUTS[RecurrentTrace].word == "t"``
    """

    signature: Callable
    outputs: Callable
    word: str


OUTPUTS: dict[type, Outputs] = {
    RecurrentTrace: Outputs(lambda tr: {"steps": tr.top.shape[0], "h_t shape [B, D·H]": tuple(tr.top.shape[1:])},
                            lambda tr: tr.top.reshape(tr.top.shape[0], -1), "t"),  # [T, B, D*H] -> [T, N]
    LoopTrace: Outputs(_loop_sig, lambda tr: torch.stack(
        [torch.cat([x.reshape(-1) for x in s]) for s in tr.states]), "t"),  # [T, N]
    StateTrace: Outputs(lambda tr: {"steps": len(tr), "batch": tr.batch_size,
                                    "output shape": tuple(getattr(tr.output, "shape", ()))},
                        lambda tr: state_y(tr).movedim(1, 0).reshape(len(tr), -1), "t"),  # [B, T, ..] -> [T, N]
    AttentionTrace: Outputs(lambda tr: {"queries": tr.q.shape[-2], "o_i shape": (*tr.q.shape[:-2], tr.v.shape[-1])},
                            lambda tr: tr.output.movedim(-2, 0).reshape(tr.q.shape[-2], -1), "i"),  # [L, N]
    DecodeTrace: Outputs(signature, lambda tr: torch.stack([tick_outputs(tr, t) for t in range(len(tr))]), "tick"),
}


def outputs_of(trace) -> Outputs | None:
    """The :class:`Outputs` entry of ``trace``'s type (or its nearest base class), or None.

    Example: ``outputs_of(tr_widgets.trace_recurrent(nn.GRU(2, 3), torch.randn(4, 1, 2))).word == "t"``
    """
    return next((OUTPUTS[c] for c in type(trace).__mro__ if c in OUTPUTS), None)


def _pairs(before, after) -> dict:
    """name -> (before trace, after trace), or one TraceInputError saying what cannot be compared."""
    if isinstance(before, Capture) or isinstance(after, Capture):
        if not (isinstance(before, Capture) and isinstance(after, Capture)):
            fail("b", "the same kind of thing as a (two Captures, or two traces)",
                 f"{describe(before)} and {describe(after)}", "compare rec_a with rec_b, or rec_a[name] with trace_b")
        a, b = before.traces, after.traces  # [(name, trace)] in call order
        if len(a) != len(b):
            fail("b", f"a Capture of as many recorded calls as a ({len(a)}: {[n for n, _ in a][:8]})",
                 f"{len(b)}: {[n for n, _ in b][:8]}",
                 "compare one pair of traces instead: compare(rec_a[name_a], rec_b[name_b])")
        # the same names (one model twice) pair by name; two models (an RNN and an LSTM) pair in call order
        pairs = {(x if x == y else f"{x} | {y}"): (tx, ty) for (x, tx), (y, ty) in zip(a, b)}
    else:
        # a trace's name, else its kind's (a RecurrentTrace's "lstm"), else its type's
        name = (getattr(before, "name", "") or str(getattr(before, "kind", "") or "")
                or getattr(before, "model_name", "") or type(before).__name__)
        pairs = {name: (before, after)}
    for name, (x, y) in pairs.items():
        _check_pair(name, x, y)
    return pairs


def _check_pair(name: str, x, y) -> None:
    spec = outputs_of(x)
    if spec is None:
        fail("a", f"a Capture or a trace ({', '.join(t.__name__ for t in OUTPUTS)})", describe(x),
             "pass what tr_widgets.capture(model) or a trace_* function returned")
    kind = lambda tr: getattr(tr, "compares_as", type(tr))  # noqa: E731 - a what-if's after trace: its base type
    if kind(x) is not kind(y):
        fail("b", f"a {kind(x).__name__} to compare with {name!r}", describe(y),
             "compare two traces of the same type (two captures of the same model, or two trace_* calls alike)")
    sx, sy = spec.signature(x), spec.signature(y)
    if sx != sy:
        said = [", ".join(f"{k} {v}" for k, v in s.items()) for s in (sx, sy)]
        fail("b", f"{name!r} with the steps and shapes of a ({said[0]})", said[1],
             "compare runs of equal length and width (the same sequence length, hidden size and batch)")


class Comparison:
    """Two runs step by step: ``before`` and ``after`` (two Captures, or two traces of one type), what each run
    returned, the edits that made ``after`` (none for :func:`compare`), and per recorded name the step where the
    outputs part (:attr:`diverges_at`), the outputs, their difference and ‖Δ‖ per step.

    Example::

        rnn = torch.nn.RNN(2, 3); x = torch.randn(6, 1, 2)
        x2 = x.clone(); x2[3] += 1.0                               # the input changed at step 3
        cmp = Comparison(tr_widgets.trace_recurrent(rnn, x), tr_widgets.trace_recurrent(rnn, x2))
        cmp.diverges_at == {"rnn_tanh": 3}                   # steps 0-2 are equal, step 3 differs
        bool((cmp.delta_norm()[:3] == 0).all()) == True
    """

    def __init__(self, before, after, before_output=None, after_output=None, edits=(), *, atol: float = 0.0):
        if not isinstance(atol, (int, float)) or isinstance(atol, bool) or not math.isfinite(atol) or atol < 0:
            fail("atol", "a number ≥ 0 (how far two outputs may be apart and still count as equal)", describe(atol),
                 "leave it out (exact), or pass e.g. atol=1e-6")
        self.before, self.after = before, after
        self.before_output, self.after_output = before_output, after_output
        self.edits, self.atol = tuple(edits), float(atol)
        self.pairs = _pairs(before, after)
        self.derived: dict = {}  # (what, name) -> outputs, delta, ‖Δ‖..., derived on first use

    @property
    def names(self) -> list[str]:
        """The compared names (a Capture's recorded names; a trace's name). Example: ``cmp.names  # ['lstm']``"""
        return list(self.pairs)

    def _name(self, name: str | None) -> str:
        if name is None:
            return self.names[0]
        if name not in self.pairs:
            fail("name", f"one of the compared names {self.names[:12]}", repr(name) if isinstance(name, str)
                 else describe(name), "use a name from comparison.names")
        return name

    def traces(self, name: str | None = None) -> tuple:
        """(before trace, after trace) of ``name`` (default: the first). Example: ``b, a = cmp.traces("lstm")``"""
        return self.pairs[self._name(name)]

    def word(self, name: str | None = None) -> str:
        """What a step of ``name`` is called: "t", "i" (a query of attention) or "tick" (a decode).

        Example: ``cmp.word()  # 't'``
        """
        return outputs_of(self.traces(name)[0]).word

    def steps(self, name: str | None = None) -> int:
        """The number of steps of ``name``. Example: ``cmp.steps()  # 6``"""
        return int(self.outputs(name)[0].shape[0])

    def outputs(self, name: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The per-step outputs of ``name`` in both runs, each ``[T, N]`` (a step's output flattened), detached.

        Example::

            b, a = cmp.outputs()      # an LSTM: b[t] is h_t of the baseline, a[t] of the edited run
        """
        name = self._name(name)

        def make():
            x, y = self.pairs[name]
            spec = outputs_of(x)
            with torch.no_grad():
                ob, oa = spec.outputs(x).detach(), spec.outputs(y).detach()
            if ob.shape != oa.shape:
                fail("b", f"{name!r} with per-step outputs of shape {tuple(ob.shape)}", f"{tuple(oa.shape)}",
                     "compare runs of equal length and width")
            return ob, oa
        return self._memo("outputs", name, make)

    def _memo(self, what: str, name: str | None, make):
        """``make()`` once per (what, name): a stepper reads these at every step."""
        key = (what, self._name(name))
        if key not in self.derived:
            self.derived[key] = make()
        return self.derived[key]

    def delta(self, name: str | None = None) -> torch.Tensor:
        """after − before of every step's output, ``[T, N]`` (float; the after run's dtype promoted with before's).

        Example: ``cmp.delta()[3]  # how step 3's output moved``
        """
        def make():
            b, a = self.outputs(name)
            dtype = torch.promote_types(torch.promote_types(a.dtype, b.dtype), torch.float32)
            return a.to(dtype) - b.to(dtype)
        return self._memo("delta", name, make)

    def delta_norm(self, name: str | None = None) -> torch.Tensor:
        """‖after − before‖ (L2) of each step's output, ``[T]``: the change growing, fading or carried.

        Example: ``cmp.delta_norm().argmax()  # the step it moved most``
        """
        def make():
            d = self.delta(name)
            return torch.linalg.vector_norm(d.nan_to_num(nan=0.0), dim=1) if d.shape[1] else torch.zeros(d.shape[0])
        return self._memo("norm", name, make)

    def differs(self, name: str | None = None) -> torch.Tensor:
        """Per step, whether the outputs differ (more than ``atol``; NaN in both runs at one place is equal), ``[T]``.

        Example: ``cmp.differs().nonzero()  # the steps where the runs are apart``
        """
        def make():
            b, a = self.outputs(name)
            both_nan = a.isnan() & b.isnan() if a.is_floating_point() else torch.zeros_like(a, dtype=torch.bool)
            apart = ~(both_nan | ((a - b).abs() <= self.atol))  # NaN on one side only: apart
            return apart.any(dim=1) if apart.shape[1] else torch.zeros(apart.shape[0], dtype=torch.bool)
        return self._memo("differs", name, make)

    def first_difference(self, name: str | None = None) -> int | None:
        """The first step of ``name`` whose output differs, or None. Example: ``cmp.first_difference("lstm")  # 3``"""
        def make():
            where = self.differs(name).nonzero()
            return int(where[0, 0]) if len(where) else None
        return self._memo("first", name, make)

    @property
    def diverges_at(self) -> dict:
        """Per compared name, the first step whose output differs (h_t, o_i, the mixer's y_t), or None.

        Example: ``cmp.diverges_at  # {'lstm': 3}``
        """
        return {n: self.first_difference(n) for n in self.names}

    def tokens(self, name: str | None = None) -> tuple[list, list] | None:
        """A decode's tokens in both runs (prompt then generated labels), or None for a trace without tokens.

        Example: ``before, after = cmp.tokens()  # side by side``
        """
        x, y = self.traces(name)
        if not isinstance(x, DecodeTrace):
            return None
        return list(x.tokens), list(y.tokens)

    def tokens_part_at(self, name: str | None = None) -> int | None:
        """The first tick whose chosen token differs between the runs (a decode), or None.

        Example: ``cmp.tokens_part_at()  # 2: the third generated token is another one``
        """
        x, y = self.traces(name)
        if not isinstance(x, DecodeTrace):
            return None
        return next((i for i, (p, q) in enumerate(zip(x.new_ids, y.new_ids)) if p != q), None)

    def cache_delta_norm(self, kind: str = "kv", name: str | None = None) -> torch.Tensor:
        """Two decodes: ‖after − before‖ of each layer's cache after each tick, ``[ticks, layers]`` (``kind="kv"``:
        the KV cache; ``"state"``: a state mixer's state). See :func:`.decodes.cache_delta_norm`.

        Example: ``compare(d1, d2).cache_delta_norm("kv")[:, 0]  # layer 0's ‖ΔK, ΔV‖ tick by tick``
        """
        return self._memo(f"cache {kind}", name, lambda: decodes.cache_delta_norm(self, kind, name))

    def kv_delta_by_position(self, tick: int | None = None, name: str | None = None) -> torch.Tensor:
        """Two decodes: ‖after − before‖ of each cached position's keys and values after ``tick`` (None: the last).

        Example: ``compare(d1, d2).kv_delta_by_position(3)  # 0 up to the first position the runs part at``
        """
        return decodes.kv_delta_by_position(self, tick, name)

    def __repr__(self) -> str:
        names = self.names
        kinds = sorted({type(x).__name__ for x, _ in self.pairs.values()})
        shown = ", ".join(names[:4]) + (f", … {len(names)}" if len(names) > 4 else "")
        n = len(self.edits)
        return f"Comparison({'/'.join(kinds)}: {shown}; {n} edit{'s' if n != 1 else ''})"


def compare(a, b, *, atol: float = 0.0) -> Comparison:
    """Compare two runs you already have: two Captures (each name with the same name), or two traces of one type
    (two inputs, an RNN and an LSTM on the same sequence, a model before and after training).

    Example::

        x = torch.randn(8, 1, 3)
        rnn, lstm = torch.nn.RNN(3, 4), torch.nn.LSTM(3, 4)
        cmp = compare(tr_widgets.trace_recurrent(rnn, x), tr_widgets.trace_recurrent(lstm, x))
        cmp.delta().shape == (8, 4)             # after − before of h_t, per step
        cmp.diverges_at == {"rnn_tanh": 0}      # two models part at once (named after a)
    """
    return Comparison(a, b, atol=atol)
