"""The softmaxes a patch capture sees outside attention modules, so hand-written attention is recorded anywhere.

With ``via="patch"`` (default), ``hand.HandMode`` follows softmax(q·kᵀ)·v only inside modules whose class name
says Attention/Attn (``mixers``). The same math written inline in any other module (a user's ``Block`` or
``Head``) is found here: while a patch capture is active, ``torch.Tensor.softmax`` and ``torch.softmax`` are
rebound to wrappers (``F.softmax`` calls ``input.softmax``, so every spelling passes here) that call the real
function, and hand a softmax that *looks like* attention weights to ``hand_anywhere``: over the last dim of a
≥3-D tensor whose last two dims are both > 1, run inside a module of the model where no HandMode is on and
outside the modules recorded by type (nn.MultiheadAttention's own softmax). ``hand_anywhere`` records it when
its weights multiply a value tensor, and says nothing for a classifier's or router's softmax.

Cost: one Python call per softmax; the frame walk that finds the module runs only for a softmax that looks
like attention weights outside watched modules. ``via="mode"`` never installs the wrappers (its mode sees every
call). The last capture to stop puts the original functions back.
"""
from __future__ import annotations

import functools
import sys
import threading

import torch
from torch import nn

from . import hand_anywhere
from .modules import RECORDED, matches

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
    """Whether a module on the recorder's stack accounts for this softmax: an attention mixer with HandMode on,
    or a module recorded by type (its own softmax). An attention mixer on its cheap path (no HandMode: it called
    the patched SDPA before) that now runs a softmax is not watched: the net follows it."""
    for f in rec.stack:
        if f.pushed or (f.kind is None and any(matches(test, f.module) for test, _ in RECORDED)):
            return True
    return False


def innermost_module(ids, skip=2):
    """The innermost ``nn.Module`` of the model (``ids``: their ids, or None for any) whose code is running.

    Only frames whose first argument is ``self`` have their locals read (building ``f_locals`` is the cost).

    Example::

        class Probe(nn.Module):
            def forward(self):
                return innermost_module(None, skip=1)  # skip=1: the caller's frame
        probe = Probe()
        assert probe() is probe
    """
    f = sys._getframe(skip)
    while f is not None:
        code = f.f_code
        if code.co_argcount and code.co_varnames[0] == "self":
            obj = f.f_locals.get("self")
            if isinstance(obj, nn.Module) and (ids is None or id(obj) in ids):
                return obj
        f = f.f_back
    return None


def _notice(x, out, dtype) -> None:
    me = threading.get_ident()
    for rec, ids in tuple(_active):
        if rec.thread != me or not rec.active or _watched(rec):
            continue
        module = innermost_module(ids, skip=3)
        if module is not None:  # a softmax outside the model's modules is not its attention
            hand_anywhere.start(rec, module, x, out, dtype)


def _wrap(original):
    @functools.wraps(original)  # name, doc and __wrapped__ of torch's own
    def softmax(*args, **kwargs):
        n, x = getattr(_depth, "n", 0), None
        if n == 0 and _active:
            try:
                x = args[0] if args else kwargs.get("input", kwargs.get("self"))
                if not _looks_like_weights(x, args[1] if len(args) > 1 else kwargs.get("dim")):
                    x = None
            except Exception:  # noqa: BLE001 - the net must never break the forward
                x = None
        _depth.n = n + 1
        try:
            out = original(*args, **kwargs)
        finally:
            _depth.n = n
        if x is not None:
            try:
                _notice(x, out, args[2] if len(args) > 2 else kwargs.get("dtype"))
            except Exception:  # noqa: BLE001 - the net must never break the forward
                pass
        return out
    return softmax


WRAPPERS = {"Tensor.softmax": _wrap(ORIGINALS["Tensor.softmax"]), "torch.softmax": _wrap(ORIGINALS["torch.softmax"])}


def start(rec, modules=()) -> None:
    """Watch softmaxes for ``rec`` (``modules``: the model's, or empty for any module) until :func:`stop`.

    Example::

        import threading, types
        fake = types.SimpleNamespace(thread=threading.get_ident(), model=None, active=True, stack=[])
        start(fake)
        assert torch.Tensor.softmax is WRAPPERS["Tensor.softmax"]
        stop(fake)
    """
    if not _active:
        if torch.Tensor.softmax is ORIGINALS["Tensor.softmax"]:
            torch.Tensor.softmax = WRAPPERS["Tensor.softmax"]
        if torch.softmax is ORIGINALS["torch.softmax"]:
            torch.softmax = WRAPPERS["torch.softmax"]
    _active.append((rec, {id(m) for m in modules} if rec.model is not None else None))


def stop(rec) -> None:
    """Stop watching for ``rec``; the last capture to stop puts the original functions back.

    Example::

        import threading, types
        fake = types.SimpleNamespace(thread=threading.get_ident(), model=None, active=True, stack=[])
        start(fake)
        stop(fake)
        assert torch.Tensor.softmax is ORIGINALS["Tensor.softmax"]
    """
    _active[:] = [(r, ids) for r, ids in _active if r is not rec]
    hand_anywhere.stop(rec)
    if not _active:
        if torch.Tensor.softmax is WRAPPERS["Tensor.softmax"]:
            torch.Tensor.softmax = ORIGINALS["Tensor.softmax"]
        if torch.softmax is WRAPPERS["torch.softmax"]:
            torch.softmax = ORIGINALS["torch.softmax"]
