"""Attention traces: the stages of scaled dot-product attention, per head, one query row at a time."""
from .build import check_mask, expand_gqa, make_trace, trace_attention
from .overview import pooled_weights
from .trace import AttentionTrace, RowRecord
from .chain import ChainTrace  # noqa: E402  (after AttentionTrace, which it extends)

__all__ = ["AttentionTrace", "ChainTrace", "RowRecord", "check_mask", "expand_gqa", "make_trace", "pooled_weights",
           "trace_attention"]
