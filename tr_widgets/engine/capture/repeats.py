"""Recurrences found by data flow among module calls: torch's nn.RNN / nn.LSTM / nn.GRU called once per
step, each call taking back the state the previous call returned (seed 001's TemporalReasoning:
``output, (h_n, c_n) = self.lstm(x_t, (h_t, c_t)); h_t, c_t = h_n, c_n``). The calls become ONE
RecurrentTrace over all steps, equal to calling the module once on the whole sequence.

A call continues the chain of the module's previous call when all of these hold:

* the state it takes is the state the previous call returned: the same memory (``data_ptr`` and shape,
  so ``h.detach()`` still counts) at the same version (not changed in place since). The chain keeps that
  state alive, so its memory cannot have been reused by another tensor;
* its input is fresh: one step (time length 1), not held in the memory of the previous call's output.
  This tells a recurrence in time from reuse in depth (``for _ in range(n): out, h = lstm(out, h)``):
  a layer reused in depth takes the previous output as its input, a clock takes a new input each step;
* the same input layout (rank, batch, features, dtype, device) and the same weights (the snapshot of
  unchanged parameters), and the module is one-directional (a reverse direction over one step is not the
  reverse direction over the whole sequence).

Anything else starts a new trace (``name#2``), as before. Calls over several steps are traced each on
their own: they already show their steps. The chain is one entry whose lists grow; the sequence is
concatenated only when the trace is built.
"""
from __future__ import annotations

import torch

from ..recurrent import trace_recurrent_call
from .entries import detach_all


def _state_parts(state) -> tuple:
    return tuple(state) if isinstance(state, (tuple, list)) else (state,)


def _same_state(given, held) -> bool:
    """``given`` (the call's hx) is the state ``held`` (what the last call returned): same memory, version."""
    given = _state_parts(given)
    if len(given) != len(held):
        return False
    for g, (h, ver) in zip(given, held):
        if not isinstance(g, torch.Tensor) or g.shape != h.shape or g.data_ptr() != h.data_ptr():
            return False
        if g._version != ver:  # written in place since it was returned: not the state the call left
            return False
    return True


def _time_dim(module, x) -> int:
    return 1 if x.dim() == 3 and module.batch_first else 0


class FullChain:
    """The calls of one nn.RNN / nn.LSTM / nn.GRU that form one loop over time (see the module docstring).

    Example::

        chain = FullChain(x[:1], None, None, None)  # x[:1]: one step [1, B, I]; no hx: zeros
        chain.add(x[:1], lstm(x[:1]))  # (out, (h_n, c_n))
        (len(chain.xs), chain.last[0].shape) == (1, (1, 1, 4))
    """

    __slots__ = ("xs", "outs", "hx0", "last", "held", "out_ptr", "layout", "params", "entry", "index")

    def __init__(self, x, hx, layout, params):
        self.xs, self.outs, self.hx0, self.layout, self.params = [], [], detach_all(hx), layout, params
        self.last = self.held = self.out_ptr = self.entry = None
        self.index = -1

    def add(self, x, output) -> None:
        """One more step: its input and what the module returned. Example: ``chain.add(x_t, lstm(x_t, hx))``"""
        out, hidden = output
        self.xs.append(x)
        self.outs.append(out.detach())
        self.last = detach_all(hidden)
        self.held = tuple((h, h._version) for h in _state_parts(self.last))
        self.out_ptr = out.untyped_storage().data_ptr()


def chain_trace(module, chain: FullChain, *, name: str = ""):
    """The RecurrentTrace of a chain of one-step calls: the inputs and outputs concatenated over time.

    Example::

        chain, hx = FullChain(x[:1], None, None, None), None
        for t in range(6):
            out, hx = lstm(x[t:t + 1], hx)  # one step: [1, B, I]
            chain.add(x[t:t + 1], (out, hx))
        one = chain_trace(lstm, chain, name="lstm")  # as if lstm had run once on all of x
        assert one.seq_len == 6 and torch.allclose(one.step(5)["h_t"], tr.step(5)["h_t"])
    """
    dim = _time_dim(module, chain.xs[0])
    x = torch.cat(chain.xs, dim=dim)  # [T, B, I] (batch_first: [B, T, I]; unbatched: [T, I])
    out = torch.cat(chain.outs, dim=dim)  # the output of every step, laid out as x
    return trace_recurrent_call(module, x, chain.hx0, (out, chain.last), params=chain.params, name=name)


def record_full_step(chains: dict, entries: list, add, module, x, hx, output, params, kept) -> bool:
    """Add a call of nn.RNN / nn.LSTM / nn.GRU to its module's chain of one-step calls; False: not a step.

    ``chains`` maps id(module) to its chain, ``entries`` is the capture's list of entries and
    ``add(module, build, kept, held)`` appends one. A call that is not one step of a one-directional
    module returns False (the caller records it on its own) and ends the chain.

    Example::

        from tr_widgets.engine.capture.entries import Entry
        chains, entries, hx = {}, [], None
        add = lambda m, build, kept, held: entries.append(Entry(m, build, kept, held)) or entries[-1]
        for t in range(6):
            x_t, prev = x[t:t + 1], hx  # [1, B, I]: one step, taking back the state the last call returned
            out, hx = lstm(x_t, prev); record_full_step(chains, entries, add, lstm, x_t, prev, (out, hx), None, [])
        len(entries) == 1  # six one-step calls, one chain
    """
    if module.bidirectional or x.shape[_time_dim(module, x)] != 1:
        chains.pop(id(module), None)
        return False
    layout = (x.dim(), tuple(s for i, s in enumerate(x.shape) if i != _time_dim(module, x)), x.dtype, x.device)
    chain = chains.get(id(module))
    live = chain is not None and chain.index < len(entries) and entries[chain.index] is chain.entry  # not drained
    linked = (live and hx is not None and chain.layout == layout and chain.params is params
              and _same_state(hx, chain.held) and x.untyped_storage().data_ptr() != chain.out_ptr)
    if not linked:  # a new loop (or the first call): an entry of its own
        chain = chains[id(module)] = FullChain(x, hx, layout, params)
        chain.index = len(entries)
        chain.entry = add(module, lambda ch, _xs, _outs, *, name="": chain_trace(module, ch, name=name), kept,
                          [chain, chain.xs, chain.outs])  # the lists: what rec.nbytes counts
    else:
        chain.entry.trace = None  # grew: rebuilt on next access
        chain.entry.kept.extend(kept)
    chain.add(x, output)
    return True
