"""Views: the exact numbers a widget shows, as bounded float32/uint8 numpy. No widgets here.

``matrix`` windows and pools large matrices, ``image`` makes PNG snapshots, ``recurrent`` and
``attention`` select one step / one query of a trace. Layering: engine → views → widgets.
"""
from .attention import RowView, batch_axes, labels, row_view, weights_overview, weights_rows, weights_window
from .matrix import (BLOCKED, NONFINITE, Overview, Window, dequantize, make_overview, maxabs_pool,
                     pool_factors, quantize, value_range, window_around)
from .recurrent import StepView, graph_window, hidden_matrix, recurrent_axes, step_view

__all__ = ["BLOCKED", "NONFINITE", "Overview", "RowView", "StepView", "Window", "batch_axes", "dequantize",
           "graph_window", "hidden_matrix", "labels", "make_overview", "maxabs_pool", "pool_factors", "quantize",
           "recurrent_axes", "row_view", "step_view", "value_range", "weights_overview", "weights_rows",
           "weights_window", "window_around"]
