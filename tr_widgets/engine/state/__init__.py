"""Recurrent state of state-space and linear-attention mixers, step by step: Mamba, Mamba-2, RWKV-4, Gated
DeltaNet and the families found by structure since (``supported()``), traced from a forward hook, checked
against the module's output when built, and equal to the model's own token-by-token cache.

``trace_mixer_call`` is what a forward hook on a mixer module calls; ``trace_state`` traces the
reference recurrences on bare tensors (no transformers needed). Specs live in ``families*.py``, the plain
recurrences in ``scan.py`` and ``scan_delta.py``, the trace in ``trace.py``, the builders in ``build.py``.
"""
from .build import default_every, state_before, state_bytes, trace_mixer_call, trace_state
from .effective import EffectiveAttention
from .families import StateKind, kind_of, mixer_kind, register, supported
from .trace import StateTrace

__all__ = ["StateTrace", "EffectiveAttention", "StateKind", "trace_mixer_call", "trace_state", "state_before",
           "state_bytes",
           "default_every", "kind_of", "mixer_kind", "register", "supported"]
