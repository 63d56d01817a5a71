"""One spec per recurrent cell kind: its modules, gates, torch's equations, the flow a view draws, and
the math of one step and of every step at once (replay).

The equations are torch's own (docs of nn.RNN, nn.LSTM, nn.GRU). Every function broadcasts over leading
dimensions, so the same code computes one step ``x [B, I]`` and, vectorised over time, every step of a
replay ``x [T, B, I]`` (h_{t-1} is known from the fused output). Every layer above the engine iterates
over a kind's fields instead of branching on its name: a new kind is one more entry in :data:`KINDS`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .keras_cells import KERAS_KINDS
from .spec import CellKind, CellParams, Equation, shifted, split_parts  # noqa: F401  (re-exported)


# -- plain RNN -------------------------------------------------------------------------------
def _rnn(act):
    def step(x, h_prev, c_prev, p: CellParams) -> dict[str, torch.Tensor]:
        parts = split_parts(x, h_prev, p, ("a",))
        a = parts["x_part_a"] + parts["h_part_a"]  # [..., H]
        return {**parts, "a": a, "h_t": act(a)}

    def replay(x, h, h0, p: CellParams, reverse: bool) -> dict[str, torch.Tensor]:
        a = F.linear(x, p.w_ih, p.b_ih).add_(F.linear(shifted(h, h0, reverse), p.w_hh, p.b_hh))  # [T, B, H]
        return {"a": a, "h_t": act(a)}
    return step, replay


# -- LSTM ------------------------------------------------------------------------------------
def lstm_activate_(pre: torch.Tensor) -> dict[str, torch.Tensor]:
    """Gates i, f, g, o from the pre-activations ``[..., 4H]``, activated in place (views of ``pre``).

    One sigmoid over the contiguous i|f block beats two over strided views.

    Example: ``float(lstm_activate_(torch.zeros(1, 8))["f"][0, 0]) == 0.5  # σ(0); g = tanh(0) = 0``
    """
    G = pre.shape[-1]
    i_f, g, o = pre[..., :G // 2], pre[..., G // 2:3 * G // 4], pre[..., 3 * G // 4:]
    i_f.sigmoid_(), g.tanh_(), o.sigmoid_()
    i, f = i_f.chunk(2, dim=-1)
    return {"i": i, "f": f, "g": g, "o": o}


def lstm_output(o, c, p: CellParams):
    """h_t from the output gate and the cell state (projected when proj_size > 0).

    Example: ``float(lstm_output(torch.ones(1), torch.zeros(1), tr.params[0][0])) == 0.0  # o · tanh(0)``
    """
    h = o * torch.tanh(c)
    return F.linear(h, p.w_hr) if p.w_hr is not None else h


def _lstm_step(x, h_prev, c_prev, p: CellParams) -> dict[str, torch.Tensor]:
    parts = split_parts(x, h_prev, p, ("i", "f", "g", "o"))
    pre = torch.cat([parts[f"x_part_{n}"] + parts[f"h_part_{n}"] for n in "ifgo"], dim=-1)  # [..., 4H]
    pres = dict(zip(("a_i", "a_f", "a_g", "a_o"), pre.chunk(4, dim=-1)))
    gates = lstm_activate_(pre.clone())
    c = gates["f"] * c_prev + gates["i"] * gates["g"]
    return {**parts, **pres, **gates, "c_t": c, "h_t": lstm_output(gates["o"], c, p)}


def _lstm_replay(x, h, h0, p: CellParams, reverse: bool) -> dict[str, torch.Tensor]:
    """Every gate at every step, touching memory as little as possible: the pre-activations
    W_ih x_t + b + W_hh h_{t-1} go into one buffer through two GEMMs (no [x, h_{t-1}] copy), and the
    activations are applied in place, so i, f, g, o are views of that buffer."""
    pre = F.linear(x, p.w_ih, p.b_ih + p.b_hh if p.b_ih is not None else None)  # [T, B, 4H]
    G = pre.shape[-1]
    later, earlier = (pre[:-1], h[1:]) if reverse else (pre[1:], h[:-1])  # [T-1, B, 4H], [T-1, B, Hout]
    later.view(-1, G).addmm_(earlier.reshape(-1, h.shape[-1]), p.w_hh.t())
    (pre[-1] if reverse else pre[0]).addmm_(h0, p.w_hh.t())  # the first step sees h_0
    return lstm_activate_(pre)


# -- GRU -------------------------------------------------------------------------------------
def _gru_math(x, h_prev, p: CellParams, keep_parts: bool) -> dict[str, torch.Tensor]:
    """torch's GRU: note r_t multiplies (W_hn h + b_hn), not h."""
    parts = split_parts(x, h_prev, p, ("r", "z", "n"))
    a_r, a_z = parts["x_part_r"] + parts["h_part_r"], parts["x_part_z"] + parts["h_part_z"]
    r, z = torch.sigmoid(a_r), torch.sigmoid(a_z)
    a_n = parts["x_part_n"] + r * parts["h_part_n"]
    n = torch.tanh(a_n)
    h = (1 - z) * n + z * h_prev
    out = {"a_r": a_r, "a_z": a_z, "hn": parts["h_part_n"], "a_n": a_n, "r": r, "z": z, "n": n, "h_t": h}
    return {**parts, **out} if keep_parts else out  # hn = W_hn h + b_hn, the term r_t gates


