"""The gradient spec of each recurrent cell kind, in one table keyed by the kind's spec (not by its name).

A :class:`Backward` holds everything the backward replay, the trace, the views and the steppers need to
know about one kind: its factors and loop (factors.py, loops.py), its backward equations, its elementwise
local factor, and the words a view writes (each a formula, or an i18n message key the view looks up).
A kind of ``engine.recurrent.KINDS`` without an entry here is refused by ``trace_gradients``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import fail
from ..recurrent import KINDS, CellKind
from . import factors as fx
from . import loops

PROJ_EQUATION = r"\delta m_t = W_{hr}^\top \delta h_t"  # LSTM with proj_size; else δm_t = δh_t
LEAVES_H = r"\delta h_{t-1} \mathrel{+}= W_{hh}^\top \delta a_t"


@dataclass(frozen=True, eq=False)
class Backward:
    """How the gradient of one cell kind flows back one step, and how a view names what it shows.

    ``factor``: (its name in a GradientStep, less "_t"; its key in ``factors``'s result). ``rows``: the
    arithmetic table's rows between δh_t and δh_{t-1}, as (label, lhs, template, tensor names).
    ``products``: tensors a view derives as the product of two step tensors (GRU: leak = z_t ⊙ δh_t).

    Example::

        b = backward_of(KINDS["gru"])
        (b.factor, b.products) == (("z", "z"), (("leak", "z_t", "dh_t"),))
    """

    factors: Callable  # (fwd, layer, direction, lo, hi) -> {"k": [n, B, G*H], ...}, k fresh (loops overwrite it)
    carry: Callable  # (fac, p, dh, dc) -> {"h": ..., LSTM "c", "c_via_h"}: what steps send towards t-1
    jacobian: Callable  # (fac of one step, p) -> J_t
    pre: Callable  # (k of one step, p, dh_t, dc_t) -> δa_t, the vector W_hhᵀ multiplies
    loop: Callable  # loops.py's signature
    equations: tuple[str, ...]
    factor: tuple[str, str]
    factor_label: str  # the local factor: a formula or a message key
    pre_label: str  # δa_t's chart
    leaving: str  # the last row: what δh_{t-1} receives
    leaving_label: str  # δh_{t-1}'s chart
    rows: tuple = ()
    products: tuple = ()
    factor_on_h_path: bool = True  # False: the factor multiplies the cell path (LSTM's f_t), not the h path


def _rnn(derivative, formula: str) -> Backward:
    return Backward(fx.rnn_factors(derivative), fx.rnn_carry, fx.rnn_jacobian, fx.rnn_pre, loops.rnn_loop,
                    (r"\delta a_t = \delta h_t \odot \phi'(a_t)", LEAVES_H), ("phi_prime", "k"), formula,
                    "δa_t = φ'(a_t) ⊙ δh_t", "δh_{t-1} ← W_hhᵀ δa_t", "gradients.dh_leaving",
                    rows=(("δa_t = φ'(a_t) ⊙ δh_t", "δa_t", "{} · {} = {}", ("phi_prime_t", "dh_t", "da")),))


LSTM = Backward(
    fx.lstm_factors, fx.lstm_carry, fx.lstm_jacobian, fx.lstm_pre, loops.lstm_loop,
    (r"\delta c_t = f_{t+1} \odot \delta c_{t+1} + \delta m_t \odot o_t \odot (1 - \tanh^2 c_t)",
     r"\delta c_{t-1} \mathrel{+}= f_t \odot \delta c_t", LEAVES_H),
    ("f", "f"), "gradients.factor_lstm", "gradients.da_lstm", "δh_{t-1} ← W_hhᵀ δa_t",
    "gradients.dh_leaving_lstm",
    rows=(("gradients.eq_dc", "δc_t", "{} + {} = {}", ("dc_via_c", "dc_via_h", "dc_t")),
          ("δc_{t-1} ← f_t ⊙ δc_t", "δc_{t-1}", "{} · {} = {}", ("f_t", "dc_t", "dc_to_prev"))),
    factor_on_h_path=False)
GRU = Backward(
    fx.gru_factors, fx.gru_carry, fx.gru_jacobian, fx.gru_pre, loops.gru_loop,
    (r"\delta h_{t-1} \mathrel{+}= z_t \odot \delta h_t + W_{hh}^\top \delta(W_{hh} h_{t-1} + b_{hh})",),
    ("z", "z"), "gradients.factor_gru", "gradients.da_gru", "δh_{t-1} ← z_t ⊙ δh_t + W_hhᵀ δa_t",
    "gradients.dh_leaving", rows=(("gradients.eq_leak", "leak:", "{} · {} = {}", ("z_t", "dh_t", "leak")),),
    products=(("leak", "z_t", "dh_t"),))

# The table: a cell spec -> its backward spec. A new kind with a gradient is one more entry.
BACKWARD: dict[CellKind, Backward] = {
    KINDS["rnn_tanh"]: _rnn(lambda h: 1 - h * h, "φ'(a_t) = 1 − h_t²"),
    KINDS["rnn_relu"]: _rnn(lambda h: (h > 0).to(h.dtype), "φ'(a_t) = [h_t > 0]"),  # torch's h > 0 rule
    KINDS["lstm"]: LSTM,
    KINDS["gru"]: GRU,
}


def backward_of(spec: CellKind) -> Backward:
    """The backward spec of a cell kind; a clear error for a kind without one.

    Example: ``backward_of(tr.spec).factor == ("f", "f")  # tr: an LSTM's RecurrentTrace``
    """
    if spec not in BACKWARD:
        fail("module", "a recurrent kind with a gradient spec (" + ", ".join(k.name for k in BACKWARD) + ")",
             f"a {spec.name!r} module", "trace its forward with trace_recurrent or capture(model) instead")
    return BACKWARD[spec]


def gate_blocks(spec: CellKind) -> int:
    """Pre-activation blocks per step (LSTM 4, GRU 3, RNN 1). Example: ``gate_blocks(KINDS["gru"]) == 3``"""
    return len(spec.gates) or 1
