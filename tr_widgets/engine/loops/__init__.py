"""Recurrences written by hand: a loop of tensor operations in a forward, or a module called once per step.

``LoopTrace`` is their trace (the user's own step, under the code's own names), ``LoopTraceBuilder`` the one
way to build it, ``OpRecorder`` records the torch ops called from the lines of a code object, and ``detect``
finds a recurrence in time in what a forward recorded (capture calls it; see ``watch``).
"""
from .builder import LoopTraceBuilder
from .ops import Op, OpRecorder, Recording, quantity_names
from .source import code_info, has_loop
from .trace import FORMS, LoopTrace, Source

__all__ = ["LoopTrace", "LoopTraceBuilder", "Source", "FORMS", "OpRecorder", "Recording", "Op", "quantity_names",
           "code_info", "has_loop"]
