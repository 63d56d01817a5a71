"""Spec of Kimi Delta Attention (KDA): ``KimiLinearDeltaAttention`` and ``BailingHybridDeltaAttention``.

KDA is the gated delta rule with a decay per key channel instead of one per head (Kimi Linear, 2025): per head,
S_t = (I − β_t k_t k_tᵀ) diag(e^{g_t}) S_{t−1} + β_t k_t v_tᵀ and o_t = S_tᵀ q_t, with q, k L2-normalised in
float32 (transformers' ``l2norm``: x / √(Σx² + 1e-6)) and q scaled by 1/√d_k. ``prepare`` is the module's path up
to ``recurrent_kimi_delta_attention``: padding mask, q/k/v projections, one depthwise causal conv (SiLU) over
their concatenation, the forget gate g [B, T, H, d_k] and β = σ(b_proj). ``finish``: the sigmoid-gated RMSNorm
per head, then o_proj. The two models differ only in their forget and output gates (found by the projections
the module holds). The cache keeps a conv buffer [B, 3·H·d, K] and S [B, H, d_k, d_v] (float32).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .effective import Form
from .families import ConvKind, register
from .family_tools import call_cache, linear_layer, register_form
from .mixer_ops import activation, causal_conv, hidden_and_mask, mask_tokens


def l2norm(x, eps: float = 1e-6):
    """transformers' KDA ``l2norm`` (eps inside the root, as the FLA kernels): x / √(Σ x² + eps).

    Example::

        l2norm(torch.tensor([3., 4.])).tolist()    # ≈ [0.6, 0.8]
    """
    return x / torch.sqrt((x * x).sum(dim=-1, keepdim=True) + eps)


def kda_step(S, q, k, v, g, beta):
    """One KDA step on [B, H, ·] slices (float32): ``(S, o, parts)``.

    Example::

        S = torch.zeros(1, 1, 2, 3)
        S, o, parts = kda_step(S, torch.ones(1, 1, 2), torch.tensor([[[1., 0.]]]), torch.ones(1, 1, 3),
                               torch.zeros(1, 1, 2), torch.ones(1, 1))
        S[0, 0, 0].tolist() == [1., 1., 1.]     # β = 1: k's row now holds v exactly
    """
    S = S * g.exp()[..., None]  # decay each key channel's row
    kv_mem = (S * k[..., None]).sum(-2)  # [B, H, dv]: what the memory predicts for k
    delta = (v - kv_mem) * beta[..., None]
    S = S + k[..., None] * delta[..., None, :]
    o = (S * q[..., None]).sum(-2)  # [B, H, dv]
    return S, o, {"kv_mem": kv_mem, "delta": delta, "o": o, "decay": g.exp()}


def _softplus(x):  # Kimi's thresholded softplus: x itself above 20
    return torch.where(x > 20.0, x, torch.log(1.0 + torch.exp(x)))


def _gate_weights(module) -> dict:
    """The forget and output gates' parameters, by the projections the module holds (plain data: a trace file
    keeps them): Bailing has one projection each and an optional bounded ("safe") sigmoid forget gate; Kimi a
    low-rank pair each."""
    fg = module.forget_gate
    if hasattr(fg, "f_proj"):
        return {"f_w": (fg.f_proj.weight,), "g_w": (module.g_proj.weight,), "dt_bias": fg.dt_bias, "A_log": fg.A_log,
                "bound": fg.lower_bound if fg.safe_gate else None}
    return {"f_w": (fg.f_a_proj.weight, fg.f_b_proj.weight), "g_w": (module.g_a_proj.weight, module.g_b_proj.weight),
            "dt_bias": fg.dt_bias, "A_log": fg.A_log, "kimi_softplus": True}


def _project(x, weights):
    for w in weights:
        x = F.linear(x, w)
    return x


def _gates(c, hidden):
    """(forget gate g [B, T, H, dk], output gate [B, T, H, dv]), as each model's forget gate computes them."""
    H, d = c["heads"]
    shape = (*hidden.shape[:2], H, d)
    x = _project(hidden, c["f_w"]).float().view(shape) + c["dt_bias"].float().view(H, d)
    rate = c["A_log"].float().exp().view(1, 1, H, 1)
    if c.get("kimi_softplus"):  # Kimi: float32 throughout, its thresholded softplus
        g = -rate * _softplus(x)
    else:  # Bailing: back to the model's dtype
        g = (-rate * F.softplus(x) if c["bound"] is None else c["bound"] * torch.sigmoid(rate * x)).to(hidden.dtype)
    return g, _project(hidden, c["g_w"]).view(shape)


