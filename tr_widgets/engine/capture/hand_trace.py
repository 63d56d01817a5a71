"""Hand-written attention, built: a recorded chain (``hand.Chain``) laid out in its softmax's layout (heads
folded into a 3-D ``bmm`` batch unfolded when an enclosing module says how many heads it has), replayed as
an ``attention.ChainTrace``, and checked against the module's own output on a few rows: a replay that
disagrees is a ``skipped`` note, never a trace.
"""
from __future__ import annotations

import torch

from ..attention import ChainTrace
from ..batch import batch_names
from ..errors import check_budget
from .entries import Entry, keep

def _relayout(t, frame, target):
    """``t`` (broadcastable to ``frame``) laid out in ``target`` (same element count)."""
    if not isinstance(t, torch.Tensor) or tuple(frame) == tuple(target):
        return t
    n = len(frame)
    if t.dim() < n:
        t = t.reshape((1,) * (n - t.dim()) + tuple(t.shape))
    if tuple(frame[-2:]) == tuple(target[-2:]):
        lead = tuple(t.shape[:-2])
        if all(s == 1 for s in lead):
            return t.reshape((1,) * (len(target) - 2) + tuple(t.shape[-2:]))
        if lead == tuple(frame[:-2]):
            return t.reshape(tuple(target[:-2]) + tuple(t.shape[-2:]))
    return t.expand(frame).reshape(target)


def _einsum_split(eq):
    ins, out = eq.split("->")
    la, lb = ins.split(",")
    return la, lb, out


def _qk(chain):
    """q [*pb, L, E] and k [*pb, S, E] of the chain's product, and the product's extra steps."""
    how = chain.how
    if how == "matmul":
        return chain.a, chain.b.transpose(-2, -1), []
    if how[0] == "baddbmm":
        _, bias, beta, alpha = how
        steps = [] if alpha == 1 else [("mul", float(alpha))]
        if not (isinstance(beta, (int, float)) and beta == 0):
            steps.append(("add", bias if beta == 1 else bias * beta))
        return chain.a, chain.b.transpose(-2, -1), steps
    la, lb, lo = _einsum_split(how[1])
    i, j, batch = lo[-2], lo[-1], lo[:-2]
    a, b = chain.a, chain.b
    if i in lb and j in la and i not in la and j not in lb:  # einsum(k, q) (Keras): the key operand first
        la, lb, a, b = lb, la, b, a
    d = [c for c in la if c in lb and c not in lo]
    if len(d) != 1 or j in la or i in lb or any(c not in la or c not in lb for c in batch):
        raise ValueError(f"einsum {how[1]!r} is not q·kᵀ over one shared dimension")
    q = torch.einsum(f"{la}->{batch}{i}{d[0]}", a)
    k = torch.einsum(f"{lb}->{batch}{j}{d[0]}", b)
    return q, k, []


def _value(chain, v, vo, layout):
    """v [*wb, S, Ev] and the module's output [*wb, L, Ev] in the weights' layout at the value product."""
    if isinstance(layout, tuple) and layout and layout[0] == "einsum":
        lw, lv, lo = _einsum_split(layout[1])
        batch, i, j = lw[:-2], lw[-2], lw[-1]
        e = [c for c in lv if c not in lw]
        if len(e) != 1:
            raise ValueError(f"einsum {layout[1]!r} is not weights·v")
        return (torch.einsum(f"{lv}->{batch}{j}{e[0]}", v), torch.einsum(f"{lo}->{batch}{i}{e[0]}", vo),
                layout[2])
    return v, vo, layout


def _canonical_step(step, frame, F, device):
    kind = step[0]
    if kind == "add":
        t = step[1]
        if isinstance(t, tuple):  # ("neg", t): a subtraction
            t = -t[1]
        return ("add", _relayout(t, frame, F))
    if kind == "fill" or kind == "keep":
        m = step[1]
        if isinstance(m, torch.Tensor) and m.dtype != torch.bool:
            m = m.bool()
        return (kind, _relayout(m, frame, F), step[2])
    if kind == "setitem":
        m = torch.zeros(frame, dtype=torch.bool, device=device)
        m[step[1]] = True
        return ("fill", m.reshape(F), step[2])
    return step


