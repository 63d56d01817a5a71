"""The one line chart of the live panels: the gradient norms (GradientStepper) and the state's bytes beside the
KV cache (StateStepper). Its Look (``views.looks_text``: Frame, Line, LineChartLook) is painted by the one SVG
painter (``views.svg.line_chart_svg``) with the theme's CSS variables here, and in light hex by ``save()``.
"""
from __future__ import annotations

from collections.abc import Sequence

from ...views.looks_text import Frame, Line, LineChartLook
from ...views.palette import COLOURS, THEME, theme_var
from ...views.svg import line_chart_svg as paint_chart

__all__ = ["Frame", "Line", "LineChartLook", "chart_look", "line_chart_svg", "live_chart", "live_colour"]


def live_colour(name: str) -> str:
    """A palette name as CSS for a live panel: a theme colour's variable (it follows the notebook's theme),
    else a data colour. Example: ``live_colour("mark") == "var(--tr-mark,#d32f2f)"``
    """
    return theme_var(name) if name in THEME else "rgb({},{},{})".format(*COLOURS[name])


def chart_look(frame: Frame, lines: Sequence[Line], current: int, last: int, aria: str) -> LineChartLook:
    """The chart's Look. Example: ``chart_look(Frame(n=3, lo=0.0, hi=2.0), [Line([0, 1, 2], [0, 1, 2], "negative")], 1, 2, "x")``"""
    return LineChartLook(frame, tuple(lines), current, last, aria)


def line_chart_svg(frame: Frame, lines: Sequence[Line], current: int, last: int, aria: str) -> str:
    """An inline SVG of ``lines`` in ``frame`` in the theme's colours: three gridlines with their values, each line,
    the slot ``current`` marked (none when outside 0 … n−1), and "t = 0" … "t = last" under the axis.

    Example: ``line_chart_svg(Frame(n=3, lo=0.0, hi=2.0), [Line([0, 1, 2], [0.0, 1.0, 2.0], "negative")], 1, 2, "norms")``
    """
    return live_chart(chart_look(frame, lines, current, last, aria))


def live_chart(look: LineChartLook) -> str:
    """A chart's Look as the live panel's inline SVG, in the theme's colours.

    Example: ``"var(--tr-mark" in live_chart(chart_look(Frame(n=3, lo=0.0, hi=1.0), [], 1, 2, "x"))``
    """
    return paint_chart(look, paint=live_colour)
