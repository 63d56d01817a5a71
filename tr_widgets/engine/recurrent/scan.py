"""A diagonal linear scan, h_t = a_t ⊙ h_{t-1} + b_t for every t, in about 2√T Python steps.

Any recurrence whose state update is elementwise-linear in the previous state takes this form: the LSTM
cell state (a = f_t, b = i_t ⊙ g_t), and the diagonal state-space updates of Mamba-style mixers
(a = Ā_t, b = B̄_t x_t). Replay knows a_t and b_t for every step at once; only this scan is sequential.
"""
from __future__ import annotations

import torch


def linear_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor, reverse: bool = False,
                block: int | None = None) -> torch.Tensor:
    """Every h_t of h_t = a_t ⊙ h_{t-1} + b_t, ``[T, *state]``, from ``a``, ``b`` ``[T, *state]`` and ``h0``.

    A blocked scan: time is cut into N blocks of K steps; a loop over K scans every block at once from
    zero (also keeping the running product of a), a loop over N carries the state across blocks, and one
    vectorised fix-up adds each block's carried-in state. That is K + N ≈ 2√T Python steps instead of T,
    and no division (running products only underflow to 0), so it is as exact as the sequential loop up to
    float rounding. ``reverse`` runs from the last step to the first (h_{t+1} feeds h_t).

    Example::

        a, b = torch.full((5, 1), 0.5), torch.ones(5, 1)
        linear_scan(a, b, torch.zeros(1))[:, 0]      # tensor([1.0, 1.5, 1.75, 1.875, 1.9375])
    """
    if reverse:
        return linear_scan(a.flip(0), b.flip(0), h0, False, block).flip(0)
    T = a.shape[0]
    K = block or max(1, int(T ** 0.5))
    N = -(-T // K)
    pad = N * K - T
    if pad:  # padded steps keep the state: a = 1, b = 0
        a = torch.cat([a, a.new_ones(pad, *a.shape[1:])])
        b = torch.cat([b, b.new_zeros(pad, *b.shape[1:])])
    a, b = a.view(N, K, *a.shape[1:]), b.view(N, K, *b.shape[1:])  # [N, K, *state]
    local, prod = torch.empty_like(b), torch.empty_like(a)  # [N, K, *state]
    local[:, 0], prod[:, 0] = b[:, 0], a[:, 0]
    for k in range(1, K):  # every block at once, starting from h = 0
        torch.addcmul(b[:, k], a[:, k], local[:, k - 1], out=local[:, k])
        torch.mul(a[:, k], prod[:, k - 1], out=prod[:, k])
    carry = torch.empty_like(h0.expand(N, *h0.shape))  # [N, *state] state entering each block
    carry[0] = h0
    for n in range(1, N):  # across blocks: h at the end of block n-1
        torch.addcmul(local[n - 1, -1], prod[n - 1, -1], carry[n - 1], out=carry[n])
    h = local.addcmul_(prod, carry[:, None])  # [N, K, *state]
    return h.view(N * K, *h.shape[2:])[:T]
