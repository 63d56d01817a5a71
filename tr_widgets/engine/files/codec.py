"""Values to JSON and back, with every tensor set aside for safetensors: the body of a trace file.

A trace is data (style.md §3), so one walk writes any of them: tensors become ``{"$t": key}`` (their bytes go to
the safetensors part, each tensor once however often it is referenced), plain values stay JSON, and what JSON
cannot tell apart is tagged (``$tuple``, ``$dict`` for keys that are not str, ``$range``, ``$dtype``). Objects are
written only from tables, never as code to run (no pickle): the trace classes of ``kinds.TABLE`` by their class
name, specs by their name (``REFS``: a state-space family, an effective-attention form), torch functions by their
qualified name (a Mamba conv's activation), a PackedSequence by its four tensors. Anything else is refused with
one clear message: a file must read back on any machine, with nothing but this package and torch.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import PackedSequence

from ..errors import describe, fail
from ..state.effective import FORMS, Form
from ..state.families import StateKind, kind_of

FUNCTION_HOMES = {"torch.nn.functional": F, "torch": torch}  # where a saved function is looked up by name


@dataclass(frozen=True)
class Ref:
    """An object written by its name: ``name_of(obj)`` in the file, ``find(name)`` when read.

    Example: ``Ref("state_kind", StateKind, lambda k: k.name, kind_of).name_of(kind_of("mamba")) == "mamba"``
    """

    tag: str
    type: type
    name_of: Callable[[Any], str]
    find: Callable[[str], Any]


def _function_name(fn) -> str:
    home = FUNCTION_HOMES.get(getattr(fn, "__module__", None) or "")
    if home is None or getattr(home, fn.__name__, None) is not fn:
        fail("trace", "functions of torch or torch.nn.functional only (a file holds no code)", describe(fn),
             "save a trace whose functions are torch's (e.g. F.silu), or keep the trace in memory")
    return f"{fn.__module__}.{fn.__name__}"


def _function(name: str):
    home, _, attr = name.rpartition(".")
    if home not in FUNCTION_HOMES or not callable(getattr(FUNCTION_HOMES[home], attr, None)):
        fail("trace file", "a function of torch or torch.nn.functional", repr(name), "save the trace again")
    return getattr(FUNCTION_HOMES[home], attr)


REFS = (
    Ref("state_kind", StateKind, lambda k: k.name, kind_of),
    Ref("form", Form, lambda f: next(n for n, g in FORMS.items() if g is f), FORMS.__getitem__),
    Ref("function", type(F.silu), _function_name, _function),  # a Python function of torch's
    Ref("builtin", type(torch.tanh), _function_name, _function),  # a C function of torch's
)
REF_BY_TAG = {r.tag: r for r in REFS}


class Writer:
    """Encodes values to JSON, keeping each distinct tensor once (``tensors``: key -> a CPU copy).

    ``table`` maps a class to its entry (``kinds.FileKind``): ``fields(obj)`` gives what the file holds.

    Example::

        w = Writer({}); t = torch.ones(2)
        (w.encode((t, t)), len(w.tensors)) == ({"$tuple": [{"$t": "t0"}, {"$t": "t0"}]}, 1)
    """

    def __init__(self, table: dict):
        self.table, self.tensors, self._keys = table, {}, {}

    def tensor(self, t: torch.Tensor) -> dict:
        if id(t) not in self._keys:
            key = f"t{len(self.tensors)}"
            self._keys[id(t)] = key
            # a fresh contiguous CPU copy: safetensors refuses shared storage, and the user's tensor stays as it was
            self.tensors[key] = t.detach().to("cpu", copy=True).contiguous()
        return {"$t": self._keys[id(t)]}

    def encode(self, v):
        if isinstance(v, torch.Tensor):
            return self.tensor(v)
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        entry = self.table.get(type(v))
        if entry is not None:
            return {"$obj": entry.name, "fields": {k: self.encode(x) for k, x in entry.fields(v).items()}}
        if isinstance(v, PackedSequence):
            return {"$packed": [self.encode(x) for x in v]}
        if isinstance(v, torch.dtype):
            return {"$dtype": str(v).removeprefix("torch.")}
        if isinstance(v, range):
            return {"$range": [v.start, v.stop, v.step]}
        if isinstance(v, list):
            return [self.encode(x) for x in v]
        if isinstance(v, tuple):
            return {"$tuple": [self.encode(x) for x in v]}
        if isinstance(v, dict):
            if all(isinstance(k, str) and not k.startswith("$") for k in v):
                return {k: self.encode(x) for k, x in v.items()}
            return {"$dict": [[self.encode(k), self.encode(x)] for k, x in v.items()]}
        ref = next((r for r in REFS if isinstance(v, r.type)), None)
        if ref is not None:
            return {"$ref": [ref.tag, ref.name_of(v)]}
        fail("trace", "tensors, numbers, strings, lists and tuples, the package's traces and specs (what a file "
             "can hold without pickle)", describe(v), "keep this trace in memory, or save the traces inside it")

    def encodable(self, v) -> bool:
        """Whether ``v`` can be written (it is encoded into a scratch writer, so nothing is kept)."""
        try:
            Writer(self.table).encode(v)
        except ValueError:
            return False
        return True


def decode(v, tensors: dict, table: dict):
    """The value :meth:`Writer.encode` wrote, with its tensors from ``tensors`` and objects from ``table``
    (class name -> entry, whose ``make(fields)`` builds the object).

    Example: ``decode({"$tuple": [{"$t": "t0"}, 2]}, {"t0": torch.ones(1)}, {})[1] == 2``
    """
    if isinstance(v, list):
        return [decode(x, tensors, table) for x in v]
    if not isinstance(v, dict):
        return v
    tag = next((k for k in v if k.startswith("$")), None)
    if tag is None:
        return {k: decode(x, tensors, table) for k, x in v.items()}
    body = v[tag]
    if tag == "$t":
        return tensors[body]
    if tag == "$obj":
        return table[body].make({k: decode(x, tensors, table) for k, x in v["fields"].items()})
    simple = {"$tuple": lambda: tuple(decode(x, tensors, table) for x in body),
              "$dict": lambda: {_key(decode(k, tensors, table)): decode(x, tensors, table) for k, x in body},
              "$packed": lambda: PackedSequence(*(decode(x, tensors, table) for x in body)),
              "$dtype": lambda: _dtype(body),
              "$range": lambda: range(*body),
              "$ref": lambda: REF_BY_TAG[body[0]].find(body[1])}
    return simple[tag]()


def _dtype(name: str) -> torch.dtype:
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise KeyError(f"dtype {name!r}")  # load() reports it as a damaged header
    return dtype


def _key(k):
    return tuple(k) if isinstance(k, list) else k  # a dict key is hashable: lists were tuples


def dataclass_fields(obj, drop: tuple = ("derived",)) -> dict:
    """A dataclass's fields by name, less ``drop`` (caches derived on first access: a loaded trace derives
    them again). Example: ``"derived" not in dataclass_fields(tr)``"""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.name not in drop}
