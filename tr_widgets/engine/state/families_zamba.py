"""Spec of Zamba's multi-head Mamba (``ZambaMambaMixer``): the Mamba selective scan run per head, each head with
its own x_proj / dt_proj weights (``x_proj_weight`` [H, R + 2N, P], ``dt_proj_weight`` [H, P, R]), so B and C
are per head. ``in_proj`` interleaves the scan input and the gate channel by channel; the conv and the cache's
conv buffer see the scan input only. The cache keeps the state [B, H, P, N] (``recurrent_states``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .families import StateKind, register
from .families_mamba import MambaKind
from .mixer_ops import activation, causal_conv, hidden_and_mask, mask_tokens


class MultiHeadMambaKind(MambaKind):
    """Zamba's Mamba: state ``h`` [B, heads, head_dim, d_state], plus a conv buffer [B, d_inner, conv_kernel].

    Per step the Mamba quantities, per head: Δ [B, H, P], B and C [B, H, N] (one per head). As in Mamba, a
    multi-token call restarts the scan from zero; one-token calls continue the cache's state.

    Example::

        from tr_widgets.engine.state import kind_of
        kind_of("mamba_heads").names == kind_of("mamba").names    # Mamba's names, per head
    """

    name, title = "mamba_heads", "Mamba selective scan, per head (Zamba)"
    classes = ()
    pattern = r"MambaMixer$"
    needs = ("in_proj", "conv1d", "x_proj_weight", "dt_proj_weight", "A_log", "D", "out_proj", "n_mamba_heads")
    shapes = {}  # a hooked module only: trace_state's bare tensors are the "mamba" kind's

    def read(self, module, args, kwargs):
        hidden, mask = hidden_and_mask(args, kwargs)
        conv = module.conv1d
        consts = {"in_w": module.in_proj.weight, "in_b": module.in_proj.bias, "conv_w": conv.weight.squeeze(1),
                  "conv_b": conv.bias, "act": activation(module.activation, module.act),
                  "x_w": module.x_proj_weight, "dt_w": module.dt_proj_weight, "dt_b": module.dt_proj_bias,
                  "A": -torch.exp(module.A_log.float()), "D": module.D.float(), "out_w": module.out_proj.weight,
                  "out_b": module.out_proj.bias, "rank": module.time_step_rank, "conv_width": module.conv_kernel_size,
                  "heads": module.n_mamba_heads, "dtype": hidden.dtype}
        return hidden, mask, consts

    def _proj(self, hidden, c):
        proj = F.linear(hidden, c["in_w"], c["in_b"]).transpose(1, 2)  # [B, 2 d_inner, T]
        proj = proj.reshape(proj.shape[0], -1, 2, proj.shape[-1])  # [B, d_inner, 2, T]: interleaved channels
        return proj[:, :, 0], proj[:, :, 1]  # scan input, gate: [B, d_inner, T] each

    def conv_input(self, hidden, c):
        return self._proj(hidden, c)[0]

    def prepare(self, hidden, mask, c, initial):
        xp, gate = self._proj(mask_tokens(hidden, mask), c)
        x = causal_conv(xp.contiguous(), c["conv_w"], c["conv_b"], c["act"],
                        None if initial is None else initial.get("conv"))
        Bt, T, H = hidden.shape[0], hidden.shape[1], c["heads"]
        x = mask_tokens(x.transpose(1, 2), mask).reshape(Bt, T, H, -1)  # [B, T, H, P]
        N = c["A"].shape[-1]
        params = torch.einsum("hrp,bthp->bthr", c["x_w"], x)  # [B, T, H, R + 2N]: per-head x_proj
        dt_low, B, C = torch.split(params, [c["rank"], N, N], dim=-1)
        dt = torch.einsum("hpr,bthr->bthp", c["dt_w"], dt_low)  # [B, T, H, P]: per-head dt_proj
        if c["dt_b"] is not None:
            dt = dt + c["dt_b"].float()
        gate = gate.transpose(1, 2).reshape(Bt, T, H, -1)  # [B, T, H, P]
        return {"x": x, "delta": F.softplus(dt), "B": B, "C": C, "gate": gate}

    def finish(self, y, inputs, c):
        return F.linear(y.reshape(*y.shape[:2], -1).to(c["dtype"]), c["out_w"], c["out_b"])  # heads concatenated

    def attention_row(self, trace, i, index):
        return StateKind.attention_row(self, trace, i, index)  # the refusal: no per-head form here yet


MULTI_HEAD_MAMBA = register(MultiHeadMambaKind())
