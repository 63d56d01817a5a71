"""What a recurrent cell kind is: the spec every layer reads (:class:`CellKind`), the weights it runs on
(:class:`CellParams`), its equations (:class:`Equation`), and the two helpers specs are built from.

A spec module (``cells.py`` for torch's cells, or a module of its own) builds ``CellKind`` objects from
these; ``cells.KINDS`` is the one table of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True, eq=False)
class CellParams:
    """One layer-direction's weights, as torch stores them (gates stacked along dim 0).

    Example: ``tr.params[0][0].w_ih.shape == (16, 3)  # an LSTM(3, 4): 4 gates x 4 units, 3 inputs``
    """

    w_ih: torch.Tensor  # [G*H, I]
    w_hh: torch.Tensor  # [G*H, Hout]
    b_ih: torch.Tensor | None  # [G*H]
    b_hh: torch.Tensor | None  # [G*H]
    w_hr: torch.Tensor | None = None  # [Hout, H], LSTM proj_size only


@dataclass(frozen=True)
class Equation:
    """One of torch's equations, and how a view writes it out with one unit's numbers.

    ``arithmetic`` is a ``str.format`` template over the step's tensors, indexed at the shown unit:
    ``{name}`` is the number, ``{name:p}`` the number in parentheses when negative (an operand), and
    ``{j}`` the unit. A unit a referenced vector does not have (a projected h_t) is written "·".

    Example: ``tr.spec.equations[-1].lhs == "h_t"``
    """

    lhs: str
    latex: str
    arithmetic: str


@dataclass(frozen=True, eq=False)
class CellKind:
    """Everything the engine, views and widgets need to know about one cell kind.

    Example: ``(tr.spec.gates, tr.spec.has_cell) == (("i", "f", "g", "o"), True)  # an LSTM's spec``
    """

    name: str
    match: Callable[[nn.Module], bool]
    gates: tuple[str, ...]  # post-activation gates, in torch's stacking order
    equations: tuple[Equation, ...]
    flow: tuple[tuple[str, ...], ...]  # columns of the flow chart: tensor names, left to right
    has_cell: bool  # an LSTM's cell state c_t
    step: Callable  # (x, h_prev, c_prev, p) -> every intermediate of one step (or of all steps)
    replay: Callable  # (x [T,B,I], h [T,B,Hout], h0 [B,Hout], p, reverse) -> gates of every step
    state: str = "h"  # what one node of the unrolled graph carries


def shifted(h: torch.Tensor, h0: torch.Tensor, reverse: bool) -> torch.Tensor:
    """h_{t-1} as step t sees it, ``[T, B, Hout]`` (reverse: the state after position t+1).

    Example: ``bool((shifted(tr.hidden(0, 0), tr.h0[0], False)[1] == tr.hidden(0, 0)[0]).all()) == True``
    """
    return torch.cat([h[1:], h0[None]]) if reverse else torch.cat([h0[None], h[:-1]])


def split_parts(x, h_prev, p: CellParams, names) -> dict[str, torch.Tensor]:
    """Each gate's input part W_i· x + b_i· and recurrent part W_h· h + b_h·, as a reader adds them.

    Example: ``sorted(split_parts(x[0], torch.zeros(1, 4), tr.params[0][0], "ifgo"))[:2] == ["h_part_f", "h_part_g"]``
    """
    gi = F.linear(x, p.w_ih, p.b_ih).chunk(len(names), dim=-1)  # G x [..., H]
    gh = F.linear(h_prev, p.w_hh, p.b_hh).chunk(len(names), dim=-1)  # G x [..., H]
    return {**{f"x_part_{n}": a for n, a in zip(names, gi)}, **{f"h_part_{n}": b for n, b in zip(names, gh)}}
