"""The one SVG line chart: values over time with three gridlines, the current time marked, and t = 0 … T−1
under the axis. The gradient norms (GradientStepper) and the state's bytes beside the KV cache
(StateStepper) are both drawn by :func:`line_chart_svg`; each stepper only says what its lines are.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..markup import THEME_VARS, escaped


@dataclass(frozen=True)
class Line:
    """One line of a chart: its points ``(slot, value)`` (non-finite values are left out), its colour,
    an SVG dash pattern ("" for solid), a CSS class and whether its last point gets a dot.

    Example: ``Line(np.arange(5), np.log10(norms), "#b2182b", dash="4 3")``
    """

    slots: Sequence[int]
    values: Sequence[float]
    colour: str
    dash: str = ""
    css: str = ""
    dot: bool = False


@dataclass(frozen=True)
class Frame:
    """The chart's box: ``n`` slots over x, values ``lo`` … ``hi`` over y, the margins, and how a
    gridline's value is written (``tick``).

    Example: ``Frame(n=50, lo=-3.0, hi=1.0, width=400, height=110, left=44)``
    """

    n: int
    lo: float
    hi: float
    width: int = 400
    height: int = 130
    left: int = 44
    top: int = 6
    right: int = 6
    bottom: int = 18
    tick: Callable[[float], str] = lambda v: f"{v:+.1f}"

    def x(self, slot: float) -> float:
        """The x of a slot's centre. Example: ``Frame(n=2, lo=0, hi=1, width=100, left=0, right=0).x(0) == 25``"""
        return self.left + (slot + 0.5) * (self.width - self.left - self.right) / max(self.n, 1)

    def y(self, v: float) -> float:
        """The y of a value (``hi`` at the top). Example: ``Frame(n=1, lo=0, hi=1).y(1.0) == 6``"""
        span = self.hi - self.lo if self.hi > self.lo else 1.0
        return self.top + (self.height - self.bottom - self.top) * (1 - (v - self.lo) / span)


def line_chart_svg(frame: Frame, lines: Sequence[Line], current: int, last: int, aria: str) -> str:
    """An inline SVG of ``lines`` in ``frame``: three gridlines with their values, each line, the slot
    ``current`` marked (none when outside 0 … n−1), and "t = 0" … "t = last" under the axis.

    Example: ``line_chart_svg(Frame(n=3, lo=0.0, hi=2.0), [Line([0, 1, 2], [0.0, 1.0, 2.0], "#2166ac")], 1, 2, "norms")``
    """
    f, tv = frame, THEME_VARS
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{f.width}' height='{f.height}' role='img' "
           f"aria-label='{escaped(aria)}' style='font:10px monospace;border:1px solid {tv.border};fill:{tv.fg_muted}'>"]
    for v in (f.lo, (f.lo + f.hi) / 2, f.hi):  # three gridlines with their labels
        out.append(f"<line x1='{f.left}' y1='{f.y(v):.1f}' x2='{f.width - f.right}' y2='{f.y(v):.1f}' "
                   f"style='stroke:{tv.bg_alt}'/><text x='2' y='{f.y(v) + 3:.1f}'>{escaped(f.tick(v))}</text>")
    for line in lines:
        pts = [(f.x(int(s)), f.y(float(v))) for s, v in zip(line.slots, line.values) if np.isfinite(v)]
        if not pts:
            continue
        css = f"class='{line.css}' " if line.css else ""
        dash = f" stroke-dasharray='{line.dash}'" if line.dash else ""
        out.append(f"<polyline {css}points='{' '.join(f'{x:.1f},{y:.1f}' for x, y in pts)}' fill='none' "
                   f"stroke='{line.colour}' stroke-width='1.5'{dash}/>")
        if line.dot:
            out.append(f"<circle cx='{pts[-1][0]:.1f}' cy='{pts[-1][1]:.1f}' r='2.5' fill='{line.colour}'/>")
    if 0 <= current < f.n:
        out.append(f"<line x1='{f.x(current):.1f}' y1='{f.top}' x2='{f.x(current):.1f}' "
                   f"y2='{f.height - f.bottom}' style='stroke:{tv.mark}'/>")
    out.append(f"<text x='{f.left}' y='{f.height - 4}'>t = 0</text>"
               f"<text x='{f.width - 60}' y='{f.height - 4}'>t = {last}</text></svg>")
    return "".join(out)
