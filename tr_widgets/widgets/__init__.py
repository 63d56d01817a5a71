"""Widgets: stepper views of traces for Jupyter (ipywidgets + anywidget canvases, offline).

``show(trace)`` returns the stepper registered for the trace's kind in ``kinds.STEPPERS``; all steppers
share one :class:`StepController`. Matrices are drawn by :class:`MatrixCanvas` from uint8 buffers, small
charts by :class:`BarsCanvas` from float32 buffers; the JavaScript ships in ``tr_widgets/static``.
"""
from .attention import AttentionStepper
from .base import Stepper
from .canvas import BarsCanvas, MatrixCanvas
from .capture_view import CaptureView
from .controller import StepController
from .decode import DecodeStepper
from .kinds import register_stepper, show, stepper_class, supported
from .recurrent import RecurrentStepper

__all__ = ["AttentionStepper", "BarsCanvas", "CaptureView", "DecodeStepper", "MatrixCanvas", "RecurrentStepper",
           "StepController", "Stepper", "register_stepper", "show", "stepper_class", "supported"]
