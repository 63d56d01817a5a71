"""The pure math of attention's stages, shared by every attention-like trace.

This module owns the softmax that SDPA applies (fully masked rows give zeros, not NaN), how a mask is
applied to scaled scores (bool: True = the key takes part; float: added), which entries a mask blocked,
the check on position labels, and :class:`RowRecord`, one query's step.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import describe, fail


@dataclass(frozen=True, eq=False)
class RowRecord:
    """One query's step: q_i, its scores over the keys, each stage, each term w_ij·v_j, and o_i.

    Example: ``r = at.row(3, (0, 1)); r.weights.sum()   # 1.0``
    """

    i: int
    index: tuple
    q: torch.Tensor  # [E]
    scores: torch.Tensor  # [S]
    scaled: torch.Tensor  # [S]
    masked: torch.Tensor  # [S]
    blocked: torch.Tensor  # [S] bool, True where the mask removed the key
    weights: torch.Tensor  # [S]
    terms: torch.Tensor  # [S, Ev]  w_ij * v_j
    output: torch.Tensor  # [Ev]     sum_j w_ij v_j


def safe_softmax(x: torch.Tensor) -> torch.Tensor:
    """softmax over the last dim; rows that are entirely -inf give zeros (as SDPA does).

    A row is entirely -inf exactly when its max is: one reduction finds them, and only those rows are
    rewritten (no full-size where/zeros, which cost more than the softmax itself on long rows).

    Example: ``safe_softmax(torch.tensor([[0., 0.], [float("-inf")] * 2]))   # [[.5, .5], [0., 0.]]``
    """
    w = torch.softmax(x, dim=-1)
    dead = torch.isneginf(x.amax(dim=-1)) if x.shape[-1] else None
    if dead is not None and bool(dead.any()):
        w = w.masked_fill(dead[..., None], 0.0)
    return w


def apply_mask(scaled: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Scaled scores with ``mask`` applied as SDPA does: -inf where a bool mask is False, a float mask added.

    Example: ``apply_mask(torch.zeros(2), torch.tensor([True, False]))   # [0., -inf]``
    """
    if mask is None:
        return scaled
    if mask.dtype == torch.bool:
        return scaled.masked_fill(~mask, float("-inf"))
    return scaled + mask


def blocked_where(mask: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    """Bool, shaped like ``like``: True where ``mask`` removed a key (False everywhere without a mask).

    Example: ``blocked_where(torch.tensor([True, False]), torch.zeros(2))   # [False, True]``
    """
    if mask is None:
        return torch.zeros_like(like, dtype=torch.bool)
    return ~mask if mask.dtype == torch.bool else torch.isneginf(mask)


def check_labels(arg: str, labels, n: int) -> None:
    """None, or one label per position (``tokens``: per key; ``query_tokens``: per query).

    Example: ``check_labels("tokens", ["a", "b"], 2)   # passes; a list of 3 would fail``
    """
    if labels is not None and (not isinstance(labels, (list, tuple)) or len(labels) != n):
        fix = (f"pass {arg}=None or a list of {n} strings" if isinstance(labels, (list, tuple, str, bytes)) or labels is None
               else f"pass a list: {arg}=list(...) ({n} strings)")
        fail(arg, f"a list of {n} labels (one per {'key' if arg == 'tokens' else 'query'} position)",
             describe(labels), fix)
