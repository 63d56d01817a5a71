"""The one table of what a trace file holds per class, looked up by the object's exact type.

Each trace is lazy in its own way (architecture.md "Why lazy"), so each entry says what the file keeps:
what the trace needs to derive its stages again, or, where that needs code a file cannot hold, the values
the code derived.

- RecurrentTrace: its inputs (x, h_0, c_0), the weight snapshot (CellParams) and what the module returned;
  gates and cell states are derived again. The layers below the top are *materialised*: their replay runs a
  fused module of the user's class, which a file does not name, so their hidden sequences are saved.
- AttentionTrace / ChainTrace: q, k, v, the mask and the module's own steps; every stage is derived again.
- EffectiveAttention: its StateTrace and the form's name; rows are derived again from the state.
- StateTrace: the scan's inputs, the module's constants and the checkpoints; states are rerun from them.
- GradientTrace: the materialised gradients (its fields) and the forward trace it was replayed from.
- DecodeTrace: what each tick kept (q rows, appended k/v, masks, the state mixers' traces); rows are
  derived again.
- LoopTrace: *materialised* values. A steady loop re-derives a step by replaying the user's own operations,
  which only pickle could store, so every step's values are saved and nothing is replayed.
- Capture: its traces by name and what it skipped; it loads as a :class:`~.capture_file.SavedCapture`.

``derived`` (each trace's cache) is never written: a loaded trace fills it again on first access.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..attention import AttentionTrace
from ..attention.chain import ChainTrace
from ..capture import Capture
from ..decode import DecodeTrace, Tick
from ..gradients import GradientTrace
from ..loops import LoopTrace, Source
from ..recurrent import CellParams, RecurrentTrace
from ..state import EffectiveAttention, StateTrace
from .capture_file import SavedCapture
from .codec import Writer, dataclass_fields


@dataclass(frozen=True)
class FileKind:
    """One class a file may hold: ``fields(obj)`` is what is written, ``make(fields)`` builds it again.

    Example: ``TABLE[RecurrentTrace].name == "RecurrentTrace"``
    """

    cls: type
    fields: Callable[[Any], dict]
    make: Callable[[dict], Any]
    label: str = ""  # the name written, when it is not the class's own (a loaded capture is saved as a Capture)

    @property
    def name(self) -> str:
        """The name the file records (the class name: classes are found in this table, never imported)."""
        return self.label or self.cls.__name__


def plain(cls) -> FileKind:
    """The entry of a dataclass written field by field (its ``derived`` cache left out).

    Example: ``plain(Source).make({"file": "a.py", "first_line": 1, "lines": ("x",)}).line(1) == "x"``
    """
    return FileKind(cls, dataclass_fields, lambda d: cls(**d))


def _saved_layers(outputs: list):
    def replay(layer, inputs, hx, params):  # the saved hidden sequence of `layer` (see the module docstring)
        return outputs[layer]
    return replay


def _recurrent_fields(tr: RecurrentTrace) -> dict:
    below = [tr.layer_output(layer) for layer in range(tr.num_layers - 1)]  # each [T, B, D*Hout]
    return {**dataclass_fields(tr, ("derived", "replay_layer")), "below": below}


def _recurrent(d: dict) -> RecurrentTrace:
    below = d.pop("below")
    return RecurrentTrace(**d, replay_layer=_saved_layers(below) if below else None)


def _loop_fields(tr: LoopTrace) -> dict:
    values = tr.values if tr.derive is None else tuple(tuple(tr.derive(tr, t, tr.values[t])) for t in range(len(tr)))
    output = tr.output if Writer(TABLE).encodable(tr.output) else None  # a user's own return type: not kept
    return {**dataclass_fields(tr, ("derived", "derive")), "values": values, "output": output}


def _capture_fields(cap: Capture) -> dict:
    return {"traces": [(name, tr) for name, tr in cap.traces], "skipped": list(cap.skipped)}


def _capture(d: dict) -> SavedCapture:
    return SavedCapture(d["traces"], d["skipped"])


TABLE: dict[type, FileKind] = {k.cls: k for k in (
    FileKind(RecurrentTrace, _recurrent_fields, _recurrent),
    plain(CellParams),
    plain(AttentionTrace),
    plain(ChainTrace),
    plain(EffectiveAttention),
    plain(GradientTrace),
    plain(DecodeTrace),
    plain(Tick),
    plain(StateTrace),
    FileKind(LoopTrace, _loop_fields, lambda d: LoopTrace(**d)),
    plain(Source),
    FileKind(Capture, _capture_fields, _capture),
    FileKind(SavedCapture, _capture_fields, _capture, label="Capture"),
)}
BY_NAME: dict[str, FileKind] = {k.name: k for k in TABLE.values()}

TRACE_TYPES = (RecurrentTrace, AttentionTrace, GradientTrace, DecodeTrace, StateTrace, LoopTrace, Capture)

