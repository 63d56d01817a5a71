"""Spec of RWKV-4 time mixing (``RwkvSelfAttention``): token shift, then the WKV linear attention.

``prepare`` is ``extract_key_value`` (token shift mixes each position with the previous one), read from
the module's weights; the WKV recurrence follows ``rwkv_linear_attention_cpu`` (the path transformers
takes without its CUDA kernel, and always for one token). Peng et al., "RWKV: Reinventing RNNs for the
Transformer Era" (2023), eq. 14-16.

The model's state is a list of five [B, hidden, layers] tensors: (ffn shift, attention shift, num, den,
max). This mixer owns the last four; ``trace.state(step)`` returns them for its layer, in that order.
RWKV has no padding mask: transformers ignores ``attention_mask`` for it (it logs so), and so does this.
"""
from __future__ import annotations

import torch

from tr_widgets.engine.errors import fail

from . import scan
from .families import StateKind, register
from .mixer_ops import call_input


def _call_parts(args, kwargs):
    state = args[1] if len(args) > 1 else kwargs.get("state")
    return call_input(args, kwargs, "hidden"), state


class RwkvKind(StateKind):
    """RWKV-4 WKV: state (att_shift [B, hidden], num, den, max [B, attention_hidden]) per layer.

    Per step: the numerator, denominator and running max of the output (``wkv = numerator / denominator``)
    and of the state update. ``attention_row(i, channel=..)`` gives the normalised weights of every past
    token in output i (a per-channel softmax over ``k_j - (i-1-j) w`` and ``u + k_i``).

    Example::

        from tr_widgets.engine.state import trace_state
        t = trace_state("rwkv", k=torch.randn(1, 6, 4), v=torch.randn(1, 6, 4), time_decay=torch.zeros(4),
                        time_first=torch.zeros(4))     # or trace_mixer_call on a RwkvSelfAttention
        num, den, mx = t.state(-1)             # a hooked call adds the token shift in front
        t.quantities(0)["denominator"].shape == (1, 4)     # [B, attention_hidden]
    """

    name, title = "rwkv", "RWKV-4 WKV linear attention"
    classes = ("transformers.models.rwkv.modeling_rwkv.RwkvSelfAttention",)
    pattern = r"Rwkv\w*SelfAttention$"
    needs = ("time_decay", "time_first", "time_mix_key", "key", "value", "receptance", "output")
    inputs, optional = ("k", "v", "r"), ("r",)
    state_names = ("att_shift", "num", "den", "max")
    names = ("k", "v", "r", "numerator", "denominator", "max", "wkv", "num", "den", "running_max", "y")
    shapes = {"k": "BTA", "v": "BTA", "r": "BTA", "time_decay": "A", "time_first": "A"}

    def standalone(self, tensors):
        inputs = {n: tensors[n] for n in self.inputs if tensors.get(n) is not None}
        return inputs, {"w": -torch.exp(tensors["time_decay"]), "u": tensors["time_first"]}

    def read(self, module, args, kwargs):
        hidden, state = _call_parts(args, kwargs)
        if state is not None and hidden.shape[1] == 1 and hidden.shape[0] > 1:
            # transformers broadcasts state[1][:, :, layer] ([B, C]) against [B, 1, C] here, giving [B, B, C]
            fail("hidden", "one sequence (batch 1) for a single-token RWKV call with a state",
                 f"batch {hidden.shape[0]}", "decode RWKV one sequence at a time: transformers' single-token "
                 "path mixes the batch rows of its token-shift state")
        consts = {"mix_k": module.time_mix_key, "mix_v": module.time_mix_value, "mix_r": module.time_mix_receptance,
                  "key_w": module.key.weight, "value_w": module.value.weight, "recept_w": module.receptance.weight,
                  "out_w": module.output.weight, "w": -torch.exp(module.time_decay), "u": module.time_first,
                  "dtype": hidden.dtype}
        return hidden, None, consts

    def prepare(self, hidden, mask, c, initial):
        shifted = torch.nn.functional.pad(hidden, (0, 0, 1, -1))  # [B, T, C]: position t sees t-1, zeros at 0
        if initial is not None:
            shifted[:, 0] = initial["state"][0]

        def mix(m):  # the model's token shift: a per-channel blend of this position and the previous one
            return hidden * m + shifted * (1 - m)

        k = torch.nn.functional.linear(mix(c["mix_k"]), c["key_w"])
        v = torch.nn.functional.linear(mix(c["mix_v"]), c["value_w"])
        r = torch.sigmoid(torch.nn.functional.linear(mix(c["mix_r"]), c["recept_w"]))
        return {"k": k, "v": v, "r": r}  # [B, T, A] each

    def finish(self, y, inputs, c):
        return torch.nn.functional.linear(inputs["r"] * y.to(inputs["k"].dtype), c["out_w"])

    def from_cache(self, module, args, kwargs):
        state = args[1] if len(args) > 1 else kwargs.get("state")
        if state is None:
            return None
        return {"state": tuple(s[:, :, module.layer_id] for s in state[1:5])}

    def zero(self, inputs, c):
        return scan.wkv_zero(inputs["k"])

    def run(self, state, inputs, c, keep):
        return scan.wkv_run(state, inputs["k"], inputs["v"], c["w"], c["u"], keep)

    def readout(self, start, states, inputs, c):
        # wkv_t reads the state before step t: the start, then every state but the last
        prev = tuple(torch.cat([a[:, None], s[:, :-1]], 1) for a, s in zip(start, states))  # [b, K, A] each
        return scan.wkv_readout(prev, inputs["k"], inputs["v"], c["u"])

    def step(self, state, inputs_t, c):
        state, wkv, parts = scan.wkv_step(state, inputs_t["k"][:, 0], inputs_t["v"][:, 0], c["w"], c["u"])
        r = inputs_t.get("r")
        parts["r"] = None if r is None else r[:, 0]
        parts["y"] = wkv if r is None else r[:, 0] * wkv.to(inputs_t["k"].dtype)
        return state, wkv, parts

    def present(self, rec, window):
        if window is None:
            return tuple(rec)
        return (window[:, -1], *rec)

    def present_all(self, rec, hidden):
        return tuple(rec) if hidden is None else (hidden, *rec)

    def attention_row(self, trace, i, channel):
        """Softmax weights [B, A, i+1] (or [B, i+1] for one channel) with Σ_j w_j v_j = wkv_i (tokens of
        this call only: an initial state's share is left out)."""
        k = trace.inputs["k"][:, : i + 1].float().transpose(1, 2)  # [B, A, i+1]
        w, u = trace.consts["w"].float()[:, None], trace.consts["u"].float()[:, None]  # [A, 1]
        j = torch.arange(i + 1, device=k.device, dtype=torch.float32)
        logits = k + (i - 1 - j) * w  # [B, A, i+1]: w < 0, so older tokens decay linearly in log space
        logits[..., i] = u[:, 0] + k[..., i]
        weights = torch.softmax(logits, dim=-1)
        return weights if channel is None else weights[:, channel]

    def recurrent_of(self, snapshot):
        return tuple(s.float() for s in snapshot["state"][1:])  # (num, den, max): the shift is an input


RWKV = register(RwkvKind())
