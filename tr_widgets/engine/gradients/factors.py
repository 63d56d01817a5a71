"""The local factors of backpropagation through time, for all steps at once, one set of functions per cell kind.

J_t = ∂s_t/∂s_{t-1} (s = h; (h, c) for an LSTM) is made of elementwise derivatives of torch's cell
equations that depend only on the forward trace (``*_factors``); what a step sends towards t-1 is J_tᵀ
applied to its gradient (``*_carry``); ``*_jacobian`` builds one J_t whole and ``*_pre`` one step's
δa (the vector W_hhᵀ multiplies). ``backward.py`` puts each kind's functions into its spec; nothing here
looks at a kind's name. δx means ∂L/∂x; m_t = o_t ⊙ tanh(c_t) (h_t = W_hr m_t with proj_size, else m_t).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def shifted_state(seq: torch.Tensor, first: torch.Tensor, lo: int, hi: int, reverse: bool) -> torch.Tensor:
    """The state each of the steps lo..hi-1 starts from (position t-1; t+1 in reverse), ``first`` at the edge.

    Example: ``shifted_state(tr.hidden(0, 0), tr.h0[0], 0, 6, False).shape == (6, 1, 4)  # h_0, h_1, …, h_4``
    """
    T = seq.shape[0]
    a, b = (lo + 1, hi + 1) if reverse else (lo - 1, hi - 1)
    inside = seq[max(a, 0):min(b, T)]  # [n or n-1, B, S]
    edge = first.unsqueeze(0)  # [1, B, S]
    if a < 0:
        return torch.cat([edge, inside])  # [n, B, S]
    return torch.cat([inside, edge]) if b > T else inside  # [n, B, S]


# -- plain RNN: k = φ'(a) ------------------------------------------------------------------------
def rnn_factors(derivative):
    """The factors of a plain RNN whose φ'(a) is ``derivative(h)`` (tanh: 1 − h², ReLU: torch's h > 0 rule).

    Example: ``rnn_factors(lambda h: 1 - h * h)(trace_recurrent(nn.RNN(3, 4), x), 0, 0, 0, 6)["k"].shape == (6, 1, 4)``
    """
    def factors(fwd, layer: int, direction: int, lo: int, hi: int) -> dict:
        h = fwd.hidden(layer, direction)[lo:hi]  # [n, B, H]
        return {"k": derivative(h)}
    return factors


def rnn_carry(fac: dict, p, dh: torch.Tensor, dc=None) -> dict:
    """δh_{t-1} = W_hhᵀ (φ'(a_t) ⊙ δh_t).

    Example::

        fwd = trace_recurrent(nn.RNN(3, 4), x)
        fac = rnn_factors(lambda h: 1 - h * h)(fwd, 0, 0, 0, 6)
        rnn_carry(fac, fwd.params[0][0], torch.ones(6, 1, 4))["h"].shape == (6, 1, 4)
    """
    return {"h": (fac["k"] * dh) @ p.w_hh}


def rnn_jacobian(fac: dict, p) -> torch.Tensor:
    """J_t = diag(φ'(a_t)) W_hh, ``[H, H]``.

    Example: ``rnn_jacobian({"k": torch.ones(4)}, trace_recurrent(nn.RNN(3, 4), x).params[0][0]).shape == (4, 4)``
    """
    return fac["k"][:, None] * p.w_hh  # [H, H]


def rnn_pre(k: torch.Tensor, p, dh: torch.Tensor, dc=None) -> torch.Tensor:
    """δa_t = φ'(a_t) ⊙ δh_t, ``[H]``.

    Example: ``rnn_pre(torch.ones(4), None, torch.ones(4)).tolist() == [1.0] * 4``
    """
    return k * dh


# -- LSTM: k = [g i(1-i), c_{t-1} f(1-f), i(1-g²), tanh(c) o(1-o)], δa = k ⊙ [δc, δc, δc, δm] ------------
def lstm_factors(fwd, layer: int, direction: int, lo: int, hi: int) -> dict:
    """``k`` [n, B, 4H]; ``A`` = o (1 − tanh² c) (δm → δc); ``f``.

    Example: ``lstm_factors(tr, 0, 0, 0, tr.seq_len)["f"].shape == (6, 1, 4)``
    """
    gates = {name: v[lo:hi] for name, v in fwd.gates(layer, direction).items()}  # each [n, B, H]
    i, f, g, o = gates["i"], gates["f"], gates["g"], gates["o"]
    c_all = fwd.cell(layer, direction)  # [T, B, H]
    first = fwd.c0[layer * fwd.num_directions + direction]  # [B, H]
    c, c_prev = c_all[lo:hi], shifted_state(c_all, first, lo, hi, direction == 1)  # [n, B, H] each
    tc = torch.tanh(c)
    k = torch.cat([g * (i - i * i), c_prev * (f - f * f), i * (1 - g * g), tc * (o - o * o)], -1)  # [n, B, 4H]
    return {"k": k, "A": o * (1 - tc * tc), "f": f}


def lstm_carry(fac: dict, p, dh: torch.Tensor, dc: torch.Tensor) -> dict:
    """``h`` [n, B, Hout]; ``c`` = f ⊙ δc; ``c_via_h`` (the part of δc_t that came through h_t).

    Example::

        lstm_carry(lstm_factors(tr, 0, 0, 0, 6), tr.params[0][0], torch.ones(6, 1, 4), torch.ones(6, 1, 4))["c"].shape == (6, 1, 4)
    """
    dm = dh @ p.w_hr if p.w_hr is not None else dh  # [n, B, H]
    da = fac["k"] * torch.cat([dc, dc, dc, dm], -1)  # [n, B, 4H]
    return {"h": da @ p.w_hh, "c": fac["f"] * dc, "c_via_h": dm * fac["A"]}


def lstm_jacobian(fac: dict, p) -> torch.Tensor:
    """J_t of (h, c), ``[Hout + H, Hout + H]``: blocks [[∂h/∂h, ∂h/∂c], [∂c/∂h, ∂c/∂c = diag(f_t)]].

    Example::

        lstm_jacobian({n: v[0, 0] for n, v in lstm_factors(tr, 0, 0, 2, 3).items()}, tr.params[0][0]).shape == (8, 8)
    """
    G, Hout = p.w_hh.shape
    H = G // 4
    rows = fac["k"].view(-1, H, 1) * p.w_hh.view(-1, H, Hout)  # [4, H, Hout]: diag(k_g) W_hg
    dc_dh = rows[:3].sum(0)  # [H, Hout]
    dm_dh = fac["A"][:, None] * dc_dh + rows[3]  # [H, Hout]
    dm_dc = torch.diag(fac["A"] * fac["f"])  # [H, H]
    proj = (lambda m: p.w_hr @ m) if p.w_hr is not None else (lambda m: m)  # [Hout, ·]
    top = torch.cat([proj(dm_dh), proj(dm_dc)], dim=1)  # [Hout, Hout + H]
    return torch.cat([top, torch.cat([dc_dh, torch.diag(fac["f"])], dim=1)])  # [Hout + H, Hout + H]


def lstm_pre(k: torch.Tensor, p, dh: torch.Tensor, dc: torch.Tensor) -> torch.Tensor:
    """δa_i, δa_f, δa_g, δa_o of one step, ``[4H]``.

    Example: ``lstm_pre(torch.ones(16), tr.params[0][0], torch.ones(4), torch.ones(4)).shape == (16,)``
    """
    dm = dh @ p.w_hr if p.w_hr is not None else dh  # [H]: δ(o ⊙ tanh c)
    return k * torch.cat([dc] * 3 + [dm])  # [4H]


# -- GRU: k = [dn hn r(1-r), (h_{t-1} - n) z(1-z), dn r], δ(W_hh h + b_hh) = k ⊙ [δh, δh, δh] ----------
def gru_factors(fwd, layer: int, direction: int, lo: int, hi: int) -> dict:
    """``k`` [n, B, 3H]; ``z`` (the leak); ``dn`` = (1 − z)(1 − n²) (δh → δa_n).

    Example: ``gru_factors(trace_recurrent(nn.GRU(3, 4), x), 0, 0, 0, 6)["z"].shape == (6, 1, 4)``
    """
    gates = {name: v[lo:hi] for name, v in fwd.gates(layer, direction).items()}  # each [n, B, H]
    r, z, n = gates["r"], gates["z"], gates["n"]
    p, H = fwd.params[layer][direction], fwd.hidden_size
    first = fwd.h0[layer * fwd.num_directions + direction]  # [B, H]
    h_prev = shifted_state(fwd.hidden(layer, direction), first, lo, hi, direction == 1)  # [n, B, H]
    hn = F.linear(h_prev, p.w_hh[2 * H:], None if p.b_hh is None else p.b_hh[2 * H:])  # W_hn h + b_hn
    dn = (1 - z) * (1 - n * n)
    k = torch.cat([dn * hn * (r - r * r), (h_prev - n) * (z - z * z), dn * r], -1)  # [n, B, 3H]
    return {"k": k, "z": z, "dn": dn}


def gru_carry(fac: dict, p, dh: torch.Tensor, dc=None) -> dict:
    """δh_{t-1} = z ⊙ δh_t + W_hhᵀ δ(W_hh h + b_hh).

    Example::

        fwd = trace_recurrent(nn.GRU(3, 4), x)
        gru_carry(gru_factors(fwd, 0, 0, 0, 6), fwd.params[0][0], torch.ones(6, 1, 4))["h"].shape == (6, 1, 4)
    """
    dgh = fac["k"] * torch.cat([dh, dh, dh], -1)  # [n, B, 3H]
    return {"h": torch.addcmul(dgh @ p.w_hh, dh, fac["z"])}


def gru_jacobian(fac: dict, p) -> torch.Tensor:
    """J_t = diag(z_t) + Σ_g diag(k_g) W_hg, ``[H, H]``.

    Example::

        fwd = trace_recurrent(nn.GRU(3, 4), x)
        fac_t = {n: v[0, 0] for n, v in gru_factors(fwd, 0, 0, 2, 3).items()}
        gru_jacobian(fac_t, fwd.params[0][0]).shape == (4, 4)
    """
    G, H = p.w_hh.shape
    rows = fac["k"].view(-1, G // 3, 1) * p.w_hh.view(-1, G // 3, H)  # [3, H, H]: diag(k_g) W_hg
    return torch.diag(fac["z"]) + rows.sum(0)  # [H, H]


def gru_pre(k: torch.Tensor, p, dh: torch.Tensor, dc=None) -> torch.Tensor:
    """δ(W_hh h_{t-1} + b_hh) for r, z, n, ``[3H]``.

    Example::

        gru_pre(torch.ones(12), None, torch.ones(4)).shape == (12,)
    """
    return k * torch.cat([dh] * 3)  # [3H]
