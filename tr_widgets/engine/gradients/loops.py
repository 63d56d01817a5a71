"""The sequential part of the backward replay, one loop per cell kind, all with one signature.

``loop(fac, p, hb, pos, d_cn, order, off, step) -> (δc [T, B, H] or None, ∂L/∂c_0 or None)``: ``fac`` the
kind's factors of every step (``k`` is overwritten with δa), ``hb`` [T+1, B, Hout] the δh buffer (position t
at ``t + off``, the step before it at ``t + off + step``), ``pos`` its [T, B, Hout] view by time position,
``d_cn`` ∂L/∂c_n (LSTM), ``order`` the backward visiting order. Per step: one matmul with W_hh and a few
elementwise updates, in place in the preallocated buffers.
"""
from __future__ import annotations

import torch

from . import factors  # noqa: F401  (the examples build their factors with it)


def rnn_loop(fac, p, hb, pos, d_cn, order, off, step):
    """δa_t = φ'(a_t) ⊙ δh_t; δh_{t-1} += W_hhᵀ δa_t.

    Example::

        fwd = trace_recurrent(nn.RNN(3, 4), x)  # T = 6, B = 1, H = 4
        fac = factors.rnn_factors(lambda h: 1 - h * h)(fwd, 0, 0, 0, 6)
        hb = torch.zeros(7, 1, 4); hb[-1] = 1.0  # δh_5 = 1 arrives at the last step
        rnn_loop(fac, fwd.params[0][0], hb, hb[1:], None, range(5, -1, -1), 1, -1) == (None, None)
    """
    k = fac["k"]  # [T, B, H]: φ'(a_t), becomes δa_t
    for t in order:
        k[t].mul_(hb[t + off])  # δa_t = φ'(a_t) ⊙ δh_t
        hb[t + off + step].addmm_(k[t], p.w_hh)  # δh_{t-1} += W_hhᵀ δa_t
    return None, None


def gru_loop(fac, p, hb, pos, d_cn, order, off, step):
    """δh_{t-1} += z ⊙ δh + W_hhᵀ δ(W_hh h_{t-1} + b_hh); then the input side's δa_n.

    Example::

        fwd = trace_recurrent(nn.GRU(3, 4), x)
        fac = factors.gru_factors(fwd, 0, 0, 0, 6)
        hb = torch.zeros(7, 1, 4); hb[-1] = 1.0
        gru_loop(fac, fwd.params[0][0], hb, hb[1:], None, range(5, -1, -1), 1, -1) == (None, None)
    """
    k, z = fac["k"], fac["z"]  # [T, B, 3H], [T, B, H]
    kv = k.view(k.shape[0], k.shape[1], 3, -1)  # [T, B, 3, H]
    for t in order:
        dh = hb[t + off]  # [B, H], complete: its direct part plus what step t+1 sent
        kv[t].mul_(dh.unsqueeze(1))  # δ(W_hh h_{t-1} + b_hh) for r, z, n
        hb[t + off + step].addcmul_(dh, z[t]).addmm_(k[t], p.w_hh)  # δh_{t-1} += z ⊙ δh + W_hhᵀ δ(...)
    kv[..., 2, :] = pos * fac["dn"]  # the input side gets δa_n, not r ⊙ δa_n
    return None, None


def lstm_loop(fac, p, hb, pos, d_cn, order, off, step):
    """δc_t = f_{t+1} ⊙ δc_{t+1} + δm ⊙ o (1 − tanh² c); δa = k ⊙ [δc, δc, δc, δm];
    δh_{t-1} += W_hhᵀ δa.

    Example::

        fac = factors.lstm_factors(tr, 0, 0, 0, 6)
        hb = torch.zeros(7, 1, 4); hb[-1] = 1.0
        dc, dc0 = lstm_loop(fac, tr.params[0][0], hb, hb[1:], torch.zeros(1, 4), range(5, -1, -1), 1, -1)
        dc.shape == (6, 1, 4)
    """
    k, A, f = fac["k"], fac["A"], fac["f"]  # [T, B, 4H], [T, B, H], [T, B, H]
    T, B, H = A.shape
    kv, dc = k.view(T, B, 4, H), torch.empty_like(A)  # [T, B, 4, H], [T, B, H]
    dm_buf, dcm = A.new_empty(B, H), d_cn  # [B, H]; what arrives at the last step's c
    for t in order:
        dh = hb[t + off]  # [B, Hout], complete
        dm = dh if p.w_hr is None else torch.mm(dh, p.w_hr, out=dm_buf)  # δ(o ⊙ tanh c) [B, H]
        torch.addcmul(dcm, dm, A[t], out=dc[t])  # δc_t = f_{t+1} ⊙ δc_{t+1} + δm ⊙ o (1 - tanh² c)
        kv[t, :, :3].mul_(dc[t].unsqueeze(1))  # δa_i, δa_f, δa_g
        kv[t, :, 3].mul_(dm)  # δa_o
        hb[t + off + step].addmm_(k[t], p.w_hh)  # δh_{t-1} += W_hhᵀ δa_t
        dcm = f[t] * dc[t]  # what leaves towards c_{t-1}
    return dc, dcm
