"""Keep it: a stepper's current view as one SVG, or a PNG rasterised from that SVG (``Stepper.save``).

The picture is composed the way the screen lays the stepper out: the controls' state line on top, then
each panel, the children of a VBox stacked, those of an HBox side by side, of a fold its headers and the open
section. Every panel is painted by the one SVG painter (``views.svg``) from its Look: a canvas's
(``snapshot_svg()``), or the ``looks`` an HTML panel keeps (text, tables, line charts, the graph, notices: the
equations, o_i, decode text and strip, notes; ``widgets.panel_looks``), the caption's too. Nothing is read back
from HTML: the stepper draws its current step again first (``redraw``), so each panel holds the Looks of what it
shows, whichever frame set it. Everything comes from the widgets' traits and the trace, so the file shows the
same step, selection and numbers as the screen, and no network or browser is needed.
The PNG is ``vl_convert.svg_to_png`` of the SVG (``pip install vl-convert-python``; optional: about
80 MB installed, needed only for PNG from Python: ``.svg`` and the browser's "save picture" need nothing).
"""
from __future__ import annotations

import pathlib
from dataclasses import dataclass

import ipywidgets as w

from ..engine.errors import describe, fail
from ..views.image import MONO
from ..views.looks_text import ROW_PX, TEXT_PX, TextRow, text_look
from ..views.palette import light_theme
from ..views.svg import paint, text_svg
from .page import save_page
from .panels import HTMLPanel  # noqa: F401  (examples)

FONT = MONO  # with CJK glyphs: the PNG rasteriser finds them in WenQuanYi Micro Hei
SIZE, ROW = TEXT_PX, ROW_PX  # font px, text row px (the text Looks')
GAP, PAD = 12, 8  # between panels; around the picture
SUFFIXES = (".svg", ".png")


@dataclass
class Block:
    """An SVG fragment drawn from the origin, and its size in px. Example: ``Block("<rect/>", 10, 5).w == 10``"""

    body: str
    w: float
    h: float


def stack(blocks: list[Block], across: bool, gap: float = GAP) -> Block:
    """Blocks side by side (``across``, an HBox) or one under the other (a VBox).

    Example: ``stack([Block("", 10, 5), Block("", 20, 5)], across=True).w == 10 + GAP + 20``
    """
    blocks = [b for b in blocks if b.w > 0 and b.h > 0]
    parts, at = [], 0.0
    for b in blocks:
        x, y = (at, 0.0) if across else (0.0, at)
        parts.append(f"<g transform='translate({x:g},{y:g})'>{b.body}</g>")
        at += (b.w if across else b.h) + gap
    if not blocks:
        return Block("", 0, 0)
    size = at - gap
    other = max((b.h if across else b.w) for b in blocks)
    return Block("".join(parts), size if across else other, other if across else size)


def lines_block(lines: list[tuple[str, bool]]) -> Block:
    """Text rows, ``(text, bold)`` each, painted from their Look. Example: ``lines_block([("t=3 (0–4)", True)]).h == ROW``"""
    return Block(*text_svg(text_look([TextRow(s, b) for s, b in lines])))


def panel_block(widget, theme: dict) -> Block:
    """One widget of the stepper's tree as a Block: a canvas's own SVG, a panel's Looks, boxes stacked (a
    widget with no Look, e.g. a selector, takes no room).

    Example: ``panel_block(w.HBox([HTMLPanel.notice("a"), HTMLPanel.notice("b")]), light_theme()).h == ROW``
    """
    layout = getattr(widget, "layout", None)
    if layout is not None and (layout.display == "none" or layout.visibility == "hidden"):
        return Block("", 0, 0)
    if isinstance(widget, w.Accordion):  # each section's header line; the open one's body under it
        parts = []
        for i, child in enumerate(widget.children):
            is_open = widget.selected_index == i
            title = widget.get_title(i) if hasattr(widget, "get_title") else (widget.titles or [""] * (i + 1))[i]
            parts.append(lines_block([(f"{'▾' if is_open else '▸'} {title or ''}", True)]))
            if is_open:
                parts.append(panel_block(child, theme))
        return stack(parts, across=False, gap=4)
    if hasattr(widget, "snapshot_svg"):
        return Block(*widget.snapshot_svg())
    if getattr(widget, "looks", ()):  # a panel that keeps its Looks: painted, never read back from its HTML
        return stack([Block(*paint(look)) for look in widget.looks], across=False, gap=4)
    if isinstance(widget, w.Box):
        return stack([panel_block(c, theme) for c in widget.children], across=isinstance(widget, w.HBox))
    return Block("", 0, 0)


def view_svg(stepper) -> str:
    """The stepper's current view as one SVG document (light theme; what ``save("x.svg")`` writes).

    Example: ``view_svg(show(trace)).startswith("<svg xmlns=")``  # one SVG document
    """
    theme = light_theme()
    stepper.redraw()  # each panel's Looks are those of what it shows, whichever frame set its value
    c = stepper.controller
    head = lines_block([(f"{type(stepper).__name__} · {c.describe()}", True)])
    parts = [stack([head, panel_block(c.caption, theme)], across=False, gap=2)]  # the caption's Look
    parts += [panel_block(p, theme) for p in stepper.children if p is not c]
    body = stack(parts, across=False)
    wd, ht = int(body.w + 2 * PAD + 0.999), int(body.h + 2 * PAD + 0.999)
    return (f"<svg xmlns='http://www.w3.org/2000/svg' xmlns:xlink='http://www.w3.org/1999/xlink' width='{wd}' "
            f"height='{ht}' viewBox='0 0 {wd} {ht}' font-family='{FONT}' font-size='{SIZE}'>"
            f"<rect width='100%' height='100%' fill='{theme['bg']}'/>"
            f"<g transform='translate({PAD},{PAD})'>{body.body}</g></svg>")


def save_view(stepper, path, scale: float = 1.0) -> pathlib.Path:
    """Write the stepper's current view to ``path``: ".svg" (vector) or ".png" (the SVG rasterised at ``scale``).

    Example::

        save_view(show(trace), "attention.png", scale=2)   # what w.save("attention.png", scale=2) does
    """
    if not isinstance(path, (str, pathlib.PurePath)):
        fail("save(path)", 'a file name ending in ".svg" or ".png"', describe(path), 'pass e.g. w.save("view.png")')
    p = pathlib.Path(path)
    suffix = p.suffix.lower()
    if suffix == ".html":  # the stepper itself, stepping offline (widgets/page.py)
        return save_page(stepper, p)
    if suffix not in SUFFIXES:
        fail("save(path)", 'a file name ending in ".svg" or ".png"', f"{str(path)!r} (suffix {p.suffix or 'none'!r})",
             f'pass e.g. w.save("{p.stem or "view"}.png") or w.save("{p.stem or "view"}.svg")')
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= 8:
        fail("save(scale=...)", "a number in (0, 8] (pixels per SVG px in the PNG)", describe(scale), "pass scale=2")
    svg = view_svg(stepper)
    if suffix == ".svg":
        p.write_text(svg, encoding="utf-8")
        return p
    try:
        import vl_convert
    except ImportError:
        fail("save(path)", "the package vl-convert-python to write a PNG", "it is not installed",
             'pip install vl-convert-python (or save as ".svg", or use the stepper\'s "save picture" button)')
    p.write_bytes(vl_convert.svg_to_png(svg, scale=float(scale)))
    return p
