"""tr_widgets: watch sequence models compute, one time step at a time, inside Jupyter.

The public surface is small and pinned by a test:

- ``trace_recurrent(module, x)``: gates, cell and hidden state of RNN/LSTM/GRU at every step.
- ``trace_attention(q, k, v, ...)``: raw, scaled, masked scores, softmax weights, weighted sums.
- ``set_memory_budget`` / ``get_memory_budget``: the largest tensor a trace may materialise.
"""
from .engine import (
    AttentionTrace,
    MemoryBudgetError,
    RecurrentTrace,
    TraceInputError,
    get_memory_budget,
    set_memory_budget,
    trace_attention,
    trace_recurrent,
)

__version__ = "0.1.0"

__all__ = [
    "AttentionTrace",
    "MemoryBudgetError",
    "RecurrentTrace",
    "TraceInputError",
    "__version__",
    "get_memory_budget",
    "set_memory_budget",
    "trace_attention",
    "trace_recurrent",
]
