"""The reference recurrences of state-space and linear-attention mixers, written plainly in torch.

Each family has a pure ``*_step`` that returns its intermediates and vectorised pieces over time that
serve replay (time is dim 1 everywhere; the leading dim is any batch, e.g. batch × segments):

- selective scan (Mamba, Gu & Dao 2023, eq. 2a-2b with ZOH discretisation of A):
  ``Ā_t = exp(Δ_t A)``, ``h_t = Ā_t ⊙ h_{t-1} + Δ_t B_t x_t``, ``y_t = C_t h_t + D x_t``, then ``⊙ silu(z_t)``;
- SSD (Mamba-2, Dao & Gu 2024): the same with one scalar decay per head, ``h_t = exp(Δ_t A_h) h_{t-1} + Δ_t x_t B_tᵀ``;
- WKV (RWKV-4, Peng et al. 2023): ``wkv_t = (Σ_{i<t} e^{-(t-1-i)w + k_i} v_i + e^{u+k_t} v_t) / (same without v)``,
  kept as the numerator, denominator and running max the model's state holds, for numerical stability.

The operations and their order mirror transformers' torch paths (``mamba_selective_scan``,
``mamba2_selective_state_update``, ``rwkv_linear_attention_cpu``), so elementwise results match bit for bit
where those paths are elementwise. Nothing here imports transformers.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def linear_scan(h: torch.Tensor | None, a: torch.Tensor, b: torch.Tensor, keep: bool = True, reuse_b: bool = False):
    """``h_k = a_k ⊙ h_{k-1} + b_k`` along dim 1; returns ``(h_last, all_h or None)``.

    A Python loop over the (short) time dim; every other dim is vectorised, so a caller that folds
    segments into the batch dim pays √T iterations for T steps. ``h=None`` starts from zeros.
    ``reuse_b``: b is a temporary the caller gives up; the states are written over it (no second
    buffer of the states' size). The sum is b + a·h either way: the same two roundings as a·h + b.

    Example::

        a, b = torch.full((2, 5, 3), 0.5), torch.ones(2, 5, 3)
        h, hs = linear_scan(None, a, b)     # hs: [2, 5, 3], hs[:, -1] == h
    """
    dtype = torch.promote_types(a.dtype, b.dtype)
    if h is None:
        h = torch.zeros(b[:, 0].shape, dtype=dtype, device=b.device)
    dtype = torch.promote_types(dtype, h.dtype)
    if not keep:
        for k in range(b.shape[1]):
            h = a[:, k] * h + b[:, k]
        return h, None
    if reuse_b and b.dtype == dtype and b.shape[2:] == h.shape[1:]:
        out = b
    else:
        out = torch.empty((b.shape[0], b.shape[1], *h.shape[1:]), dtype=dtype, device=h.device)
        out.copy_(b.expand_as(out))
    tmp = torch.empty_like(out[:, 0])  # one slice, reused: a fresh large temporary per step costs page faults
    for k in range(b.shape[1]):
        out[:, k] += torch.mul(a[:, k], h if k == 0 else out[:, k - 1], out=tmp)
    return out[:, -1], out


# ---------------------------------------------------------------- Mamba: selective scan (diagonal A per channel)

def selective_coeffs(x, delta, A, B):
    """Discretised ``Ā = exp(Δ A)`` and ``B̄x = Δ B x``: x, delta [b, T, D], A [D, N], B [b, T, N] -> 2 × [b, T, D, N].

    Example::

        x, delta, B = torch.randn(1, 6, 4), torch.rand(1, 6, 4), torch.randn(1, 6, 2)
        A_bar, Bx = selective_coeffs(x, delta, -torch.ones(4, 2), B)
        A_bar[0, 0, 0, 0].item() == torch.exp(-delta[0, 0, 0]).item()    # A = -1: Ā = e^{-Δ}
    """
    A_bar = torch.exp(delta[..., None] * A)  # [b, T, D, N]
    Bx = delta[..., None] * B[..., None, :].float() * x[..., None].float()  # [b, T, D, N] (per head: [b, T, H, P, N])
    return A_bar, Bx


def selective_readout(h, x, C, D=None, z=None):
    """``y = (C h + D x) ⊙ silu(z)`` for states h [b, T, D, N], x/z [b, T, D], C [b, T, N] -> [b, T, D].

    Example::

        x, C = torch.randn(1, 6, 4), torch.randn(1, 6, 2)
        y = selective_readout(torch.zeros(1, 6, 4, 2), x, C, D=torch.ones(4))
        y.tolist() == x.tolist()    # an empty state reads out nothing: only the skip D x is left
    """
    y = torch.matmul(h.to(x.dtype), C[..., None]).squeeze(-1)  # [b, T, D, N] @ [b, T, N, 1] -> [b, T, D]
    if D is not None:
        y = y + x * D
    if z is not None:
        y = y * F.silu(z)
    return y


def selective_step(h, x, delta, A, B, C, D=None, z=None):
    """One Mamba step on [b, ...] slices (no time dim): returns ``(h, y, parts)`` with every intermediate.

    Example::

        x, delta, B, C = torch.randn(1, 4), torch.rand(1, 4), torch.randn(1, 2), torch.randn(1, 2)
        h, y, parts = selective_step(torch.zeros(1, 4, 2), x, delta, -torch.ones(4, 2), B, C)
        parts["A_bar"].shape == h.shape == (1, 4, 2)     # [b, D, N]: how much of each state entry survives
    """
    A_bar, Bx = selective_coeffs(x[:, None], delta[:, None], A, B[:, None])
    h, _ = linear_scan(h, A_bar, Bx, keep=False)
    y = selective_readout(h[:, None], x[:, None], C[:, None], D, None if z is None else z[:, None])[:, 0]
    parts = {"x": x, "delta": delta, "A_bar": A_bar[:, 0], "B": B, "Bx": Bx[:, 0], "C": C, "D": D, "gate": z, "y": y}
    return h, y, parts


def selective_scan(x, delta, A, B, C, D=None, z=None, h0=None):
    """The whole Mamba scan, plainly: returns ``(y [b, T, D], states [b, T, D, N])``.

    Example::

        x, delta = torch.randn(1, 6, 4), F.softplus(torch.randn(1, 6, 4))
        B, C, A = torch.randn(1, 6, 2), torch.randn(1, 6, 2), -torch.ones(4, 2)
        y, hs = selective_scan(x, delta, A, B, C)
        y[:, 0].tolist() == selective_step(None, x[:, 0], delta[:, 0], A, B[:, 0], C[:, 0])[1].tolist()
    """
    A_bar, Bx = selective_coeffs(x, delta, A, B)
    _, hs = linear_scan(h0, A_bar, Bx)
    return selective_readout(hs, x, C, D, z), hs


# ---------------------------------------------------------------- Mamba-2: SSD (one scalar decay per head)

def heads_of(B, num_heads: int):
    """Groups to heads: [b, T, G, N] -> [b, T, H, N] (head h reads group h // (H/G)), as the model repeats them.

    Example::

        B = torch.randn(1, 5, 2, 16)                  # 2 groups
        heads_of(B, 8)[:, :, 5].tolist() == B[:, :, 1].tolist()    # head 5 reads group 5 // 4
    """
    return B.repeat_interleave(num_heads // B.shape[2], dim=2)


def ssd_coeffs(x, dt, A, B):
    """Per-head decay ``dA = exp(Δ A)`` [b, T, H] and ``Δ x Bᵀ`` [b, T, H, P, N] (x [b, T, H, P], B [b, T, H, N]).

    Example::

        x, dt, B = torch.randn(1, 5, 2, 3), torch.rand(1, 5, 2), torch.randn(1, 5, 1, 4)
        dA, Bx = ssd_coeffs(x, dt, -torch.ones(2), heads_of(B, 2))
        (dA.shape, Bx.shape) == ((1, 5, 2), (1, 5, 2, 3, 4))    # one decay per head; Δ x Bᵀ per head
    """
    dA = torch.exp(dt.float() * A.float())  # [b, T, H]
    Bx = (dt[..., None, None] * B[:, :, :, None, :]) * x[..., None]  # [b, T, H, 1, 1]*[b, T, H, 1, N]*[b, T, H, P, 1]
    return dA, Bx


def ssd_readout(h, x, C, D=None):
    """``y = h C + D x`` for states h [b, T, H, P, N], x [b, T, H, P], C [b, T, H, N] -> [b, T, H, P].

    Example::

        x, C = torch.randn(1, 5, 2, 3), torch.randn(1, 5, 1, 4)
        y = ssd_readout(torch.zeros(1, 5, 2, 3, 4), x, heads_of(C, 2), D=torch.ones(2))
        y.tolist() == x.tolist()    # an empty state reads out only the skip D x
    """
    y = torch.matmul(h.to(C.dtype), C[..., None]).squeeze(-1)  # [b, T, H, P, N] @ [b, T, H, N, 1] -> [b, T, H, P]
    if D is not None:
        y = y + x * D[:, None]
    return y


def ssd_step(h, x, dt, A, B, C, D=None):
    """One Mamba-2 step on [b, ...] slices: ``(h [b, H, P, N], y [b, H, P], parts)``; B, C already per head.

    Example::

        x, dt, B, C = torch.randn(1, 2, 3), torch.rand(1, 2), torch.randn(1, 2, 4), torch.randn(1, 2, 4)
        h, y, parts = ssd_step(None, x, dt, -torch.ones(2), B, C)
        (h.shape, y.shape, parts["dA"].shape) == ((1, 2, 3, 4), (1, 2, 3), (1, 2))   # dA: what each head keeps
    """
    dA, Bx = ssd_coeffs(x[:, None], dt[:, None], A, B[:, None])
    h, _ = linear_scan(h, dA[..., None, None], Bx, keep=False)
    y = ssd_readout(h[:, None], x[:, None].float(), C[:, None].float(), D)[:, 0]
    parts = {"x": x, "dt": dt, "dA": dA[:, 0], "B": B, "Bx": Bx[:, 0], "C": C, "D": D, "y": y}
    return h, y, parts


def ssd_scan(x, dt, A, B, C, D=None, h0=None):
    """The whole Mamba-2 recurrence, plainly: ``(y [b, T, H, P], states [b, T, H, P, N])``; B, C [b, T, G, N].

    Example::

        x, dt = torch.randn(1, 5, 2, 3), F.softplus(torch.randn(1, 5, 2))
        B, C = torch.randn(1, 5, 1, 4), torch.randn(1, 5, 1, 4)      # one group shared by both heads
        y, hs = ssd_scan(x, dt, -torch.ones(2), B, C, D=torch.ones(2))
        (y.shape, hs.shape) == ((1, 5, 2, 3), (1, 5, 2, 3, 4))
    """
    B, C = heads_of(B, x.shape[2]).float(), heads_of(C, x.shape[2]).float()
    dA, Bx = ssd_coeffs(x.float(), dt, A, B)
    _, hs = linear_scan(h0, dA[..., None, None], Bx)
    return ssd_readout(hs, x.float(), C, D), hs


def ssd_segment_states(dA_log, x, dt, B):
    """Each segment's own contribution to the state at its end, in closed form (no loop over time).

    ``Σ_j exp(Σ_{i>j} Δ_i A) Δ_j x_j B_jᵀ`` per segment: dA_log [b, S, K, H], x [b, S, K, H, P], dt [b, S, K, H],
    B [b, S, K, H, N] -> [b, S, H, P, N]. The exponents are suffix sums of non-positive terms, so nothing overflows.

    Example::

        x, dt, B = torch.randn(1, 1, 5, 2, 3), torch.rand(1, 1, 5, 2), torch.randn(1, 1, 5, 2, 4)
        local = ssd_segment_states(-dt, x, dt, B)     # A = -1 per head; one segment of 5 steps
        _, hs = ssd_scan(x[:, 0], dt[:, 0], -torch.ones(2), B[:, 0], B[:, 0])
        assert torch.allclose(local[:, 0], hs[:, -1], atol=1e-5)    # the state at the segment's end, from zeros
    """
    suffix = dA_log.flip(2).cumsum(2).flip(2) - dA_log  # [b, S, K, H]: Σ_{i>j} within the segment
    w = torch.exp(suffix) * dt  # [b, S, K, H]
    return torch.einsum("bskh,bskhp,bskhn->bshpn", w, x, B)


# ---------------------------------------------------------------- RWKV-4: WKV with numerator, denominator, max

def wkv_step(state, k, v, w, u):
    """One WKV step, the operations of ``rwkv_linear_attention_cpu``: returns ``(state, wkv, parts)``.

    ``state = (num, den, mx)`` [b, A] float32 (or None: zeros and -1e38), ``w = -exp(time_decay)``,
    ``u = time_first``. The real numerator is ``num · e^{mx}``; the max keeps exponents bounded.

    Example::

        k, v = torch.randn(1, 4), torch.randn(1, 4)
        state, wkv, parts = wkv_step(None, k, v, -torch.ones(4), torch.zeros(4))
        wkv.tolist() == v.tolist()    # the first token has only itself to attend to
    """
    num, den, mx = state if state is not None else wkv_zero(k)
    k = k.float()
    m_out = torch.maximum(mx, k + u)
    e1, e2 = torch.exp(mx - m_out), torch.exp(k + u - m_out)
    numerator, denominator = e1 * num + e2 * v, e1 * den + e2
    wkv = numerator / denominator
    m_state = torch.maximum(mx + w, k)
    e1, e2 = torch.exp(mx + w - m_state), torch.exp(k - m_state)
    new = (e1 * num + e2 * v, e1 * den + e2, m_state)
    parts = {"k": k, "v": v, "numerator": numerator, "denominator": denominator, "max": m_out, "wkv": wkv,
             "num": new[0], "den": new[1], "running_max": m_state}
    return new, wkv, parts


def wkv_zero(k):
    """The state before any token, as the CPU path starts it: (0, 0, -1e38), float32, [b, A].

    Example::

        num, den, mx = wkv_zero(k)     # k [b, T, A] or [b, A]
    """
    z = torch.zeros_like(k[..., 0, :] if k.dim() == 3 else k, dtype=torch.float32)
    return z, z.clone(), z - 1e38


def wkv_run(state, k, v, w, u, keep: bool = True):
    """WKV state over dim 1 (k, v [b, K, A]): ``(last state, (num, den, mx) each [b, K, A] or None)``.

    Example::

        k, v = torch.randn(1, 6, 4), torch.randn(1, 6, 4)
        last, (num, den, mx) = wkv_run(None, k, v, -torch.ones(4), torch.zeros(4))
        last[0].tolist() == num[:, -1].tolist()
    """
    num, den, mx = state if state is not None else wkv_zero(k)
    dtype = torch.promote_types(num.dtype, v.dtype)  # float32 unless v is float64
    outs = [torch.empty(k.shape, dtype=dtype, device=k.device) for _ in range(3)] if keep else None
    for t in range(k.shape[1]):
        kt, vt = k[:, t].float(), v[:, t]
        m_state = torch.maximum(mx + w, kt)
        e1, e2 = torch.exp(mx + w - m_state), torch.exp(kt - m_state)
        num, den, mx = e1 * num + e2 * vt, e1 * den + e2, m_state
        if keep:
            outs[0][:, t], outs[1][:, t], outs[2][:, t] = num, den, mx
    return (num, den, mx), (tuple(outs) if keep else None)


def wkv_readout(prev, k, v, u):
    """``wkv_t`` from the states before each step: prev = (num, den, mx) each [b, T, A]; -> [b, T, A] float32.

    Example::

        k, v = torch.randn(2, 1, 1, 4)              # one token: [b, T, A] each
        wkv = wkv_readout(tuple(s[:, None] for s in wkv_zero(k)), k, v, torch.zeros(4))
        wkv.tolist() == v.tolist()       # from the empty state before it, the first output is v_0
    """
    num, den, mx = prev
    k = k.float()
    m_out = torch.maximum(mx, k + u)
    e1, e2 = torch.exp(mx - m_out), torch.exp(k + u - m_out)
    return (e1 * num + e2 * v) / (e1 * den + e2)


def wkv_scan(k, v, time_decay, time_first, state=None):
    """The whole WKV recurrence, plainly: ``(wkv [b, T, A], (num, den, mx) each [b, T, A])``.

    Example::

        k, v = torch.randn(1, 6, 4), torch.randn(1, 6, 4)
        wkv, (num, den, mx) = wkv_scan(k, v, torch.zeros(4), torch.zeros(4))    # time_decay 0: w = -1
        wkv[:, 0].tolist() == v[:, 0].tolist()
    """
    w = -torch.exp(time_decay)
    first = state if state is not None else wkv_zero(k)
    _, states = wkv_run(first, k, v, w, time_first)
    prev = tuple(torch.cat([f[:, None], s[:, :-1]], 1) for f, s in zip(first, states))  # [b, T, A] each
    return wkv_readout(prev, k, v, time_first), states
