"""RecurrentTraces of one Keras RNN layer call (keras.layers.SimpleRNN / LSTM / GRU / RNN over cells), in
Keras's own equations (``keras_cells``).

Keras returns the last state only unless ``return_sequences=True``, and on CPU its torch backend loops over
time in Python, so the trace steps the cell itself: the layer's equations run over the recorded input from the
recorded initial state, once, when the trace is first built (never on the forward's clock), and the result is
checked against what the layer returned. Each cell of a ``StackedRNNCells`` is one trace, fed by the cell
below. A ``go_backwards`` layer is traced in the order it ran (the input reversed in time), as Keras returns it.
"""
from __future__ import annotations

import torch

from ..errors import check_budget, fail
from .cells import KINDS
from .keras_cells import KerasParams
from .trace import RecurrentTrace


def keras_kind(cell):
    """The spec of a Keras cell (matched along its MRO), or None.

    Keras is not needed to run the example: a stand-in of its class (``keras.layers.LSTM(4).cell``).

    Example::

        LSTMCell = type("LSTMCell", (), {"__module__": "keras.src.layers.rnn.lstm"})
        keras_kind(LSTMCell()).gates == ("i", "f", "c", "o")
        keras_kind(nn.LSTMCell(3, 4)) == None  # torch's cell: engine.recurrent's own kinds
    """
    return next((k for k in KINDS.values() if k.name.startswith("keras_") and k.match(cell)), None)


def _run(kind, xs, h, c, p: KerasParams):
    """Every state of the cell stepped over ``xs [T, B, I]``: h ``[T, B, H]`` and c (LSTM) or None."""
    hs, cs = [], []
    for t in range(xs.shape[0]):  # the layer's own loop over time
        st = kind.step(xs[t], h, c, p)
        h, c = st["h_t"], st.get("c_t")
        hs.append(h)
        cs.append(c)
    return torch.stack(hs), (torch.stack(cs) if kind.has_cell else None)  # [T, B, H]


def _check_against(name: str, mine: torch.Tensor, own: torch.Tensor) -> None:
    err = float((mine.double() - own.double()).abs().max()) if own.numel() else 0.0
    tol = 1e-5 * (1 + float(own.abs().max())) if own.numel() else 0.0
    if not err <= tol:
        fail(name, "a Keras layer whose own output the replay of its equations reproduces",
             f"a difference of {err:.2g} from the layer's output", "report the layer's configuration "
             "(a custom cell or activation the spec does not know)")


def trace_keras_layer(kinds, params, x, initial, output, *, go_backwards=False, return_sequences=False,
                      names=("",)) -> list[RecurrentTrace]:
    """One RecurrentTrace per cell of a Keras RNN layer's call.

    ``kinds``/``params``: per cell, bottom first; ``x``: the layer's input ``[B, T, I]``; ``initial``: per cell,
    its initial states (``[h]`` or ``[h, c]``, ``[B, H]`` each) or None for zeros; ``output``: what the layer
    returned (its first tensor is checked against the replay).

    Example::

        rnn, xb = nn.RNN(3, 4, batch_first=True), torch.randn(2, 5, 3)  # Keras SimpleRNN = torch's RNN, transposed
        p = KerasParams(rnn.weight_ih_l0.detach().T, rnn.weight_hh_l0.detach().T,
                        (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach(), torch.tanh, torch.tanh)
        cell = type("SimpleRNNCell", (), {"__module__": "keras.src.layers.rnn.simple_rnn"})()
        one, = trace_keras_layer([keras_kind(cell)], [p], xb, [None], rnn(xb)[0], return_sequences=True)
        assert torch.allclose(one.step(4, batch=1)["h_t"], rnn(xb)[0][1, 4], atol=1e-6)
    """
    xs = x.detach().transpose(0, 1)  # [B, T, I] -> [T, B, I]
    if go_backwards:
        xs = xs.flip(0)  # the order the layer ran the steps in
    own = output[0] if isinstance(output, (list, tuple)) else output
    H = max(p.recurrent_kernel.shape[0] for p in params)
    check_budget(names[-1] or "Keras layer: the states of every step", (2 * len(params),) + tuple(xs.shape[:2]) + (H,),
                 xs.dtype, "a capture of a shorter sequence")
    traces = []
    with torch.no_grad():
        for i, (kind, p, init) in enumerate(zip(kinds, params, initial)):
            B, H = xs.shape[1], p.recurrent_kernel.shape[0]
            h0 = xs.new_zeros(B, H) if not init else init[0].detach()  # [B, H]
            c0 = (xs.new_zeros(B, H) if not init or len(init) < 2 else init[1].detach()) if kind.has_cell else None
            hs, cs = _run(kind, xs, h0, c0, p)
            if i == len(kinds) - 1 and isinstance(own, torch.Tensor):
                _check_against(names[i] or "layer", hs.transpose(0, 1) if return_sequences else hs[-1], own.detach())
            traces.append(RecurrentTrace(
                kind=kind.name, output=own if i == len(kinds) - 1 else hs.transpose(0, 1), h_n=hs[-1],
                c_n=None if cs is None else cs[-1], num_layers=1, num_directions=1, hidden_size=H, proj_size=0,
                x=xs, h0=h0[None], c0=None if c0 is None else c0[None], params=[[p]], top=hs,
                name=names[i], cell_states=cs))
            xs = hs  # the next cell of a stack steps over this one's states
    return traces
