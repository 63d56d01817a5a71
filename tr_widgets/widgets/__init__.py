"""Widgets: stepper views of traces for Jupyter (ipywidgets + anywidget canvases, offline).

``show(trace)`` returns the stepper registered for the trace's kind in ``registry.STEPPERS``; all steppers
share one :class:`StepController`. Matrices are drawn by :class:`MatrixCanvas` from uint8 buffers, small
charts by :class:`BarsCanvas` from float32 buffers; the JavaScript ships in ``tr_widgets/static``.
Frames (``frames.py``): within the frame budget (``set_frame_budget``, default 2 MiB, or
``show(..., frames=nbytes)``) every step's state goes to the browser once, steps need no kernel and
exported pages step too; above it the browser gets the frames around the step.
"""
from .base import Stepper, set_widget_view, widget_frontend
from .controller import StepClock, StepController
from .frames import get_frame_budget, set_frame_budget
from .panels import BarsCanvas, MatrixCanvas
from .registry import register_stepper, show, stepper_class, supported
from .steppers.attention import AttentionStepper
from .steppers.capture_view import CaptureView
from .steppers.decode import DecodeStepper
from .steppers.recurrent import RecurrentStepper

__all__ = ["AttentionStepper", "BarsCanvas", "CaptureView", "DecodeStepper", "MatrixCanvas", "RecurrentStepper",
           "StepClock", "StepController", "Stepper", "get_frame_budget", "register_stepper", "set_frame_budget",
           "set_widget_view", "show", "stepper_class", "supported", "widget_frontend"]
