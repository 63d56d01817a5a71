"""Attention traces: the stages of scaled dot-product attention, per head, one query row at a time."""
from .build import check_mask, expand_gqa, make_trace, trace_attention
from .trace import AttentionTrace, RowRecord

__all__ = ["AttentionTrace", "RowRecord", "check_mask", "expand_gqa", "make_trace", "trace_attention"]
