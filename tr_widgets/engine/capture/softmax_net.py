"""A safety net for hand-written attention that no ``hand.HandMode`` watches (never silent, issue 10).

With ``via="patch"`` (default), ``hand.HandMode`` follows softmax(q·kᵀ)·v only inside modules whose class
name says Attention/Attn (``mixers``). The same math written inline in any other module (a user's ``Block``
or ``Head``) would record nothing and say nothing. So while a patch capture is active, ``torch.Tensor.softmax``
and ``torch.softmax`` are rebound to wrappers (``F.softmax`` calls ``input.softmax``, so every spelling passes
here) that call the real function, and note a softmax that *looks like* attention weights: over the last dim
of a ≥3-D tensor whose last two dims are both > 1, run inside a module of the model, outside any attention
mixer (HandMode is on there) and outside the modules recorded by type (nn.MultiheadAttention's own softmax).
The innermost such module is reported at exit in the warning and ``rec.skipped`` with :data:`UNWATCHED`'s fix.

Cost: one Python call per softmax; the frame walk that names the module runs only for a softmax that looks
like attention weights. ``via="mode"`` never installs the wrappers (its mode sees every call). The last
capture to stop puts the original functions back.
"""
from __future__ import annotations

import sys
import threading

import torch
from torch import nn

from .mixers import MixerKind
from .modules import RECORDED, matches

UNWATCHED = MixerKind(
    "hand-written attention outside an attention module", r"(?!)", True,
    "a softmax over the last dim of a score-shaped tensor ran here, outside any module whose class name says "
    "Attention/Attn, where hand-written attention is not followed",
    "capture(model, via='mode') records hand-written attention in any module (slower: it watches every torch call)")

ORIGINALS = {"Tensor.softmax": torch.Tensor.softmax, "torch.softmax": torch.softmax}
_active: list = []  # (recorder, ids of the model's modules or None): captures watching, in start order
_depth = threading.local()  # .n: our wrappers running on this thread (F.softmax -> Tensor.softmax: count once)


def _looks_like_weights(x, dim) -> bool:
    if not isinstance(x, torch.Tensor) or not isinstance(dim, int):
        return False
    n = x.dim()
    if n < 3 or dim not in (-1, n - 1):
        return False
    shape = x.shape
    return shape[-1] > 1 and shape[-2] > 1


def _watched(rec) -> bool:
    """Whether a module on the recorder's stack accounts for this softmax: an attention mixer (HandMode on, or
    its cheap path, whose misses ``mixers`` reports) or a module recorded by type (its own softmax)."""
    for f in rec.stack:
        if f.pushed or (f.kind.attention if f.kind is not None else
                        any(matches(test, f.module) for test, _ in RECORDED)):
            return True
    return False


def innermost_module(ids, skip=2):
    """The innermost ``nn.Module`` of the model (``ids``: their ids, or None for any) whose code is running.

    Only frames whose first argument is ``self`` have their locals read (building ``f_locals`` is the cost)."""
    f = sys._getframe(skip)
    while f is not None:
        code = f.f_code
        if code.co_argcount and code.co_varnames[0] == "self":
            obj = f.f_locals.get("self")
            if isinstance(obj, nn.Module) and (ids is None or id(obj) in ids):
                return obj
        f = f.f_back
    return None


def _notice(x) -> None:
    me = threading.get_ident()
    for rec, ids in tuple(_active):
        if rec.thread != me or not rec.active or _watched(rec):
            continue
        module = innermost_module(ids, skip=3)
        if module is None or id(module) in rec.unrecorded:
            continue
        shape = "[" + ", ".join(map(str, x.shape)) + "]"
        rec.unrecorded[id(module)] = (module, UNWATCHED, f"{UNWATCHED.reason} (softmax over a {shape} tensor)")


def _wrap(original):
    def softmax(*args, **kwargs):
        n = getattr(_depth, "n", 0)
        if n == 0 and _active:
            try:
                x = args[0] if args else kwargs.get("input", kwargs.get("self"))
                if _looks_like_weights(x, args[1] if len(args) > 1 else kwargs.get("dim")):
                    _notice(x)
            except Exception:  # noqa: BLE001 - the net must never break the forward
                pass
        _depth.n = n + 1
        try:
            return original(*args, **kwargs)
        finally:
            _depth.n = n
    softmax.__name__ = softmax.__qualname__ = original.__name__
    softmax.__doc__, softmax.__wrapped__ = original.__doc__, original
    return softmax


WRAPPERS = {"Tensor.softmax": _wrap(ORIGINALS["Tensor.softmax"]), "torch.softmax": _wrap(ORIGINALS["torch.softmax"])}


def start(rec, modules=()) -> None:
    """Watch softmaxes for ``rec`` (``modules``: the model's, or empty for any module) until :func:`stop`."""
    if not _active:
        if torch.Tensor.softmax is ORIGINALS["Tensor.softmax"]:
            torch.Tensor.softmax = WRAPPERS["Tensor.softmax"]
        if torch.softmax is ORIGINALS["torch.softmax"]:
            torch.softmax = WRAPPERS["torch.softmax"]
    _active.append((rec, {id(m) for m in modules} if rec.model is not None else None))


def stop(rec) -> None:
    """Stop watching for ``rec``; the last capture to stop puts the original functions back."""
    _active[:] = [(r, ids) for r, ids in _active if r is not rec]
    if not _active:
        if torch.Tensor.softmax is WRAPPERS["Tensor.softmax"]:
            torch.Tensor.softmax = ORIGINALS["Tensor.softmax"]
        if torch.softmax is WRAPPERS["torch.softmax"]:
            torch.softmax = ORIGINALS["torch.softmax"]
