"""One recurrent step with a gate replaced before the step uses it, written generically over the kind's spec.

``spec.step`` (torch's equations for the kind, ``engine.recurrent.cells``) is run twice under
:class:`GateForce`, a ``TorchFunctionMode`` that counts the step's torch calls: the first pass finds which call
made each edited gate (the object the step returns under the gate's name), the second writes the new value
into that call's result right away, so every later call of the step (c_t, n_t, h_t) reads it. Nothing here
knows a kind's gates: the spec's step names them.
"""
from __future__ import annotations

import torch
from torch.overrides import TorchFunctionMode

from .edits import new_value

class GateForce(TorchFunctionMode):
    """Counts the torch calls of one step; ``force`` {call index: [(part, new)]} writes ``new`` into that
    call's result (``part``: which element of a tuple result, None for the result itself) before any later
    call reads it. Without ``force`` it keeps every result (a first pass finds which call made a gate).

    Example::

        z = torch.zeros(2)
        with GateForce({0: [(None, torch.ones(2))]}):  # call 0, the sigmoid: its result forced to 1
            y = torch.sigmoid(z) * 3  # before the product reads it
        y.tolist() == [3.0, 3.0]
    """

    def __init__(self, force=None):
        super().__init__()
        self.force, self.results, self.n = force, [], 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        r = func(*args, **(kwargs or {}))
        if self.force is None:
            self.results.append(r)
        else:
            for part, new in self.force.get(self.n, ()):
                (r if part is None else r[part]).copy_(new)
        self.n += 1
        return r


def made_by(results: list, obj) -> tuple:
    """(index, part) of the last call whose result is ``obj`` (or holds it).

    Example: ``made_by([torch.ones(1), (a := torch.zeros(1), torch.ones(1))], a) == (1, 0)``
    """
    for j in range(len(results) - 1, -1, -1):
        r = results[j]
        if r is obj:
            return j, None
        if isinstance(r, (tuple, list)):
            for i, e in enumerate(r):
                if e is obj:
                    return j, i
    raise RuntimeError("the gate was not made by a torch call of the step")  # pragma: no cover


def forced_step(spec, params, x, parts: tuple, gates: dict, seen: dict | None = None) -> tuple:
    """One step of ``spec`` from state ``parts`` with ``gates`` {name: value} forced: the new state parts.
    ``seen``: a dict that receives every gate of the step as the step used it (the forced ones forced), so the
    after-run's trace can show the gates the run really had.

    Example::

        h0, c0 = torch.randn(1, 4), torch.randn(1, 4)  # tr: an LSTM(3, 4)'s trace
        h, c = forced_step(tr.spec, tr.params[0][0], x[0], (h0, c0), {"f": 1.0, "i": 0.0})
        torch.equal(c, c0)  # f = 1, i = 0: the cell state is kept exactly
    """
    out = forced_outputs(spec, params, x, parts[0], parts[1] if len(parts) > 1 else None, gates)
    if seen is not None:
        seen.update({name: out[name] for name in spec.gates})
    return (out["h_t"], out["c_t"]) if spec.has_cell else (out["h_t"],)


def forced_outputs(spec, params, x, h, c, gates: dict) -> dict:
    """Everything ``spec.step`` gives (pre-activations, gates, c_t, h_t) with ``gates`` {name: value} forced.

    Example::

        out = forced_outputs(tr.spec, tr.params[0][0], x[0], torch.zeros(1, 4), torch.ones(1, 4), {"f": 1.0, "i": 0.0})
        torch.equal(out["c_t"], torch.ones(1, 4)) and float(out["f"].min()) == 1.0
    """
    with torch.no_grad():
        if not gates:
            return spec.step(x, h, c, params)
        first = GateForce()
        with first:
            out = spec.step(x, h, c, params)
        force = {}
        for name, value in gates.items():
            j, part = made_by(first.results, out[name])
            force.setdefault(j, []).append((part, new_value(value, out[name].clone(), "value")))
        with GateForce(force):
            return spec.step(x, h, c, params)
