"""The trace engine: pure torch. It never imports widgets, IPython or altair (a test checks)."""
from .attention import AttentionTrace, RowRecord, trace_attention
from .errors import MemoryBudgetError, TraceInputError, get_memory_budget, set_memory_budget
from .recurrent import RecurrentTrace, StepRecord
from .run_recurrent import trace_recurrent

__all__ = ["AttentionTrace", "RowRecord", "trace_attention", "RecurrentTrace", "StepRecord", "trace_recurrent",
           "MemoryBudgetError", "TraceInputError", "get_memory_budget", "set_memory_budget"]
