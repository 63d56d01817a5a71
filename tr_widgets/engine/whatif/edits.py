"""Edit: one change a what-if run makes, and how its ``value`` becomes the new tensor.

Three kinds (issue 24) act on a recorded name (``capture(...).names``):

- ``Edit.state(name, step, value)``: the state carried out of ``step``, i.e. what step + 1 receives;
- ``Edit.gate(name, gate, steps, value)``: a gate's (a named quantity's) values at ``steps``, before they are used;
- ``Edit.head(name, head, value=0.0, steps=None)``: one head's attention weights at those query steps.

and one on the decode the run makes (``tokens``): ``Edit.token(tick, token)``, the token fed at that tick.

``value`` is a number (every element becomes it), a tensor (broadcast to the old value's shape, never
growing it) or a function ``old -> new`` returning a tensor of the old shape. An Edit is data: it is checked
against the recorded trace (``targets``) before the model runs again, so a bad edit changes nothing.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import describe, fail

KINDS = ("state", "gate", "head", "token")


def _steps(arg: str, steps) -> tuple:
    """``steps`` as a tuple of ints (one int is one step), or one TraceInputError."""
    if isinstance(steps, numbers.Integral) and not isinstance(steps, bool):
        return (int(steps),)
    if isinstance(steps, (list, tuple, range)) and steps and all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in steps):
        return tuple(int(s) for s in steps)
    fail(arg, "a step (an int) or a non-empty list of steps", describe(steps), f"pass e.g. {arg}=3 or {arg}=[3, 4]")


def _check_value(value) -> None:
    if isinstance(value, bool) or not (isinstance(value, (numbers.Real, torch.Tensor, tuple)) or callable(value)):
        fail("value", "a number, a tensor, or a function old -> new", describe(value),
             "pass e.g. value=0.0, value=torch.zeros(4), or value=lambda old: 2 * old")


@dataclass(frozen=True, eq=False)
class Edit:
    """One change of a what-if run (see :func:`~tr_widgets.what_if`); make it with ``Edit.state``,
    ``Edit.gate``, ``Edit.head`` or ``Edit.token``.

    Example::

        e = tr_widgets.Edit.gate("lstm", "f", steps=[3, 4], value=1.0)  # clamp the forget gate at steps 3, 4
        (e.kind, e.name, e.steps, e.gate_name) == ("gate", "lstm", (3, 4), "f")
        repr(tr_widgets.Edit.state("gru", 5, 0.0))  # "Edit.state('gru', step=5, value=0.0)"
    """

    kind: str  # one of KINDS
    name: str  # a recorded name ("decode" for a token edit)
    steps: tuple | None  # state: (step,); gate: the steps; head: the query steps, None for all; token: (tick,)
    value: Any  # a token edit's token (an id or a string)
    gate_name: str | None = None  # a gate edit's gate (the field is not named gate: Edit.gate makes one)
    head_index: int | None = None  # a head edit's head

    @classmethod
    def state(cls, name: str, step: int, value) -> "Edit":
        """The state carried out of ``step`` (what step + 1 receives) becomes ``value``.

        For an LSTM the state is ``(h, c)``: a value is a pair, one number for both, or a function of the pair.

        Example: ``Edit.state("lstm", 4, (torch.zeros(1, 8), None))  # h after step 4 zeroed, c kept (None)``
        """
        _name(name)
        if not isinstance(step, numbers.Integral) or isinstance(step, bool):
            fail("step", "one step (an int)", describe(step), "pass e.g. step=3")
        _check_value(value)
        return cls("state", name, (int(step),), value)

    @classmethod
    def gate(cls, name: str, gate: str, steps, value) -> "Edit":
        """Gate ``gate`` (or a named quantity) at ``steps`` becomes ``value`` before the step uses it.

        Example: ``Edit.gate("lstm", "f", steps=range(2, 6), value=1.0)  # remember everything at steps 2-5``
        """
        _name(name)
        if not isinstance(gate, str) or not gate:
            fail("gate", "a gate's name (a str, e.g. 'f')", describe(gate), "pass a name from trace.spec.gates")
        _check_value(value)
        return cls("gate", name, _steps("steps", steps), value, gate_name=gate)

    @classmethod
    def head(cls, name: str, head: int, value=0.0, steps=None) -> "Edit":
        """Head ``head``'s attention weights at the query ``steps`` (all when None) become ``value``:
        0 cuts the head; a function re-weights it (``old`` is ``[batch, len(steps), keys]``).

        Example: ``Edit.head("h.0.attn", 1)  # cut head 1 of the first block``
        """
        _name(name)
        if not isinstance(head, numbers.Integral) or isinstance(head, bool) or head < 0:
            fail("head", "a head index (an int ≥ 0)", describe(head), "pass e.g. head=0")
        _check_value(value)
        return cls("head", name, None if steps is None else _steps("steps", steps), value, head_index=int(head))

    @classmethod
    def token(cls, tick: int, token) -> "Edit":
        """The token fed at decode tick ``tick`` (the one at ``ticks[tick].query_position``, which tick − 1 chose)
        becomes ``token``: an id, or a string the decode's tokenizer encodes to exactly one id. The decode then
        goes on as it generates (greedy, or sampling with its seed) from the changed sequence. Tick 0 is fed the
        whole prompt: change the prompt instead.

        Example: ``Edit.token(2, "dog")  # tick 1 chose 'mat': tick 2 is fed 'dog' and the decode goes on from it``
        """
        if not isinstance(tick, numbers.Integral) or isinstance(tick, bool):
            fail("tick", "one decode tick (an int ≥ 1)", describe(tick), "pass e.g. tick=2")
        if not ((isinstance(token, numbers.Integral) and not isinstance(token, bool) and token >= 0)
                or (isinstance(token, str) and token)):
            fail("token", "a token id (an int ≥ 0) or a non-empty string the tokenizer encodes to one id",
                 describe(token), "pass e.g. token='dog' or token=tok.encode('dog')[0]")
        return cls("token", "decode", (int(tick),), token if isinstance(token, str) else int(token))

    @property
    def first_step(self) -> int:
        """The first step the edit changes (0 when a head edit covers every query).

        Example: ``Edit.gate("gru", "z", [5, 2], 1.0).first_step == 2``
        """
        return min(self.steps) if self.steps else 0

    def __repr__(self) -> str:
        if self.kind == "token":
            return f"Edit.token({self.steps[0]}, {self.value!r})"
        return f"Edit.{self.kind}({self.name!r}, {_ARGS[self.kind](self)}, value={_show(self.value)}" + (
            f", steps={'None' if self.steps is None else list(self.steps)})" if self.head_index is not None else ")")


# how each kind of edit shows its own arguments in a repr (one table: no branch per kind)
_ARGS = {"state": lambda e: f"step={e.steps[0]}", "gate": lambda e: f"{e.gate_name!r}, steps={list(e.steps)}",
         "head": lambda e: f"head={e.head_index}"}


def _name(name) -> None:
    if not isinstance(name, str) or not name:
        fail("name", "a recorded module name (a str, one of capture(...).names)", describe(name),
             "pass a name from rec.names")


def _show(value) -> str:
    """A deterministic repr of a value (a function by its name, a tensor by its shape)."""
    if isinstance(value, torch.Tensor):
        return f"tensor{list(value.shape)}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    if callable(value):
        return getattr(value, "__name__", type(value).__name__)
    return repr(value)


def new_value(value, old: torch.Tensor, where: str) -> torch.Tensor:
    """What ``old`` becomes under ``value`` (a number, a tensor broadcast to ``old``'s shape, a function),
    on ``old``'s device and dtype, or one TraceInputError naming ``where``.

    Example::

        new_value(1.0, torch.zeros(2, 3), "value").sum().item() == 6.0
        new_value(torch.arange(3.), torch.zeros(2, 3), "value")[1].tolist() == [0.0, 1.0, 2.0]
        new_value(lambda old: old + 1, torch.zeros(2), "value").tolist() == [1.0, 1.0]
    """
    shape = tuple(old.shape)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return torch.full_like(old, float(value))
    if isinstance(value, torch.Tensor):
        try:
            fits = torch.broadcast_shapes(tuple(value.shape), shape) == shape
        except RuntimeError:
            fits = False
        if not fits:
            fail(where, f"a tensor of shape {list(shape)} (or one that broadcasts to it)",
                 f"shape {list(value.shape)}", f"pass a tensor shaped like the old value, {list(shape)}")
        return value.detach().to(old.device, old.dtype).expand(shape).clone()
    if callable(value):
        with torch.no_grad():
            new = value(old.clone())
        if not isinstance(new, torch.Tensor) or tuple(new.shape) != shape:
            fail(where, f"a function returning a tensor of the old value's shape {list(shape)}",
                 f"one returning {describe(new)}", "return a tensor shaped like old, e.g. lambda old: old * 0.5")
        return new.detach().to(old.device, old.dtype)
    fail(where, "a number, a tensor, or a function old -> new", describe(value), "pass e.g. value=0.0")


def new_state(value, old: tuple, where: str) -> tuple:
    """``new_value`` for a state of one or more parts (an LSTM's ``(h, c)``): a tuple of per-part values
    (None keeps a part), one number for every part, or a function of the whole state.

    Example::

        h, c = new_state((0.0, None), (torch.ones(2), torch.ones(2)), "value")
        (h.tolist(), c.tolist()) == ([0.0, 0.0], [1.0, 1.0])
    """
    if len(old) == 1 and not isinstance(value, tuple):
        return (new_value(value, old[0], where),)
    if isinstance(value, tuple):
        if len(value) != len(old):
            fail(where, f"a tuple of {len(old)} values, one per part of the state (None keeps a part)",
                 f"a tuple of {len(value)}", f"pass {len(old)} values, e.g. (0.0, None)")
        return tuple(o.clone() if v is None else new_value(v, o, f"{where}[{i}]")
                     for i, (v, o) in enumerate(zip(value, old)))
    if callable(value):
        with torch.no_grad():
            new = value(tuple(o.clone() for o in old))
        if not isinstance(new, tuple) or len(new) != len(old):
            fail(where, f"a function returning the state as a tuple of {len(old)} tensors", describe(new),
                 "return e.g. (h, c)")
        return tuple(new_value(n, o, f"{where}[{i}]") for i, (n, o) in enumerate(zip(new, old)))
    return tuple(new_value(value, o, where) for o in old)
