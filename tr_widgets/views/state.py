"""What a state view shows, as numpy: one step of a state-space / linear-attention mixer (a StateTrace).

Per step t (0-based, the state right after position t, as ``trace.state(t)``): the fixed-size state of
the selected batch item (Mamba: d_inner × d_state; Mamba-2: head_dim × d_state of one head; Gated
DeltaNet: d_k × d_v of one head; mLSTM: its matrix memory C, d_qk × d_v of one head; RWKV: its state tuple,
one vector per component), each per-step quantity under the family's own name (``trace.names``) reduced to
one vector by the selection, the mixer's output, and the bytes the state takes beside those of the KV cache
an attention layer of the same width would hold after the same tokens. Which dim of each quantity is which is this module's one
table, :data:`LAYOUTS`; the numbers are the trace's, sliced, never recomputed. The memory panel lives
in :mod:`.memory` (re-exported here).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..engine.errors import fail
from ..i18n import msg
from .matrix import to_numpy, value_range, window_around
from .memory import MemoryView, human_bytes, memory_view

__all__ = ["LAYOUTS", "Bar", "Layout", "MemoryView", "human_bytes", "layout", "memory_view", "output_bar",
           "quantity_bars", "reduce", "state_axes", "state_matrix", "state_range", "state_series"]  # memory's re-exported


@dataclass(frozen=True)
class Layout:
    """How a family's tensors are indexed: one letter per dim, ``b`` the batch.

    ``c``: the "channel" selector (Mamba's d_inner, Mamba-2's row p of a head, RWKV's channel); ``h``:
    the "head" selector (Mamba-2's B and C come per head, each head's group repeated); other letters
    are kept whole. A dim kept as the last one is shown whole with the selected index marked.

    Example::

        LAYOUTS["mamba"].dims["A_bar"]     # 'bcn': batch, channel (selected), state dim n (shown)
    """

    axes: tuple[str, ...]  # selectors besides batch: "head", "channel"
    state: str  # dims of state(t) (matrix families) or of each state component (RWKV)
    row_key: str  # i18n keys of the heatmap's axis names (empty for RWKV: no heatmap)
    col_key: str
    dims: dict  # quantity name -> dims

    @property
    def rows(self) -> str:
        """The heatmap's row axis name in the active language ("": no heatmap).

        Example: ``LAYOUTS["mamba"].rows == "channel (d_inner)"`` in English.
        """
        return msg(self.row_key) if self.row_key else ""

    @property
    def cols(self) -> str:
        """The heatmap's column axis name in the active language. Example: ``LAYOUTS["mamba"].cols == "state dim n"``"""
        return msg(self.col_key) if self.col_key else ""


LAYOUTS = {
    "mamba": Layout(("channel",), "bcn", "state.axis_channel_inner", "state.axis_state_n", {
        "x": "bc", "delta": "bc", "A_bar": "bcn", "B": "bn", "Bx": "bcn", "C": "bn", "D": "c", "gate": "bc",
        "y": "bc"}),
    "mamba2": Layout(("head", "channel"), "bhcn", "state.axis_head_row", "state.axis_state_n", {
        "x": "bhc", "dt": "bh", "dA": "bh", "B": "bhn", "Bx": "bhcn", "C": "bhn", "D": "h", "y": "bhc"}),
    "gated_deltanet": Layout(("head",), "bhkv", "state.axis_key_dim", "state.axis_value_dim", {
        "q": "bhk", "k": "bhk", "v": "bhv", "g": "bh", "decay": "bh", "beta": "bh", "kv_mem": "bhv",
        "delta": "bhv", "o": "bhv"}),
    "rwkv": Layout(("channel",), "bc", "", "", {}),  # every quantity and state component is [B, C]
    "kda": Layout(("head",), "bhkv", "state.axis_key_dim", "state.axis_value_dim", {
        "q": "bhk", "k": "bhk", "v": "bhv", "g": "bhk", "decay": "bhk", "beta": "bh", "kv_mem": "bhv",
        "delta": "bhv", "o": "bhv", "gate": "bhv"}),
    "lightning": Layout(("head",), "bhkv", "state.axis_key_dim", "state.axis_value_dim", {
        "q": "bhk", "k": "bhk", "v": "bhv", "kv": "bhkv", "decay": "h", "o": "bhv", "gate": "bv"}),
    "rglru": Layout(("channel",), "bc", "", "", {}),  # every quantity and the state are [B, lru_width]
    "short_conv": Layout(("channel",), "bcw", "state.axis_channel", "state.axis_conv_window", {
        "B": "bc", "C": "bc", "x": "bc", "Bx": "bc", "conv": "bc", "y": "bc"}),
    # xLSTM's state (C, n, m): the heatmap is the matrix memory C of one head; m (the stabiliser) is a quantity
    "mlstm": Layout(("head",), "bhkv", "state.axis_key_dim", "state.axis_value_dim", {
        "q": "bhk", "k": "bhk", "v": "bhv", "i": "bh", "f": "bh", "m": "bh", "f_act": "bh", "i_act": "bh", "h": "bhv"}),
    "mamba_heads": Layout(("head", "channel"), "bhcn", "state.axis_head_row", "state.axis_state_n", {
        "x": "bhc", "delta": "bhc", "A_bar": "bhcn", "B": "bhn", "Bx": "bhcn", "C": "bhn", "D": "hc", "gate": "bhc",
        "y": "bhc"}),  # Zamba's Mamba: Mamba's quantities per head
}
# Gated DeltaNet under other projection layouts (Qwen3.5 and kin, OLMo-Hybrid): the same state and quantities
LAYOUTS.update(gated_deltanet_split=LAYOUTS["gated_deltanet"], gated_deltanet_proj=LAYOUTS["gated_deltanet"])


def layout(trace) -> Layout:
    """The :class:`Layout` of a trace's family.

    Example::

        from tr_widgets.engine.state import trace_state
        st = trace_state("mamba2", x=torch.randn(1, 6, 2, 3), dt=torch.rand(1, 6, 2), A=-torch.ones(2),
                         B=torch.randn(1, 6, 1, 4), C=torch.randn(1, 6, 1, 4))
        (layout(st).axes, layout(st).state) == (("head", "channel"), "bhcn")    # selectors; the state's dims
    """
    if trace.kind not in LAYOUTS:
        fail("trace", f"a state trace of a family with a view layout ({', '.join(LAYOUTS)})",
             f"a {trace.kind!r} trace", "add its entry to tr_widgets.views.state.LAYOUTS")
    return LAYOUTS[trace.kind]


def _size(trace, letter: str) -> int:
    """The size of the selector dim ``letter`` (h heads, c channels) from the state's shape."""
    dims = layout(trace).state
    s = trace.state(0)
    s = s[0] if isinstance(s, tuple) else s  # RWKV: every component [B, C]; mLSTM: C [B, H, d_qk, d_v] first
    return int(s.shape[dims.index(letter)])


def state_axes(trace) -> list[tuple[str, list[str]]]:
    """(name, option labels) of each selector: batch, then head and/or channel where the family has them.

    Example::

        from tr_widgets.engine.state import trace_state
        st = trace_state("mamba", x=torch.randn(2, 6, 4), delta=torch.rand(2, 6, 4), A=-torch.ones(4, 3),
                         B=torch.randn(2, 6, 3), C=torch.randn(2, 6, 3))     # B = 2, d_inner = 4, d_state = 3

        state_axes(st) == [("batch", ["0", "1"]), ("channel", ["0", "1", "2", "3"])]
    """
    out = [("batch", [str(b) for b in range(trace.batch_size)])]
    for name in layout(trace).axes:
        out.append((name, [str(i) for i in range(_size(trace, name[0]))]))
    return out


@dataclass(frozen=True)
class Bar:
    """One bar chart: ``values`` (float32) are entries ``lo .. lo + len - 1`` of a ``total``-long vector.

    Example::

        Bar("delta", np.ones(4, np.float32), mark=2, note="over channels")   # channel 2 marked
    """

    name: str
    values: np.ndarray
    mark: int  # index into values of the selected head/channel, -1 if none
    note: str
    lo: int = 0
    total: int = 0


def _bars_of(name: str, v: np.ndarray, mark: int, what: str, max_bars: int) -> Bar:
    """A vector as a Bar, windowed to ``max_bars`` entries around ``mark`` (half-window jumps)."""
    n = len(v)
    win = window_around((1, n), None, max(mark, 0), 1, max_bars)
    note = what + (msg("state.window_note", first=win.c0, last=win.c1 - 1, n=n) if win.c1 - win.c0 < n else "")
    m = mark - win.c0 if mark >= 0 and win.c0 <= mark < win.c1 else -1
    return Bar(name, np.ascontiguousarray(v[win.c0:win.c1], np.float32), m, note, win.c0, n)


def reduce(x: torch.Tensor, dims: str, sel: dict) -> tuple[np.ndarray, int, str]:
    """``(vector, marked index, what it is)``: ``x`` indexed by the selection until one dim is left.

    Example::

        A_bar = torch.rand(2, 4, 3)                      # [batch, channel, n]
        v, mark, what = reduce(A_bar, "bcn", {"batch": 1, "channel": 2})
        (v.tolist(), mark) == (A_bar[1, 2].tolist(), -1)     # batch 1, channel 2, over n: nothing left to mark
        reduce(torch.rand(2, 4), "bc", {"channel": 2})[1] == 2     # over channels: the selected one is marked
    """
    b, h, c = sel.get("batch", 0), sel.get("head", 0), sel.get("channel", 0)
    a = to_numpy(x)
    parts, mark = [], -1
    for i, letter in enumerate(dims):
        if letter == "b":
            a = a[b]
        elif i == len(dims) - 1:  # the dim left: shown whole, the selected head/channel marked
            mark = {"h": h, "c": c}.get(letter, -1)
            parts.append(msg("state.over_heads") if letter == "h" else msg("state.over_channels") if letter == "c"
                         else msg("state.over_dim", dim=letter))
        elif letter == "h":
            a = a[h]
            parts.append(msg("state.head", h=h))
        elif letter == "c":
            a = a[c]
            parts.append(msg("state.channel", c=c))
    return np.asarray(a, np.float32).ravel(), mark, msg("state.sep").join(parts)


def quantity_bars(trace, t: int, sel: dict, max_bars: int = 128) -> list[Bar]:
    """Every per-step quantity of step ``t`` (``trace.quantities(t)``, the family's names), one Bar each.

    Example::

        from tr_widgets.engine.state import trace_state
        st = trace_state("mamba", x=torch.randn(2, 6, 4), delta=torch.rand(2, 6, 4), A=-torch.ones(4, 3),
                         B=torch.randn(2, 6, 3), C=torch.randn(2, 6, 3))     # B = 2, d_inner = 4, d_state = 3

        bar = next(b for b in quantity_bars(st, 3, {"batch": 0, "channel": 1}) if b.name == "A_bar")
        bar.values.tolist() == st.quantities(3)["A_bar"][0, 1].tolist()    # what survives of each n, channel 1
    """
    q = trace.quantities(t)
    dims = layout(trace).dims
    out = []
    for name in trace.names:
        if name not in q:
            continue
        d = dims.get(name, "bc")
        if q[name].dim() == len(d) - 1 and d.startswith("b"):
            d = d[1:]  # a parameter (D): no batch dim
        v, mark, what = reduce(q[name], d, sel)
        out.append(_bars_of(name, v, mark, what, max_bars))
    return out


def state_matrix(trace, t: int, sel: dict) -> np.ndarray:
    """The state after position ``t`` of the selected batch item (and head), float32 [rows, cols].

    Example::

        from tr_widgets.engine.state import trace_state
        st = trace_state("mamba", x=torch.randn(2, 6, 4), delta=torch.rand(2, 6, 4), A=-torch.ones(4, 3),
                         B=torch.randn(2, 6, 3), C=torch.randn(2, 6, 3))     # B = 2, d_inner = 4, d_state = 3

        state_matrix(st, 3, {"batch": 1}).tolist() == st.state(3)[1].tolist()    # [d_inner, d_state] after position 3
    """
    s = trace.state(t)
    s = s[0] if isinstance(s, tuple) else s  # a tuple with a matrix memory (mLSTM's C, n, m): its matrix C
    s = s[sel.get("batch", 0)]
    if layout(trace).state.startswith("bh"):
        s = s[sel.get("head", 0)]
    return np.ascontiguousarray(to_numpy(s))


def state_series(trace, t: int, sel: dict, max_bars: int = 128) -> list[Bar]:
    """RWKV: each component of the state tuple after ``t`` (``trace.state_names``) as a Bar over channels.

    Example::

        from tr_widgets.engine.state import trace_state
        st = trace_state("rwkv", k=torch.randn(1, 6, 4), v=torch.randn(1, 6, 4), time_decay=torch.zeros(4),
                         time_first=torch.zeros(4))
        [b.name for b in state_series(st, 3, {"batch": 0})] == list(st.state_names)    # a hooked call: shift too
    """
    parts = trace.state(t)
    parts = parts if isinstance(parts, tuple) else (parts,)
    c = sel.get("channel", 0)
    return [_bars_of(name, to_numpy(p[sel.get("batch", 0)]).ravel(), c, msg("state.over_channels"), max_bars)
            for name, p in zip(trace.state_names, parts)]


def state_range(trace, sel: dict) -> tuple[float, float]:
    """A fixed colour range for the selected state over time: the largest |value| among the states the
    trace keeps (every ``trace.every`` steps) and the last one, so steps compare by colour.

    Example::

        from tr_widgets.engine.state import trace_state
        st = trace_state("mamba", x=torch.randn(2, 6, 4), delta=torch.rand(2, 6, 4), A=-torch.ones(4, 3),
                         B=torch.randn(2, 6, 3), C=torch.randn(2, 6, 3))     # B = 2, d_inner = 4, d_state = 3

        lo, hi = state_range(st, {"batch": 0})       # one symmetric range for every step's heatmap
        assert lo == -hi and np.abs(state_matrix(st, 5, {"batch": 0})).max() <= hi
    """
    T = len(trace)
    steps = sorted({min(s * trace.every, T) - 1 for s in range(1, T // trace.every + 1)} | {T - 1})
    return value_range(np.stack([state_matrix(trace, s, sel) for s in steps]), signed=True)


def output_bar(trace, t: int, batch: int, max_bars: int = 128) -> Bar:
    """What the mixer returned at position ``t`` for one batch item (``trace.output``; RWKV: its first part).

    Example::

        from tr_widgets.engine.state import trace_state
        st = trace_state("mamba", x=torch.randn(2, 6, 4), delta=torch.rand(2, 6, 4), A=-torch.ones(4, 3),
                         B=torch.randn(2, 6, 3), C=torch.randn(2, 6, 3))     # B = 2, d_inner = 4, d_state = 3

        output_bar(st, 3, 0).values.tolist() == st.output[0, 3].tolist()    # y at position 3 (4 < max_bars: all of it)
    """
    out = trace.output[0] if isinstance(trace.output, tuple) else trace.output
    v = to_numpy(out[batch, t]).ravel()
    return _bars_of(msg("state.output"), v, -1, msg("state.output_note", t=t), max_bars)
