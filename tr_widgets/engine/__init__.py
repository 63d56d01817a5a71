"""The trace engine: pure torch. It never imports views, widgets, IPython or altair (a test checks).

One subpackage per trace kind, each a ``trace.py`` (the data) and a ``build.py`` (checks, then the one run
that records it): ``recurrent``, ``attention``, ``decode``; ``capture`` records them from a model's forward.
"""
from .attention import AttentionTrace, RowRecord, trace_attention
from .errors import MemoryBudgetError, TraceInputError, get_memory_budget, set_memory_budget
from .recurrent import RecurrentTrace, StepRecord, trace_recurrent

__all__ = ["AttentionTrace", "RowRecord", "trace_attention", "RecurrentTrace", "StepRecord", "trace_recurrent",
           "MemoryBudgetError", "TraceInputError", "get_memory_budget", "set_memory_budget"]
