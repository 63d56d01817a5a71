"""Hand-written attention: follow a product of two tensors through scale, bias, masks, soft cap and sinks to
a softmax whose weights multiply a value tensor, and keep what replays it (an ``attention.ChainTrace``).

A ``TorchFunctionMode`` (:class:`HandMode`) is on torch's stack only while a module that may hold attention
runs (``mixers.kind_of``: its class name says Attention/Attn), so the rest of the forward pays nothing. It
sees every torch call inside (``@``, ``torch.matmul``, ``bmm``, ``einsum``, ``baddbmm``, ``F.softmax``,
``Tensor.softmax``, ``masked_fill``, ``x[m] = -1e6``, ...) and keeps, for each tensor that derives from a
product, a weak reference and its *chain*: the two operands (q and kᵀ) and the steps applied since, in the
module's own order. Nothing is copied on the forward's clock; a T×T tensor is never held (weak references),
except the logits of a softmax that nothing replays (additive attention), counted against the memory
budget. ``F.scaled_dot_product_attention`` called inside through any reference is seen here too. Outside
such modules, ``hand_anywhere`` records the same attention from its softmax on (its logits kept).

At build time (``hand_trace.chain_trace``) the chain is laid out in the softmax's layout (heads folded into a 3-D
``bmm`` batch are unfolded when an enclosing module says how many heads it has), replayed, and checked
against the module's own output on a few rows: a replay that disagrees is a ``skipped`` note, never a trace.
"""
from __future__ import annotations

import weakref

import torch
from torch.overrides import TorchFunctionMode

from . import patch

PRODUCTS = {"matmul", "__matmul__", "bmm", "einsum", "baddbmm"}
SOFTMAX = {"softmax"}
LAYOUT = {"view", "reshape", "view_as", "reshape_as", "flatten", "unflatten"}
SAME = {"contiguous", "clone", "detach"}
CASTS = {"to", "float", "double", "half", "bfloat16", "type_as", "type"}
HEAD_ATTRS = ("num_heads", "n_head", "num_attention_heads", "n_heads", "heads", "h", "nhead")


class Chain:
    """One product's way to a softmax: operands, steps (each with the layout it was applied in), sinks.

    Example::

        class Attention(nn.Module):  # hand-written attention, in a module whose class name says Attention
            def forward(self, q, k, v): return (q @ k.transpose(-2, -1) / 8 ** 0.5).softmax(-1) @ v
        with tr_widgets.capture(Attention()) as cap:
            out = cap.model(q, k, v)
        chain = cap.recorder.entries[0].held[0]  # the Chain HandMode followed from q @ kᵀ to the softmax
        (chain.a is q, chain.how, chain.wshape, len(chain.steps)) == (True, "matmul", (1, 2, 6, 6), 1)  # / √E
    """

    __slots__ = ("a", "b", "how", "pshape", "steps", "sinks", "opaque", "heads", "softmax_dtype", "wshape",
                 "notes", "logits", "module")

    def __init__(self, a, b, how, pshape):
        self.a, self.b, self.how, self.pshape = a, b, how, tuple(pshape)  # how: "matmul" | ("einsum", eq) | ...
        self.steps, self.sinks, self.opaque, self.heads = [], None, None, None
        self.softmax_dtype = self.wshape = self.logits = self.module = None
        self.notes = []


def _scalar(x):
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return float(x)
    if isinstance(x, torch.Tensor) and x.numel() == 1 and x.dim() == 0:
        return x  # a 0-d tensor: kept as is (no device sync on the forward's clock)
    return None


def _softmax_dim(args, kwargs):
    dim = kwargs.get("dim", args[1] if len(args) > 1 else None)
    x = args[0]
    return dim is not None and isinstance(dim, int) and dim in (-1, x.dim() - 1)


