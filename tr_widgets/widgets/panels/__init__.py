"""Panels: the widgets a stepper lays out. ``MatrixCanvas`` (a matrix window, ``static/matrix.js``),
``BarsCanvas`` (small multiples of bars, ``static/bars.js``), ``HTMLPanel`` (tables and inline SVG).
"""
from .bars import BarsCanvas
from .html import HTMLPanel
from .matrix import MatrixCanvas

__all__ = ["BarsCanvas", "HTMLPanel", "MatrixCanvas"]
