"""Spec of xLSTM's mLSTM layer (``xLSTMLayer``, transformers' native torch path): a matrix memory with gates.

Per head (Beck et al., "xLSTM", 2024, eq. 19-27, in the stabilised form of transformers'
``mlstm_recurrent_step_native``): m_t = max(logσ(f_t) + m_{t−1}, i_t); f' = exp(logσ(f_t) + m_{t−1} − m_t),
i' = exp(i_t − m_t); C_t = f' C_{t−1} + i' k_t v_tᵀ, n_t = f' n_{t−1} + i' k_t; with q̃ = q_t/√d_qk,
h_t = q̃ C_t / (max(|q̃·n_t|, e^{−m_t}) + eps). Gates are soft-capped preactivations (cap·tanh(x/cap)).
``finish``: per-head layer norm, σ(o) gate, out_proj. The cache (``xLSTMCache.rnn_state[layer]``) keeps
(C [B, H, d_qk, d_v], n [B, H, d_qk], m [B, H, 1]); the layer gets it as its ``state`` argument.

Not covered: a call of ``chunk_size`` tokens or more in inference mode runs the chunkwise kernel in
``autocast_kernel_dtype`` (bfloat16 by default), which no float32 recurrence reproduces: such a call fails
with a message (set ``config.autocast_kernel_dtype = "float32"``, or feed shorter chunks).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from tr_widgets.engine.errors import fail

from .effective import Form
from .families import StateKind, register
from .family_tools import register_form
from .mixer_ops import call_input


def _cap(x, cap):
    return x if cap is None else cap * torch.tanh(x / cap)


def mlstm_step(state, q, k, v, i, f, eps: float):
    """One stabilised mLSTM step on [B, H, ·] slices (float32): ``(state, h, parts)``, state = (C, n, m).

    Example::

        zero = (torch.zeros(1, 1, 2, 3), torch.zeros(1, 1, 2), torch.zeros(1, 1, 1))
        (C, n, m), h, parts = mlstm_step(zero, torch.ones(1, 1, 2), torch.ones(1, 1, 2), torch.ones(1, 1, 3),
                                         torch.zeros(1, 1), torch.zeros(1, 1), 1e-6)
        m.item() == 0.0      # max(logσ(0) + 0, 0): the input gate wins, i' = 1
    """
    C, n, m = state
    f_log = F.logsigmoid(f)[..., None]  # [B, H, 1]
    m_new = torch.maximum(f_log + m, i[..., None])
    f_act, i_act = torch.exp(f_log + m - m_new), torch.exp(i[..., None] - m_new)
    C = f_act[..., None] * C + i_act[..., None] * (k[..., :, None] * v[..., None, :])  # [B, H, dqk, dv]
    n = f_act * n + i_act * k
    h = _readout(C, n, m_new, q, eps)
    return (C, n, m_new), h, {"f_act": f_act[..., 0], "i_act": i_act[..., 0], "m": m_new, "h": h}


def _readout(C, n, m, q, eps):
    qs = q * q.shape[-1] ** -0.5
    num = (qs[..., None] * C).sum(-2)  # [..., dv]
    denom = torch.maximum((qs * n).sum(-1, keepdim=True).abs(), torch.exp(-m)) + eps
    return num / denom


def _unrolled(state, inputs):
    """The states after every step of a short run, [B, K, ...] each, without a loop: with F_j = Σ_{l≤j} logσ(f_l),
    m_j = max(F_j + m_0, max_{l≤j} i_l + F_j − F_l) and C_j = e^(F_j + m_0 − m_j) C_0 + Σ_{l≤j} e^(i_l + F_j − F_l − m_j)
    k_l v_lᵀ (n alike): the stepwise rule, unrolled (K² weights per head: for segments of ⌈√T⌉ steps). Laid out per
    head ([B, H, ...]) so the writes and the one product per component land where they stay: no permuting copies."""
    C0, n0, m0 = state
    k, v, i = (inputs[n].float() for n in ("k", "v", "i"))
    cum = F.logsigmoid(inputs["f"].float()).cumsum(1).transpose(1, 2)  # [B, H, K]
    B, K, H, dk = k.shape
    later = torch.ones(K, K, dtype=torch.bool, device=cum.device).triu(1)  # l > j
    g = (i.transpose(1, 2)[:, :, None] + cum[..., None] - cum[:, :, None]).masked_fill(later, float("-inf"))  # [B,H,j,l]
    start = cum + m0[..., 0, None]  # [B, H, K]
    m = torch.maximum(start, g.amax(-1))
    # the start state is one more "write" (weight e^(F_j + m_0 − m_j)): C and n in one product each
    w = torch.cat([torch.exp(start - m)[..., None], torch.exp(g - m[..., None])], -1)  # [B, H, j, 1 + l]
    kT = k.transpose(1, 2)  # [B, H, K, dk]
    kv = torch.empty(B, H, 1 + K, dk, v.shape[-1], dtype=w.dtype, device=w.device)
    kv[:, :, 0] = C0
    torch.mul(kT[..., :, None], v.transpose(1, 2)[..., None, :], out=kv[:, :, 1:])  # k_l v_lᵀ
    C = torch.empty(B, K, H, dk, v.shape[-1], dtype=w.dtype, device=w.device)
    torch.matmul(w, kv.flatten(-2), out=C.flatten(-2).transpose(1, 2))  # written in place, [B, K, H, ·] order
    n = torch.empty(B, K, H, dk, dtype=w.dtype, device=w.device)
    torch.matmul(w, torch.cat([n0[:, :, None].float(), kT], 2), out=n.transpose(1, 2))
    return C, n, m.transpose(1, 2)[..., None]  # [B, K, H, dk, dv], [B, K, H, dk], [B, K, H, 1]


class MlstmKind(StateKind):
    """mLSTM: state (C [B, H, d_qk, d_v], n [B, H, d_qk], m [B, H, 1]), as ``xLSTMCache.rnn_state[layer]``.

    Per step: q, k, v, the gate preactivations i, f (soft-capped), the stabiliser m, the effective forget and
    input gates f_act, i_act, and the head output h (before the layer norm and output gate).
    ``attention_row(i, head=h)``: the weight of every v_j in h_i (gated linear attention, normalised).

    Example::

        from tr_widgets.engine.state import trace_state
        t = trace_state("mlstm", q=torch.randn(1, 5, 2, 4), k=torch.randn(1, 5, 2, 4), v=torch.randn(1, 5, 2, 3),
                        i=torch.randn(1, 5, 2), f=torch.randn(1, 5, 2))   # or trace_mixer_call on an xLSTMLayer
        [s.shape for s in t.state(-1)] == [(1, 2, 4, 3), (1, 2, 4), (1, 2, 1)]
        t.quantities(0)["f_act"].shape == (1, 2)
    """

    name, title = "mlstm", "mLSTM (xLSTM matrix memory)"
    classes = ("transformers.models.xlstm.modeling_xlstm.xLSTMLayer",)
    pattern, needs = r"^(xLSTM|mLSTM)Layer$", ("mlstm_backend", "multihead_norm", "out_proj", "config")
    inputs, optional = ("q", "k", "v", "i", "f", "o"), ("o",)
    state_names = ("C", "n", "m")
    names = ("q", "k", "v", "i", "f", "m", "f_act", "i_act", "h")
    shapes = {"q": "BTHK", "k": "BTHK", "v": "BTHV", "i": "BTH", "f": "BTH"}

    def standalone(self, tensors):
        inputs = {n: tensors[n] for n in self.inputs if tensors.get(n) is not None}
        return inputs, {"eps": 1e-6}

    def read(self, module, args, kwargs):
        hidden, cfg = call_input(args, kwargs, "x"), module.config
        if "inference" in cfg.mode and hidden.shape[1] >= cfg.chunk_size and cfg.autocast_kernel_dtype != "float32":
            fail("x", f"fewer than chunk_size={cfg.chunk_size} tokens per xLSTM call (its chunkwise kernel runs in "
                 f"{cfg.autocast_kernel_dtype})", f"{hidden.shape[1]} tokens",
                 "set model.config.autocast_kernel_dtype = 'float32' before building the model, or feed shorter chunks")
        single = hasattr(module, "q")  # weight_mode "single": one projection each; "fused": two
        proj = (module.q, module.k, module.v, module.ogate_preact) if single else (module.qkv_opreact,)
        gates = (module.igate_preact, module.fgate_preact) if single else (module.ifgate_preact,)
        norm = module.multihead_norm
        consts = {"proj": tuple((p.weight, p.bias) for p in proj), "gates": tuple((p.weight, p.bias) for p in gates),
                  "dims": (cfg.num_heads, module.qk_dim, module.v_dim), "cap": cfg.gate_soft_cap, "eps": cfg.eps,
                  "norm": (norm.weight, norm.bias, norm.eps, norm.force_float32_reductions),
                  "out_w": module.out_proj.weight, "out_b": module.out_proj.bias, "dtype": hidden.dtype}
        return hidden, None, consts

    def prepare(self, hidden, mask, c, initial):
        H, dqk, dv = c["dims"]
        parts = torch.cat([F.linear(hidden, w, b) for w, b in c["proj"]], -1)
        q, k, v, o = torch.split(parts, (dqk, dqk, dv, dv), dim=-1)
        i, f = torch.split(_cap(torch.cat([F.linear(hidden, w, b) for w, b in c["gates"]], -1), c["cap"]), H, -1)
        heads = lambda x: x.unflatten(-1, (H, -1))  # noqa: E731  [B, T, H·d] -> [B, T, H, d]
        return {"q": heads(q), "k": heads(k), "v": heads(v), "i": i, "f": f, "o": o}

    def finish(self, y, inputs, c):
        w, b, eps, wide = c["norm"]
        h = y.to(c["dtype"])
        x = h.float() if wide else h
        x = ((x - x.mean(-1, keepdim=True)) * torch.rsqrt(x.var(-1, keepdim=True, unbiased=False) + eps)).to(h.dtype)
        x = x.flatten(2)  # [B, T, H·dv]
        x = x * w if w is not None else x
        x = x + b if b is not None else x
        return F.linear(torch.sigmoid(inputs["o"]) * x, c["out_w"], c["out_b"])

    def present(self, rec, window):
        """(C, n, m) in the model's dtype, as ``xLSTMCache`` keeps them (the module runs them in float32)."""
        return tuple(rec) if window is None else tuple(r.to(window.dtype) for r in rec)

    def present_all(self, rec, hidden):
        return self.present(rec, hidden)

    def from_cache(self, module, args, kwargs):
        state = args[1] if len(args) > 1 else kwargs.get("state")
        return None if state is None else {"state": tuple(state)}

    def zero(self, inputs, c):
        Bt, _, H, dqk = inputs["k"].shape
        kw = {"dtype": torch.float32, "device": inputs["k"].device}
        return (torch.zeros(Bt, H, dqk, inputs["v"].shape[-1], **kw), torch.zeros(Bt, H, dqk, **kw),
                torch.zeros(Bt, H, 1, **kw))

    def run(self, state, inputs, c, keep):
        if keep:  # every state at once (states() runs ⌈√T⌉-step segments): the rule unrolled, one einsum
            states = _unrolled(state, inputs)
            return tuple(s[:, -1] for s in states), states
        for t in range(inputs["k"].shape[1]):
            state, _, _ = mlstm_step(state, *(inputs[n][:, t].float() for n in ("q", "k", "v", "i", "f")), c["eps"])
        return state, None

    def checkpoints(self, inputs, c, every, initial):
        """Every segment end at once, the stepwise rule unrolled twice. In a segment, token j weighs g_j = i_j + F_e −
        F_j at its end (F: the summed logσ(f)); each segment's writes, scaled by e^(−max_j g_j), are one einsum for
        all segments. Across segments, with P_s the summed F of segments 1..s and entry 0 the start (C_0 at scale
        m_0): m_s = P_s + max_{r≤s}(top_r − P_r) (a cumulative max) and C_s = Σ_{r≤s} e^(top_r + P_s − P_r − m_s) Ŵ_r
        (n alike): no loop over segments."""
        C0, n0, m0 = initial
        S = inputs["k"].shape[1] // every
        seg = lambda x: x[:, : S * every].float().unflatten(1, (S, every))  # noqa: E731  [B, S, e, ...]
        k, v, cum = seg(inputs["k"]), seg(inputs["v"]), F.logsigmoid(seg(inputs["f"])).cumsum(2)  # cum [B, S, e, H]
        g = seg(inputs["i"]) + cum[:, :, -1:] - cum  # [B, S, e, H]
        top = g.amax(2)  # [B, S, H]: each segment's scale
        w = torch.exp(g - top[:, :, None])
        writes_C = torch.einsum("bsjh,bsjhk,bsjhv->bshkv", w, k, v)  # [B, S, H, dk, dv]
        writes_n = torch.einsum("bsjh,bsjhk->bshk", w, k)
        P = F.pad(cum[:, :, -1].cumsum(1), (0, 0, 1, 0))  # [B, S+1, H]; P_0 = 0
        top = torch.cat([m0[:, None, :, 0].float(), top], 1)  # [B, S+1, H]; entry 0: the start state
        m = P + torch.cummax(top - P, dim=1).values  # [B, S+1, H]
        later = torch.ones(S + 1, S + 1, dtype=torch.bool, device=m.device).triu(1)[None, :, :, None]  # r > s
        lw = (top[:, None] + P[:, :, None] - P[:, None] - m[:, :, None]).masked_fill(later, float("-inf"))
        weight = torch.exp(lw)  # [B, s, r, H]
        C = torch.einsum("bsrh,brhx->sbhx", weight, torch.cat([C0.float()[:, None], writes_C], 1).flatten(-2))
        n = torch.einsum("bsrh,brhk->sbhk", weight, torch.cat([n0.float()[:, None], writes_n], 1))
        return [C.unflatten(-1, C0.shape[-2:]).contiguous(), n.contiguous(), m.transpose(0, 1)[..., None].contiguous()]

    def readout(self, start, states, inputs, c):
        C, n, m = states
        return _readout(C, n, m, inputs["q"].float(), c["eps"])  # [B, T, H, dv]

    def step(self, state, inputs_t, c):
        state, h, parts = mlstm_step(state, *(inputs_t[n][:, 0].float() for n in ("q", "k", "v", "i", "f")),
                                     c["eps"])
        parts.update({n: inputs_t[n][:, 0] for n in ("q", "k", "v", "i", "f")})
        return state, h, parts


    def attention_row(self, trace, i, head):
        """w[b, j] = (q̃_i · k_j) e^(i_j + F_i − F_j − m_i) / denom_i, F the summed logσ(f): Σ_j w_j v_j = h_i (this
        call's tokens; the stabiliser m_i and the denominator from the state after step i)."""
        head = 0 if head is None else head
        _, n, m = trace.recurrent(i + 1)  # [B, H, dk], [B, H, 1]
        q = trace.inputs["q"][:, i, head].float()
        q = q * q.shape[-1] ** -0.5  # [B, dk]
        k, gate_i = trace.inputs["k"][:, : i + 1, head].float(), trace.inputs["i"][:, : i + 1, head].float()
        cum = F.logsigmoid(trace.inputs["f"][:, : i + 1, head].float()).cumsum(1)  # [B, i+1]
        m_i = m[:, head, 0, None]  # [B, 1]
        denom = torch.maximum((q * n[:, head]).sum(-1, keepdim=True).abs(), torch.exp(-m_i)) + trace.consts["eps"]
        return torch.einsum("bd,bjd->bj", q, k) * torch.exp(gate_i + cum[:, -1:] - cum - m_i) / denom


MLSTM = register(MlstmKind())


def _parts(st):
    return tuple(st.inputs[n].transpose(1, 2) for n in ("q", "k", "v"))  # [B, H, T, ·]


register_form(MLSTM.name, Form("head", False, _parts, lambda st, i: st.quantities(i)["h"].float(),
                               "w_ij = (q̃_i · k_j) e^(i_j + F_i − F_j − m_i) / denom_i: gated, normalised linear "
                               "attention (F: summed log forget gates)"))
