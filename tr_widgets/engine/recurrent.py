"""RecurrentTrace: every gate, cell state and hidden state of nn.RNN / nn.LSTM / nn.GRU (and cells).

The module runs once, fused (cuDNN on GPU), exactly as the user's model runs it. Its output holds
h_t for every step, so h_{t-1} is known too: every gate at every step then comes from two batched
matrix products (``cells.*_parts`` applied to ``[T, B, ...]`` at once). Only the LSTM cell state
needs its elementwise recurrence (``cells.cell_state_scan``). Multi-layer modules replay layer by
layer: layer l's inputs are layer l-1's hidden sequence, obtained from a one-layer module that
shares the weights. Everything is derived on first access and cached; tensors stay on the device.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from . import cells
from .errors import check_budget, check_tensor, describe, fail, warn_nonfinite

_FULL = (nn.LSTM, nn.GRU, nn.RNN)
_CELLS = (nn.LSTMCell, nn.GRUCell, nn.RNNCell)
SUPPORTED = "nn.RNN, nn.LSTM, nn.GRU, nn.RNNCell, nn.LSTMCell, nn.GRUCell"


def _kind(module) -> str:
    if isinstance(module, (nn.LSTM, nn.LSTMCell)):
        return "lstm"
    if isinstance(module, (nn.GRU, nn.GRUCell)):
        return "gru"
    mode = module.nonlinearity
    return "rnn_tanh" if mode == "tanh" else "rnn_relu"


@dataclass(eq=False)
class StepRecord:
    """One step of one layer/direction/batch item: operands, intermediates, results and equations."""

    kind: str
    t: int
    layer: int
    direction: int
    batch: int
    tensors: dict[str, torch.Tensor]  # name -> [H] (x_t: [I])
    equations: list[str]

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.tensors[name]


@dataclass(eq=False)
class RecurrentTrace:
    """What :func:`trace_recurrent` returns. A trace is data: read it, widgets only read it.

    Example::

        tr = tr_widgets.trace_recurrent(nn.GRU(3, 4, num_layers=2), torch.randn(6, 1, 3))
        tr.kind, tr.seq_len, tr.output.shape     # 'gru', 6, torch.Size([6, 1, 4])
        tr.gates(layer=1)["z"][2]                # update gate of layer 1 at step 2
    """

    kind: str
    output: torch.Tensor
    h_n: torch.Tensor
    c_n: torch.Tensor | None
    num_layers: int
    num_directions: int
    hidden_size: int
    proj_size: int
    x: torch.Tensor  # [T, B, I] time-major input of layer 0
    h0: torch.Tensor  # [L*D, B, Hout]
    c0: torch.Tensor | None  # [L*D, B, H]
    params: list[list[cells.CellParams]]  # [layer][direction]
    name: str = ""
    _replay: object = None  # callable(layer, x, hx, params) -> [T, B, D*Hout], for layers below the top
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def seq_len(self) -> int:
        return self.x.shape[0]

    @property
    def batch_size(self) -> int:
        return self.x.shape[1]

    @property
    def out_size(self) -> int:
        """Size of h_t (proj_size for a projected LSTM, else hidden_size)."""
        return self.proj_size or self.hidden_size

    def __repr__(self) -> str:
        return (f"RecurrentTrace(kind={self.kind!r}, T={self.seq_len}, B={self.batch_size}, "
                f"H={self.hidden_size}, layers={self.num_layers}, directions={self.num_directions})")

    # -- indexing helpers -------------------------------------------------------------------
    def _check(self, layer: int, direction: int) -> None:
        if not (isinstance(layer, int) and 0 <= layer < self.num_layers):
            fail("layer", f"an int in [0, {self.num_layers - 1}]", repr(layer), "pick an existing layer")
        if not (isinstance(direction, int) and 0 <= direction < self.num_directions):
            fail("direction", f"an int in [0, {self.num_directions - 1}]", repr(direction),
                 "use 0 (forward) or 1 (reverse, bidirectional modules only)")

    def _memo(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def _layer_output(self, layer: int) -> torch.Tensor:
        """[T, B, D*Hout]: what layer `layer` emits (the module's own output for the top layer)."""
        if layer == self.num_layers - 1:
            return self._memo(("out", layer), lambda: self._time_major_output())
        D = self.num_directions
        h0 = self.h0[layer * D:(layer + 1) * D]  # [D, B, Hout]
        hx = (h0, self.c0[layer * D:(layer + 1) * D]) if self.kind == "lstm" else h0
        return self._memo(("out", layer), lambda: self._replay(layer, self.inputs(layer), hx, self.params[layer]))

    def _time_major_output(self) -> torch.Tensor:
        return self._cache["top"]

    # -- public accessors -------------------------------------------------------------------
    def inputs(self, layer: int = 0) -> torch.Tensor:
        """The input sequence of ``layer``, ``[T, B, I]`` (layer 0: x; above: the layer below's h)."""
        self._check(layer, 0)
        return self.x if layer == 0 else self._layer_output(layer - 1)

    def hidden(self, layer: int = 0, direction: int = 0) -> torch.Tensor:
        """h_t at every step, ``[T, B, Hout]``; the reverse direction is indexed by input position.

        Example::

            tr = trace_recurrent(nn.LSTM(3, 5), torch.randn(7, 2, 3))
            tr.hidden().shape      # torch.Size([7, 2, 5])
        """
        self._check(layer, direction)
        H = self.out_size
        return self._layer_output(layer)[..., direction * H:(direction + 1) * H]

    def _h_prev(self, layer: int, direction: int) -> torch.Tensor:
        """h_{t-1} as seen by step t, ``[T, B, Hout]`` (for reverse: the state after position t+1)."""
        h = self.hidden(layer, direction)
        h0 = self.h0[layer * self.num_directions + direction][None]  # [1, B, Hout]
        return torch.cat([h[1:], h0]) if direction == 1 else torch.cat([h0, h[:-1]])

    def _parts(self, layer: int, direction: int) -> dict[str, torch.Tensor]:
        """Every step's gates (GRU/RNN: and pre-activations), batched over time, cached."""
        def make():
            T, B = self.seq_len, self.batch_size
            G = len(cells.GATE_NAMES[self.kind]) or 1
            check_budget(f"gates(layer={layer}, direction={direction})", (2 * G + 2, T, B, self.hidden_size),
                         self.x.dtype, f"step(t, layer={layer}, direction={direction}) for one step")
            p, x = self.params[layer][direction], self.inputs(layer)
            with torch.no_grad():
                if self.kind == "lstm":
                    h0 = self.h0[layer * self.num_directions + direction]  # [B, Hout]
                    return cells.lstm_replay_gates(x, self.hidden(layer, direction), h0, p, direction == 1)
                hp = self._h_prev(layer, direction)
                if self.kind == "gru":
                    return cells.gru_parts(x, hp, p)
                return cells.rnn_parts(self.kind, x, hp, p)
        self._check(layer, direction)
        return self._memo(("parts", layer, direction), make)

    def gates(self, layer: int = 0, direction: int = 0) -> dict[str, torch.Tensor]:
        """Post-activation gates at every step, each ``[T, B, H]``: LSTM i,f,g,o; GRU r,z,n; RNN {}.

        Example::

            g = trace_recurrent(nn.GRU(3, 4), torch.randn(6, 1, 3)).gates()
            sorted(g)              # ['n', 'r', 'z']
        """
        parts = self._parts(layer, direction)
        return {name: parts[name] for name in cells.GATE_NAMES[self.kind]}

    def cell(self, layer: int = 0, direction: int = 0) -> torch.Tensor:
        """The LSTM cell state c_t at every step, ``[T, B, H]``.

        Example::

            trace_recurrent(nn.LSTM(1, 10), torch.arange(1., 6).view(5, 1, 1)).cell().shape  # [5, 1, 10]
        """
        if self.kind != "lstm":
            fail("cell()", "an LSTM trace (only LSTMs have a cell state)", f"a {self.kind!r} trace",
                 "use hidden() for the state of RNNs and GRUs")
        self._check(layer, direction)

        def make():
            g = self.gates(layer, direction)
            c0 = self.c0[layer * self.num_directions + direction]  # [B, H]
            return cells.cell_state_scan(g["f"], g["i"] * g["g"], c0, reverse=direction == 1)
        return self._memo(("cell", layer, direction), make)

    def step(self, t: int, layer: int = 0, direction: int = 0, batch: int = 0) -> StepRecord:
        """One step's operands, pre-activations, gates and results, with torch's equations (LaTeX).

        Example::

            st = trace_recurrent(nn.LSTM(1, 2), torch.ones(3, 1, 1)).step(1)
            st["f"], st["c_prev"], st["c_t"]; st.equations[4]   # 'c_t = f_t \\odot c_{t-1} + ...'
        """
        T, B = self.seq_len, self.batch_size
        if not (isinstance(t, int) and -T <= t < T):
            fail("t", f"a step index in [0, {T - 1}] (or -{T}..-1, counted from the end)", repr(t),
                 "pick a step of the traced sequence")
        if not (isinstance(batch, int) and 0 <= batch < B):
            fail("batch", f"a batch index in [0, {B - 1}]", repr(batch), "pick an existing batch item")
        t = t % T
        self._check(layer, direction)
        p = self.params[layer][direction]
        x_t = self.inputs(layer)[t, batch]  # [I]
        h_prev = self._h_prev(layer, direction)[t, batch]  # [Hout]
        tensors = {"x_t": x_t, "h_prev": h_prev}
        if self.kind == "lstm":
            prev_t = t + 1 if direction == 1 else t - 1
            c_prev = (self.c0[layer * self.num_directions + direction, batch] if not 0 <= prev_t < T
                      else self.cell(layer, direction)[prev_t, batch])
            tensors.update(c_prev=c_prev, **cells.lstm_parts(x_t, h_prev, c_prev, p))
        elif self.kind == "gru":
            tensors.update(cells.gru_parts(x_t, h_prev, p))
        else:
            tensors.update(cells.rnn_parts(self.kind, x_t, h_prev, p))
        eqs = list(cells.EQUATIONS[self.kind])
        if self.kind == "lstm" and self.proj_size:
            eqs[-1] = cells.LSTM_PROJ_EQUATION
        return StepRecord(self.kind, t, layer, direction, batch, tensors, eqs)
