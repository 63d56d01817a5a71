"""One recorded call, and how its tensors are kept: detached, copied only where they would go stale.

A k or v whose version counter is above 0 was written in place before (a preallocated KV cache, e.g.
Hugging Face's StaticCache ``index_copy_``) and will likely be written again, so it is copied
(inference-mode tensors have no version counter: their k and v are copied too). Any other kept tensor is
held by reference with its version, so a later in-place change is reported instead of shown silently.
"""
from __future__ import annotations

import torch
from torch.nn.utils.rnn import PackedSequence


class Entry:
    """One recorded call (or one chain of cell calls): how to build its trace, and what it keeps.

    Example::

        e = Entry(lstm, build=None, kept=[], held=[x])
        e.trace is None
        e.held[0] is x
    """

    __slots__ = ("module", "build", "kept", "held", "trace")

    def __init__(self, module, build, kept, held):
        self.module, self.build, self.kept, self.held = module, build, kept, held  # trace = build(*held, name=)
        self.trace = None


def version_of(t):
    """A tensor's version counter, or None (inference and nested tensors have none).

    Example::

        t = torch.zeros(3)
        before = version_of(t)
        t.add_(1)
        version_of(t) == before + 1
    """
    try:
        return t._version
    except (RuntimeError, AttributeError):
        return None


def keep(t, label: str, kept: list, cache: bool = False):
    """``t`` detached; a cache tensor (k/v) written in place before is cloned; others are watched.

    Example::

        kept = []
        w = torch.ones(2, requires_grad=True)
        t = keep(w, "w", kept)
        t.requires_grad == False
        [label for label, _, _ in kept] == ["w"]
    """
    if not isinstance(t, torch.Tensor):
        return t
    if t.requires_grad:
        t = t.detach()
    ver = version_of(t)
    if cache and (ver is None or ver > 0):
        return t.clone()
    if ver is not None:
        kept.append((label, t, ver))
    return t


def detach_all(obj):
    """Tensors detached, through tuples and lists (a recurrent module's (output, (h, c))).

    Example::

        out = detach_all(lstm(x))  # (output, (h, c))
        [t.requires_grad for t in (out[0], *out[1])] == [False, False, False]
    """
    if isinstance(obj, torch.Tensor):
        return obj.detach()
    if isinstance(obj, PackedSequence):  # a tuple too, whose type must stay
        return obj._replace(data=obj.data.detach())
    return tuple(detach_all(o) for o in obj) if isinstance(obj, (tuple, list)) else obj


def tensors_of(obj, depth=0):
    """Every tensor reachable from a trace or record (dataclass fields, lists, dicts), for ``nbytes``.

    Example::

        found = list(tensors_of({"a": x, "b": [x, (x, 1)]}))
        len(found) == 3
    """
    if isinstance(obj, torch.Tensor):
        yield obj
    elif depth < 6 and isinstance(obj, (list, tuple)):
        for o in obj:
            yield from tensors_of(o, depth + 1)
    elif depth < 6 and isinstance(obj, dict):
        for o in obj.values():
            yield from tensors_of(o, depth + 1)
    elif depth < 6 and hasattr(obj, "__dataclass_fields__"):
        for o in vars(obj).values():
            yield from tensors_of(o, depth + 1)


def compact_queries(entries) -> None:
    """Copy out each q that pins a much larger storage, so the record holds about what it uses.

    Hugging Face GPT-2's q is a view of the fused [B, T, 3E] projection whose k and v parts the KV cache
    has already copied: keeping q alone would keep all three. Done once, at exit, as one stacked copy
    per shape (one call for all layers: this is on the forward's clock).

    Example::

        qkv = torch.randn(1, 4, 3 * 8)
        e = Entry(None, None, kept=[("q", qkv, 0)], held=[qkv[..., :8], torch.randn(1, 4, 8), torch.randn(1, 4, 8)])
        compact_queries([e])
        e.held[0].untyped_storage().nbytes() == e.held[0].nbytes
    """
    groups = {}
    for e in entries:
        q = e.held[0]
        st = q.untyped_storage()
        size = st.nbytes()
        if size <= 1.25 * q.nbytes:  # q uses (about) its whole storage
            continue
        used, ptr = q.nbytes, st.data_ptr()
        for t in e.held[1:3]:
            if t.untyped_storage().data_ptr() == ptr:
                used += t.nbytes
        if used <= 0.8 * size:  # k and v do not keep the rest of it alive anyway
            groups.setdefault((q.shape, q.dtype, q.device), []).append(e)
    for entries in groups.values():
        copies = torch.stack([e.held[0] for e in entries]).unbind(0)  # one storage for the group
        for e, q in zip(entries, copies):
            e.held[0] = q
            e.kept = [kept for kept in e.kept if kept[0] != "q"]  # a copy can no longer go stale
