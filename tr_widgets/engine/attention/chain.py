"""ChainTrace: attention written by hand (softmax over a product of q and k), replayed step by step.

Hand-written attention spells softmax(QKᵀ · scale + mask) V ("Attention Is All You Need", eq. 1) in many
ways: ``(q @ k.transpose(-2, -1)) * scale`` or ``/ math.sqrt(d)``, a soft cap ``c · tanh(x / c)`` (Gemma 2),
an ALiBi bias (Bloom's ``baddbmm``, MPT), masks added, ``masked_fill``-ed, ``torch.where``-d or written in
place, sink logits that join the softmax and are dropped after it (GPT-OSS). A ChainTrace keeps q, k, v and
the *steps* that module applied between ``q·kᵀ`` and the softmax, in its order, and replays them: the same
operations on the same operands give the module's own weights (to rounding), without keeping any
T×T tensor the module did not already hold.

Steps (each a tuple, applied in order to the scores, ``[*batch, L, S]``)::

    ("mul", c) ("div", c)        scale (a float)             ("tanh",)        the soft cap's tanh
    ("add", t)                   a bias or an additive mask  ("fill", m, x)   x where the bool m is True
    ("keep", m, x)               x where the bool m is False ("shift",)       minus the row maximum
    ("cast", dtype)              ("sinks",)                  join the sink logits as one more column

Where nothing replays the scores (additive/Bahdanau attention, w·tanh(W_q q + W_k k)), ``logits`` holds the
scores the softmax was given and q, k are empty (E = 0); the capture counted them against the memory budget.
``reference`` is the module's own output (weights @ v): ``sdpa_row`` returns it, so a view's cross-check
compares the replay with what the model computed.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..batch import broadcast
from ..errors import check_budget
from .trace import AttentionTrace, RowRecord

SCALING = ("mul", "div", "tanh", "cast")  # the steps that make the "scaled" stage (scale, soft cap)


def mask_like(t: torch.Tensor) -> torch.Tensor:
    """Where an additive term removes a key: -inf, or a value as low as finfo.min / 2 (and below -1e8).

    Example: ``mask_like(torch.tensor([0.0, -float("inf"), -1e9, -5.0])).tolist() == [False, True, True, False]``
    """
    if t.dtype == torch.bool or not t.is_floating_point():
        return torch.zeros_like(t, dtype=torch.bool)
    return t <= max(torch.finfo(t.dtype).min / 2, -1e8)


@dataclass(frozen=True, eq=False)
class ChainTrace(AttentionTrace):
    """An AttentionTrace whose stages replay a module's own steps (see the module docstring).

    Example::

        class SelfAttention(nn.Module):                 # attention written by hand
            def forward(self, q, k, v): return F.softmax(q @ k.transpose(-2, -1) * 0.125, dim=-1) @ v
        with tr_widgets.capture(m := SelfAttention()) as rec:
            m(q, k, v)
        at = rec.traces[0][1]; at.steps == (("mul", 0.125),)     # a ChainTrace: the module's one step
        torch.allclose(at.weights, F.softmax(q @ k.transpose(-2, -1) * 0.125, dim=-1)) == True
    """

    steps: tuple = ()
    sinks: torch.Tensor | None = None  # sink logits, broadcastable to [*batch, L, 1]
    softmax_dtype: torch.dtype | None = None
    logits: torch.Tensor | None = None  # [*batch, L, S] kept scores (nothing replays them)
    reference: torch.Tensor | None = None  # the module's own weights @ v, [*batch, L, Ev]

    # -- shapes and stages present --------------------------------------------------------------
    @property
    def batch_shape(self) -> tuple:
        shapes = [self.q.shape[:-2], self.k.shape[:-2], self.v.shape[:-2]]
        shapes += [t.shape[:-2] for t in self._operands()]
        if self.logits is not None:
            shapes.append(self.logits.shape[:-2])
        return broadcast(*shapes)

    S = property(lambda self: self.k.shape[-2] if self.logits is None else self.logits.shape[-1],
                 doc="number of keys")

    def _operands(self):
        for st in self.steps:
            for x in st[1:]:
                if isinstance(x, torch.Tensor) and x.dim() >= 2:
                    yield x

    @property
    def softcap(self) -> float | None:
        """c of a soft cap c·tanh(x/c) among the steps, else None."""
        kinds = [st[0] for st in self.steps]
        for j in range(1, len(kinds) - 1):
            if kinds[j - 1:j + 2] == ["div", "tanh", "mul"]:
                return float(self.steps[j + 1][1])
        return None

    @property
    def bias(self) -> tuple:
        """The additive terms that are not masks (ALiBi, relative position bias), as given."""
        return tuple(st[1] for st in self.steps if st[0] == "add" and isinstance(st[1], torch.Tensor)
                     and not bool(mask_like(st[1]).any()))

    def __repr__(self) -> str:
        extra = [k for k, on in (("softcap", self.softcap is not None), ("bias", bool(self.bias)),
                                 ("sinks", self.sinks is not None), ("logits kept", self.logits is not None)) if on]
        return (f"ChainTrace(batch={self.batch_shape}, L={self.L}, S={self.S}, E={self.E}, Ev={self.Ev}, "
                f"masked={self.has_mask}, steps={[st[0] for st in self.steps]}"
                + (f", {', '.join(extra)}" if extra else "") + ")")

    # -- replay --------------------------------------------------------------------------------
    def _apply(self, x, steps, pick, sinks=None):
        """``steps`` applied to ``x``; ``pick(t)`` cuts an operand to x's rows (identity for the full stage);
        ``sinks``: the sink logits cut the same way (joined at the ``sinks`` step)."""
        for st in steps:
            kind = st[0]
            if kind == "sinks":
                s = self.sinks if sinks is None else sinks
                x = torch.cat([x, s.expand(*x.shape[:-1], 1).to(x.dtype)], dim=-1)
            elif kind == "mul":
                x = x * st[1]
            elif kind == "div":
                x = x / st[1]
            elif kind == "tanh":
                x = torch.tanh(x)
            elif kind == "add":
                x = x + pick(st[1])
            elif kind == "fill":
                x = x.masked_fill(pick(st[1]), st[2]) if not isinstance(st[2], torch.Tensor) else \
                    torch.where(pick(st[1]), st[2].to(x.dtype), x)
            elif kind == "keep":
                x = torch.where(pick(st[1]), x, st[2] if not isinstance(st[2], torch.Tensor) else st[2].to(x.dtype))
            elif kind == "shift":
                x = x - x.max(dim=-1, keepdim=True).values
            elif kind == "cast":
                x = x.to(st[1])
        return x

    def _softmax(self, x):
        """softmax of the full logits (the sink column last, then dropped)."""
        w = torch.softmax(x, dim=-1, dtype=self.softmax_dtype)
        return (w[..., :-1] if self.sinks is not None else w).to(self.v.dtype)

    def _drop_sink(self, x):
        return x[..., :-1] if self.sinks is not None else x

    def _raw(self, q, k):
        return q @ k.transpose(-2, -1)

    @property
    def scores(self) -> torch.Tensor:
        """Raw QKᵀ (or the kept logits), ``[*batch, L, S]``."""
        if self.logits is not None:
            return self.logits
        return self._stage("scores", lambda: self._raw(self.q, self.k))

    def _prefix(self):
        n = 0
        while n < len(self.steps) and self.steps[n][0] in SCALING:
            n += 1
        return self.steps[:n], self.steps[n:]

    @property
    def scaled(self) -> torch.Tensor:
        """The scores after the module's scale (and soft cap) steps."""
        return self._stage("scaled", lambda: self._apply(self.scores, self._prefix()[0], lambda t: t))

    @property
    def logits_full(self) -> torch.Tensor:
        """What the softmax was given: every step applied, the sink column (if any) last."""
        return self._stage("full", lambda: self._apply(self.scaled, self._prefix()[1], lambda t: t))

    @property
    def masked(self) -> torch.Tensor:
        """The scores after every step (bias, masks), ``[*batch, L, S]`` (the sink column left out)."""
        return self._drop_sink(self.logits_full)

    @property
    def weights(self) -> torch.Tensor:
        """softmax over keys (with the sinks joined, then dropped: rows may sum to less than 1)."""
        return self._stage("weights", lambda: self._softmax(self.logits_full))

    @property
    def sdpa_output(self) -> torch.Tensor:
        """The module's own output (weights @ v), for cross-checks; the replay where none was kept."""
        return self.reference if self.reference is not None else self.output

    # -- masks -------------------------------------------------------------------------------
    @property
    def has_mask(self) -> bool:
        """Whether a step masks keys: a fill or keep, or an added tensor with -inf (steps without an
        argument, such as a soft cap, mask nothing)."""
        return any(st[0] in ("fill", "keep") for st in self.steps) or any(
            st[0] == "add" and len(st) > 1 and isinstance(st[1], torch.Tensor) and bool(mask_like(st[1]).any())
            for st in self.steps)

    def _blocked_of(self, pick, like):
        out = torch.zeros_like(like, dtype=torch.bool)
        for st in self.steps:
            if st[0] == "fill":
                out = out | pick(st[1])
            elif st[0] == "keep":
                out = out | ~pick(st[1])
            elif st[0] == "add" and isinstance(st[1], torch.Tensor):
                out = out | mask_like(pick(st[1]))
        return out

    @property
    def blocked(self) -> torch.Tensor | None:
        if not self.has_mask:
            return None
        shape = self.batch_shape + (self.L, self.S)
        check_budget("AttentionTrace.blocked", shape, torch.bool, "row(i, index).blocked or weights_rows")
        return self._blocked_of(lambda t: t, torch.zeros(shape, dtype=torch.bool, device=self.q.device))

    @property
    def mask(self) -> torch.Tensor | None:
        """Bool ``[*batch, L, S]``: True where the key takes part (the complement of ``blocked``)."""
        b = self.blocked
        return None if b is None else ~b

    # -- one query (block) at a time ------------------------------------------------------------
    def _rows(self, idx, r0, r1):
        b, L, S = self.batch_shape, self.L, self.S

        def pick(t):
            return t.expand(*b, L, S)[idx][r0:r1] if isinstance(t, torch.Tensor) and t.dim() >= 2 else t
        if self.logits is not None:
            raw = self.logits.expand(*b, L, S)[idx][r0:r1]  # [n, S]
        else:
            q = self.q.expand(*b, L, self.E)[idx][r0:r1]  # [n, E]
            k = self.k.expand(*b, S, self.E)[idx]  # [S, E]
            raw = q @ k.T  # [n, S]
        first, rest = self._prefix()
        sinks = None if self.sinks is None else self.sinks.expand(*b, L, 1)[idx][r0:r1]  # [n, 1]
        scaled = self._apply(raw, first, pick, sinks)
        full = self._apply(scaled, rest, pick, sinks)
        weights = self._softmax(full)
        blocked = self._blocked_of(pick, raw)
        return raw, scaled, self._drop_sink(full), weights, blocked

    def weights_rows(self, r0: int, r1: int, index=(), keys: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Weights of queries [r0, r1) of one batch/head entry and where keys were blocked, ``[n, keys]``
        (the softmax always runs over every key: the chain's own steps decide what is masked)."""
        idx = self._index(index)
        with torch.no_grad():
            _, _, _, w, blocked = self._rows(idx, r0, r1)
        return w[:, :keys], blocked[:, :keys]

    def row(self, i: int, index=()) -> RowRecord:
        """One query's step, replaying the module's steps on one row (O(S·E))."""
        self._check_query(i) if hasattr(self, "_check_query") else None
        idx, b = self._index(index), self.batch_shape
        with torch.no_grad():
            raw, scaled, masked, weights, blocked = (t[0] for t in self._rows(idx, i, i + 1))
            q = self.q.expand(*b, self.L, self.E)[idx][i]  # [E]
            v = self.v.expand(*b, self.S, self.Ev)[idx]  # [S, Ev]
            terms = weights[:, None] * v  # [S, Ev]
        return RowRecord(i, idx, q, raw, scaled, masked, blocked, weights, terms, terms.sum(0))

    def sdpa_row(self, i: int, index=()) -> torch.Tensor:
        """The module's own output for query ``i`` (``reference``), ``[Ev]``; the replay if none was kept."""
        idx, b = self._index(index), self.batch_shape
        if self.reference is None:
            return self.row(i, index).output
        return self.reference.expand(*b, self.L, self.Ev)[idx][i]
