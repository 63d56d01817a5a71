"""RecurrentTrace: every gate, cell state and hidden state of nn.RNN / nn.LSTM / nn.GRU (and cells).

The module ran once, fused (cuDNN on GPU), exactly as the user's model runs it. Its output holds h_t for
every step, so h_{t-1} is known too: every gate at every step then comes from two batched matrix
products (the kind's ``replay``). Only the LSTM cell state needs its elementwise recurrence
(``scan.linear_scan``). Multi-layer modules replay layer by layer: layer l's inputs are layer l-1's hidden
sequence, obtained by running one fused layer on the trace's own weight snapshot. Everything is derived on
first access and kept in ``derived``; tensors stay on their device.

A PackedSequence input gives a trace over the padded batch, time-major ``[T, B, I]`` in the batch's own
order (as ``pad_packed_sequence`` returns it), with ``lengths[b]`` the steps sequence b really ran. Every
value at a position t >= lengths[b] is 0, as in ``pad_packed_sequence``'s output; ``step(t, batch=b)``
there is refused. The reverse direction of sequence b starts from h_0 at its own last step, so replay
fills its padding with h_0 (``_prev_source``) before shifting.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from ..batch import check_index
from ..errors import check_budget, fail
from ..files.saving import Saveable
from .cells import KINDS, CellKind, CellParams, equations, shifted
from .scan import linear_scan


@dataclass(frozen=True, eq=False)
class StepRecord:
    """One step of one layer/direction/batch item: operands, intermediates, results and equations.

    Example::

        st = tr.step(2)  # an LSTM(3, 4): step 2 of layer 0, batch item 0
        (st.kind, st.t, st["x_t"].shape) == (tr.kind, 2, (3,))
        assert torch.allclose(st["h_t"], lstm(x)[0][2, 0])  # the module's own output at t = 2
    """

    kind: str
    t: int
    layer: int
    direction: int
    batch: int
    tensors: dict[str, torch.Tensor]  # name -> [H] (x_t: [I])
    equations: list[str]  # torch's equations, LaTeX

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.tensors[name]


@dataclass(frozen=True, eq=False)
class RecurrentTrace(Saveable):
    """What :func:`trace_recurrent` returns. A trace is data: widgets only read it.

    Example::

        tr = tr_widgets.trace_recurrent(nn.GRU(3, 4, num_layers=2), torch.randn(6, 1, 3))
        tr.kind, tr.seq_len, tr.output.shape     # 'gru', 6, torch.Size([6, 1, 4])
        tr.gates(layer=1)["z"][2]                # update gate of layer 1 at step 2
    """

    kind: str
    output: torch.Tensor  # what the module returned as its output
    h_n: torch.Tensor
    c_n: torch.Tensor | None
    num_layers: int
    num_directions: int
    hidden_size: int
    proj_size: int
    x: torch.Tensor  # [T, B, I] time-major input of layer 0
    h0: torch.Tensor  # [L*D, B, Hout]
    c0: torch.Tensor | None  # [L*D, B, H]
    params: list  # [layer][direction] CellParams
    top: torch.Tensor  # [T, B, D*Hout] the top layer's hidden sequence, time-major
    name: str = ""
    replay_layer: Callable | None = None  # (layer, x, hx, params) -> [T, B, D*Hout], layers below the top
    cell_states: torch.Tensor | None = None  # [T, B, H] when the states of a cell loop were recorded
    lengths: tuple[int, ...] | None = None  # a PackedSequence's per-sequence lengths, batch order; None: all T
    derived: dict = field(default_factory=dict, repr=False)  # stages computed on first access

    @property
    def spec(self) -> CellKind:
        """The kind's spec (gates, equations, flow). Example: ``tr.spec.gates  # ('i', 'f', 'g', 'o')``"""
        return KINDS[self.kind]

    seq_len = property(lambda self: self.x.shape[0], doc="T, the number of steps")
    batch_size = property(lambda self: self.x.shape[1], doc="B, the number of sequences")

    @property
    def out_size(self) -> int:
        """Size of h_t (proj_size for a projected LSTM, else hidden_size)."""
        return self.proj_size or self.hidden_size

    def __repr__(self) -> str:
        packed = f", lengths={list(self.lengths)}" if self.lengths is not None else ""
        return (f"RecurrentTrace(kind={self.kind!r}, T={self.seq_len}, B={self.batch_size}, "
                f"H={self.hidden_size}, layers={self.num_layers}, directions={self.num_directions}{packed})")

    # -- indexing helpers -------------------------------------------------------------------
    def _check(self, layer: int, direction: int) -> None:
        check_index("layer", layer, self.num_layers, "pick an existing layer")
        check_index("direction", direction, self.num_directions,
                    "use 0 (forward) or 1 (reverse, bidirectional modules only)")

    def _memo(self, key, make):
        if key not in self.derived:
            self.derived[key] = make()
        return self.derived[key]

    def _state0(self, layer: int, direction: int):
        i = layer * self.num_directions + direction
        return self.h0[i], (self.c0[i] if self.c0 is not None else None)  # [B, Hout], [B, H]

    def valid(self) -> torch.Tensor | None:
        """``[T, B, 1]`` True where sequence b ran step t (a PackedSequence input); None when every one ran T.

        Example: ``tr.valid()[:, b, 0].sum() == tr.lengths[b]``
        """
        if self.lengths is None:
            return None
        steps = torch.arange(self.seq_len, device=self.x.device)[:, None]  # [T, 1]
        return self._memo("valid", lambda: (steps < torch.tensor(self.lengths, device=self.x.device))[..., None])

    def sequence(self, b: int) -> "RecurrentTrace":
        """Sequence ``b`` of a packed batch as a trace of its own: its own ``lengths[b]`` steps, batch 1, the
        same values (what ``trace_recurrent`` gives for that sequence alone, from this trace's own tensors).

        Example::

            tr = trace_recurrent(nn.GRU(3, 4), pack_sequence([torch.randn(5, 3), torch.randn(2, 3)]))
            tr.sequence(1).seq_len, tr.sequence(1).lengths       # 2, None
        """
        if self.lengths is None:
            fail("sequence()", "a trace of a PackedSequence input (its sequences have lengths of their own)",
                 "a trace whose sequences all ran its T steps", "use step(t, batch=b) for batch item b")
        check_index("b", b, self.batch_size, "pick an existing batch item")
        T = self.lengths[b]
        one = lambda v: None if v is None else v[:, b:b + 1]  # noqa: E731  [L*D, 1, H]
        top = self.top[:T, b:b + 1]  # [T, 1, D*Hout]
        below = lambda layer, inputs, hx, params: self.layer_output(layer)[:T, b:b + 1]  # noqa: E731
        return RecurrentTrace(self.kind, top, one(self.h_n), one(self.c_n), self.num_layers, self.num_directions,
                              self.hidden_size, self.proj_size, self.x[:T, b:b + 1], one(self.h0), one(self.c0),
                              self.params, top, f"{self.name}[{b}]", below,
                              None if self.cell_states is None else self.cell_states[:T, b:b + 1])

    def _prev_source(self, layer: int, direction: int) -> torch.Tensor:
        """The hidden sequence replay shifts into h_{t-1}: a packed sequence's padding holds h_0 in reverse,
        so its own last step sees h_0 (forward steps never read past their sequence's end)."""
        h = self.hidden(layer, direction)
        if self.lengths is None or direction == 0:
            return h
        return torch.where(self.valid(), h, self._state0(layer, direction)[0][None])  # [T, B, Hout]

    def layer_output(self, layer: int) -> torch.Tensor:
        """``[T, B, D*Hout]``: what ``layer`` emits (the module's own output for the top layer).

        Example: ``tr.layer_output(0)   # layer 0's hidden sequence, replayed from the weight snapshot``
        """
        self._check(layer, 0)
        if layer == self.num_layers - 1:
            return self.top
        D = self.num_directions
        h0 = self.h0[layer * D:(layer + 1) * D]  # [D, B, Hout]
        hx = (h0, self.c0[layer * D:(layer + 1) * D]) if self.spec.has_cell else h0
        return self._memo(("out", layer), lambda: self.replay_layer(layer, self.inputs(layer), hx, self.params[layer]))

    # -- public accessors -------------------------------------------------------------------
    def inputs(self, layer: int = 0) -> torch.Tensor:
        """The input sequence of ``layer``, ``[T, B, I]`` (layer 0: x; above: the layer below's h)."""
        self._check(layer, 0)
        return self.x if layer == 0 else self.layer_output(layer - 1)

    def hidden(self, layer: int = 0, direction: int = 0) -> torch.Tensor:
        """h_t at every step, ``[T, B, Hout]``; the reverse direction is indexed by input position.

        Example::

            tr = trace_recurrent(nn.LSTM(3, 5), torch.randn(7, 2, 3))
            tr.hidden().shape      # torch.Size([7, 2, 5])
        """
        self._check(layer, direction)
        H = self.out_size
        return self.layer_output(layer)[..., direction * H:(direction + 1) * H]

    def _parts(self, layer: int, direction: int) -> dict[str, torch.Tensor]:
        """Every step's gates (GRU/RNN: and pre-activations), batched over time, cached."""
        def make():
            G = len(self.spec.gates) or 1
            check_budget(f"gates(layer={layer}, direction={direction})",
                         (2 * G + 2, self.seq_len, self.batch_size, self.hidden_size), self.x.dtype,
                         f"step(t, layer={layer}, direction={direction}) for one step")
            with torch.no_grad():
                parts = self.spec.replay(self.inputs(layer), self._prev_source(layer, direction),
                                         self._state0(layer, direction)[0], self.params[layer][direction],
                                         direction == 1)
                valid = self.valid()
                return parts if valid is None else {k: v.where(valid, 0) for k, v in parts.items()}
        self._check(layer, direction)
        return self._memo(("parts", layer, direction), make)

    def gates(self, layer: int = 0, direction: int = 0) -> dict[str, torch.Tensor]:
        """Post-activation gates at every step, each ``[T, B, H]``: LSTM i,f,g,o; GRU r,z,n; RNN {}.

        Example::

            g = trace_recurrent(nn.GRU(3, 4), torch.randn(6, 1, 3)).gates()
            sorted(g)              # ['n', 'r', 'z']
        """
        parts = self._parts(layer, direction)
        return {name: parts[name] for name in self.spec.gates}

    def cell(self, layer: int = 0, direction: int = 0) -> torch.Tensor:
        """The LSTM cell state c_t at every step, ``[T, B, H]``.

        Example::

            trace_recurrent(nn.LSTM(1, 10), torch.arange(1., 6).view(5, 1, 1)).cell().shape  # [5, 1, 10]
        """
        if not self.spec.has_cell:
            fail("cell()", "an LSTM trace (only LSTMs have a cell state)", f"a {self.kind!r} trace",
                 "use hidden() for the state of RNNs and GRUs")
        self._check(layer, direction)
        if self.cell_states is not None:
            return self.cell_states

        def make():
            g, c0, valid = self.gates(layer, direction), self._state0(layer, direction)[1], self.valid()
            if valid is None:
                return linear_scan(g["f"], g["i"] * g["g"], c0, reverse=direction == 1)
            # padding: f = 0 there (masked), so c = c_0 on every padded step and a reverse sequence starts from c_0
            c = linear_scan(g["f"], (g["i"] * g["g"]).where(valid, c0[None]), c0, reverse=direction == 1)
            return c.where(valid, 0)  # [T, B, H]
        return self._memo(("cell", layer, direction), make)

    def step(self, t: int, layer: int = 0, direction: int = 0, batch: int = 0) -> StepRecord:
        """One step's operands, pre-activations, gates and results, with torch's equations.

        ``t`` may be negative (counted from the end, as in Python).

        Example::

            st = trace_recurrent(nn.LSTM(1, 2), torch.ones(3, 1, 1)).step(1)
            st["f"], st["c_prev"], st["c_t"]; st.equations[4]   # 'c_t = f_t \\odot c_{t-1} + ...'
        """
        T, B = self.seq_len, self.batch_size
        if not (isinstance(t, int) and not isinstance(t, bool) and -T <= t < T):
            fail("t", f"a step index in [0, {T - 1}] (or -{T}..-1, counted from the end)", repr(t),
                 "pick a step of the traced sequence")
        check_index("batch", batch, B, "pick an existing batch item")
        t = t % T
        T = T if self.lengths is None else self.lengths[batch]  # this sequence's own steps
        if t >= T:
            fail("t", f"a step of sequence {batch}, which ran {T} steps (a PackedSequence pads it)", repr(t),
                 f"pick t < {T}, or step that sequence alone: trace.sequence({batch})")
        self._check(layer, direction)
        reverse = direction == 1
        h0, c0 = self._state0(layer, direction)
        x_t = self.inputs(layer)[t, batch]  # [I]
        h_prev = shifted(self._prev_source(layer, direction), h0, reverse)[t, batch]  # [Hout]
        tensors = {"x_t": x_t, "h_prev": h_prev}
        c_prev = None
        if self.spec.has_cell:
            prev_t = t + 1 if reverse else t - 1
            c_prev = c0[batch] if not 0 <= prev_t < T else self.cell(layer, direction)[prev_t, batch]  # [H]
            tensors["c_prev"] = c_prev
        with torch.no_grad():
            tensors.update(self.spec.step(x_t, h_prev, c_prev, self.params[layer][direction]))
        return StepRecord(self.kind, t, layer, direction, batch, tensors,
                          [e.latex for e in equations(self.spec, bool(self.proj_size))])
