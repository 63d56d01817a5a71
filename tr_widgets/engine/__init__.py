"""The trace engine: pure torch. It never imports views, widgets, IPython or altair (a test checks).

One subpackage per trace kind, each a ``trace.py`` (the data) and a ``build.py`` (checks, then the one run
that records it), and a test checks that this list names every subpackage:

- ``recurrent``: nn.RNN / LSTM / GRU and their cells (one CellKind spec per cell kind, ``cells.py``).
- ``attention``: scaled dot-product attention, its stages derived one row at a time.
- ``gradients``: ∂L/∂h_t through time (one Backward spec per cell kind, ``backward.py``).
- ``decode``: token-by-token decoding, one tick per token, the KV cache as the model keeps it.
- ``state``: state-space and linear-attention mixers (one StateKind spec per family, ``families*.py``).
- ``loops``: recurrences written by hand, a loop of tensor operations or a module called once per step.
- ``capture``: records all of these from a model's forward (module hooks, SDPA, hand-written attention).
- ``whatif``: what if a state, gate or head were changed at step t: two runs compared step by step (``compare``).
- ``files``: traces as files (``trace.save(path)``, ``tr_widgets.load(path)``): safetensors + JSON, no pickle.
"""
from .attention import AttentionTrace, RowRecord, trace_attention
from .errors import MemoryBudgetError, TraceInputError, get_memory_budget, set_memory_budget
from .recurrent import RecurrentTrace, StepRecord, trace_recurrent

__all__ = ["AttentionTrace", "RowRecord", "trace_attention", "RecurrentTrace", "StepRecord", "trace_recurrent",
           "MemoryBudgetError", "TraceInputError", "get_memory_budget", "set_memory_budget"]
