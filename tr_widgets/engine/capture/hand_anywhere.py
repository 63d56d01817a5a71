"""Hand-written attention anywhere: softmax(q·kᵀ)·v in a module no ``hand.HandMode`` watches (a user's ``Head``
or ``Block``, a loop body, Keras's attention on a path it had not taken before), recorded by default.

``softmax_net``'s wrappers see every softmax. One over the last dim of a score-shaped tensor, run in a module of
the model where no HandMode is on, starts a *pending* record (:func:`start`): the softmax's input (the logits,
kept by reference and counted against the memory budget), a weak reference to its weights, and the module.
While one is pending, the product functions (``@``, ``matmul``, ``bmm``, ``einsum``) are rebound to wrappers
that call the real function, then check whether the first operand *is* the pending weights: ``weights @ v``
completes the attention, recorded as one ``ChainTrace`` over its logits, checked against the module's own
output like every hand-written chain (``hand_trace``).

A softmax whose weights are freed (or the capture ends) before they multiply a value tensor was not attention:
a classifier's ``[B, T, V]`` probabilities, a router's mix. Nothing is recorded for it, and nothing is said,
unless its last two dims are equal (``[.., T, T]``: attention weights whose value product went through steps
these wrappers do not follow, a cast or a view); that one is reported with :data:`UNFOLLOWED`'s fix.

Cost: nothing until an unwatched score-shaped softmax runs; then one Python call per product until the capture
ends (the wrappers stay on: rebinding a method of ``torch.Tensor`` updates every subclass, which costs more than
the wrapper's calls), and a check of the pending weights while one waits. Hugging Face models run attention inside Attention modules (HandMode, or the patched SDPA),
so this never starts there. ``via="mode"`` installs no wrappers: its mode follows every call.
"""
from __future__ import annotations

import functools
import threading
import weakref

import torch

from . import hand, hand_trace
from .mixers import MixerKind

UNFOLLOWED = MixerKind(
    "hand-written attention outside an attention module", r"(?!)", True,
    "a softmax over the last dim of a score-shaped tensor ran here, outside any module whose class name says "
    "Attention/Attn, and its weights did not multiply a value tensor directly (weights @ v), so it was not followed",
    "capture(model, via='mode') records hand-written attention in any module, through casts, views and dropout "
    "(slower: it watches every torch call)")

_pending: list = []  # Pending records of every active capture
_lock = threading.RLock()  # re-entrant: a weights tensor freed under the lock runs _died


class Pending:
    """One unwatched softmax waiting for its value product (made by :func:`start`).

    Example::

        from tr_widgets.engine.capture.hand import Chain
        weights = torch.randn(1, 6, 6).softmax(-1)
        p = Pending(rec.recorder, weights, Chain(None, None, "logits", weights.shape), None)
        assert p.ref() is weights  # a weak reference: the weights dying unmultiplied settle it
    """

    __slots__ = ("rec", "ref", "chain", "module", "thread", "__weakref__")

    def __init__(self, rec, out, chain, module):
        self.rec, self.chain, self.module, self.thread = rec, chain, module, threading.get_ident()
        self.ref = weakref.ref(out, lambda _r, me=weakref.ref(self): _died(me()))


def _heads(rec, module):
    """The head count the capture's stack or the module itself declares (for a [B·H, T, S] softmax)."""
    n = rec.heads_hint()
    for a in hand.HEAD_ATTRS if n is None else ():
        v = getattr(module, a, None)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return n


