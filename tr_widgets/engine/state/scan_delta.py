"""The gated delta rule (Gated DeltaNet: Yang, Kautz & Hatamizadeh 2024), written plainly in torch.

Per head, the state S [d_k, d_v] is a fast-weight memory from keys to values. Each step decays it,
reads what it predicts for the key, and writes back only the correction (the delta rule):

    S ← exp(g_t) S;   kv_mem = Sᵀ k_t;   δ_t = β_t (v_t − kv_mem);   S ← S + k_t δ_tᵀ;   o_t = Sᵀ q_t

i.e. ``S_t = exp(g_t) (I − β_t k_t k_tᵀ) S_{t-1} + β_t k_t v_tᵀ``. The operations and their order follow
transformers' ``torch_recurrent_gated_delta_rule`` (q, k already L2-normalised, q scaled by 1/√d_k).
Time is dim 1 (``[b, T, H, d]``); the leading dim is any batch, e.g. batch × segments.
"""
from __future__ import annotations

import torch


def l2norm(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """``x / ‖x‖`` over the last dim, as the model normalises q and k (in float32).

    Example::

        k = l2norm(k.float())
    """
    return x * torch.rsqrt((x * x).sum(dim=-1, keepdim=True) + eps)


def delta_step(S, q, k, v, g, beta):
    """One step on [b, H, ...] slices: ``(S [b, H, dk, dv], o [b, H, dv], parts)``.

    Example::

        q, k = l2norm(torch.randn(1, 2, 4)), l2norm(torch.randn(1, 2, 4))
        v, g, beta = torch.randn(1, 2, 3), torch.zeros(1, 2), torch.ones(1, 2)
        S, o, parts = delta_step(None, q, k, v, g, beta)
        parts["delta"].tolist() == v.tolist()    # an empty memory predicts 0: the token writes all of β v
    """
    if S is None:
        S = torch.zeros(*k.shape, v.shape[-1], dtype=torch.promote_types(torch.float32, v.dtype), device=k.device)
    S = S * g.exp()[..., None, None]
    kv_mem = (S * k[..., None]).sum(dim=-2)  # [b, H, dv]
    delta = (v - kv_mem) * beta[..., None]  # [b, H, dv]
    S = S + k[..., None] * delta[..., None, :]  # [b, H, dk, dv]
    o = (S * q[..., None]).sum(dim=-2)  # [b, H, dv]
    parts = {"q": q, "k": k, "v": v, "g": g, "decay": g.exp(), "beta": beta, "kv_mem": kv_mem, "delta": delta, "o": o}
    return S, o, parts


def delta_run(S, q, k, v, g, beta, keep: bool = True):
    """The state over dim 1 (q, k [b, K, H, dk]; v [b, K, H, dv]; g, beta [b, K, H]): ``(S_last, all or None)``.

    Each step works in one of two small buffers that stay in cache (decay, read, rank-1 update, in place), and
    only its result is copied out: the kept states [b, K, H, dk, dv] are written once, never re-read (three
    passes over that memory cost ~1.5× more than the step's own work).

    Example::

        k, v = l2norm(torch.randn(1, 5, 2, 4)), torch.randn(1, 5, 2, 3)
        g, beta = -torch.rand(1, 5, 2), torch.rand(1, 5, 2)
        S, states = delta_run(None, k, k, v, g, beta)
        states.shape == (1, 5, 2, 4, 3)     # [b, K, H, dk, dv]
        S.tolist() == states[:, -1].tolist()
    """
    dtype = torch.promote_types(torch.float32, v.dtype)  # the model runs the rule in float32
    S = torch.zeros(k.shape[0], *k.shape[2:], v.shape[-1], dtype=dtype, device=k.device) if S is None else S.to(dtype)
    out = torch.empty((k.shape[0], k.shape[1], *S.shape[1:]), dtype=dtype, device=S.device) if keep else None
    decay = g.exp()[..., None, None]  # [b, K, H, 1, 1]
    buffers = (torch.empty_like(S), torch.empty_like(S))  # ping-pong: S of step t-1 is read while t is written
    for t in range(k.shape[1]):
        new = buffers[t % 2]
        torch.mul(S, decay[:, t], out=new)
        kv_mem = k[:, t, :, None, :] @ new  # [b, H, 1, dk] @ [b, H, dk, dv] -> [b, H, 1, dv]
        delta = (v[:, t, :, None, :] - kv_mem) * beta[:, t, :, None, None]  # [b, H, 1, dv]
        S = new.addcmul_(k[:, t, ..., None], delta)  # + k δᵀ: [b, H, dk, 1] * [b, H, 1, dv]
        if keep:
            out[:, t] = S
    return S, out


def delta_readout(states, q):
    """``o_t = S_tᵀ q_t``: states [b, T, H, dk, dv], q [b, T, H, dk] -> [b, T, H, dv].

    Example::

        states, q = torch.randn(1, 5, 2, 4, 3), torch.randn(1, 5, 2, 4)
        o = delta_readout(states, q)
        o.shape == (1, 5, 2, 3)
        assert torch.allclose(o[0, 1, 0], states[0, 1, 0].T @ q[0, 1, 0], atol=1e-6)    # o_t = S_tᵀ q_t
    """
    return (q[..., None, :].to(states.dtype) @ states).squeeze(-2)  # [.., 1, dk] @ [.., dk, dv]: no [.., dk, dv] temporary


def delta_scan(q, k, v, g, beta, S0=None):
    """The whole gated delta rule, plainly: ``(o [b, T, H, dv], states [b, T, H, dk, dv])``.

    Example::

        q, k = l2norm(torch.randn(1, 5, 2, 4)) / 4 ** 0.5, l2norm(torch.randn(1, 5, 2, 4))
        v, g, beta = torch.randn(1, 5, 2, 3), -torch.rand(1, 5, 2), torch.sigmoid(torch.randn(1, 5, 2))
        o, states = delta_scan(q, k, v, g, beta)
        S, o0, _ = delta_step(None, q[:, 0], k[:, 0], v[:, 0], g[:, 0], beta[:, 0])
        assert torch.allclose(o[:, 0], o0, atol=1e-6) and torch.allclose(states[:, 0], S, atol=1e-6)
    """
    _, states = delta_run(S0, q, k, v, g, beta)
    return delta_readout(states, q), states


def delta_segment_ends(S0, k, v, g, beta, every: int):
    """The state after every ``every`` steps without a loop over time (S0 [b, H, dk, dv]; k, v, g, beta as in
    :func:`delta_run`): per segment, the UT transform of the chunked algorithm (DeltaNet, Yang et al. 2024,
    §3) condenses its delta updates into matmuls; a loop over the T/every segments chains them.
    Returns [T // every + 1, b, H, dk, dv] (entry s: after s·every steps).

    Example::

        k, v = l2norm(torch.randn(1, 16, 2, 4)), torch.randn(1, 16, 2, 4)
        g, beta = -torch.rand(1, 16, 2), torch.rand(1, 16, 2)
        ends = delta_segment_ends(torch.zeros(1, 2, 4, 4), k, v, g, beta, every=8)    # [3, b, H, dk, dv]
        _, states = delta_run(None, k, k, v, g, beta)
        assert torch.allclose(ends[2], states[:, 15], atol=1e-4)    # after 16 steps, as the step-by-step loop gives it
    """
    b, T, H, dk = k.shape
    S_n, K = T // every, every

    def fold(x):  # [b, T, H, ...] -> [b, H, S, K, ...] (the tail past S·K needs no checkpoint)
        x = x[:, : S_n * K].reshape(b, S_n, K, *x.shape[2:])
        return x.permute(0, 3, 1, 2, *range(4, x.dim())).contiguous()  # once, not in every matmul below

    k, v, g, beta = fold(k), fold(v), fold(g), fold(beta)  # [b, H, S, K, d] / [b, H, S, K]
    cum = g.cumsum(dim=-1)  # [b, H, S, K]: log of the decay from the segment start to each step
    pair = (cum[..., :, None] - cum[..., None, :]).masked_fill(
        torch.ones(K, K, dtype=torch.bool, device=k.device).triu(1), float("-inf")).exp()  # [b, H, S, K, K]
    k_beta = k * beta[..., None]
    system = (k_beta @ k.transpose(-1, -2)) * pair  # [b, H, S, K, K], strictly lower part used below
    system = system.tril(-1) + torch.eye(K, dtype=system.dtype, device=system.device)
    new_values = torch.linalg.solve_triangular(system, v * beta[..., None], upper=False, unitriangular=True)
    k_cumdecay = torch.linalg.solve_triangular(system, k_beta * cum.exp()[..., None], upper=False, unitriangular=True)
    k_end = k * (cum[..., -1:] - cum).exp()[..., None]  # [b, H, S, K, dk]: each key decayed to the segment end
    seg_decay = cum[..., -1].exp()[..., None, None]  # [b, H, S, 1, 1]
    S = S0.to(new_values.dtype)
    out = [S]
    for s in range(S_n):
        v_new = new_values[:, :, s] - k_cumdecay[:, :, s] @ S  # [b, H, K, dv]: corrections given the old state
        S = S * seg_decay[:, :, s] + k_end[:, :, s].transpose(-1, -2) @ v_new
        out.append(S)
    return torch.stack(out)
