"""The unrolled graph's Look (issue 21): where its boxes, circles, arrows and labels go is decided in views, and the
one SVG painter paints exactly that, in light hex for a picture and in theme variables for the live panel. Expected
strings are written from the Look's fields and the graph window, never copied from the painter's output."""
from __future__ import annotations

import numpy as np

from tr_widgets.views import graph_window, palette
from tr_widgets.views.looks_graph import BOX_H, BOX_W, GAP, GraphLook, graph_look
from tr_widgets.views.svg import graph_svg, paint
from tr_widgets.widgets.markup import graph_panel

LIGHT = palette.light_theme()


def _window(t=6, T=10, direction=0, nodes=4):
    hidden = np.arange(3 * T, dtype=np.float32).reshape(3, T) / 10  # [H, T]: ‖h_τ‖ differs at each step
    return graph_window(hidden, t, direction, nodes)


def test_the_look_places_a_box_and_an_input_per_drawn_step_and_links_them():
    g = _window()  # steps 3..6 drawn, 0..2 elided
    caption, look = graph_look(g, "h")
    assert isinstance(look, GraphLook) and g.steps == [3, 4, 5, 6]
    xs = [b[0] for b in look.boxes]
    assert np.diff(xs).tolist() == [GAP] * 3 and look.width == xs[-1] + GAP + 8  # evenly spaced, room at the end
    assert look.current == g.steps.index(6) == 3
    for (x, y, w, h), (cx, cy, r) in zip(look.boxes, look.circles):
        assert (w, h) == (BOX_W, BOX_H) and cx == x + w / 2 and cy - r > y + h  # x_τ under its h_τ
    up = [a for a in look.arrows if a[0] == a[2]]  # x_τ -> h_τ: from the circle's top to the box's bottom
    right = [a for a in look.arrows if a[1] == a[3]]  # h_{τ-1} -> h_τ: box edge to box edge
    assert len(up) == 4 and len(right) == 3
    for (x1, _, x2, _), left, nxt in zip(right, look.boxes, look.boxes[1:]):
        assert x1 == left[0] + BOX_W and x2 == nxt[0] - 1
    words = [lb.text for lb in look.labels]
    norms = [f"{n:.2f}" for n in g.norms]
    assert words[:2] == ["⋯3", "earlier"] and [f"h{s}" for s in g.steps] == words[2::3]
    assert norms == words[4::3] and all(lb.colour == "fg-muted" for lb in look.labels if lb.text in norms)
    assert "0–6 of 0–9" in caption.rows[0].text and caption.rows[0].colour == "fg-muted"


def test_the_reverse_direction_draws_its_arrows_right_to_left_and_says_later():
    g = _window(t=2, direction=1)  # steps 2..5 drawn, 6..9 elided (computed before them, right to left)
    _, look = graph_look(g, "h")
    right = [a for a in look.arrows if a[1] == a[3]]
    assert all(x1 > x2 for x1, _, x2, _ in right) and look.current == 0
    assert [lb.text for lb in look.labels[:2]] == ["⋯4", "later"]
    assert look.labels[0].x == look.width - 40  # the elided steps are on the right


def test_the_painter_paints_the_look_exactly_in_either_colouring():
    _, look = graph_look(_window(t=1, T=3, nodes=4), "h")  # steps 0..1: nothing elided
    assert look.current == 1 and len(look.boxes) == 2
    (x0, y0, w, h), (x1, _, _, _) = look.boxes
    rect = lambda x: f"<rect x='{x}' y='{y0}' width='{w}' height='{h}' rx='5'/>"  # noqa: E731
    circle = lambda c: f"<circle cx='{c[0]:g}' cy='{c[1]}' r='{c[2]}'/>"  # noqa: E731
    arrows = "".join(f"<line x1='{a:g}' y1='{b:g}' x2='{c:g}' y2='{d:g}'/>" for a, b, c, d in look.arrows)
    fg = "".join(f"<text x='{lb.x:g}' y='{lb.y}'>{lb.text}</text>" for lb in look.labels if lb.colour == "fg")
    muted = "".join(f"<text x='{lb.x:g}' y='{lb.y}'>{lb.text}</text>" for lb in look.labels if lb.colour != "fg")
    expected = (f"<svg xmlns='http://www.w3.org/2000/svg' width='{look.width}' height='{look.height}' role='img' "
                f"aria-label='{look.aria}' style='font:11px monospace;fill:{LIGHT['fg']}'>"
                "<defs><marker id='tr-arr' viewBox='0 0 6 6' refX='6' refY='3' markerWidth='6' markerHeight='6' "
                f"orient='auto'><path d='M0,0 L6,3 L0,6 z' style='fill:{LIGHT['fg-muted']}'/></marker></defs>"
                f"<g style='fill:{LIGHT['bg-alt']};stroke:{LIGHT['border']}'>"
                f"{rect(x0)}{circle(look.circles[0])}{circle(look.circles[1])}</g>"  # the current box is drawn apart
                f"<g style='fill:{LIGHT['bg']};stroke:{LIGHT['mark']};stroke-width:2'>{rect(x1)}</g>"
                f"<g style='stroke:{LIGHT['fg-muted']};marker-end:url(#tr-arr)'>{arrows}</g>"
                f"<g style='fill:{LIGHT['fg']}'>{fg}</g><g style='fill:{LIGHT['fg-muted']}'>{muted}</g></svg>")
    assert graph_svg(look) == expected
    assert paint(look) == (expected, look.width, look.height)
    live = graph_svg(look, paint=palette.theme_var)
    for name in ("fg", "fg-muted", "bg-alt", "border", "bg", "mark"):
        expected = expected.replace(f":{LIGHT[name]}", f":{palette.theme_var(name)}")
    assert live == expected


def test_the_live_panel_writes_the_same_look():
    g = _window()
    html, (caption, look) = graph_panel(g, "<h>")
    assert graph_svg(look, paint=palette.theme_var) in html  # the screen's graph is the Look's painting
    assert "&lt;h&gt;" in html and "<h>" in caption.rows[0].text  # the state name escaped in HTML, plain in the Look
