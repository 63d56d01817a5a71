"""Panels: the widgets a stepper lays out. ``MatrixCanvas`` (a matrix window, ``static/matrix.js``),
``BarsCanvas`` (small multiples of bars, ``static/bars.js``), ``HTMLPanel`` (tables and inline SVG), ``CaptionPanel`` (the line under the controls, ``static/caption.js``).
"""
from .bars import BarsCanvas
from .caption import CaptionPanel
from .html import HTMLPanel
from .matrix import MatrixCanvas

__all__ = ["BarsCanvas", "CaptionPanel", "HTMLPanel", "MatrixCanvas"]
