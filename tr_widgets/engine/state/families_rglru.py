"""Spec of RecurrentGemma's recurrent block (``RecurrentGemmaRecurrentBlock``): a conv, then the RG-LRU.

Griffin (De et al. 2024, eq. 1-4): from the conv's output x_t, per channel, the recurrence gate r_t and input
gate i_t (block-diagonal per head), a_t = exp(−8 r_t softplus(Λ)), and h_t = a_t ⊙ h_{t−1} + √(1 − a_t²) ⊙
(i_t ⊙ x_t), reset (a = 0, no √ factor) where the position id is 0. The output is linear_out(h ⊙ gelu(linear_y)).

The model keeps the state on the module, not in a cache object: ``rg_lru.recurrent_states`` [B, lru_width]
(float32) and ``conv1d_state`` [B, lru_width, K − 1]. A call continues them where its first position id is not 0;
as the module does, only a one-token call reads the conv buffer (a longer one convolves from zeros).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .effective import Form
from .families import StateKind, register
from .family_tools import activation_of, apply_activation, register_form
from .mixer_ops import call_input, causal_conv, conv_buffer


def _positions(args, kwargs):
    return args[1] if len(args) > 1 else kwargs.get("position_ids")


def _block_gate(x, weight, bias):
    """sigmoid(x W_h + b_h) per head, as the module's baddbmm: x [B, T, L], weight [H, w, w] -> [B, T, L]."""
    Bt, T, L = x.shape
    H = weight.shape[0]
    act = x.reshape(Bt * T, H, L // H).permute(1, 0, 2)  # [H, B·T, w]
    return torch.sigmoid(torch.baddbmm(bias[:, None, :], act, weight).transpose(0, 1).reshape(Bt, T, L))


class RgLruKind(StateKind):
    """RG-LRU: state h [B, lru_width] (float32, ``rg_lru.recurrent_states``), plus the conv buffer [B, L, K−1].

    Per step: the conv output x, the recurrence gate r, the input gate i, the decay a (0 at a reset), the
    gated, normalised input x_hat = √(1 − a²)·i·x, the state h and the output branch's gate. As attention
    (a diagonal scan, per channel): w_ij = Π_{j<l≤i} a_l, and Σ_j w_ij x_hat_j = h_i.

    Example::

        from tr_widgets.engine.state import trace_state
        a = torch.rand(1, 6, 4)
        t = trace_state("rglru", a=a, x_hat=torch.randn(1, 6, 4))    # or trace_mixer_call on the block
        t.state(-1).shape == (1, 4)                                   # [B, lru_width]
        torch.allclose(t.state(1), a[:, 1] * t.state(0) + t.inputs["x_hat"][:, 1])
    """

    name, title = "rglru", "RG-LRU (Griffin / RecurrentGemma)"
    classes = ("transformers.models.recurrent_gemma.modeling_recurrent_gemma.RecurrentGemmaRecurrentBlock",)
    pattern, needs = r"RecurrentBlock$", ("rg_lru", "linear_x", "linear_y", "linear_out", "conv_1d")
    inputs, optional = ("a", "x_hat", "x", "r", "i", "gate"), ("x", "r", "i", "gate")
    state_names = ("rg_lru",)
    names = ("x", "r", "i", "a", "x_hat", "h", "gate")
    has_conv = True
    shapes = {"a": "BTL", "x_hat": "BTL"}

    def read(self, module, args, kwargs):
        hidden = call_input(args, kwargs, "input_states")
        lru = module.rg_lru
        consts = {"y_w": module.linear_y.weight, "y_b": module.linear_y.bias, "x_w": module.linear_x.weight,
                  "x_b": module.linear_x.bias, "conv_w": module.conv_1d.weight.squeeze(1),
                  "conv_b": module.conv_1d.bias, "act": activation_of(module.act_fn),
                  "lam": lru.recurrent_param, "in_w": lru.input_gate_weight, "in_b": lru.input_gate_bias,
                  "rec_w": lru.recurrent_gate_weight, "rec_b": lru.recurrent_gate_bias,
                  "out_w": module.linear_out.weight, "out_b": module.linear_out.bias,
                  "conv_width": module.conv1d_width - 1, "positions": _positions(args, kwargs),
                  "conv_context": hidden.shape[1] == 1, "dtype": hidden.dtype}
        return hidden, None, consts

    def prepare(self, hidden, mask, c, initial):
        gate = apply_activation(c["act"], F.linear(hidden, c["y_w"], c["y_b"]))
        context = initial.get("conv") if initial is not None and c["conv_context"] else None
        xb = F.linear(hidden, c["x_w"], c["x_b"]).transpose(1, 2)  # [B, L, T]
        x = causal_conv(xb, c["conv_w"], c["conv_b"], lambda v: v, context).transpose(1, 2)  # [B, T, L]
        reset = (c["positions"] == 0)[:, :, None]  # [B or 1, T, 1]
        r, i = _block_gate(x, c["rec_w"], c["rec_b"]), _block_gate(x, c["in_w"], c["in_b"])
        log_a = -8.0 * r * F.softplus(c["lam"])
        mult = torch.where(reset, torch.ones_like(log_a), torch.sqrt(1 - torch.exp(2 * log_a)))
        a = torch.exp(log_a) * ~reset
        return {"a": a, "x_hat": x * i * mult.to(x.dtype), "x": x, "r": r, "i": i, "gate": gate}

    def finish(self, y, inputs, c):
        return F.linear(y.to(c["dtype"]) * inputs["gate"], c["out_w"], c["out_b"])

    def from_cache(self, module, args, kwargs):
        """The module's own state when the call reads it: a one-token call reads the conv buffer (even at
        position 0, where the module does not clear it), a longer one the recurrence unless it starts at 0."""
        hidden, pos, lru = call_input(args, kwargs, "input_states"), _positions(args, kwargs), module.rg_lru
        use_cache = args[3] if len(args) > 3 else kwargs.get("use_cache", True)
        if not use_cache or pos is None or lru.recurrent_states is None or module.conv1d_state is None \
                or module.conv1d_state.shape[0] != hidden.shape[0]:
            return None  # the module starts from zeros
        if hidden.shape[1] > 1 and bool((pos[:, 0] == 0).all()):
            return None  # reset at the first position, conv from zeros: nothing carried over
        return {"state": lru.recurrent_states, "conv": module.conv1d_state}

    def conv_state(self, window, mask, c, initial):
        xp = F.linear(window, c["x_w"], c["x_b"]).transpose(1, 2)  # [B, L, t]
        context = initial.get("conv") if initial is not None and c["conv_context"] else None
        return conv_buffer(xp, c["conv_width"], context)

    def zero(self, inputs, c):
        return (torch.zeros(inputs["a"].shape[0], inputs["a"].shape[2], dtype=torch.float32,
                            device=inputs["a"].device),)

    def run(self, state, inputs, c, keep):
        h, a, xh = state[0], inputs["a"].float(), inputs["x_hat"].float()
        states = []
        for t in range(a.shape[1]):
            h = a[:, t] * h + xh[:, t]
            states.append(h)
        return (h,), ((torch.stack(states, 1),) if keep else None)  # [B, T, L]

    def readout(self, start, states, inputs, c):
        return states[0].to(inputs["x_hat"].dtype)

    def step(self, state, inputs_t, c):
        (h,), _ = self.run(state, inputs_t, c, keep=False)
        parts = {n: inputs_t[n][:, 0] for n in self.inputs if n in inputs_t}
        parts["h"] = h
        return (h,), h.to(inputs_t["x_hat"].dtype), parts

    def attention_row(self, trace, i, channel):
        """w[b, c, j] = Π_{j<l≤i} a_l (suffix products: a reset's 0 cuts everything before it)."""
        a = trace.inputs["a"][:, 1: i + 1].float().transpose(1, 2)  # [B, L, i]
        later = torch.cat([a.flip(-1).cumprod(-1).flip(-1), a.new_ones(*a.shape[:-1], 1)], -1)  # [B, L, i+1]
        return later if channel is None else later[:, channel]


RGLRU = register(RgLruKind())


def _parts(st):
    a = st.inputs["a"].transpose(1, 2)[..., None]  # [B, L, T, 1]
    return a, a, st.inputs["x_hat"].transpose(1, 2)[..., None]  # v [B, L, T, 1]


register_form(RGLRU.name, Form("channel", False, _parts, lambda st, i: st.recurrent(i + 1)[0][..., None],
                               "per channel: w_ij = Π_{j<l≤i} a_l; terms w_ij x̂_j sum to h_i (a diagonal scan)"))
