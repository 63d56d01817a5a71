"""EffectiveAttention: a state trace read as attention, one row at a time, never T × T.

A linear recurrence h_i = a_i ⊙ h_{i-1} + b_i x_i read out by y_i = C_i h_i unrolls to y_i = Σ_{j≤i} w_ij x_j:
for Mamba-2 (SSD) w_ij is the entry L_ij (C_i · B_j) Δ_j of the SSD matrix ``L ⊙ C Bᵀ`` ("Transformers are
SSMs", Dao & Gu 2024, eq. 6), per head; for Mamba per channel; for Gated DeltaNet the delta rule's weight of
v_j in o_i; for RWKV-4 the WKV softmax over past tokens. Each row comes from ``StateTrace.attention_row``.
The rows of an SSM have no softmax and do not sum to 1 (``normalized`` is False); ``sdpa_row`` returns the
scan's own output row (from its state: C_i h_i, without the D·x skip), so a view's ✓ compares the row's
Σ_j w_ij x_j with what the recurrence computed. Families are one entry each in :data:`FORMS`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from tr_widgets.engine.attention.trace import AttentionTrace, RowRecord
from tr_widgets.engine.errors import fail
from .scan import heads_of

NO_SOFTMAX = "effective attention of an SSM: no softmax; the rows do not sum to 1 (scores = weights)"


@dataclass(frozen=True)
class Form:
    """How one family reads as attention. ``parts(st)`` -> (q, k, v) as [B, A or 1, T, ·] views (v: the
    values the weights multiply); ``reference(st, i)`` -> [B, A, Ev], the scan's own output row.

    Example::

        FORMS["mamba2"].axis, FORMS["rwkv"].normalized      # 'head', True
    """

    axis: str  # "head" or "channel": the keyword of attention_row and the second batch axis
    normalized: bool
    parts: Callable
    reference: Callable
    note: str
    block: Callable | None = None  # (st, r0, r1, index a, keys) -> [B, n, keys]: rows [r0, r1) at once


def _ssd_parts(st):
    H = st.inputs["x"].shape[2]
    per_head = lambda t: heads_of(t, H).transpose(1, 2)  # noqa: E731  [B, T, G, N] -> [B, H, T, N]
    return per_head(st.inputs["C"]), per_head(st.inputs["B"]), st.inputs["x"].transpose(1, 2)  # v [B, H, T, P]


def _ssd_reference(st, i):
    h = st.recurrent(i + 1)[0]  # [B, H, P, N]: the scan's own state after token i
    C = heads_of(st.inputs["C"][:, i:i + 1], h.shape[1])[:, 0].float()  # [B, H, N]
    return torch.einsum("bhpn,bhn->bhp", h, C)  # [B, H, P]: y_i − D x_i


def _ssd_block(st, r0, r1, head, keys):
    """Rows [r0, r1) of head ``head`` at once, [B, n, keys]: attention_row's formula over a block only."""
    H, G = st.inputs["x"].shape[2], st.inputs["B"].shape[2]
    g = head // (H // G)  # the group this head reads, as heads_of repeats them
    dt = st.inputs["dt"][:, :max(keys, r1), head].float()  # [B, T']
    cum = (dt * st.consts["A"][head].float()).cumsum(1)  # [B, T']: Σ_{k≤i} Δ_k A_h
    C, B = st.inputs["C"][:, r0:r1, g].float(), st.inputs["B"][:, :keys, g].float()  # [B, n, N], [B, keys, N]
    future = torch.arange(keys)[None, :] > torch.arange(r0, r1)[:, None]  # [n, keys]
    seg = (cum[:, r0:r1, None] - cum[:, None, :keys]).masked_fill(future.to(cum.device), float("-inf"))
    return (C @ B.transpose(1, 2)) * torch.exp(seg) * dt[:, None, :keys]  # [B, n, keys]: L ⊙ C Bᵀ, times Δ_j


def _mamba_parts(st):
    q = st.inputs["C"][:, None]  # [B, 1, T, N]: shared by every channel
    return q, st.inputs["B"][:, None], st.inputs["x"].transpose(1, 2)[..., None]  # v [B, D, T, 1]


def _mamba_reference(st, i):
    h = st.recurrent(i + 1)[0]  # [B, D, N]
    return torch.einsum("bdn,bn->bd", h, st.inputs["C"][:, i].float())[..., None]  # [B, D, 1]: (C h_i)_d


