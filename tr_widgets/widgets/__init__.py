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
from .panels import BarsCanvas, HTMLPanel, MatrixCanvas
from .registry import register_stepper, show, stepper_class, stepper_classes, supported

# every stepper of the one table, exported under its class name (a new kind needs no line here)
globals().update({cls.__name__: cls for cls in stepper_classes()})

__all__ = ["BarsCanvas", "HTMLPanel", "MatrixCanvas", "StepClock", "StepController", "Stepper", "get_frame_budget",
           "register_stepper", "set_frame_budget", "set_widget_view", "show", "stepper_class", "stepper_classes",
           "supported", "widget_frontend", *(cls.__name__ for cls in stepper_classes())]
