"""The cell math: one pure function per recurrent cell kind, returning every intermediate.

The equations are torch's own (docs of nn.RNN, nn.LSTM, nn.GRU). Every function broadcasts over
leading dimensions, so the same code computes one step ``x [B, I]`` and, vectorised over time,
every step of a replay ``x [T, B, I]`` at once (h_{t-1} is known from the fused output).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

EQUATIONS = {
    "rnn_tanh": [r"h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})"],
    "rnn_relu": [r"h_t = \mathrm{ReLU}(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})"],
    "lstm": [
        r"i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi})",
        r"f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf})",
        r"g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg})",
        r"o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho})",
        r"c_t = f_t \odot c_{t-1} + i_t \odot g_t",
        r"h_t = o_t \odot \tanh(c_t)",
    ],
    "gru": [
        r"r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})",
        r"z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})",
        r"n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn}))",
        r"h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}",
    ],
}
# With proj_size > 0, torch's LSTM projects the hidden state.
LSTM_PROJ_EQUATION = r"h_t = W_{hr} (o_t \odot \tanh(c_t))"

GATE_NAMES = {"rnn_tanh": (), "rnn_relu": (), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}


@dataclass(eq=False)
class CellParams:
    """One layer-direction's weights, as torch stores them (gates stacked along dim 0)."""

    w_ih: torch.Tensor  # [G*H, I]
    w_hh: torch.Tensor  # [G*H, Hout]
    b_ih: torch.Tensor | None  # [G*H]
    b_hh: torch.Tensor | None  # [G*H]
    w_hr: torch.Tensor | None = None  # [Hout, H], LSTM proj_size only


def preactivation(x, h_prev, p: CellParams) -> torch.Tensor:
    """W_ih x + b_ih + W_hh h + b_hh, computed as the articles write it: one product W·[x, h] + b.

    One matmul over the concatenation is cheaper than two matmuls and an add when it runs over
    every step at once (replay); the sum is the same up to float rounding.
    """
    w = torch.cat([p.w_ih, p.w_hh], dim=1)  # [G*H, I + Hout]
    b = p.b_ih + p.b_hh if p.b_ih is not None else None  # [G*H]
    return F.linear(torch.cat([x, h_prev], dim=-1), w, b)  # [..., G*H]


def rnn_parts(kind: str, x, h_prev, p: CellParams) -> dict[str, torch.Tensor]:
    """Plain RNN: pre-activation ``a`` and ``h_t``."""
    a = preactivation(x, h_prev, p)  # [..., H]
    h = torch.tanh(a) if kind == "rnn_tanh" else torch.relu(a)
    return {"a": a, "h_t": h}


def lstm_gate_parts(x, h_prev, p: CellParams) -> dict[str, torch.Tensor]:
    """LSTM pre-activations ``a_i..a_o`` and gates ``i, f, g, o`` (everything but the cell state)."""
    pre = preactivation(x, h_prev, p)  # [..., 4H]
    a_i, a_f, a_g, a_o = pre.chunk(4, dim=-1)  # each [..., H]
    # One sigmoid over the contiguous block beats three over strided views; g's slot is unused.
    sig_i, sig_f, _, sig_o = torch.sigmoid(pre).chunk(4, dim=-1)  # each [..., H]
    return {"a_i": a_i, "a_f": a_f, "a_g": a_g, "a_o": a_o,
            "i": sig_i, "f": sig_f, "g": torch.tanh(a_g), "o": sig_o}


def lstm_output(o, c, p: CellParams):
    """h_t from the output gate and the cell state (projected when proj_size > 0)."""
    h = o * torch.tanh(c)
    return F.linear(h, p.w_hr) if p.w_hr is not None else h


def lstm_parts(x, h_prev, c_prev, p: CellParams) -> dict[str, torch.Tensor]:
    """One LSTM step: every intermediate, ``c_t`` and ``h_t``."""
    parts = lstm_gate_parts(x, h_prev, p)
    c = parts["f"] * c_prev + parts["i"] * parts["g"]
    return {**parts, "c_t": c, "h_t": lstm_output(parts["o"], c, p)}


def gru_parts(x, h_prev, p: CellParams) -> dict[str, torch.Tensor]:
    """One GRU step (or all steps at once): note r_t multiplies (W_hn h + b_hn), as torch defines it."""
    gi = F.linear(x, p.w_ih, p.b_ih).chunk(3, dim=-1)  # 3 x [..., H]
    gh = F.linear(h_prev, p.w_hh, p.b_hh).chunk(3, dim=-1)  # 3 x [..., H]
    a_r, a_z = gi[0] + gh[0], gi[1] + gh[1]
    r, z = torch.sigmoid(a_r), torch.sigmoid(a_z)
    a_n = gi[2] + r * gh[2]
    n = torch.tanh(a_n)
    h = (1 - z) * n + z * h_prev
    return {"a_r": a_r, "a_z": a_z, "hn": gh[2], "a_n": a_n, "r": r, "z": z, "n": n, "h_t": h}


def cell_state_scan(f: torch.Tensor, ig: torch.Tensor, c0: torch.Tensor, reverse: bool) -> torch.Tensor:
    """c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t for every t: the only recurrence replay cannot batch.

    f, ig: [T, B, H]; c0: [B, H]. One fused elementwise op per step (``addcmul``), no matmul.
    """
    c = torch.empty_like(f)  # [T, B, H]
    prev = c0
    steps = range(f.shape[0] - 1, -1, -1) if reverse else range(f.shape[0])
    for t in steps:
        prev = torch.addcmul(ig[t], f[t], prev, out=c[t])
    return c