def _gdn_parts(st):
    H = st.inputs["v"].shape[2]
    return (heads_of(st.inputs["q"], H).transpose(1, 2), heads_of(st.inputs["k"], H).transpose(1, 2),
            st.inputs["v"].transpose(1, 2))  # [B, Hv, T, dk], [B, Hv, T, dk], [B, Hv, T, dv]


def _rwkv_parts(st):
    k = st.inputs["k"].transpose(1, 2)[..., None]  # [B, A, T, 1]
    return k, k, st.inputs["v"].transpose(1, 2)[..., None]  # v [B, A, T, 1]


FORMS: dict[str, Form] = {
    "mamba2": Form("head", False, _ssd_parts, _ssd_reference,
                   "w_ij = L_ij (C_i · B_j) Δ_j, a row of the SSD matrix; terms w_ij x_j sum to y_i − D x_i",
                   _ssd_block),
    "mamba": Form("channel", False, _mamba_parts, _mamba_reference,
                  "per channel: w_ij = Σ_n C_i,n exp(Σ_{j<k≤i} Δ_k A_n) Δ_j B_j,n; terms sum to (C h_i)_d"),
    "gated_deltanet": Form("head", False, _gdn_parts, lambda st, i: st.quantities(i)["o"].float(),
                           "the delta rule's weight of v_j in o_i (decay and erase carried back from i)"),
    "rwkv": Form("channel", True, _rwkv_parts, lambda st, i: st.quantities(i)["wkv"].float()[..., None],
                 "RWKV-4's WKV is a softmax over past tokens per channel (decay in log space): rows sum to 1"),
}