def chain_trace(chain, v, vo, layout, *, name=""):
    """The ChainTrace of one recorded chain (q, k, steps in the softmax's layout), checked on a few rows.

    Example::

        # attn_cap: a capture of a hand-written Attention module on q, k, v (the docstring runner's)
        chain, v_kept, output, layout = attn_cap.recorder.entries[0].held
        trace = chain_trace(chain, v_kept, output, layout, name="attn")  # what the entry builds on first access
        assert torch.allclose(trace.weights, F.softmax(q @ k.transpose(-2, -1) / 8 ** 0.5, -1))
    """
    Fs = tuple(chain.wshape)  # the layout the softmax saw (one more column with sinks)
    if chain.sinks is not None:
        Fs = Fs[:-1] + (Fs[-1] - 1,)
    heads = chain.heads
    if len(Fs) == 3 and heads and Fs[0] % heads == 0 and heads > 1:  # [B·H, L, S] -> [B, H, L, S]
        target = (Fs[0] // heads, heads) + Fs[1:]
    else:
        target = Fs
    steps, device = [], vo.device
    if chain.logits is not None:
        logits = _relayout(chain.logits, Fs, target)
        q = logits.new_zeros(*target[:-1], 0)
        k = logits.new_zeros(*target[:-2], target[-1], 0)
    else:
        logits = None
        q, k, first = _qk(chain)
        pshape = chain.pshape
        steps = [_canonical_step(s, pshape, target, device) for s in first]
        q = _relayout(q, pshape[:-2] + q.shape[-2:], target[:-2] + q.shape[-2:])
        k = _relayout(k, pshape[:-2] + k.shape[-2:], target[:-2] + k.shape[-2:])
        steps += [_canonical_step(s, frame, target, device) for s, frame in chain.steps]
    v, vo, wl = _value(chain, v, vo, layout)
    wb = tuple(wl[:-2])
    v = _relayout(v, wb + tuple(v.shape[-2:]), target[:-2] + tuple(v.shape[-2:]))
    vo = _relayout(vo, wb + tuple(vo.shape[-2:]), target[:-2] + tuple(vo.shape[-2:]))
    sinks = None if chain.sinks is None else _relayout(chain.sinks, Fs[:-1] + (1,), target[:-1] + (1,))
    scale = 1.0
    for st in steps:
        if st[0] in ("mul", "div") and not isinstance(st[1], torch.Tensor):
            scale = scale * st[1] if st[0] == "mul" else scale / st[1]
        elif st[0] not in ("mul", "div", "cast"):
            break
    n = len(target) - 2
    at = ChainTrace(q.detach(), k.detach(), v.detach(), None, False, scale, name=name,
                    batch_names=batch_names(n) if n != 1 else ("batch",),
                    steps=tuple(steps), sinks=sinks, softmax_dtype=chain.softmax_dtype,
                    logits=None if logits is None else logits.detach(), reference=vo.detach(),
                    notes=tuple(chain.notes))
    _verify(at, bool([n for n in chain.notes if n.startswith("dropout")]))
    return at


def _verify(at, dropout):
    """The replay against the module's own output on the first, middle and last rows of two entries."""
    if dropout:
        return
    b = at.batch_shape
    for index in {tuple(0 for _ in b), tuple(n - 1 for n in b)}:
        for i in sorted({0, at.L // 2, at.L - 1}):
            mine, own = at.row(i, index).output, at.sdpa_row(i, index)
            err = float((mine.double() - own.double()).abs().max()) if mine.numel() else 0.0
            tol = 1e-5 * (1 + float(own.abs().max())) if own.dtype in (torch.float32, torch.float64) else 1e-2
            if not err <= tol:
                raise ValueError(f"the replay of its softmax(q·kᵀ) differs from the module's own output by {err:.2g} "
                                 f"(steps {[s[0] for s in at.steps]})")


def logits_budget(rec, chain) -> None:
    """Count kept logits against the memory budget (all of a capture's together).

    Example::

        import types
        from tr_widgets.engine.capture.hand import Chain
        chain, rec = Chain(None, None, "logits", (1, 6, 6)), types.SimpleNamespace(logits_numel=0)
        chain.logits = torch.zeros(1, 6, 6)  # additive attention keeps its scores
        logits_budget(rec, chain)  # raises MemoryBudgetError past the budget
        rec.logits_numel == 36
    """
    x = chain.logits
    if x is None:
        return
    rec.logits_numel += x.numel()
    check_budget("capture: the kept attention logits (additive attention keeps its scores)",
                 (rec.logits_numel,), x.dtype, "a shorter input")


def add_entry(rec, module, chain, v, vo, layout) -> None:
    """Record a completed chain (softmax weights times ``v`` gave ``vo``) as ``module``'s entry in ``rec``.

    Example::

        with tr_widgets.capture(Attention()) as cap:  # Attention: a hand-written one (the docstring runner's)
            out = cap.model(q, k, v)
        chain, v_kept, output, layout = cap.recorder.entries[0].held
        add_entry(cap.recorder, cap.model, chain, v_kept, output, layout)  # what HandMode did at the product
        cap.recorder.entries[-1].build is chain_trace
    """
    try:
        logits_budget(rec, chain)
    except Exception as e:  # noqa: BLE001 - MemoryBudgetError: a note, not a crash
        rec.skipped.append((module, f"{type(e).__name__}: {e}"))
        rec.cover("hand")
        return
    rec.cover("hand")
    kept = []
    held = [chain, keep(v, "v", kept), keep(vo, "output", kept), layout]
    for label, t in (("q", chain.a), ("k", chain.b), ("logits", chain.logits)):
        keep(t, label, kept)
    rec.entries.append(Entry(module, chain_trace, kept, held))
