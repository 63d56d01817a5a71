"""Specs of Gated DeltaNet linear attention: the delta rule of ``scan_delta.py``, under three projection layouts
found by structure (a ``*GatedDeltaNet`` class holding these projections), each checked against its output:
``in_proj_qkvz`` + ``in_proj_ba`` (Qwen3-Next), ``in_proj_qkv`` / ``in_proj_z`` / ``in_proj_b`` / ``in_proj_a``
(Qwen3.5, Qwen3.5-MoE, Qwen4-Exp, LaraMini) and ``q_proj`` ... ``g_proj`` with ``o_norm`` / ``o_proj`` (OLMo-Hybrid,
whose β may be doubled: ``allow_neg_eigval``).

``prepare`` is the module's torch path up to its recurrence (padding mask, in_proj_qkvz/in_proj_ba and
their per-key-head ordering, depthwise causal conv over q, k, v, then β = σ(b), g = −exp(A_log)·softplus(a
+ dt_bias), q and k L2-normalised in float32, q scaled by 1/√d_k); ``finish`` is the gated RMSNorm and
out_proj. The cache keeps, per layer, a conv buffer [B, 2·key_dim + value_dim, conv_kernel] and the
state S [B, value_heads, d_k, d_v].
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import scan_delta
from .families import ConvKind, register
from .mixer_ops import activation, causal_conv, gated_rmsnorm, hidden_and_mask, mask_tokens


def _heads(x, H):  # key heads to value heads: each key head serves H / Hk consecutive value heads
    return x if x.shape[2] == H else x.repeat_interleave(H // x.shape[2], dim=2)


class GatedDeltaNetKind(ConvKind):
    """Gated DeltaNet: state S [B, value_heads, d_k, d_v] (keys to values), plus a conv buffer.

    Per step: the decay exp(g), the write strength β, what the memory predicted for the key (kv_mem)
    and the correction it writes (delta). ``attention_row(i, head=h)``: the scalar weight of every
    v_j in o_i (the delta rule's effective attention, from the tokens of this call).

    Example::

        from tr_widgets.engine.state import trace_state
        q, k = (F.normalize(torch.randn(1, 6, 2, 4), dim=-1) for _ in range(2))
        t = trace_state("gated_deltanet", q=q / 2, k=k, v=torch.randn(1, 6, 2, 3), g=-torch.rand(1, 6, 2),
                        beta=torch.rand(1, 6, 2))      # or trace_mixer_call on a Qwen3NextGatedDeltaNet
        # state [B, Hv, dk, dv]; delta [B, Hv, dv]: what token 0 writes
        (t.state(-1).shape, t.quantities(0)["delta"].shape) == ((1, 2, 4, 3), (1, 2, 3))
    """

    name, title = "gated_deltanet", "Gated DeltaNet (gated delta rule)"
    classes = ("transformers.models.qwen3_next.modeling_qwen3_next.Qwen3NextGatedDeltaNet",)
    pattern = r"GatedDeltaNet$"
    needs = ("in_proj_qkvz", "in_proj_ba", "conv1d", "A_log", "dt_bias", "norm", "out_proj")
    inputs, optional = ("q", "k", "v", "g", "beta", "gate"), ("gate",)
    state_names = ("ssm",)
    names = ("q", "k", "v", "g", "decay", "beta", "kv_mem", "delta", "o")
    shapes = {"q": "BTHK", "k": "BTHK", "v": "BTVP", "g": "BTV", "beta": "BTV"}

    def read(self, module, args, kwargs):
        hidden, mask = hidden_and_mask(args, kwargs)
        consts = {"qkvz_w": module.in_proj_qkvz.weight, "ba_w": module.in_proj_ba.weight,
                  "conv_w": module.conv1d.weight.squeeze(1), "conv_b": module.conv1d.bias,
                  "act": activation(module.activation),
                  "A_log": module.A_log, "dt_bias": module.dt_bias, "norm_w": module.norm.weight,
                  "norm_eps": module.norm.variance_epsilon,
                  "out_w": module.out_proj.weight, "out_b": module.out_proj.bias, "conv_width": module.conv_kernel_size,
                  "sizes": (module.num_k_heads, module.num_v_heads, module.head_k_dim, module.head_v_dim),
                  "dtype": hidden.dtype}
        return hidden, mask, consts

    def conv_input(self, hidden, c):
        q, k, v, _, _, _ = self._split(hidden, c)
        return torch.cat([x.flatten(2) for x in (q, k, v)], dim=-1).transpose(1, 2)  # [B, conv_dim, T]

    def _split(self, hidden, c):
        """The module's ``fix_query_key_value_ordering``: projections grouped per key head."""
        Hk, Hv, dk, dv = c["sizes"]
        r = Hv // Hk
        qkvz = F.linear(hidden, c["qkvz_w"]).unflatten(-1, (Hk, 2 * dk + 2 * r * dv))  # [B, T, Hk, ...]
        ba = F.linear(hidden, c["ba_w"]).unflatten(-1, (Hk, 2 * r))  # [B, T, Hk, 2r]
        q, k, v, z = torch.split(qkvz, [dk, dk, r * dv, r * dv], dim=3)
        b, a = torch.split(ba, [r, r], dim=3)
        Bt, T = hidden.shape[:2]
        return q, k, v.reshape(Bt, T, Hv, dv), z.reshape(Bt, T, Hv, dv), b.reshape(Bt, T, Hv), a.reshape(Bt, T, Hv)

    def prepare(self, hidden, mask, c, initial):
        Hk, Hv, dk, dv = c["sizes"]
        q, k, v, z, b, a = self._split(mask_tokens(hidden, mask), c)  # q, k [B, T, Hk, dk]; v, z [B, T, Hv, dv]
        mixed = torch.cat([x.flatten(2) for x in (q, k, v)], dim=-1).transpose(1, 2)  # [B, 2·Hk·dk + Hv·dv, T]
        mixed = causal_conv(mixed, c["conv_w"], c["conv_b"], c["act"], None if initial is None else initial.get("conv"))
        q, k, v = torch.split(mixed.transpose(1, 2), [Hk * dk, Hk * dk, Hv * dv], dim=-1)
        Bt, T = hidden.shape[:2]
        q = scan_delta.l2norm(q.reshape(Bt, T, Hk, dk).float()) * dk ** -0.5  # [B, T, Hk, dk]
        k = scan_delta.l2norm(k.reshape(Bt, T, Hk, dk).float())
        g = -c["A_log"].float().exp() * F.softplus(a.float() + c["dt_bias"])  # [B, T, Hv], ≤ 0
        beta = b.sigmoid() * c.get("beta_scale", 1.0)  # OLMo-Hybrid may double β (negative eigenvalues)
        return {"q": q, "k": k, "v": v.reshape(Bt, T, Hv, dv).float(), "g": g, "beta": beta.float(), "gate": z}

    def finish(self, y, inputs, c):
        Bt, T, Hv, dv = y.shape
        # the gated norm over each head's dv channels: normalise, weight, then SiLU gate (all these models)
        o = gated_rmsnorm(y.to(c["dtype"]), inputs["gate"], c["norm_w"], c["norm_eps"], dv, gate_first=False)
        return F.linear(o.reshape(Bt, T, Hv * dv), c["out_w"], c["out_b"])

    def zero(self, inputs, c):
        Bt, _, Hv, dv = inputs["v"].shape
        return (torch.zeros(Bt, Hv, inputs["k"].shape[-1], dv, dtype=torch.float32, device=inputs["v"].device),)

    def _qk(self, inputs):
        H = inputs["v"].shape[2]
        return _heads(inputs["q"], H), _heads(inputs["k"], H)

    def run(self, state, inputs, c, keep):
        q, k = self._qk(inputs)
        S, states = scan_delta.delta_run(state[0], q, k, inputs["v"], inputs["g"], inputs["beta"], keep)
        return (S,), (None if states is None else (states,))

    def readout(self, start, states, inputs, c):
        return scan_delta.delta_readout(states[0], self._qk(inputs)[0])

    def step(self, state, inputs_t, c):
        q, k = (x[:, 0] for x in self._qk(inputs_t))
        S, o, parts = scan_delta.delta_step(state[0], q, k, inputs_t["v"][:, 0], inputs_t["g"][:, 0],
                                            inputs_t["beta"][:, 0])
        return (S,), o, parts

    def checkpoints(self, inputs, c, every, initial):
        _, k = self._qk(inputs)
        return [scan_delta.delta_segment_ends(initial[0], k, inputs["v"], inputs["g"], inputs["beta"], every)]

    def attention_row(self, trace, i, head):
        """w[b, j] = β_j qᵢᵀ [Π_{j<l≤i} e^{g_l} (I − β_l k_l k_lᵀ)] k_j, so Σ_j w_j v_j = o_i for this head:
        q_i carried back through each later step's decay and erase, one vector per step (never T × T)."""
        head = 0 if head is None else head
        q, k = (x[:, : i + 1, head] for x in self._qk(trace.inputs))  # [B, i+1, dk]
        g, beta = trace.inputs["g"][:, : i + 1, head], trace.inputs["beta"][:, : i + 1, head]  # [B, i+1]
        r, w = q[:, i], torch.empty_like(g)
        for j in range(i, -1, -1):
            rk = (r * k[:, j]).sum(-1)  # [B]
            w[:, j] = beta[:, j] * rk
            r = (r - (beta[:, j] * rk)[:, None] * k[:, j]) * g[:, j, None].exp()  # back through step j: erase, decay
        return w


class SplitGatedDeltaNetKind(GatedDeltaNetKind):
    """Gated DeltaNet with one projection per part (Qwen3.5, Qwen3.5-MoE, Qwen4-Exp, LaraMini): ``in_proj_qkv``
    ([q | k | v], no per-head grouping), ``in_proj_z``, ``in_proj_b``, ``in_proj_a``. The rest is Qwen3-Next's.

    Example::

        from tr_widgets.engine.state import kind_of
        kind_of("gated_deltanet_split").state_names == ("ssm",)    # S [B, value_heads, d_k, d_v]
    """

    name, title = "gated_deltanet_split", "Gated DeltaNet (gated delta rule; split projections)"
    classes = ()
    needs = ("in_proj_qkv", "in_proj_z", "in_proj_b", "in_proj_a", "conv1d", "A_log", "dt_bias", "norm", "out_proj")
    weights = {"qkv_w": "in_proj_qkv", "z_w": "in_proj_z", "b_w": "in_proj_b", "a_w": "in_proj_a"}

    def read(self, module, args, kwargs):
        hidden, mask = hidden_and_mask(args, kwargs)
        consts = {k: getattr(module, m).weight for k, m in self.weights.items()}
        consts.update(conv_w=module.conv1d.weight.squeeze(1), conv_b=module.conv1d.bias,
                      act=activation(module.activation), A_log=module.A_log, dt_bias=module.dt_bias,
                      norm_w=self.out_norm(module).weight, norm_eps=self.out_norm(module).variance_epsilon,
                      out_w=self.out(module).weight, out_b=self.out(module).bias,
                      conv_width=module.conv_kernel_size, dtype=hidden.dtype,
                      beta_scale=2.0 if getattr(module, "allow_neg_eigval", False) else 1.0,
                      sizes=(module.num_k_heads, module.num_v_heads, module.head_k_dim, module.head_v_dim))
        return hidden, mask, consts

    def out_norm(self, module):
        return module.norm

    def out(self, module):
        return module.out_proj

    def _split(self, hidden, c):
        Hk, Hv, dk, dv = c["sizes"]
        Bt, T = hidden.shape[:2]
        q, k, v = torch.split(self.qkv(hidden, c), [Hk * dk, Hk * dk, Hv * dv], dim=-1)  # [B, T, ...] each
        z = F.linear(hidden, c["z_w"]).reshape(Bt, T, Hv, dv)  # [B, T, Hv, dv]
        b, a = F.linear(hidden, c["b_w"]), F.linear(hidden, c["a_w"])  # [B, T, Hv] each
        return q.reshape(Bt, T, Hk, dk), k.reshape(Bt, T, Hk, dk), v.reshape(Bt, T, Hv, dv), z, b, a

    def qkv(self, hidden, c):
        return F.linear(hidden, c["qkv_w"])  # [B, T, 2·Hk·dk + Hv·dv]


class ProjGatedDeltaNetKind(SplitGatedDeltaNetKind):
    """Gated DeltaNet with q/k/v/a/b/g projections and ``o_norm`` / ``o_proj`` (OLMo-Hybrid); β doubled when the
    module allows negative eigenvalues (``allow_neg_eigval``).

    Example::

        from tr_widgets.engine.state import kind_of
        kind_of("gated_deltanet_proj").names[:3] == ("q", "k", "v")
    """

    name, title = "gated_deltanet_proj", "Gated DeltaNet (gated delta rule; q/k/v/g projections)"
    needs = ("q_proj", "k_proj", "v_proj", "a_proj", "b_proj", "g_proj", "o_norm", "o_proj", "conv1d", "A_log",
             "dt_bias")
    weights = {"q_w": "q_proj", "k_w": "k_proj", "v_w": "v_proj", "z_w": "g_proj", "b_w": "b_proj", "a_w": "a_proj"}

    def out_norm(self, module):
        return module.o_norm

    def out(self, module):
        return module.o_proj

    def qkv(self, hidden, c):
        return torch.cat([F.linear(hidden, c[w]) for w in ("q_w", "k_w", "v_w")], dim=-1)  # [B, T, 2·Hk·dk + Hv·dv]


GATED_DELTANET = register(GatedDeltaNetKind())
SPLIT_GATED_DELTANET = register(SplitGatedDeltaNetKind())
PROJ_GATED_DELTANET = register(ProjGatedDeltaNetKind())