def start(rec, module, x: torch.Tensor, out: torch.Tensor, dtype) -> None:
    """An unwatched softmax ``out = softmax(x)`` ran in ``module``: wait for ``out @ v``.

    Example::

        from tr_widgets.engine.capture.recorder import Recorder
        r, scores = Recorder(None, True, "patch"), torch.randn(1, 6, 6)  # scores [B, T, S]
        weights = scores.softmax(-1)
        start(r, nn.Module(), scores, weights, None)  # what softmax_net's wrapper does
        out = weights @ torch.randn(1, 6, 8)  # the value product completes the pending record
        stop(r); len(r.entries) == 1
    """
    chain = hand.Chain(None, None, "logits", x.shape)
    chain.logits, chain.softmax_dtype, chain.wshape = x, dtype, tuple(x.shape)
    chain.heads, chain.module = (_heads(rec, module) if x.dim() == 3 else None), module  # only [B·H, T, S] unfolds
    chain.notes.append("logits kept: the softmax ran outside any attention module, where its scores are not "
                       "followed from their product")
    with _lock:
        _pending.append(Pending(rec, out, chain, module))
        _install()


def _report(p: Pending) -> None:
    """A pending softmax that never met its value tensor: said only when it is shaped like attention weights."""
    shape = p.chain.wshape
    if shape[-1] != shape[-2] or p.module is None or id(p.module) in p.rec.unrecorded:
        return
    text = "[" + ", ".join(map(str, shape)) + "]"
    p.rec.unrecorded[id(p.module)] = (p.module, UNFOLLOWED, f"{UNFOLLOWED.reason} (softmax over a {text} tensor)")


def _died(p) -> None:
    if p is None:
        return
    with _lock:
        if p in _pending:
            _pending.remove(p)
            if p.rec.active:
                _report(p)


def stop(rec) -> None:
    """The capture ``rec`` ends: its pending softmaxes are settled (and reported when attention-shaped).

    Example: ``stop(rec)`` (from ``softmax_net.stop``, before the capture's warning is written)
    """
    with _lock:
        mine = [p for p in _pending if p.rec is rec]
        _pending[:] = [p for p in _pending if p.rec is not rec]
        for p in mine:
            _report(p)
        if not _pending:
            _uninstall()


def _seen(how, args, kwargs, out) -> None:
    """A product ran: if its first operand is a pending softmax's weights, the attention is whole."""
    if how == "einsum":
        eq, ops = args[0], (list(args[1]) if len(args) == 2 and isinstance(args[1], (list, tuple)) else list(args[1:]))
        if not isinstance(eq, str) or len(ops) != 2:
            return
        w, v = ops
    else:
        w, v = args[0] if args else None, args[1] if len(args) > 1 else kwargs.get("other", kwargs.get("mat2"))
    me = threading.get_ident()
    done = [p for p in _pending if p.ref() is w and p.thread == me]  # one per capture (nested ones too)
    if not done or not isinstance(v, torch.Tensor) or not isinstance(out, torch.Tensor):
        return
    with _lock:
        _pending[:] = [p for p in _pending if p not in done]
    layout = ("einsum", eq.replace(" ", ""), tuple(w.shape)) if how == "einsum" else tuple(w.shape)
    for p in done:
        hand_trace.add_entry(p.rec, p.module, p.chain, v, out, layout)


def _wrap(original, how):
    @functools.wraps(original)  # name, doc and __wrapped__ of torch's own
    def product(*args, **kwargs):
        out = original(*args, **kwargs)
        if _pending:
            try:
                _seen(how, args, kwargs, out)
            except Exception:  # noqa: BLE001 - following attention must never break the forward
                pass
        return out
    return product


# (owner, attribute, kind of product): the spellings of weights @ v
_TARGETS = ((torch.Tensor, "__matmul__", "matmul"), (torch.Tensor, "matmul", "matmul"), (torch, "matmul", "matmul"),
            (torch.Tensor, "bmm", "matmul"), (torch, "bmm", "matmul"), (torch, "einsum", "einsum"))
ORIGINALS = {(owner, name): getattr(owner, name) for owner, name, _ in _TARGETS}
WRAPPERS = {(owner, name): _wrap(getattr(owner, name), how) for owner, name, how in _TARGETS}


def _install() -> None:
    for key, wrapper in WRAPPERS.items():
        if getattr(*key) is ORIGINALS[key]:
            setattr(*key, wrapper)


def _uninstall() -> None:
    for key, original in ORIGINALS.items():
        if getattr(*key) is WRAPPERS[key]:
            setattr(*key, original)