class KdaKind(ConvKind):
    """Kimi Delta Attention: state S [B, heads, d_k, d_v] (float32), plus a conv buffer [B, 3·H·d, K].

    Per step: q, k, v, the per-channel log decay g and ``decay`` = e^g, the write strength β, what the memory
    predicted for the key (kv_mem), the correction it writes (delta), the output o and the output gate.
    ``attention_row(i, head=h)``: the weight of every v_j in o_i (the delta rule read as attention).

    Example::

        from tr_widgets.engine.state import trace_state
        q, k = (l2norm(torch.randn(1, 5, 2, 4)) for _ in range(2))
        t = trace_state("kda", q=q / 2, k=k, v=torch.randn(1, 5, 2, 3), g=-torch.rand(1, 5, 2, 4),
                        beta=torch.rand(1, 5, 2))      # or trace_mixer_call on a KimiLinearDeltaAttention
        (t.state(-1).shape, t.quantities(0)["decay"].shape) == ((1, 2, 4, 3), (1, 2, 4))
    """

    name, title = "kda", "Kimi Delta Attention (per-channel gated delta rule)"
    classes = ("transformers.models.kimi_linear.modeling_kimi_linear.KimiLinearDeltaAttention",
               "transformers.models.bailing_hybrid.modeling_bailing_hybrid.BailingHybridDeltaAttention")
    pattern, needs = r"DeltaAttention$", ("forget_gate", "b_proj", "q_proj", "k_proj", "v_proj", "conv1d", "o_norm")
    inputs, optional = ("q", "k", "v", "g", "beta", "gate"), ("gate",)
    state_names = ("ssm",)
    names = ("q", "k", "v", "g", "decay", "beta", "kv_mem", "delta", "o", "gate")
    shapes = {"q": "BTHK", "k": "BTHK", "v": "BTHV", "g": "BTHK", "beta": "BTH"}

    def read(self, module, args, kwargs):
        hidden, mask = hidden_and_mask(args, kwargs)
        consts = {**_gate_weights(module), "b_w": module.b_proj.weight,
                  "qkv_w": (module.q_proj.weight, module.k_proj.weight, module.v_proj.weight),
                  "conv_w": module.conv1d.weight.squeeze(1), "conv_b": module.conv1d.bias,
                  "act": activation(module.activation), "norm_w": module.o_norm.weight,
                  "norm_eps": module.o_norm.variance_epsilon, "out_w": module.o_proj.weight,
                  "out_b": module.o_proj.bias, "conv_width": module.conv_kernel_size,
                  "heads": (module.num_heads, module.head_dim), "dtype": hidden.dtype}
        return hidden, mask, consts

    def conv_input(self, hidden, c):
        return torch.cat([F.linear(hidden, w) for w in c["qkv_w"]], dim=-1).transpose(1, 2)  # [B, 3·H·d, T]

    def prepare(self, hidden, mask, c, initial):
        hidden = mask_tokens(hidden, mask)
        H, d = c["heads"]
        mixed = causal_conv(self.conv_input(hidden, c), c["conv_w"], c["conv_b"], c["act"],
                            None if initial is None else initial.get("conv"))
        q, k, v = (x.unflatten(-1, (H, d)).float() for x in torch.split(mixed.transpose(1, 2), H * d, -1))
        g, gate = _gates(c, hidden)
        beta = torch.sigmoid(F.linear(hidden, c["b_w"]))  # [B, T, H]
        return {"q": l2norm(q) * d ** -0.5, "k": l2norm(k), "v": v, "g": g.float(), "beta": beta.float(),
                "gate": gate}

    def finish(self, y, inputs, c):
        o = y.to(c["dtype"]).float()  # the module casts the recurrence's output back first
        o = o * torch.rsqrt(o.pow(2).mean(-1, keepdim=True) + c["norm_eps"]) * c["norm_w"].float()
        o = (o * torch.sigmoid(inputs["gate"].float())).to(c["dtype"])  # [B, T, H, dv]
        return F.linear(o.flatten(2), c["out_w"], c["out_b"])

    def from_cache(self, module, args, kwargs):
        layer = linear_layer(call_cache(args, kwargs), module.layer_idx)
        if layer is None or layer.recurrent_states[0] is None:
            return None
        return {"state": layer.recurrent_states[0], "conv": layer.conv_states[0]}

    def zero(self, inputs, c):
        Bt, _, H, dv = inputs["v"].shape
        return (torch.zeros(Bt, H, inputs["k"].shape[-1], dv, dtype=torch.float32, device=inputs["v"].device),)

    def run(self, state, inputs, c, keep):
        S, keep_s = state[0], []
        for t in range(inputs["v"].shape[1]):
            S, _, _ = kda_step(S, *(inputs[n][:, t] for n in ("q", "k", "v", "g", "beta")))
            if keep:
                keep_s.append(S)
        return (S,), ((torch.stack(keep_s, 1),) if keep else None)  # [B, T, H, dk, dv]

    def readout(self, start, states, inputs, c):
        return torch.einsum("bthkv,bthk->bthv", states[0], inputs["q"])

    def step(self, state, inputs_t, c):
        S, o, parts = kda_step(state[0], *(inputs_t[n][:, 0] for n in ("q", "k", "v", "g", "beta")))
        parts.update({n: inputs_t[n][:, 0] for n in self.inputs if n in inputs_t})
        return (S,), o, parts

    def attention_row(self, trace, i, head):
        """w[b, j] = β_j qᵢᵀ [Π_{j<l≤i} (I − β_l k_l k_lᵀ) diag(e^{g_l})] k_j: q_i carried back one step at a time."""
        head = 0 if head is None else head
        q, k, g = (trace.inputs[n][:, : i + 1, head] for n in ("q", "k", "g"))  # [B, i+1, dk]
        beta = trace.inputs["beta"][:, : i + 1, head]  # [B, i+1]
        r, w = q[:, i], torch.empty_like(beta)
        for j in range(i, -1, -1):
            rk = (r * k[:, j]).sum(-1)  # [B]
            w[:, j] = beta[:, j] * rk
            r = (r - (beta[:, j] * rk)[:, None] * k[:, j]) * g[:, j].exp()  # back through step j: erase, decay
        return w


KDA = register(KdaKind())


def _parts(st):
    return tuple(st.inputs[n].transpose(1, 2) for n in ("q", "k", "v"))  # [B, H, T, ·]


register_form(KDA.name, Form("head", False, _parts, lambda st, i: st.quantities(i)["o"].float(),
                             "the delta rule's weight of v_j in o_i (per-channel decay and erase carried back)"))
