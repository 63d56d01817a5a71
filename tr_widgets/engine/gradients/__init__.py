"""Gradients through time: ∂L/∂h_t (and ∂L/∂c_t) at every step of nn.RNN / nn.LSTM / nn.GRU.

``trace_gradients(module, x, loss_fn)`` returns a :class:`GradientTrace`; see build.py for how it
is computed (one fused forward, a batched backward replay) and trace.py for what it holds.
"""
from .build import trace_gradients
from .trace import GradientTrace

__all__ = ["GradientTrace", "trace_gradients"]