@dataclass(frozen=True, eq=False)
class EffectiveAttention(AttentionTrace):
    """A :class:`StateTrace` shown as attention (see the module docstring); made by
    ``StateTrace.effective_attention()``. q, k, v are views of the scan's inputs; weights come row by row.

    Example::

        from tr_widgets.engine.state import trace_state
        st = trace_state("mamba2", x=torch.randn(1, 8, 2, 3), dt=torch.rand(1, 8, 2), A=-torch.ones(2),
                         B=torch.randn(1, 8, 1, 4), C=torch.randn(1, 8, 1, 4))
        ea = st.effective_attention()
        (ea.batch_names, ea.normalized) == (("batch", "head"), False)    # SSM rows are no softmax
        assert torch.allclose(ea.row(7, (0, 1)).terms.sum(0), ea.sdpa_row(7, (0, 1)), atol=1e-5)   # the scan's y_7
    """

    state: Any = None  # the StateTrace the rows come from
    form: Form | None = None

    @property
    def normalized(self) -> bool:
        """Whether each row sums to 1 (a softmax): False for the SSMs, True for RWKV's WKV."""
        return self.form.normalized

    def __repr__(self) -> str:
        return (f"EffectiveAttention(kind={self.state.kind!r}, name={self.name!r}, batch={self.batch_shape}, "
                f"T={self.L}, normalized={self.normalized})")

    def _weights_row(self, i: int, idx: tuple) -> torch.Tensor:
        """Row i of entry (b, a) over the first i+1 keys, [i+1] float32, from the state trace."""
        w = self.state.attention_row(i, **{self.form.axis: idx[1]})  # [B, i+1]
        return w[idx[0]].float()

    def weights_rows(self, r0: int, r1: int, index=(), keys: int | None = None):
        """Effective weights of rows [r0, r1) of one (batch, head/channel) entry, [n, keys], and the
        blocked (future) keys: one row at a time, never more than the block.

        Example::

            w, blocked = ea.weights_rows(0, 8, (0, 1))     # w[3, 4:] == 0, blocked[3, 4:] all True
        """
        keys = self.S if keys is None else keys
        if not (isinstance(r0, int) and isinstance(r1, int) and 0 <= r0 < r1 <= self.L):
            fail("r0, r1", f"ints with 0 <= r0 < r1 <= {self.L} (a block of rows)", f"r0={r0!r}, r1={r1!r}",
                 f"pass e.g. r0=0, r1={self.L}")
        idx = self._index(index)
        if self.form.block is not None:  # the family's formula over this block only
            with torch.no_grad():
                out = self.form.block(self.state, r0, r1, idx[1], keys)[idx[0]]  # [n, keys]
        else:
            out = torch.zeros(r1 - r0, keys, dtype=torch.float32, device=self.v.device)  # [n, keys]
            for n, i in enumerate(range(r0, r1)):
                w = self._weights_row(i, idx)[:keys]
                out[n, : len(w)] = w
        blocked = torch.arange(keys, device=out.device)[None, :] > torch.arange(r0, r1, device=out.device)[:, None]
        return out, blocked

    def row(self, i: int, index=()) -> RowRecord:
        """Row i: the effective weights (as scores, scaled and masked too: there is no softmax), the terms
        w_ij x_j (their sum is the recurrence's output i, without a skip term) and the future keys blocked.

        Example::

            r = ea.row(5, (1, 0))
            r.weights[6:].abs().max(), r.blocked[6:].all()     # 0, True
        """
        self._check_query(i)
        idx = self._index(index)
        w = torch.zeros(self.S, dtype=torch.float32, device=self.v.device)  # [S]
        w[: i + 1] = self._weights_row(i, idx)
        with torch.no_grad():
            v = self.v.expand(*self.batch_shape, self.S, self.Ev)[idx].float()  # [S, Ev]
            q = self.q.expand(*self.batch_shape, self.L, self.E)[idx][i]  # [E]
            terms = w[:, None] * v  # [S, Ev]
        blocked = torch.arange(self.S, device=w.device) > i  # [S]
        return RowRecord(i, idx, q, w, w, w, blocked, w, terms, terms.sum(0))

    def sdpa_row(self, i: int, index=()) -> torch.Tensor:
        """The recurrence's own output for row i of one entry, [Ev], from the scan's state (not from the row):
        Mamba-2 C_i h_i (y_i − D x_i), Mamba (C h_i)_d, Gated DeltaNet o_i, RWKV wkv_i.

        Example::

            (ea.row(3, (0, 1)).output - ea.sdpa_row(3, (0, 1))).abs().max()    # ~1e-7
        """
        self._check_query(i)
        idx = self._index(index)
        with torch.no_grad():
            return self.form.reference(self.state, i)[idx]  # [Ev]

    @property
    def weights(self) -> torch.Tensor:
        """The effective matrix, ``[*batch, L, S]``, row by row (budget-checked: the views never ask for it)."""
        Bt, A = self.batch_shape
        return self._stage("effective", lambda: torch.stack(
            [torch.stack([self.weights_rows(0, self.L, (b, a))[0] for a in range(A)]) for b in range(Bt)]))

    scores = scaled = masked = weights

    @property
    def sdpa_output(self) -> torch.Tensor:
        """The recurrence's own output rows, ``[*batch, L, Ev]`` (see :meth:`sdpa_row`)."""
        if "reference" not in self.derived:
            rows = [self.form.reference(self.state, i) for i in range(self.L)]  # each [B, A, Ev]
            self.derived["reference"] = torch.stack(rows, dim=2)  # [B, A, L, Ev]
        return self.derived["reference"]


def effective_attention(st) -> EffectiveAttention:
    """The effective attention of a state trace (what ``StateTrace.effective_attention()`` returns).

    Example::

        from tr_widgets.engine.state import trace_state
        st = trace_state("rwkv", k=torch.randn(1, 5, 4), v=torch.randn(1, 5, 4), time_decay=torch.zeros(4),
                         time_first=torch.zeros(4))
        ea = effective_attention(st)
        (ea.batch_names, ea.normalized) == (("batch", "channel"), True)    # RWKV's WKV is a softmax over past tokens
    """
    form = FORMS.get(st.kind)
    if form is None:
        fail("effective_attention", f"a trace of one of {sorted(FORMS)}", f"a {st.kind} trace",
             "read its state with state(step) and quantities(step) instead")
    q, k, v = form.parts(st)
    notes = () if form.normalized else (NO_SOFTMAX,)
    notes += (form.note,)
    if st.initial is not None:
        notes += ("the state before this call also feeds the output; the rows cover this call's tokens only, "
                  "so the cross-check differs by that share",)
    return EffectiveAttention(q=q, k=k, v=v, attn_mask=None, is_causal=True, scale=1.0, name=st.name,
                              batch_names=("batch", form.axis), notes=notes, state=st, form=form)
