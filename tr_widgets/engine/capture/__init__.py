"""capture(model): record every recurrent module, nn.MultiheadAttention, SDPA call and hand-written
softmax attention of a forward, and say which sequence mixers ran unrecorded."""
from .mixers import MIXERS, MixerKind
from .record import SDPA_NAME, SUPPORTED, Capture, CaptureWarning, TraceNameError, capture

__all__ = ["MIXERS", "SDPA_NAME", "SUPPORTED", "Capture", "CaptureWarning", "MixerKind", "TraceNameError",
           "capture"]
