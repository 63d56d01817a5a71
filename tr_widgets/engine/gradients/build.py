"""trace_gradients: ∂L/∂h_t through time from one fused forward and one batched backward replay.

The module runs once, fused, and trace_recurrent replays its gates in batched matmuls (architecture.md,
"Why replay"). Every elementwise derivative of every step depends only on that forward, so it is
computed for all T at once (the kind's ``Backward.factors``, backward.py). What stays sequential is the recurrence
δh_{t-1} = direct_{t-1} + J_tᵀ δh_t itself: per step one matmul with W_hh and a few elementwise
updates, in place in preallocated buffers. The input gradients W_ihᵀ δa of all steps are one batched
matmul afterwards. No autograd graph of the recurrence is built; autograd only differentiates loss_fn.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import check_budget, describe, fail
from ..recurrent import trace_recurrent

from .backward import backward_of, gate_blocks
from .trace import GradientTrace


def _one_line(text: str, limit: int = 120) -> str:
    return " ".join(str(text).split())[:limit]


def _loss_grads(fwd, loss_fn):
    """Run loss_fn on leaf copies of what the module returned; the loss and its gradient per leaf."""
    has_cell = fwd.spec.has_cell  # an LSTM's (h_n, c_n)
    leaves = [v.detach().requires_grad_() for v in (fwd.output, fwd.h_n) + ((fwd.c_n,) if has_cell else ())]
    returned = (leaves[0], (leaves[1], leaves[2])) if has_cell else (leaves[0], leaves[1])
    what = "(output, (h_n, c_n))" if has_cell else "(output, h_n)"
    expected = f"a callable mapping what the module returns, {what}, to a scalar tensor"
    example = "e.g. loss_fn=lambda out: out[0].pow(2).sum()"
    problem = None
    try:  # the error is reported outside the handler, so no chained traceback hides the one line
        with torch.enable_grad():
            loss = loss_fn(returned)
    except Exception as err:  # noqa: BLE001  (any failure of user code becomes one clear error)
        problem = (f"{type(err).__name__} raised: {_one_line(err)}", f"make it run on {what}, {example}")
    if problem is None and not isinstance(loss, torch.Tensor):
        problem = (describe(loss), f"return a tensor computed from the output ({example}), not a Python number")
    elif problem is None and loss.numel() != 1:
        problem = (f"a tensor of shape {tuple(loss.shape)}", "reduce it to one number with .sum() or .mean()")
    elif problem is None and not loss.is_floating_point():
        problem = (f"a tensor of dtype {loss.dtype}", "compute the loss in floating point")
    elif problem is None and not loss.requires_grad:
        problem = ("a tensor with no gradient path to the output (requires_grad=False)",
                   "compute it from the output with torch operations; .item(), .detach(), numpy or "
                   "torch.no_grad() cut the path")
    if problem:
        fail("loss_fn", expected, *problem)
    try:
        with torch.enable_grad():  # the caller may be under torch.no_grad()
            grads = torch.autograd.grad(loss.reshape(()), leaves, allow_unused=True)
    except RuntimeError as err:
        problem = (f"a loss whose backward failed ({_one_line(err)})", "avoid in-place changes of the output")
    if problem is None and all(g is None for g in grads):
        problem = (f"a tensor that does not depend on {what}", "compute the loss from the module's output")
    if problem:
        fail("loss_fn", expected, *problem)
    grads = [torch.zeros_like(v) if g is None else g for v, g in zip(leaves, grads)]
    return loss.detach().reshape(()), grads


def _layer_direction(fwd, layer: int, d: int, direct, d_hn, d_cn) -> dict:
    """Total gradients of one layer-direction from what arrives directly at each step ([T, B, Hout]):
    its δh [T, B, Hout], δc, ∂L/∂h_0, ∂L/∂c_0 and ∂L/∂(its input) [T, B, I_l]."""
    T, B, Hout = direct.shape
    p, rev, back = fwd.params[layer][d], d == 1, backward_of(fwd.spec)
    fac = back.factors(fwd, layer, d, 0, T)
    hb = direct.new_zeros(T + 1, B, Hout)  # [T+1, B, Hout]: the steps plus one slot for h_0
    pos = hb[:-1] if rev else hb[1:]  # [T, B, Hout]: by time position
    pos.copy_(direct)
    pos[0 if rev else -1] += d_hn  # h_n is this direction's last step
    # Buffer index of position t is t + off; the step before it (in this direction) is at t + off + step.
    off, step, order = (0, 1, range(T)) if rev else (1, -1, range(T - 1, -1, -1))
    out = {"dh": pos}
    out["dc"], out["dc0"] = back.loop(fac, p, hb, pos, d_cn, order, off, step)
    out["dh0"] = hb[-1] if rev else hb[0]  # [B, Hout]
    out["d_in"] = fac["k"] @ p.w_ih  # [T, B, I_l]: k now holds δa of every step
    return out


def _check_module(module) -> None:
    if not isinstance(module, (nn.RNN, nn.LSTM, nn.GRU)):
        fail("module", "nn.RNN, nn.LSTM or nn.GRU", type(module).__name__,
             "pass the recurrent module itself (for a cell, use trace_recurrent; for a model, its RNN submodule)")


def trace_gradients(module: nn.Module, x: torch.Tensor, loss_fn, hx=None) -> GradientTrace:
    """∂L/∂h_t at every step of ``module`` over ``x``, for ``L = loss_fn(module(x, hx))``.

    ``module`` is nn.RNN / nn.LSTM (proj_size too) / nn.GRU: any layers, bidirectional, batch_first,
    batched or unbatched ``x``. ``loss_fn`` gets what the module returns, ``(output, h_n)`` or
    ``(output, (h_n, c_n))``, and returns a scalar tensor. Nothing is accumulated into ``.grad``.

    Example::

        lstm = nn.LSTM(3, 16)
        g = tr_widgets.trace_gradients(lstm, torch.randn(40, 1, 3), lambda out: out[0][-1].pow(2).sum())
        g.norms()                  # [40]: ‖∂L/∂h_t‖, vanishing away from the last step?
        g.factor_norms(path="c")   # [40]: the forget gates' share of it
        g.step(30)["dc_to_prev"]   # f_30 ⊙ ∂L/∂c_30
    """
    _check_module(module)
    if not callable(loss_fn):
        fail("loss_fn", "a callable mapping the module's output to a scalar tensor", describe(loss_fn),
             "pass a function, e.g. loss_fn=lambda out: out[0].pow(2).sum()")
    fwd = trace_recurrent(module, x, hx)  # checks x and hx, runs the module once, fused
    L, D, H = fwd.num_layers, fwd.num_directions, fwd.hidden_size
    backward_of(fwd.spec)  # a kind without a gradient spec is refused before any work
    check_budget("trace_gradients", (2 * gate_blocks(fwd.spec) + 2, fwd.seq_len, fwd.batch_size, H), fwd.x.dtype,
                 "a shorter x (fewer steps or batch items), or trace a window of the sequence")
    loss, grads = _loss_grads(fwd, loss_fn)
    unbatched, batch_first = x.dim() == 2, module.batch_first
    to_t = lambda v: v.unsqueeze(1) if unbatched else (v.transpose(0, 1) if batch_first else v)  # noqa: E731
    to_x = lambda v: v.squeeze(1) if unbatched else (v.transpose(0, 1) if batch_first else v)  # noqa: E731
    to_hx = lambda v: v.squeeze(1) if unbatched else v  # noqa: E731  [L*D, B, ·] -> hx's layout
    d_n = [g.unsqueeze(1) if unbatched else g for g in grads[1:]]  # [L*D, B, ·]: ∂L/∂h_n (, ∂L/∂c_n)
    dh, dc, dh0, dc0, dx = _backward(fwd, to_t(grads[0]), *d_n)  # grads[0] -> [T, B, D*Hout]
    has_cell = fwd.spec.has_cell  # an LSTM's (h_n, c_n)
    return GradientTrace(kind=fwd.kind, num_layers=L, num_directions=D, hidden_size=H, proj_size=fwd.proj_size,
                         loss=loss, output=(fwd.output, (fwd.h_n, fwd.c_n) if has_cell else fwd.h_n), forward=fwd,
                         d_hidden=dh, d_cell=dc if has_cell else None, d_input=to_x(dx),
                         d_hx=(to_hx(dh0), to_hx(dc0)) if has_cell else to_hx(dh0))


def _backward(fwd, d_out, d_hn, d_cn=None):
    """Every layer-direction, top layer first: what a layer sends to its input is what arrives directly
    at the layer below. d_out [T, B, D*Hout]; d_hn, d_cn [L*D, B, ·]."""
    L, D, Hout = fwd.num_layers, fwd.num_directions, fwd.out_size
    dh, dc, dh0, dc0 = [None] * L, [None] * L, [None] * (L * D), [None] * (L * D)
    arriving = d_out  # [T, B, D*Hout]
    for layer in reversed(range(L)):
        res = [_layer_direction(fwd, layer, d, arriving[..., d * Hout:(d + 1) * Hout], d_hn[layer * D + d],
                                None if d_cn is None else d_cn[layer * D + d]) for d in range(D)]
        dh[layer], dc[layer] = [r["dh"] for r in res], [r["dc"] for r in res]
        for d, r in enumerate(res):
            dh0[layer * D + d], dc0[layer * D + d] = r["dh0"], r["dc0"]
        arriving = sum(r["d_in"] for r in res)  # [T, B, I_l]
    stack = lambda s: None if s[0] is None else torch.stack(s)  # noqa: E731  [L*D, B, ·]
    return dh, dc, stack(dh0), stack(dc0), arriving
