"""Recurrent traces: nn.RNN / nn.LSTM / nn.GRU and their cells, every gate and state at every step."""
from .build import all_params, check_module, module_params, trace_recurrent, trace_recurrent_call
from .cells import CELLS, FULL, KINDS, SUPPORTED, CellKind, CellParams, Equation, equations, kind_of
from .scan import linear_scan
from .trace import RecurrentTrace, StepRecord

__all__ = ["CELLS", "FULL", "KINDS", "SUPPORTED", "CellKind", "CellParams", "Equation", "RecurrentTrace",
           "StepRecord", "all_params", "check_module", "equations", "kind_of", "linear_scan", "module_params",
           "trace_recurrent", "trace_recurrent_call"]
