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


def lstm_replay_gates(x, h, h0, p: CellParams, reverse: bool) -> dict[str, torch.Tensor]:
    """Every LSTM gate at every step from the fused run's hidden sequence: ``lstm_gate_parts``
    vectorised over time, arranged to touch memory as little as possible.

    x: [T, B, I]; h: [T, B, Hout] (the module's output); h0: [B, Hout]. The pre-activations
    W_ih x_t + b + W_hh h_{t-1} go into one buffer through two GEMMs (no concatenated [x, h_{t-1}]
    copy), and the activations are applied in place, so i, f, g, o are views of that buffer.
    """
    pre = F.linear(x, p.w_ih, p.b_ih + p.b_hh if p.b_ih is not None else None)  # [T, B, 4H]
    G = pre.shape[-1]
    # Step t sees h_{t-1}: the output one step earlier (one step later for the reverse direction).
    later, earlier = (pre[:-1], h[1:]) if reverse else (pre[1:], h[:-1])  # [T-1, B, 4H], [T-1, B, Hout]
    later.view(-1, G).addmm_(earlier.reshape(-1, h.shape[-1]), p.w_hh.t())
    (pre[-1] if reverse else pre[0]).addmm_(h0, p.w_hh.t())  # the first step sees h_0
    i_f, g, o = pre[..., :G // 2], pre[..., G // 2:3 * G // 4], pre[..., 3 * G // 4:]
    i_f.sigmoid_(), g.tanh_(), o.sigmoid_()
    i, f = i_f.chunk(2, dim=-1)
    return {"i": i, "f": f, "g": g, "o": o}


def cell_state_scan(f: torch.Tensor, ig: torch.Tensor, c0: torch.Tensor, reverse: bool,
                    block: int | None = None) -> torch.Tensor:
    """c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t for every t: the only recurrence replay cannot batch.

    f, ig: [T, B, H]; c0: [B, H]. A blocked scan: time is cut into N blocks of K steps; a loop over
    K scans every block at once from zero (also keeping the running product of f), a loop over N
    carries the state across blocks, and one vectorised fix-up adds each block's carried-in state.
    That is K + N ≈ 2√T Python steps instead of T, and no division (running products of f ∈ (0, 1)
    only underflow to 0), so it is as exact as the sequential loop up to float rounding.
    """
    if reverse:
        return cell_state_scan(f.flip(0), ig.flip(0), c0, False, block).flip(0)
    T = f.shape[0]
    K = block or max(1, int(T ** 0.5))
    N = -(-T // K)
    pad = N * K - T
    if pad:  # padded steps keep the state: f = 1, ig = 0
        f = torch.cat([f, f.new_ones(pad, *f.shape[1:])])
        ig = torch.cat([ig, ig.new_zeros(pad, *ig.shape[1:])])
    f, ig = f.view(N, K, *f.shape[1:]), ig.view(N, K, *ig.shape[1:])  # [N, K, B, H]
    local, prod = torch.empty_like(ig), torch.empty_like(f)  # [N, K, B, H]
    local[:, 0], prod[:, 0] = ig[:, 0], f[:, 0]
    for k in range(1, K):  # every block at once, starting from c = 0
        torch.addcmul(ig[:, k], f[:, k], local[:, k - 1], out=local[:, k])
        torch.mul(f[:, k], prod[:, k - 1], out=prod[:, k])
    carry = torch.empty_like(c0.expand(N, *c0.shape))  # [N, B, H] state entering each block
    carry[0] = c0
    for n in range(1, N):  # across blocks: c at the end of block n-1
        torch.addcmul(local[n - 1, -1], prod[n - 1, -1], carry[n - 1], out=carry[n])
    c = local.addcmul_(prod, carry[:, None])  # [N, K, B, H]
    return c.view(N * K, *c.shape[2:])[:T]
