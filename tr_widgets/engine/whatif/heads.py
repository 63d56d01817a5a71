"""Head edits: one head's attention weights replaced at some query steps, then ``weights @ v`` as usual.

* An ``F.scaled_dot_product_attention`` call (Hugging Face's sdpa attention, nanoGPT-style code): while the
  recorded module runs, :class:`SdpaEdit` (a ``TorchFunctionMode``) sees its SDPA calls; the recorded one is
  computed as the trace computes it (``make_trace``: the same scale, mask, causal rule and GQA expansion),
  its weights edited, then multiplied by v. The capture's wrapper still records the call's q, k, v.
* nn.MultiheadAttention: its forward is replaced for the run by the same computation from its own weights
  (``capture.mha.project``, the in-projection torch's ``multi_head_attention_forward`` does), then its own
  out-projection.

:func:`edited_trace` gives the trace the edited call really computed: the recorded stages up to the masked
scores, then the edited weights and their output.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from ..attention import make_trace
from ..capture import patch
from ..capture.mha import project, snapshot
from ..capture.softmax_net import ORIGINALS
from ..errors import TraceInputError, fail  # noqa: F401  (TraceInputError: named by an example)
from .edits import new_value


def head_axis(trace) -> int:
    """The batch axis of ``trace`` that holds the heads, or one TraceInputError.

    Example: ``head_axis(at) == 1  # q [batch, head, L, E]: batch axes ('batch', 'head')``
    """
    if "head" not in trace.batch_names:
        fail("name", "an attention with heads (a 'head' batch axis) to edit a head of", f"{trace.name!r} with batch "
             f"axes {list(trace.batch_names)}", "edit a multi-head attention (4-D q: [batch, head, L, E])")
    return list(trace.batch_names).index("head")


def check(edits, trace) -> None:
    """Every head edit fits ``trace``: the head exists, the query steps are in range, the value's shape.

    Example::

        check([Edit.head("sdpa", 1)], at) is None  # at: 2 heads, 6 queries
        try:
            check([Edit.head("sdpa", 9)], at); said = ""
        except TraceInputError as e:
            said = str(e)
        said.startswith("head: expected a head of")
    """
    axis = head_axis(trace)
    heads, L = trace.batch_shape[axis], trace.L
    for e in edits:
        if e.head_index >= heads:
            fail("head", f"a head of {trace.name!r} in [0, {heads - 1}]", repr(e.head_index), "pick an existing head")
        for s in e.steps or ():
            if not -L <= s < L:
                fail("steps", f"query steps in [0, {L - 1}] of {trace.name!r}", repr(s), "pick recorded queries")
    shape = trace.batch_shape + (L, trace.S)  # the value is checked on zeros of the weights' shape (nothing derived)
    edit_weights(torch.zeros((), dtype=trace.q.dtype).expand(shape), axis, edits)


def edit_weights(weights: torch.Tensor, axis: int, edits) -> torch.Tensor:
    """A copy of ``weights`` ``[*batch, L, S]`` with each edit's head and query rows replaced.

    Example::

        w = edit_weights(torch.full((1, 2, 3, 3), 1 / 3), 1, [Edit.head("a", 1, 0.0, steps=[2])])
        (float(w[0, 1, 2].sum()), float(w[0, 0, 2].sum())) == (0.0, 1.0)
    """
    w = weights.clone()
    for e in edits:
        rows = w.select(axis, e.head_index)  # [*other batch, L, S]
        index = slice(None) if e.steps is None else [s % w.shape[-2] for s in e.steps]
        old = rows[..., index, :]  # [*other batch, len(steps), S]
        rows[..., index, :] = new_value(e.value, old, "value")
    return w


def splice(out: torch.Tensor, edited: torch.Tensor, axis: int, edits) -> torch.Tensor:
    """``out`` with the rows each edit changed (its head, its query steps) taken from ``edited``.

    Example: ``splice(torch.zeros(1, 2, 3, 4), torch.ones(1, 2, 3, 4), 1, [Edit.head("a", 1, steps=[0])]).sum() == 4``
    """
    out = out.clone()
    for e in edits:
        rows = slice(None) if e.steps is None else [s % out.shape[-2] for s in e.steps]
        out.select(axis, e.head_index)[..., rows, :] = edited.select(axis, e.head_index)[..., rows, :]  # [*b, rows, Ev]
    return out


def weights_unseen(trace) -> torch.Tensor:
    """``trace.weights`` computed with torch's own softmax, not the one a running capture rebinds (which would
    take this computation, made inside the model's module, for a hand-written attention of the model).

    Example: ``torch.equal(weights_unseen(at), at.weights)``
    """
    x = trace.masked  # [*b, L, S]
    w = ORIGINALS["torch.softmax"](x, dim=-1)
    dead = torch.isneginf(x.amax(dim=-1, keepdim=True)) if x.shape[-1] else None  # [*b, L, 1]: every key masked
    return w.masked_fill(dead, 0.0) if dead is not None and bool(dead.any()) else w


def edited_trace(trace, edits, weights=None):
    """The trace an edited call computed: the recorded stages, then the edited weights and ``weights @ v``.

    Example: ``edited_trace(at, [Edit.head("a", 0)]).output[0, 0].abs().sum() == 0  # head 0 cut everywhere``
    """
    return with_weights(trace, edit_weights(trace.weights if weights is None else weights, head_axis(trace), edits))


def with_weights(trace, w: torch.Tensor):
    """A copy of ``trace`` whose weights stage is ``w`` (and its output ``w @ v``); earlier stages as recorded.

    Example: ``with_weights(at, torch.zeros(1, 2, 6, 6)).output.abs().sum() == 0``
    """
    new = dataclasses.replace(trace, derived={})
    # The stages are derived lazily into `derived`; the edit replaces the weights stage (and so its output).
    new.derived.update(weights=w, output=w @ trace.v)  # [*b, L, Ev]
    return new


def finish(after, installed, edits):
    """The after-run's trace of an edited call: the weights the edited call used (kept by ``installed``, the
    same numbers: the after trace records that call's own q, k, v), else derived again and edited.

    Example: ``finish(at, None, [Edit.head("a", 1)]).weights[0, 1].abs().sum() == 0``
    """
    w = getattr(installed, "weights", None)
    if w is not None and tuple(w.shape) == tuple(after.batch_shape) + (after.L, after.S):
        return with_weights(after, w)
    return edited_trace(after, edits)


def into_decode(decode, after, sites) -> None:
    """Head edits made during a decode, shown by the decode too: a DecodeTrace derives each tick's attention
    again from q and k (which the edit does not change), so for every edited call (``name``, or ``name#k``:
    layer ``name``'s k-th call, made at tick k − 1) the weights that call used, its last query row (the tick's
    new query), become the tick's attention in ``decode``.

    Example::

        model, tok = tr_widgets.load_tiny()
        wi = tr_widgets.what_if(model, lambda: tr_widgets.decode(model, "The cat sat", 3, tokenizer=tok),
                                tr_widgets.Edit.head("h.1.attn#2", 0))  # layer 1's call at tick 1
        float(wi.after_output.weights(1, layer=1, head=0).abs().sum()) == 0.0  # cut, as the run computed
    """
    traces = dict(after.traces)
    for entry, trace, target, group, call in sites:
        edited = traces.get(trace.name)
        if group[0].kind != "head" or edited is None:
            continue
        base, _, k = trace.name.partition("#")
        tick = int(k) - 1 if k.isdigit() else 0
        if base not in decode.layer_names or tick >= len(decode.ticks):
            continue
        layer = decode.layer_names.index(base)
        shown = decode.attention(tick, layer)
        row = edited.weights[..., -1:, :]
        if tuple(row.shape) == tuple(shown.weights.shape):
            decode.derived[("at", tick, layer)] = with_weights(shown, row.to(shown.weights.dtype))


def _sdpa_args(args, kwargs):
    names = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")
    a = dict(zip(names, args))
    a.update(kwargs)
    return a


class SdpaEdit(TorchFunctionMode):
    """Computes SDPA call number ``call`` (counted while the mode is on) with ``edits``; others run as they are.

    Example::

        q = k = v = torch.randn(1, 2, 4, 8)
        with SdpaEdit(0, [Edit.head("sdpa", 1)]):
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        float(out[0, 1].abs().sum()) == 0.0  # head 1 cut
    """

    def __init__(self, call: int, edits):
        super().__init__()
        self.call, self.edits, self.n, self.weights = call, edits, 0, None

    expects = ", through F.scaled_dot_product_attention (a hand-written softmax(q·kᵀ)·v is not editable yet)"
    fix = "run the model with SDPA attention (Hugging Face: attn_implementation='sdpa'), or call run() the same way"
    applied = property(lambda self: self.n > self.call, doc="whether the edited call ran")
    finishes = True  # the after trace's weights stage becomes the edited one

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if not patch.is_sdpa(func):
            return func(*args, **kwargs)
        if patch.in_wrapper():  # torch hands modes a capture's wrapper, which called the real function that
            func = patch.SDPA  # brought us here and records the call when we return: never call it again
        n, self.n = self.n, self.n + 1
        if n != self.call:
            return func(*args, **kwargs)
        a = _sdpa_args(args, kwargs)
        self.args, self.kwargs = args, kwargs
        with torch._C.DisableTorchFunction(), torch.no_grad():  # a mode below (the capture's) must not see these ops
            return self._edited(a)

    def _edited(self, a):
        tr = make_trace(a["query"], a["key"], a["value"], a.get("attn_mask"), bool(a.get("is_causal", False)),
                        a.get("scale"), gqa=bool(a.get("enable_gqa", False)))
        self.weights = edit_weights(weights_unseen(tr), head_axis(tr), self.edits)  # [*b, L, S], for finish()
        edited = self.weights @ tr.v  # [*b, L, Ev]
        out = patch.SDPA(*self.args, **self.kwargs)  # the model's own result, kept where no edit reaches
        return splice(out, edited.to(out.dtype), head_axis(tr), self.edits)


class MhaForward:
    """The edited forward of an nn.MultiheadAttention (its own weights, the edited heads, its out-projection).

    Example::

        mha = nn.MultiheadAttention(8, 2).eval(); x8 = torch.randn(5, 1, 8)
        y, w = MhaForward(mha, [Edit.head("mha", 0)])(x8, x8, x8)
        y.shape, w.shape  # [5, 1, 8], [1, 5, 5]
    """

    def __init__(self, module, edits, call: int = 0):
        self.m, self.edits, self.call, self.n, self.weights = module, edits, call, 0, None
        self.own = type(module).forward

    applied = property(lambda self: self.n > self.call, doc="whether the edited call ran")
    finishes = True  # the after trace's weights stage becomes the edited one

    def __call__(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                 average_attn_weights=True, is_causal=False):
        n, self.n = self.n, self.n + 1
        if n != self.call:
            return self.own(self.m, query, key, value, key_padding_mask, need_weights, attn_mask,
                            average_attn_weights, is_causal)
        m, batched = self.m, query.dim() == 3
        with torch.no_grad():
            q, k, v, mask = project(snapshot(m), query, key, value, key_padding_mask, attn_mask)
            w = self.weights = edit_weights(weights_unseen(make_trace(q, k, v, mask, False, None)), 1, self.edits)
            B, H, L, hd = q.shape
            heads = (w @ v).permute(2, 0, 1, 3).reshape(L, B, H * hd)  # [B, H, L, hd] -> [L, B, E]
            y = F.linear(heads, m.out_proj.weight, m.out_proj.bias)  # [L, B, E]
        y = (y.transpose(0, 1) if m.batch_first else y) if batched else y[:, 0]
        if not need_weights:
            return y, None
        w = w.mean(1) if average_attn_weights else w  # [B, L, S] or [B, H, L, S]
        return y, w if batched else w[0]
