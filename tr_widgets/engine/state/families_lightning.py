"""Spec of MiniMax's lightning attention (``MiniMaxLightningAttention``): linear attention with a fixed decay.

Per head h, with λ_h = exp(−slope_h) (ALiBi-like slopes scaled down with depth), the state is the decayed sum
of key-value outer products: S_t = λ_h S_{t−1} + k_tᵀ v_t, and o_t = q_t S_t (Qin et al., "Lightning
Attention-2", 2024). ``prepare`` is the module's path up to it: act(qkv_proj(x)), the padding mask, the
per-head split into q, k, v. ``finish``: RMSNorm over all heads, times σ(output_gate(x)), then out_proj. The
module computes a full call block by block; it is the same recurrence. The cache keeps S per layer, in the
model's dtype, as ``cache.linear_cache[layer_idx]`` [B, heads, d, d].
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .effective import Form
from .families import StateKind, register
from .family_tools import activation_of, apply_activation, call_cache, register_form
from .mixer_ops import hidden_and_mask, mask_tokens


class LightningKind(StateKind):
    """Lightning attention: state S [B, heads, d, d] (keys to values), decayed by λ_h each step.

    Per step: q, k, v, the write ``kv`` = k_tᵀ v_t, the head's ``decay`` λ, the output o = q_t S_t and the
    output gate (before its sigmoid). ``attention_row(i, head=h)``: w_ij = (q_i · k_j) λ_h^{i−j}, and
    Σ_j w_ij v_j = o_i (causal linear attention with a decay, no softmax).

    Example::

        from tr_widgets.engine.state import trace_state
        t = trace_state("lightning", q=torch.randn(1, 5, 2, 4), k=torch.randn(1, 5, 2, 4),
                        v=torch.randn(1, 5, 2, 4), slope=torch.tensor([0.5, 0.1]))
        t.state(-1).shape == (1, 2, 4, 4)            # [B, heads, d, d]: the cache's linear_cache[layer]
        t.quantities(0)["decay"].shape == (2,)       # λ_h = exp(−slope_h)
    """

    name, title = "lightning", "lightning attention (MiniMax)"
    classes = ("transformers.models.minimax.modeling_minimax.MiniMaxLightningAttention",)
    pattern, needs = r"LightningAttention$", ("qkv_proj", "output_gate", "out_proj", "slope_rate", "norm")
    inputs, optional = ("q", "k", "v", "gate"), ("gate",)
    state_names = ("kv",)
    names = ("q", "k", "v", "kv", "decay", "o", "gate")
    shapes = {"q": "BTHD", "k": "BTHD", "v": "BTHE", "slope": "H"}

    def standalone(self, tensors):
        inputs = {n: tensors[n] for n in self.inputs if tensors.get(n) is not None}
        return inputs, {"decay": torch.exp(-tensors["slope"].float())}

    def read(self, module, args, kwargs):
        hidden, mask = hidden_and_mask(args, kwargs)
        mask = mask if isinstance(mask, torch.Tensor) and mask.dim() == 2 else None  # the recurrent (padding) mask
        consts = {"qkv_w": module.qkv_proj.weight, "act": activation_of(module.act_fn),
                  "heads": (module.num_attention_heads, module.head_dim),
                  "decay": torch.exp(-module.slope_rate.reshape(-1)), "norm_w": module.norm.weight,
                  "norm_eps": module.norm.variance_epsilon, "gate_w": module.output_gate.weight,
                  "out_w": module.out_proj.weight, "out_b": module.out_proj.bias, "dtype": hidden.dtype}
        return hidden, mask, consts

    def prepare(self, hidden, mask, c, initial):
        H, d = c["heads"]
        qkv = mask_tokens(apply_activation(c["act"], F.linear(hidden, c["qkv_w"])), mask)
        qkv = qkv.unflatten(-1, (H, 3 * d))  # [B, T, H, 3d]
        q, k, v = torch.split(qkv, d, dim=3)
        return {"q": q, "k": k, "v": v, "gate": F.linear(hidden, c["gate_w"])}

    def finish(self, y, inputs, c):
        y = y.to(c["dtype"]).flatten(2)  # [B, T, H·d]
        norm = c["norm_w"] * (y.float() * torch.rsqrt(y.float().pow(2).mean(-1, keepdim=True) + c["norm_eps"])
                              ).to(y.dtype)
        return F.linear(torch.sigmoid(inputs["gate"]) * norm, c["out_w"], c["out_b"])

    def from_cache(self, module, args, kwargs):
        kept = getattr(call_cache(args, kwargs), "linear_cache", None) or []
        state = kept[module.layer_idx] if module.layer_idx < len(kept) else None
        return {"state": state} if isinstance(state, torch.Tensor) else None

    def recurrent_of(self, snapshot):
        return (snapshot["state"],)  # the model keeps S in its own dtype

    def zero(self, inputs, c):
        Bt, _, H, d = inputs["k"].shape
        return (torch.zeros(Bt, H, d, inputs["v"].shape[-1], dtype=inputs["v"].dtype, device=inputs["v"].device),)

    def _decay(self, c, S):
        return c["decay"].to(S.dtype)[:, None, None]  # [H, 1, 1]

    def run(self, state, inputs, c, keep):
        S, kept = state[0], []
        lam = self._decay(c, S)
        for t in range(inputs["k"].shape[1]):
            S = lam * S + inputs["k"][:, t, :, :, None] * inputs["v"][:, t, :, None, :]  # [B, H, d, e]
            if keep:
                kept.append(S)
        return (S,), ((torch.stack(kept, 1),) if keep else None)  # [B, T, H, d, e]

    def readout(self, start, states, inputs, c):
        return torch.einsum("bthd,bthde->bthe", inputs["q"], states[0])

    def step(self, state, inputs_t, c):
        (S,), _ = self.run(state, inputs_t, c, keep=False)
        o = torch.einsum("bhd,bhde->bhe", inputs_t["q"][:, 0], S)
        parts = {n: inputs_t[n][:, 0] for n in self.inputs if n in inputs_t}
        parts.update(kv=inputs_t["k"][:, 0, :, :, None] * inputs_t["v"][:, 0, :, None, :], decay=c["decay"], o=o)
        return (S,), o, parts

    def checkpoints(self, inputs, c, every, initial):
        """Each segment's write in one einsum, S_end = λ^e S_start + Σ_j λ^(e−1−j) k_jᵀ v_j; then a loop over the
        ⌊T / every⌋ segments only (the module's own forward is blockwise too)."""
        S, k, v = initial[0], inputs["k"], inputs["v"]
        n = k.shape[1] // every
        lam = self._decay(c, S)[:, 0, 0]  # [H]
        w = lam[None, :] ** torch.arange(every - 1, -1, -1, device=S.device, dtype=S.dtype)[:, None]  # [e, H]
        seg = lambda x: x[:, : n * every].unflatten(1, (n, every))  # noqa: E731  [B, T, H, d] -> [B, n, e, H, d]
        writes = torch.einsum("bnjhd,jh,bnjhe->bnhde", seg(k), w, seg(v))  # [B, n, H, d, e]
        kept, lam_e = [S], (lam ** every)[:, None, None]
        for s in range(n):
            S = lam_e * S + writes[:, s]
            kept.append(S)
        return [torch.stack(kept)]  # [n + 1, B, H, d, e]

    def attention_row(self, trace, i, head):
        """w[b, j] = (q_i · k_j) λ_h^{i−j}: the decayed linear-attention score of v_j in o_i (this call's tokens)."""
        head = 0 if head is None else head
        q, k = trace.inputs["q"][:, i, head].float(), trace.inputs["k"][:, : i + 1, head].float()  # [B, d], [B, i+1, d]
        ages = torch.arange(i, -1, -1, device=k.device, dtype=torch.float32)  # i − j
        return torch.einsum("bd,bjd->bj", q, k) * trace.consts["decay"][head].float() ** ages


LIGHTNING = register(LightningKind())


def _parts(st):
    return tuple(st.inputs[n].transpose(1, 2) for n in ("q", "k", "v"))  # [B, H, T, ·]


register_form(LIGHTNING.name, Form("head", False, _parts, lambda st, i: st.quantities(i)["o"].float(),
                                   "w_ij = (q_i · k_j) λ^(i−j): linear attention with a per-head decay, no softmax"))
