"""The unrolled graph's Look: every box, circle, arrow and label of the recurrent and loop steppers' graph panel,
placed here, from the graph window (``views.recurrent.graph_window``).

The live panel writes it as inline SVG in the theme's colours and ``save()`` paints it in light hex, both with
the one painter (``views.svg.graph_svg``): the picture needs no reading of our own markup back. Colours are
palette names, as in every Look.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ..i18n import msg
from .looks_text import TextRow, text_look

GAP, BOX_W, BOX_H, HEIGHT = 50, 40, 30, 96  # px between nodes, a state box's size, the picture's height
BOX_Y, ROW_Y, INPUT_Y, RADIUS = 14, 29, 78, 11  # a box's top, the h→h arrows' row, the input circles' centre


class GraphLabel(NamedTuple):
    """A word of the graph: its baseline's left end (whole px), its text and colour (a palette name). A tuple: a step makes
    dozens. Example: ``GraphLabel(4, 27, "h3", "fg").text == "h3"``
    """

    x: int
    y: int
    text: str
    colour: str = "fg"


@dataclass(frozen=True)
class GraphLook:
    """The unrolled graph as shown: the state boxes ``(x, y, w, h)`` (``current`` is the marked one's index), the
    input circles ``(cx, cy, r)``, the arrows ``(x1, y1, x2, y2)`` (each ends in an arrowhead), the labels, the
    picture's size and its accessible name.

    Example: ``graph_look(views.graph_window(np.zeros((2, 5)), 2), "h")[1].current == 2``
    """

    width: int
    height: int
    boxes: tuple
    current: int
    circles: tuple
    arrows: tuple
    labels: tuple
    aria: str


def graph_caption(g, state: str) -> str:
    """The words under the graph panel's title: what a node and an edge are, and which steps are drawn.

    Example: ``graph_caption(views.graph_window(np.zeros((2, 5)), 2), "h").startswith("unrolled")``
    """
    done = len(g.steps) + g.elided
    first, last = (0, g.current) if g.direction == 0 else (g.current, g.total - 1)
    steps = msg(f"count.step.{'one' if done == 1 else 'many'}", n=done)
    return msg("recurrent.graph_caption", state=state, steps=steps, first=first, last=last, total_last=g.total - 1)


def graph_look(g, state: str) -> tuple:
    """The graph panel's Looks: its caption (a muted text row), then the graph of window ``g``: a state box per
    drawn step (the current one marked) with ‖h‖ in it, an input circle x_τ under each, arrows x→h and h→h
    (right to left for the reverse direction), and "⋯n earlier" (or later) for the steps not drawn.

    Example::

        caption, look = graph_look(views.graph_window(np.zeros((4, 100)), 50), "h")    # steps 39..50 drawn
        (len(look.boxes), look.labels[0].text) == (12, "⋯39")
    """
    pad = 56 if g.elided else 8
    width = pad + len(g.steps) * GAP + 8
    boxes, circles, arrows, labels = [], [], [], []
    if g.elided:
        x = 4 if g.direction == 0 else width - 40
        side = msg("recurrent.graph_earlier") if g.direction == 0 else msg("recurrent.graph_later")
        labels += [GraphLabel(x, 30, f"⋯{g.elided}", "fg-muted"), GraphLabel(x, 44, side, "fg-muted")]
    for k, s in enumerate(g.steps):
        x, mid = pad + k * GAP, pad + k * GAP + BOX_W // 2  # whole px: ints, written as they are
        boxes.append((x, BOX_Y, BOX_W, BOX_H))
        circles.append((mid, INPUT_Y, RADIUS))
        labels += [GraphLabel(x + 4, 27, f"h{s}"), GraphLabel(mid - 8, 82, f"x{s}"),
                   GraphLabel(x + 4, 39, f"{g.norms[k]:.2f}", "fg-muted")]
        arrows.append((mid, INPUT_Y - RADIUS, mid, BOX_Y + BOX_H + 1))
        if k:  # h_{t-1} -> h_t (for the reverse direction: h_{t+1} -> h_t, drawn right to left)
            x1, x2 = (x - GAP + BOX_W, x - 1) if g.direction == 0 else (x, x - GAP + BOX_W + 1)
            arrows.append((x1, ROW_Y, x2, ROW_Y))
    current = g.steps.index(g.current) if g.current in g.steps else -1
    caption = text_look([TextRow(graph_caption(g, state), colour="fg-muted")])
    return caption, GraphLook(width, HEIGHT, tuple(boxes), current, tuple(circles), tuple(arrows), tuple(labels),
                              msg("recurrent.graph_aria", t=g.current))