def _gru_step(x, h_prev, c_prev, p):
    return _gru_math(x, h_prev, p, keep_parts=True)


def _gru_replay(x, h, h0, p, reverse):
    return _gru_math(x, shifted(h, h0, reverse), p, keep_parts=False)


# -- the table -------------------------------------------------------------------------------
def _gate(lhs: str, latex: str, act: str, g: str) -> Equation:
    return Equation(lhs, latex, f"{act}({{x_part_{g}}} + {{h_part_{g}:p}}) = {act}({{a_{g}}}) = {{{g}}}")


def _rnn_kind(name: str, nonlinearity: str, act, latex_act: str, shown: str) -> CellKind:
    step, replay = _rnn(act)
    return CellKind(
        name, lambda m: isinstance(m, (nn.RNN, nn.RNNCell)) and m.nonlinearity == nonlinearity, (),
        (Equation("h_t", rf"h_t = {latex_act}(W_{{ih}} x_t + b_{{ih}} + W_{{hh}} h_{{t-1}} + b_{{hh}})",
                  f"{shown}({{x_part_a}} + {{h_part_a:p}}) = {shown}({{a}}) = {{h_t}}"),),
        (("x_t", "h_prev"), ("a",), ("h_t",)), False, step, replay)


LSTM_H = Equation("h_t", r"h_t = o_t \odot \tanh(c_t)", "{o}·tanh({c_t:p}) = {h_t}")
# With proj_size > 0, torch's LSTM projects the hidden state: h_t is a full mix, not one unit's product.
LSTM_PROJ_H = Equation("h_t", r"h_t = W_{hr} (o_t \odot \tanh(c_t))", "W_hr · (o ⊙ tanh(c))  →  h_t[{j}] = {h_t}")

KINDS: dict[str, CellKind] = {k.name: k for k in (
    _rnn_kind("rnn_tanh", "tanh", torch.tanh, r"\tanh", "tanh"),
    _rnn_kind("rnn_relu", "relu", torch.relu, r"\mathrm{ReLU}", "ReLU"),
    CellKind("lstm", lambda m: isinstance(m, (nn.LSTM, nn.LSTMCell)), ("i", "f", "g", "o"), (
        _gate("i_t", r"i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi})", "σ", "i"),
        _gate("f_t", r"f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf})", "σ", "f"),
        _gate("g_t", r"g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg})", "tanh", "g"),
        _gate("o_t", r"o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho})", "σ", "o"),
        Equation("c_t", r"c_t = f_t \odot c_{t-1} + i_t \odot g_t", "{f}·{c_prev:p} + {i}·{g:p} = {c_t}"),
        LSTM_H), (("x_t", "h_prev", "c_prev"), ("i", "f", "g", "o"), ("c_t",), ("h_t",)), True,
        _lstm_step, _lstm_replay, state="(h, c)"),
    CellKind("gru", lambda m: isinstance(m, (nn.GRU, nn.GRUCell)), ("r", "z", "n"), (
        _gate("r_t", r"r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})", "σ", "r"),
        _gate("z_t", r"z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})", "σ", "z"),
        Equation("n_t", r"n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn}))",
                 "tanh({x_part_n} + {r:p}·{h_part_n:p}) = tanh({a_n}) = {n}"),
        Equation("h_t", r"h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}",
                 "(1 - {z})·{n:p} + {z}·{h_prev:p} = {h_t}")),
        (("x_t", "h_prev"), ("r", "z"), ("n",), ("h_t",)), False, _gru_step, _gru_replay),
) + KERAS_KINDS}

FULL = (nn.RNN, nn.LSTM, nn.GRU)
CELLS = (nn.RNNCell, nn.LSTMCell, nn.GRUCell)
SUPPORTED = "nn.RNN, nn.LSTM, nn.GRU, nn.RNNCell, nn.LSTMCell, nn.GRUCell"


def kind_of(module: nn.Module) -> CellKind:
    """The spec of a recurrent module. Example: ``kind_of(nn.GRU(3, 4)).gates == ('r', 'z', 'n')``"""
    return next(k for k in KINDS.values() if k.match(module))


def equations(kind: CellKind, projected: bool) -> tuple[Equation, ...]:
    """The kind's equations; a projected LSTM's last one is h_t = W_hr (o_t ⊙ tanh(c_t)).

    Example: ``"W_{hr}" in equations(KINDS["lstm"], projected=True)[-1].latex  # and not in projected=False's``
    """
    return kind.equations[:-1] + (LSTM_PROJ_H,) if projected else kind.equations
