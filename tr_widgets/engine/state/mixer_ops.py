"""The torch operations the mixers share around their scans, as transformers' torch paths compute them:
the padding mask, the depthwise causal conv and the buffer the cache keeps of its input, the gated
RMSNorm, and reading a hooked call's input and a cache's per-layer entry.
"""
from __future__ import annotations

import torch

from tr_widgets.engine.errors import check_tensor

_ACTIVATIONS = {"silu": torch.nn.functional.silu, "swish": torch.nn.functional.silu,
                "gelu": torch.nn.functional.gelu, "relu": torch.nn.functional.relu}


def activation(name: str, fallback=None):
    """The conv's activation as a plain torch function (the module's own callable for a name not listed).

    Example::

        activation("silu")(x)     # F.silu(x)
    """
    return _ACTIVATIONS.get(name, fallback)


def call_input(args: tuple, kwargs: dict, name: str) -> torch.Tensor:
    """The mixer's input [B, T, C] from a hooked call (positional or keyword ``name``), checked.

    Example::

        hidden = call_input(args, kwargs, "hidden_states")
    """
    hidden = args[0] if args else kwargs.get(name)
    check_tensor(name, hidden, ranks=(3,))
    return hidden


def mask_tokens(hidden: torch.Tensor, mask) -> torch.Tensor:
    """Zero padded positions, as the model does before and after its convolution (mask [B, T], 1 = token).

    Example::

        mask_tokens(hidden, torch.tensor([[0, 1, 1]]))    # hidden [1, 3, C]: position 0 becomes zeros
    """
    if mask is None:
        return hidden
    return (hidden * mask[:, :, None]).to(hidden.dtype)


def causal_conv(xp: torch.Tensor, weight, bias, act, context=None) -> torch.Tensor:
    """Depthwise causal conv as the model's torch path computes it: xp [B, C, T] -> act(conv) [B, C, T].

    ``context`` [B, C, K] is the cache's conv buffer before the call; the model prepends it.

    Example::

        x = causal_conv(xp, mixer.conv1d.weight.squeeze(1), mixer.conv1d.bias, F.silu)
    """
    T = xp.shape[-1]
    full = xp if context is None else torch.cat([context, xp], dim=-1)  # [B, C, K + T]
    out = torch.nn.functional.conv1d(full.to(weight.dtype), weight.unsqueeze(1), bias, padding=weight.shape[-1] - 1,
                                     groups=xp.shape[1])[:, :, :full.shape[-1]]
    return act(out[:, :, -T:]).to(xp.dtype)


def gated_rmsnorm(y, gate, weight, eps: float, group: int, gate_first: bool) -> torch.Tensor:
    """RMSNorm over groups of ``group`` channels with a SiLU gate, in float32 as the models compute it:
    Mamba-2 gates first (``MambaRMSNormGated``); Qwen3-Next normalises first (``Qwen3NextRMSNormGated``).

    Example::

        out = gated_rmsnorm(y, z, mixer.norm.weight, mixer.norm.variance_epsilon, y.shape[-1], gate_first=True)
    """
    dtype = y.dtype
    y = y.to(torch.float32)
    if gate_first:
        y = y * torch.nn.functional.silu(gate.to(torch.float32))
    groups = y.view(*y.shape[:-1], y.shape[-1] // group, group)  # [..., G, group]
    groups = groups * torch.rsqrt(groups.pow(2).mean(-1, keepdim=True) + eps)
    y = weight * groups.view(y.shape).to(dtype)
    if not gate_first:
        y = (y * torch.nn.functional.silu(gate.to(torch.float32))).to(dtype)
    return y


def conv_buffer(xp: torch.Tensor, width: int, context=None) -> torch.Tensor:
    """The conv buffer the cache keeps after the last position of xp [B, C, t]: the last ``width`` inputs,
    zero-padded on the left (or preceded by the buffer before the call) -> [B, C, width].

    Example::

        conv_buffer(torch.ones(1, 2, 1), 4)     # [[[0, 0, 0, 1], [0, 0, 0, 1]]]: after the first token
    """
    if context is not None:
        xp = torch.cat([context.to(xp.dtype), xp], dim=-1)  # [B, C, K + t]
    if xp.shape[-1] < width:
        xp = torch.nn.functional.pad(xp, (width - xp.shape[-1], 0))  # [B, C, width]
    return xp[:, :, -width:]


def cache_layer(cache, layer_idx: int):
    """The per-layer entry of a transformers cache that keeps ``conv_states`` / ``recurrent_states``, or None.

    Example::

        cache_layer(out.cache_params, 0).recurrent_states[0].shape    # Mamba: [B, d_inner, d_state]
    """
    layers = getattr(cache, "layers", None)
    if layers is None or layer_idx >= len(layers) or not hasattr(layers[layer_idx], "recurrent_states"):
        return None
    return layers[layer_idx]
