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


def call_mask(args: tuple, kwargs: dict):
    """The attention mask a hooked mixer call got (its third positional argument, or ``attention_mask=``), or None.

    Example::

        mask = torch.ones(1, 3)
        call_mask((torch.randn(1, 3, 8), None, mask), {}) is mask
        call_mask((torch.randn(1, 3, 8),), {}) is None
    """
    return args[2] if len(args) > 2 else kwargs.get("attention_mask")


def hidden_and_mask(args: tuple, kwargs: dict) -> tuple:
    """``(hidden_states [B, T, C], attention mask or None)`` of a hooked mixer call ``mixer(hidden_states,
    cache, attention_mask)``, the input checked.

    Example::

        hidden = torch.randn(1, 3, 8)
        hidden_and_mask((hidden,), {"attention_mask": None}) == (hidden, None)
    """
    return call_input(args, kwargs, "hidden_states"), call_mask(args, kwargs)


def call_input(args: tuple, kwargs: dict, name: str) -> torch.Tensor:
    """The mixer's input [B, T, C] from a hooked call (positional or keyword ``name``), checked.

    Example::

        hidden = torch.randn(1, 3, 8)
        assert call_input((), {"hidden_states": hidden}, "hidden_states") is hidden    # a keyword call
    """
    hidden = args[0] if args else kwargs.get(name)
    check_tensor(name, hidden, ranks=(3,))
    return hidden


def call_cache(args: tuple, kwargs: dict):
    """The cache a hooked mixer call got: second positional argument, or ``cache`` (transformers ≥ 5.25),
    ``cache_params`` or ``past_key_values`` (older releases) by keyword; None without one.

    Example::

        assert call_cache((), {"cache": "c"}) == "c" and call_cache((1, "c"), {}) == "c"
    """
    if len(args) > 1:
        return args[1]
    return next((kwargs[k] for k in ("cache", "cache_params", "past_key_values") if kwargs.get(k) is not None), None)


def mask_tokens(hidden: torch.Tensor, mask) -> torch.Tensor:
    """Zero padded positions, as the model does before and after its convolution (mask [B, T], 1 = token).

    Example::

        mask_tokens(torch.ones(1, 3, 2), torch.tensor([[0, 1, 1]])).tolist() == [[[0, 0], [1, 1], [1, 1]]]    # 0: padding
    """
    if mask is None:
        return hidden
    return (hidden * mask[:, :, None]).to(hidden.dtype)


def causal_conv(xp: torch.Tensor, weight, bias, act, context=None) -> torch.Tensor:
    """Depthwise causal conv as the model's torch path computes it: xp [B, C, T] -> act(conv) [B, C, T].

    ``context`` [B, C, K] is the cache's conv buffer before the call; the model prepends it.

    Example::

        xp = torch.tensor([[[1., 2., 3.]]])        # [B=1, C=1, T=3]
        causal_conv(xp, torch.ones(1, 2), None, lambda y: y).tolist() == [[[1., 3., 5.]]]   # x_t + x_{t-1}, never x_{t+1}
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

        y, z = torch.randn(1, 3, 4), torch.randn(1, 3, 4)
        out = gated_rmsnorm(y, z, torch.ones(4), 1e-6, 4, gate_first=False)     # Qwen3-Next: normalise, then gate
        assert torch.allclose(out, F.rms_norm(y, (4,), eps=1e-6) * F.silu(z), atol=1e-6)
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

        from types import SimpleNamespace as NS
        layer = NS(conv_states=[], recurrent_states=[torch.zeros(1, 4, 2)])
        assert cache_layer(NS(layers=[layer]), 0) is layer
        assert cache_layer(NS(layers=[layer]), 1) is None     # past the last layer: None, not an IndexError
    """
    layers = getattr(cache, "layers", None)
    if layers is None or layer_idx >= len(layers) or not hasattr(layers[layer_idx], "recurrent_states"):
        return None
    return layers[layer_idx]
