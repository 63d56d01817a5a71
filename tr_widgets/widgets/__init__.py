"""Widgets: stepper views of traces for Jupyter (ipywidgets + anywidget canvases, offline).

``show(trace)`` returns a :class:`RecurrentStepper` or :class:`AttentionStepper`; all steppers share
one :class:`StepController`. Matrices are drawn by :class:`MatrixCanvas` from uint8 buffers, small
charts by :class:`BarsCanvas` from float32 buffers; the JavaScript ships in ``tr_widgets/static``.
"""
from ..engine import AttentionTrace, RecurrentTrace
from .attention import AttentionStepper
from .base import Stepper
from .canvas import BarsCanvas, MatrixCanvas
from .capture_view import CaptureView  # registers itself for show(capture)
from .controller import StepController
from .decode_stepper import DecodeStepper  # registers itself for show(DecodeTrace)
from .recurrent import RecurrentStepper
from .registry import register_stepper, show, supported

register_stepper(RecurrentTrace, RecurrentStepper)
register_stepper(AttentionTrace, AttentionStepper)

__all__ = ["AttentionStepper", "BarsCanvas", "CaptureView", "DecodeStepper", "MatrixCanvas", "RecurrentStepper", "StepController", "Stepper",
           "register_stepper", "show", "supported"]
