"""The local factors of backpropagation through time, for all steps at once.

J_t = ∂s_t/∂s_{t-1} (s = h; (h, c) for an LSTM) is made of elementwise derivatives of torch's cell
equations that depend only on the forward trace (:func:`derivative_factors`); what a step sends towards
t-1 is J_tᵀ applied to its gradient (:func:`carry_back`), and :func:`step_jacobian` builds one J_t whole.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from ..recurrent import RecurrentTrace

# δx means ∂L/∂x; m_t = o_t ⊙ tanh(c_t) (h_t = W_hr m_t with proj_size, else h_t = m_t).
BACKWARD_EQUATIONS = {
    "rnn": [r"\delta a_t = \delta h_t \odot \phi'(a_t)",
            r"\delta h_{t-1} \mathrel{+}= W_{hh}^\top \delta a_t"],
    "lstm": [r"\delta c_t = f_{t+1} \odot \delta c_{t+1} + \delta m_t \odot o_t \odot (1 - \tanh^2 c_t)",
             r"\delta c_{t-1} \mathrel{+}= f_t \odot \delta c_t",
             r"\delta h_{t-1} \mathrel{+}= W_{hh}^\top \delta a_t"],
    "gru": [r"\delta h_{t-1} \mathrel{+}= z_t \odot \delta h_t + W_{hh}^\top \delta(W_{hh} h_{t-1} + b_{hh})"],
}
PROJ_EQUATION = r"\delta m_t = W_{hr}^\top \delta h_t"  # LSTM with proj_size; else δm_t = δh_t
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}  # pre-activation blocks per step
# The elementwise local factor of each kind (see factors()): its name, and its key in derivative_factors.
DIAGONAL = {"rnn_tanh": ("phi_prime", "k"), "rnn_relu": ("phi_prime", "k"), "lstm": ("f", "f"), "gru": ("z", "z")}


def shifted_state(seq: torch.Tensor, first: torch.Tensor, lo: int, hi: int, reverse: bool) -> torch.Tensor:
    """The state each of the steps lo..hi-1 starts from (position t-1; t+1 in reverse), ``first`` at the edge."""
    T = seq.shape[0]
    a, b = (lo + 1, hi + 1) if reverse else (lo - 1, hi - 1)
    inside = seq[max(a, 0):min(b, T)]  # [n or n-1, B, S]
    edge = first.unsqueeze(0)  # [1, B, S]
    if a < 0:
        return torch.cat([edge, inside])  # [n, B, S]
    return torch.cat([inside, edge]) if b > T else inside  # [n, B, S]


def derivative_factors(fwd: RecurrentTrace, layer: int, direction: int, lo: int = 0, hi: int | None = None):
    """The elementwise derivatives of steps lo..hi-1, at once; ``k`` is fresh (build.py writes into it).

    RNN: k = φ'(a). LSTM: k = [g i(1-i), c_{t-1} f(1-f), i(1-g²), tanh(c) o(1-o)], δa = k ⊙ [δc, δc, δc, δm];
    A = o (1 - tanh² c) (δm → δc); f. GRU: k = [dn hn r(1-r), (h_{t-1} - n) z(1-z), dn r],
    δ(W_hh h + b_hh) = k ⊙ [δh, δh, δh]; dn = (1-z)(1-n²) (δh → δa_n); z.

    Example::

        fac = derivative_factors(trace_recurrent(nn.LSTM(3, 4), torch.randn(6, 2, 3)), 0, 0)
        fac["k"].shape, fac["f"].shape    # [6, 2, 16], [6, 2, 4]
    """
    hi = fwd.seq_len if hi is None else hi
    kind, rev, idx = fwd.kind, direction == 1, layer * fwd.num_directions + direction
    if kind.startswith("rnn"):
        h = fwd.hidden(layer, direction)[lo:hi]  # [n, B, H]
        return {"k": 1 - h * h if kind == "rnn_tanh" else (h > 0).to(h.dtype)}  # relu: torch's h > 0 rule
    gates = {name: v[lo:hi] for name, v in fwd.gates(layer, direction).items()}  # each [n, B, H]
    if kind == "lstm":
        i, f, g, o = gates["i"], gates["f"], gates["g"], gates["o"]
        c_all = fwd.cell(layer, direction)  # [T, B, H]
        c, c_prev = c_all[lo:hi], shifted_state(c_all, fwd.c0[idx], lo, hi, rev)  # [n, B, H] each
        tc = torch.tanh(c)
        k = torch.cat([g * (i - i * i), c_prev * (f - f * f), i * (1 - g * g), tc * (o - o * o)], -1)  # [n, B, 4H]
        return {"k": k, "A": o * (1 - tc * tc), "f": f}
    r, z, n = gates["r"], gates["z"], gates["n"]
    p, H = fwd.params[layer][direction], fwd.hidden_size
    h_prev = shifted_state(fwd.hidden(layer, direction), fwd.h0[idx], lo, hi, rev)  # [n, B, H]
    hn = F.linear(h_prev, p.w_hh[2 * H:], None if p.b_hh is None else p.b_hh[2 * H:])  # W_hn h + b_hn
    dn = (1 - z) * (1 - n * n)
    k = torch.cat([dn * hn * (r - r * r), (h_prev - n) * (z - z * z), dn * r], -1)  # [n, B, 3H]
    return {"k": k, "z": z, "dn": dn}


def carry_back(kind: str, fac: dict, p, dh: torch.Tensor, dc: torch.Tensor | None = None) -> dict:
    """What steps send towards t-1, J_tᵀ applied to their gradients (dh [n, B, Hout], dc [n, B, H]):
    ``h`` [n, B, Hout]; LSTM also ``c`` = f ⊙ δc and ``c_via_h`` (the part of δc_t that came through h_t)."""
    if kind == "lstm":
        dm = dh @ p.w_hr if p.w_hr is not None else dh  # [n, B, H]
        da = fac["k"] * torch.cat([dc, dc, dc, dm], -1)  # [n, B, 4H]
        return {"h": da @ p.w_hh, "c": fac["f"] * dc, "c_via_h": dm * fac["A"]}
    if kind == "gru":
        dgh = fac["k"] * torch.cat([dh, dh, dh], -1)  # [n, B, 3H]
        return {"h": torch.addcmul(dgh @ p.w_hh, dh, fac["z"])}
    return {"h": (fac["k"] * dh) @ p.w_hh}


def step_jacobian(kind: str, fac: dict, p) -> torch.Tensor:
    """J_t = ∂s_t/∂s_{t-1} of one batch item (factors of shape [H] / [G*H]); s = h, or (h, c) for an
    LSTM, so J is [Hout + H, Hout + H] with blocks [[∂h/∂h, ∂h/∂c], [∂c/∂h, ∂c/∂c = diag(f_t)]]."""
    if kind.startswith("rnn"):
        return fac["k"][:, None] * p.w_hh  # [H, H]: diag(φ') W_hh
    G, Hout = p.w_hh.shape
    H = G // GATES[kind]
    rows = fac["k"].view(-1, H, 1) * p.w_hh.view(-1, H, Hout)  # [G/H, H, Hout]: diag(k_g) W_hg
    if kind == "gru":
        return torch.diag(fac["z"]) + rows.sum(0)  # [H, H]
    dc_dh = rows[:3].sum(0)  # [H, Hout]
    dm_dh = fac["A"][:, None] * dc_dh + rows[3]  # [H, Hout]
    dm_dc = torch.diag(fac["A"] * fac["f"])  # [H, H]
    proj = (lambda m: p.w_hr @ m) if p.w_hr is not None else (lambda m: m)  # [Hout, ·]
    top = torch.cat([proj(dm_dh), proj(dm_dc)], dim=1)  # [Hout, Hout + H]
    return torch.cat([top, torch.cat([dc_dh, torch.diag(fac["f"])], dim=1)])  # [Hout + H, Hout + H]