class HandMode(TorchFunctionMode):
    """Passes every call through unchanged; follows products to softmax to value products for ``rec``.

    Example::

        class Attention(nn.Module):  # hand-written attention, in a module whose class name says Attention
            def forward(self, q, k, v): return (q @ k.transpose(-2, -1) / 8 ** 0.5).softmax(-1) @ v
        with tr_widgets.capture(Attention()) as cap:
            out = cap.model(q, k, v)
        assert isinstance(cap.recorder.hand, HandMode)  # on torch's mode stack while Attention ran
        name, trace = cap.traces[0]
        assert torch.allclose(trace.weights, F.softmax(q @ k.transpose(-2, -1) / 8 ** 0.5, -1))
    """

    def __init__(self, rec):
        super().__init__()
        self.rec = rec
        self.tracked: dict = {}  # id(tensor) -> (weakref, chain, role, extra)

    def clear(self):
        self.tracked.clear()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if patch.is_sdpa(func):
            out = patch.SDPA(*args, **kwargs)  # the real function: a wrapper would record a second time
            if not patch.in_wrapper() or self.rec.via == "mode" or self.rec not in patch.active():
                self.rec.on_sdpa(args, kwargs, raw=not patch.in_wrapper())
            return out
        out = func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        try:
            if self.tracked or name in PRODUCTS or name in SOFTMAX:
                self._see(name, args, kwargs, out)
        except Exception as e:  # noqa: BLE001 - following attention must never break the forward
            self.rec.note(f"hand-written attention not followed: {type(e).__name__}: {e}")
        return out

    # -- bookkeeping ---------------------------------------------------------------------------
    def _get(self, x):
        if not isinstance(x, torch.Tensor):
            return None
        hit = self.tracked.get(id(x))
        if hit is None or hit[0]() is not x:
            return None
        return hit

    def _track(self, t, chain, role, extra=None):
        if isinstance(t, torch.Tensor):
            self.tracked[id(t)] = (weakref.ref(t), chain, role, extra)

    # -- what each call means ----------------------------------------------------------------------
    def _see(self, name, args, kwargs, out):
        if name in PRODUCTS:
            return self._product(name, args, kwargs, out)
        hits = [(j, h) for j, a in enumerate(args[:3]) if (h := self._get(a)) is not None]
        if name == "cat" and args and isinstance(args[0], (list, tuple)):
            hits = [(0, h) for a in args[0][:1] if (h := self._get(a)) is not None]
        if not hits and name in SOFTMAX and args and isinstance(args[0], torch.Tensor):
            return self._softmax(None, args, kwargs, out)
        if not hits:
            return
        j, (_, chain, role, extra) = hits[0]
        if role == "weights":
            return self._weights(name, chain, j, args, kwargs, out)
        if role == "rowmax":
            return
        x = args[j] if name != "cat" else args[0][0]
        if name in SOFTMAX and j == 0:
            return self._softmax(chain, args, kwargs, out)
        step = self._step(name, j, x, args, kwargs, out, chain)
        if step is None:
            if (name.endswith("_") and not name.endswith("__")) or name == "__setitem__" or out is x:  # an in-place change we cannot replay
                chain.opaque = chain.opaque or f"{name} in place"
            return
        if step != "same":
            chain.steps.append((step, tuple(x.shape)))
        res = x if out is None or (name.endswith("_") and not name.endswith("__")) or name == "__setitem__" else out
        self._track(res, chain, "scores")

    def _step(self, name, j, x, args, kwargs, out, chain):
        other = args[1] if len(args) > 1 else None
        if name in ("mul", "mul_", "__mul__", "__rmul__") and j == 0 and _scalar(other) is not None:
            return ("mul", _scalar(other))
        if name in ("mul", "__mul__") and j == 1 and _scalar(args[0]) is not None:
            return ("mul", _scalar(args[0]))
        if name in ("div", "div_", "__truediv__", "true_divide") and j == 0 and not kwargs \
                and _scalar(other) is not None:
            return ("div", _scalar(other))
        if name in ("tanh", "tanh_") and j == 0:
            return ("tanh",)
        if name in ("add", "add_", "__add__", "__radd__") and "alpha" not in kwargs:
            o = args[1 - j] if len(args) > 1 else None
            if isinstance(o, torch.Tensor) and self._get(o) is None:
                return ("add", o)
            if _scalar(o) is not None:
                return ("add", _scalar(o))
        if name in ("sub", "__sub__", "sub_") and j == 0 and len(args) > 1 and not kwargs:
            hit = self._get(other)
            if hit is not None and hit[2] == "rowmax" and hit[1] is chain:
                return ("shift",)
            if isinstance(other, torch.Tensor) and hit is None:
                return ("add", ("neg", other))
        if name in ("masked_fill", "masked_fill_") and j == 0 and len(args) > 2 \
                and _scalar(args[2]) is not None:
            return ("fill", args[1], _scalar(args[2]))
        if name == "where" and len(args) == 3 and j in (1, 2) and self._get(args[3 - j]) is None:
            value = _scalar(args[3 - j]) if _scalar(args[3 - j]) is not None else args[3 - j]
            return ("keep", args[0], value) if j == 1 else ("fill", args[0], value)
        if name == "__setitem__" and j == 0 and _scalar(args[2]) is not None:
            return ("setitem", args[1], _scalar(args[2]))
        if name in ("max", "amax") and j == 0:
            dim = kwargs.get("dim", args[1] if len(args) > 1 else None)
            if dim in (-1, x.dim() - 1) and kwargs.get("keepdim", len(args) > 2 and args[2]):
                self._track(out.values if name == "max" else out, chain, "rowmax")
            return None
        if name == "cat" and kwargs.get("dim", args[1] if len(args) > 1 else 0) in (-1, x.dim() - 1):
            parts = args[0]
            if len(parts) == 2 and isinstance(parts[1], torch.Tensor) and parts[1].shape[-1] == 1:
                chain.sinks = parts[1]
                return ("sinks",)
            return None
        if name in LAYOUT and isinstance(out, torch.Tensor):
            return "same"
        if name in SAME:
            return "same"
        if name in CASTS and isinstance(out, torch.Tensor):
            return ("cast", out.dtype) if out.dtype != x.dtype else "same"
        return None

    def _product(self, name, args, kwargs, out):
        if not isinstance(out, torch.Tensor) or out.dim() < 2:
            return
        if name == "einsum":
            eq = args[0]
            ops = list(args[1]) if len(args) == 2 and isinstance(args[1], (list, tuple)) else list(args[1:])
            if not isinstance(eq, str) or len(ops) != 2:
                return
            a, b, how = ops[0], ops[1], ("einsum", eq.replace(" ", ""))
        elif name == "baddbmm":
            a, b = kwargs.get("batch1", args[1] if len(args) > 1 else None), kwargs.get("batch2",
                                                                                     args[2] if len(args) > 2 else None)
            how = ("baddbmm", args[0], kwargs.get("beta", 1.0), kwargs.get("alpha", 1.0))
        else:
            a, b, how = args[0], args[1] if len(args) > 1 else kwargs.get("other", kwargs.get("mat2")), "matmul"
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) or a.dim() < 2 or b.dim() < 2:
            return
        hit = self._get(a)
        if hit is not None and hit[2] == "weights":
            return self._complete(hit[1], a, b, how, out)
        other = self._get(b)
        if (hit is not None and hit[2] != "scores") or (other is not None and other[2] != "scores"):
            return  # a product of a product (a projection, then q·kᵀ) starts its own chain: the later one counts
        self._track(out, Chain(a, b, how, out.shape), "scores")

    def _softmax(self, chain, args, kwargs, out):
        x = args[0]
        if not _softmax_dim(args, kwargs) or x.dim() < 2:
            return
        if chain is None or chain.opaque:  # nothing replays these scores: keep them (counted) or say why not
            why = chain.opaque if chain is not None else None
            chain = Chain(None, None, "logits", x.shape)
            chain.logits = x
            chain.notes.append("logits kept: " + (f"the scores went through {why}" if why
                                                 else "the scores are not a product of two tensors"))
        chain.softmax_dtype = kwargs.get("dtype")
        chain.wshape = tuple(x.shape)
        chain.heads = self.rec.heads_hint()
        self._track(out, chain, "weights", tuple(x.shape))

    def _weights(self, name, chain, j, args, kwargs, out):
        w = args[j]
        if name == "where" and j == 1 and len(args) == 3 and _scalar(args[2]) is not None and isinstance(out, torch.Tensor):
            # where(mask, w, 0): masked keys zeroed after the softmax (Keras's masked softmax); the same weights
            # unless a row is masked whole, which the check against the module's output catches
            if not isinstance(args[2], torch.Tensor) and float(args[2]) == 0.0:
                self._track(out, chain, "weights", tuple(out.shape))
            elif isinstance(args[2], torch.Tensor) and args[2].dim() == 0:
                self._track(out, chain, "weights", tuple(out.shape))
            return
        if j != 0 or not isinstance(out, torch.Tensor):
            return
        if name == "dropout":
            p = kwargs.get("p", args[1] if len(args) > 1 else 0.5)
            training = kwargs.get("training", args[2] if len(args) > 2 else True)
            if training and p > 0:
                chain.notes.append(f"dropout (p={p}) after the softmax is not replayed")
        elif name == "__getitem__" and chain.sinks is not None:
            if out.shape[-1] != w.shape[-1] - 1:
                return
        elif name not in LAYOUT and name not in SAME and name not in CASTS:
            return
        self._track(out, chain, "weights", tuple(out.shape))

    def _complete(self, chain, w, b, how, out):
        """weights @ v: the attention is whole; an entry is recorded for the innermost attention module."""
        if how == "matmul":
            v, vo, layout = b, out, tuple(w.shape)
        elif isinstance(how, tuple) and how[0] == "einsum":
            v, vo, layout = b, out, ("einsum", how[1], tuple(w.shape))
        else:
            return
        self.rec.add_hand(chain, v, vo, layout)
