"""capture(model): record every recurrent module, nn.MultiheadAttention and SDPA call of a forward."""
from .record import SDPA_NAME, SUPPORTED, Capture, TraceNameError, capture

__all__ = ["SDPA_NAME", "SUPPORTED", "Capture", "TraceNameError", "capture"]
