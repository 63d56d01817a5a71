"""Small helpers the newer mixer specs share (short conv, RG-LRU, KDA, lightning): where a hooked call's cache
is, the per-layer entry of a linear-attention cache, the shift of a convolution window, and the link from a
spec to its effective-attention form.

transformers 5.25 renamed the mixers' cache argument to ``cache`` (``cache_params`` / ``past_key_values``
stay as deprecated aliases until 5.40), so a call's cache is looked up under every name.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

CACHE_NAMES = ("cache", "cache_params", "past_key_values")


def call_cache(args: tuple, kwargs: dict, position: int | None = 1):
    """The cache a hooked mixer call got (keyword under any of its names, or positional), or None.

    Example::

        call_cache((torch.ones(1, 2, 3),), {"cache": "c"}) == "c"     # the 5.25 name
        call_cache((torch.ones(1, 2, 3), "c"), {}) == "c"              # positional (the mixer's second argument)
    """
    for name in CACHE_NAMES:
        if kwargs.get(name) is not None:
            return kwargs[name]
    if position is not None and len(args) > position and not isinstance(args[position], torch.Tensor):
        return args[position]
    return None


def linear_layer(cache, layer_idx: int):
    """The layer's linear-attention cache entry (``conv_states`` / ``recurrent_states``) once it holds a state
    from an earlier call, else None.

    Example::

        from types import SimpleNamespace as NS
        layer = NS(conv_states={0: torch.zeros(1, 4, 3)}, recurrent_states={0: None}, has_previous_state={0: True})
        linear_layer(NS(layers=[layer]), 0) is layer
        linear_layer(NS(layers=[layer]), 1) is None       # no such layer
    """
    layers = getattr(cache, "layers", None)
    if layers is None or layer_idx >= len(layers):
        return None
    layer = layers[layer_idx]
    seen = getattr(layer, "has_previous_state", None)
    if not isinstance(seen, dict) or not seen.get(0, False):
        return None
    return layer


def shift_windows(window: torch.Tensor, xs: torch.Tensor, keep: bool):
    """Slide a convolution window [B, C, K] over new inputs xs [B, T, C]: ``(last window, windows after every
    step [B, T, C, K] or None)``, as the cache's conv buffer moves one position per token.

    Example::

        last, every = shift_windows(torch.zeros(1, 1, 2), torch.tensor([[[1.], [2.], [3.]]]), keep=True)
        last.tolist() == [[[2., 3.]]]       # the two newest inputs
        every[0, 0, 0].tolist() == [0., 1.]  # after the first token: a zero on the left
    """
    K = window.shape[-1]
    full = torch.cat([window, xs.transpose(1, 2).to(window.dtype)], dim=-1)  # [B, C, K + T]
    last = full[..., -K:]
    if not keep:
        return last, None
    return last, full.unfold(-1, K, 1)[..., 1:, :].transpose(1, 2)  # [B, C, T, K] -> [B, T, C, K]


ACTIVATIONS = {"silu": F.silu, "gelu": F.gelu, "gelu_tanh": functools.partial(F.gelu, approximate="tanh"),
               "relu": F.relu}  # by name, so a trace's consts stay plain data (a file holds no code)


def activation_of(fn):
    """The name (a key of ``ACTIVATIONS``) of a transformers activation module, or its own ``forward`` when it is
    not one of those.

    Example::

        activation_of(torch.nn.SiLU()) == "silu"
        apply_activation("silu", torch.zeros(2)).tolist() == [0.0, 0.0]
    """
    inner = getattr(fn, "act", None)  # GELUActivation / GELUTanh keep the torch function they call
    if isinstance(inner, functools.partial) and inner.func is F.gelu and inner.keywords == {"approximate": "tanh"}:
        return "gelu_tanh"
    if inner is F.gelu:
        return "gelu"
    if isinstance(fn, torch.nn.SiLU) or type(fn).__name__ == "SiLUActivation":  # the latter: F.silu, by its code
        return "silu"
    if isinstance(fn, torch.nn.ReLU):
        return "relu"
    return getattr(fn, "forward", fn)


def apply_activation(act, x: torch.Tensor) -> torch.Tensor:
    """Apply an activation given by name (``ACTIVATIONS``) or as a callable.

    Example::

        apply_activation("relu", torch.tensor([-1., 2.])).tolist() == [0.0, 2.0]
    """
    return ACTIVATIONS[act](x) if isinstance(act, str) else act(x)


def register_form(name: str, form) -> None:
    """Make a spec's trace readable as attention: add its :class:`~.effective.Form` to the table
    ``effective.FORMS`` (a new family's module calls this next to ``register``).

    Example::

        from tr_widgets.engine.state.effective import FORMS
        register_form("mamba2", FORMS["mamba2"])      # registering the same form again is harmless
    """
    from .effective import FORMS  # noqa: PLC0415  (effective imports the trace side; keep the specs' import light)

    FORMS[name] = form
