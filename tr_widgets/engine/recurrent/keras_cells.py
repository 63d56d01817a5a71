"""Keras 3's recurrent cells (SimpleRNNCell, LSTMCell, GRUCell) as cell specs, in Keras's own layout and math.

Keras stores ``kernel [I, G*H]`` and ``recurrent_kernel [H, G*H]`` (it computes ``x @ W``, not ``W x``), stacks the
LSTM's gates as i, f, c, o and the GRU's as z, r, h, and updates a GRU's state as ``h_t = z ⊙ h_{t-1} + (1 - z) ⊙ hh``
(z keeps the old state, where torch's z does the same but names the candidate n). Its GRU has two conventions:
``reset_after=True`` (Keras 3's default, like torch) applies r to ``h U_h + b_h``, and ``reset_after=False`` applies it
to h before the product. The code follows ``keras/src/layers/rnn/{simple_rnn,lstm,gru}.py``, in the order Keras
adds its terms, so a replay agrees with Keras to float rounding. ``activation`` and ``recurrent_activation`` are the
layer's own functions (σ and tanh by default, as the equations write them). Nothing here imports keras: a
cell is recognised by the class names along its MRO.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .spec import CellKind, Equation, shifted


@dataclass(frozen=True, eq=False)
class KerasParams:
    """A Keras cell's weights (detached copies) and its activations, as Keras keeps them.

    Example::

        p = KerasParams(torch.zeros(3, 16), torch.zeros(4, 16), torch.zeros(16), torch.tanh, torch.sigmoid)
        (p.kernel.shape, p.reset_after) == ((3, 16), True)  # an LSTMCell's [I, 4H]; reset_after: GRU only
    """

    kernel: torch.Tensor  # [I, G*H]
    recurrent_kernel: torch.Tensor  # [H, G*H]
    bias: torch.Tensor | None  # [G*H]; a GRU with reset_after: [2, G*H] (input bias, recurrent bias)
    activation: Callable
    recurrent_activation: Callable
    reset_after: bool = True


def keras_class(obj, name: str) -> bool:
    """Whether a class named ``name`` from Keras is on ``obj``'s MRO (keras never imported here).

    Example: ``keras_class(nn.LSTMCell(1, 2), "LSTMCell") == False``  (``keras.layers.LSTM(4).cell``: True)
    """
    return any(c.__name__ == name and c.__module__.startswith("keras.") for c in type(obj).__mro__)


def _split(t: torch.Tensor, names) -> dict[str, torch.Tensor]:
    return dict(zip(names, t.chunk(len(names), dim=-1)))  # G x [..., H]


# -- SimpleRNN: h_t = activation(x W + b + h_{t-1} U) ----------------------------------------
def _simple_step(x, h_prev, c_prev, p: KerasParams) -> dict[str, torch.Tensor]:
    x_part = x @ p.kernel if p.bias is None else x @ p.kernel + p.bias  # [..., H]
    h_part = h_prev @ p.recurrent_kernel  # [..., H]
    a = x_part + h_part
    return {"x_part_a": x_part, "h_part_a": h_part, "a": a, "h_t": p.activation(a)}


def _simple_replay(x, h, h0, p: KerasParams, reverse: bool) -> dict[str, torch.Tensor]:
    st = _simple_step(x, shifted(h, h0, reverse), None, p)  # every step at once, [T, B, H] each
    return {"a": st["a"], "h_t": st["h_t"]}


# -- LSTM: z = x W + h U + b split i, f, c, o; c_t = f c_{t-1} + i act(z_c); h_t = o act(c_t) ---
def _lstm_parts(x, h_prev, p: KerasParams) -> dict[str, torch.Tensor]:
    xw = x @ p.kernel if p.bias is None else x @ p.kernel + p.bias  # [..., 4H]
    hu = h_prev @ p.recurrent_kernel  # [..., 4H]
    names = ("i", "f", "c", "o")
    return {**{f"x_part_{n}": t for n, t in _split(xw, names).items()},
            **{f"h_part_{n}": t for n, t in _split(hu, names).items()}}


def _lstm_gates(z: torch.Tensor, p: KerasParams) -> dict[str, torch.Tensor]:
    z_i, z_f, z_c, z_o = z.chunk(4, dim=-1)  # 4 x [..., H]
    ra = p.recurrent_activation
    return {"a_i": z_i, "a_f": z_f, "a_c": z_c, "a_o": z_o,
            "i": ra(z_i), "f": ra(z_f), "c": p.activation(z_c), "o": ra(z_o)}


def _lstm_pre(x, h_prev, p: KerasParams) -> torch.Tensor:
    z = x @ p.kernel + h_prev @ p.recurrent_kernel  # [..., 4H], Keras's implementation=2 order
    return z if p.bias is None else z + p.bias


def _lstm_step(x, h_prev, c_prev, p: KerasParams) -> dict[str, torch.Tensor]:
    g = _lstm_gates(_lstm_pre(x, h_prev, p), p)
    c = g["f"] * c_prev + g["i"] * g["c"]
    return {**_lstm_parts(x, h_prev, p), **g, "c_t": c, "h_t": g["o"] * p.activation(c)}


def _lstm_replay(x, h, h0, p: KerasParams, reverse: bool) -> dict[str, torch.Tensor]:
    g = _lstm_gates(_lstm_pre(x, shifted(h, h0, reverse), p), p)  # [T, B, H] each
    return {n: g[n] for n in ("i", "f", "c", "o")}


# -- GRU: z, r, candidate hh; h_t = z h_{t-1} + (1 - z) hh ---------------------------------------
def _gru_math(x, h_prev, p: KerasParams) -> dict[str, torch.Tensor]:
    H = p.recurrent_kernel.shape[0]
    b_in, b_rec = (None, None) if p.bias is None else ((p.bias[0], p.bias[1]) if p.reset_after else (p.bias, None))
    mx = x @ p.kernel if b_in is None else x @ p.kernel + b_in  # [..., 3H]
    x_z, x_r, x_h = mx.chunk(3, dim=-1)  # 3 x [..., H]
    if p.reset_after:
        inner = h_prev @ p.recurrent_kernel if b_rec is None else h_prev @ p.recurrent_kernel + b_rec  # [..., 3H]
    else:
        inner = h_prev @ p.recurrent_kernel[:, :2 * H]  # [..., 2H]
    h_z, h_r = inner[..., :H], inner[..., H:2 * H]
    z, r = p.recurrent_activation(x_z + h_z), p.recurrent_activation(x_r + h_r)
    if p.reset_after:
        h_h = inner[..., 2 * H:]  # h U_h + b_h, which r gates
        rec_h = r * h_h
    else:
        h_h = r * h_prev  # r gates the state before its product with U_h
        rec_h = h_h @ p.recurrent_kernel[:, 2 * H:]
    hh = p.activation(x_h + rec_h)
    return {"x_part_z": x_z, "h_part_z": h_z, "x_part_r": x_r, "h_part_r": h_r, "x_part_h": x_h, "h_part_h": h_h,
            "a_z": x_z + h_z, "a_r": x_r + h_r, "a_h": x_h + rec_h, "z": z, "r": r, "h": hh,
            "h_t": z * h_prev + (1 - z) * hh}


def _gru_step(x, h_prev, c_prev, p: KerasParams) -> dict[str, torch.Tensor]:
    return _gru_math(x, h_prev, p)


def _gru_replay(x, h, h0, p: KerasParams, reverse: bool) -> dict[str, torch.Tensor]:
    out = _gru_math(x, shifted(h, h0, reverse), p)  # [T, B, H] each
    return {n: out[n] for n in ("z", "r", "h")}


# -- the specs ------------------------------------------------------------------------------------
def _gate(g: str, act: str, latex_act: str, lhs: str | None = None) -> Equation:
    lhs = lhs or f"{g}_t"
    return Equation(lhs, rf"{lhs} = {latex_act}(x_t W_{g} + h_{{t-1}} U_{g} + b_{g})",
                    f"{act}({{x_part_{g}}} + {{h_part_{g}:p}}) = {act}({{a_{g}}}) = {{{g}}}")


def _cell_is(name: str, reset_after: bool | None = None):
    def match(m) -> bool:
        return keras_class(m, name) and (reset_after is None or bool(getattr(m, "reset_after", True)) == reset_after)
    return match


_GRU_H = Equation("h_t", r"h_t = z_t \odot h_{t-1} + (1 - z_t) \odot \hat{h}_t",
                  "{z}·{h_prev:p} + (1 - {z})·{h:p} = {h_t}")

KERAS_KINDS: tuple[CellKind, ...] = (
    CellKind("keras_simple_rnn", _cell_is("SimpleRNNCell"), (), (
        Equation("h_t", r"h_t = \tanh(x_t W + b + h_{t-1} U)",
                 "tanh({x_part_a} + {h_part_a:p}) = tanh({a}) = {h_t}"),),
        (("x_t", "h_prev"), ("a",), ("h_t",)), False, _simple_step, _simple_replay),
    CellKind("keras_lstm", _cell_is("LSTMCell"), ("i", "f", "c", "o"), (
        _gate("i", "σ", r"\sigma"), _gate("f", "σ", r"\sigma"),
        _gate("c", "tanh", r"\tanh", lhs=r"\bar{c}_t"), _gate("o", "σ", r"\sigma"),
        Equation("c_t", r"c_t = f_t \odot c_{t-1} + i_t \odot \bar{c}_t", "{f}·{c_prev:p} + {i}·{c:p} = {c_t}"),
        Equation("h_t", r"h_t = o_t \odot \tanh(c_t)", "{o}·tanh({c_t:p}) = {h_t}")),
        (("x_t", "h_prev", "c_prev"), ("i", "f", "c", "o"), ("c_t",), ("h_t",)), True,
        _lstm_step, _lstm_replay, state="(h, c)"),
    CellKind("keras_gru", _cell_is("GRUCell", reset_after=True), ("z", "r", "h"), (
        _gate("z", "σ", r"\sigma"), _gate("r", "σ", r"\sigma"),
        Equation(r"\hat{h}_t", r"\hat{h}_t = \tanh(x_t W_h + b_h + r_t \odot (h_{t-1} U_h + b'_h))",
                 "tanh({x_part_h} + {r:p}·{h_part_h:p}) = tanh({a_h}) = {h}"), _GRU_H),
        (("x_t", "h_prev"), ("z", "r"), ("h",), ("h_t",)), False, _gru_step, _gru_replay),
    CellKind("keras_gru_reset_before", _cell_is("GRUCell", reset_after=False), ("z", "r", "h"), (
        _gate("z", "σ", r"\sigma"), _gate("r", "σ", r"\sigma"),
        Equation(r"\hat{h}_t", r"\hat{h}_t = \tanh(x_t W_h + b_h + (r_t \odot h_{t-1}) U_h)",
                 "tanh({x_part_h} + (r ⊙ h)·U_h) = tanh({a_h}) = {h}"), _GRU_H),
        (("x_t", "h_prev"), ("z", "r"), ("h",), ("h_t",)), False, _gru_step, _gru_replay),
)


def keras_params(cell) -> KerasParams:
    """A snapshot of a Keras cell's weights (detached copies) and activations.

    Call it as ``keras_params(keras.layers.GRU(4).cell)`` once the layer is built; here with a stand-in cell.

    Example::

        import types
        cell = types.SimpleNamespace(kernel=torch.ones(3, 4), recurrent_kernel=torch.ones(4, 4), activation=None)
        p = keras_params(cell)
        (p.kernel.shape, p.bias, p.activation(2.0)) == ((3, 4), None, 2.0)  # activation=None: linear
        assert p.kernel is not cell.kernel  # a copy: later training leaves it as it was
    """
    def get(v):
        return None if v is None else getattr(v, "value", v).detach().clone()
    ident = lambda t: t  # noqa: E731  Keras treats activation=None as linear
    return KerasParams(get(cell.kernel), get(cell.recurrent_kernel), get(getattr(cell, "bias", None)),
                       getattr(cell, "activation", None) or ident, getattr(cell, "recurrent_activation", None) or ident,
                       bool(getattr(cell, "reset_after", True)))
