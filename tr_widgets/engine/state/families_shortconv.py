"""Spec of the gated short convolution of LFM2 (``Lfm2ShortConv``, ``Lfm2MoeShortConv``, ``Lfm3ShortConv``).

The mixer projects its input to three gates B, C, x (``in_proj``, split in that order), convolves B ⊙ x with a
depthwise causal conv of width K (``conv_L_cache``), gates the result by C and projects it (``out_proj``). Its
whole state is the convolution window: the cache keeps the last K values of B ⊙ x, ``conv_states[0]``
[B, hidden, K], so a step shifts the window by one and reads it with the conv's weights.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .families import StateKind, register
from .family_tools import call_cache, linear_layer, shift_windows
from .mixer_ops import hidden_and_mask, mask_tokens

_MODELS = "transformers.models"


def _conv_read(windows, c):
    """The conv's output from windows [..., C, K]: Σ_k w[c, k]·window[c, k] (+ bias), as conv1d computes it."""
    out = (windows * c["conv_w"].to(windows.dtype)).sum(-1)
    return out if c.get("conv_b") is None else out + c["conv_b"].to(out.dtype)


class ShortConvKind(StateKind):
    """LFM2's gated short convolution: state = the conv window [B, hidden, K] (the last K values of B ⊙ x).

    Per step: the gates B, C, x, their product Bx (what enters the window), the conv's output ``conv`` and
    ``y = C ⊙ conv`` (before ``out_proj``). There is no effective attention beyond the window: output i reads
    tokens i−K+1 … i only, through the conv's fixed weights.

    Example::

        from tr_widgets.engine.state import trace_state
        t = trace_state("short_conv", B=torch.randn(1, 5, 4), C=torch.randn(1, 5, 4), x=torch.randn(1, 5, 4),
                        conv_w=torch.randn(4, 3))        # or trace_mixer_call on an Lfm2ShortConv
        t.state(-1).shape == (1, 4, 3)                   # [B, hidden, K]: the cache's conv_states[0]
        sorted(t.quantities(0)) == ["B", "Bx", "C", "conv", "x", "y"]
    """

    name, title = "short_conv", "gated short convolution (LFM2)"
    classes = (f"{_MODELS}.lfm2.modeling_lfm2.Lfm2ShortConv", f"{_MODELS}.lfm2_moe.modeling_lfm2_moe.Lfm2MoeShortConv",
               f"{_MODELS}.lfm3.modeling_lfm3.Lfm3ShortConv")
    pattern, needs = r"ShortConv$", ("in_proj", "conv", "out_proj", "layer_idx")
    inputs, optional = ("B", "C", "x"), ("conv_b",)
    state_names = ("conv",)
    names = ("B", "C", "x", "Bx", "conv", "y")
    shapes = {"B": "BTC", "C": "BTC", "x": "BTC", "conv_w": "CK", "conv_b": "C"}

    def read(self, module, args, kwargs):
        hidden, mask = hidden_and_mask(args, kwargs)
        consts = {"in_w": module.in_proj.weight, "in_b": module.in_proj.bias,
                  "conv_w": module.conv.weight.squeeze(1), "conv_b": module.conv.bias,
                  "out_w": module.out_proj.weight, "out_b": module.out_proj.bias, "dtype": hidden.dtype}
        return hidden, mask, consts

    def prepare(self, hidden, mask, c, initial):
        b, gate_c, x = F.linear(mask_tokens(hidden, mask), c["in_w"], c["in_b"]).chunk(3, dim=-1)  # [B, T, C] each
        return {"B": b, "C": gate_c, "x": x}

    def finish(self, y, inputs, c):
        return F.linear(y.to(c["dtype"]), c["out_w"], c["out_b"])

    def from_cache(self, module, args, kwargs):
        layer = linear_layer(call_cache(args, kwargs), module.layer_idx)
        return None if layer is None else {"state": layer.conv_states[0]}

    def recurrent_of(self, snapshot):
        return (snapshot["state"],)  # the window stays in the model's dtype, as the cache keeps it

    def zero(self, inputs, c):
        Bt, _, C = inputs["x"].shape
        return (torch.zeros(Bt, C, c["conv_w"].shape[-1], dtype=inputs["x"].dtype, device=inputs["x"].device),)

    def run(self, state, inputs, c, keep):
        last, windows = shift_windows(state[0], inputs["B"] * inputs["x"], keep)
        return (last,), (None if windows is None else (windows,))

    def readout(self, start, states, inputs, c):
        return inputs["C"] * _conv_read(states[0], c).to(inputs["C"].dtype)  # [B, T, C]

    def step(self, state, inputs_t, c):
        bx = inputs_t["B"] * inputs_t["x"]  # [B, 1, C]
        last, _ = shift_windows(state[0], bx, keep=False)
        conv = _conv_read(last, c).to(bx.dtype)  # [B, C]
        y = inputs_t["C"][:, 0] * conv
        parts = {"B": inputs_t["B"][:, 0], "C": inputs_t["C"][:, 0], "x": inputs_t["x"][:, 0], "Bx": bx[:, 0],
                 "conv": conv, "y": y}
        return (last,), y, parts

    def checkpoints(self, inputs, c, every, initial):
        """The window after s·every steps is a slice of the padded input: no scan needed."""
        K, T = initial[0].shape[-1], inputs["x"].shape[1]
        full = torch.cat([initial[0], (inputs["B"] * inputs["x"]).transpose(1, 2).to(initial[0].dtype)], -1)
        return [torch.stack([full[..., s * every: s * every + K] for s in range(T // every + 1)])]  # [S+1, B, C, K]


SHORT_CONV = register(ShortConvKind())
