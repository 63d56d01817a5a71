"""Keep it: a stepper's current view as one SVG, or a PNG rasterised from that SVG (``Stepper.save``).

The picture is composed the way the screen lays the stepper out: the controls' state line on top, then
each panel, the children of a VBox stacked, those of an HBox side by side. Every panel is painted by the one
SVG painter (``views.svg``) from its Look: a canvas's (``snapshot_svg()``), or the ``looks`` an HTML panel keeps
(text, tables, line charts: the equations, o_i, decode text and strip, notes; ``widgets.panel_looks``). What keeps
no Looks yet (the graph, plain notices, a value a frame set whose Looks are no longer kept) is still read back
from its HTML: tags stripped, tables as the table Look, an inline SVG (the graph) embedded as it is. Everything comes from the widgets' traits, so the file
shows the same step, selection and numbers as the screen, and no network or browser is needed.
The PNG is ``vl_convert.svg_to_png`` of the SVG (``pip install vl-convert-python``; optional: about
80 MB installed, needed only for PNG from Python: ``.svg`` and the browser's "save picture" need nothing).
"""
from __future__ import annotations

import base64
import html
import pathlib
import re
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from html.parser import HTMLParser

import ipywidgets as w

from ..engine.errors import describe, fail
from ..views.image import MONO
from ..views.looks_text import ROW_PX, TEXT_PX, TextRow, table_look, text_look
from ..views.palette import light_theme
from ..views.svg import paint, table_svg, text_svg

FONT = MONO  # with CJK glyphs: the PNG rasteriser finds them in WenQuanYi Micro Hei
SIZE, ROW = TEXT_PX, ROW_PX  # font px, text row px (the text Looks')
GAP, PAD = 12, 8  # between panels; around the picture
SUFFIXES = (".svg", ".png")
BLOCKS = {"div", "p", "br", "tr", "li", "ul", "ol", "table", "details", "summary", "section", "h1", "h2", "h3",
          "h4", "figure", "figcaption", "caption"}


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


def table_block(rows: list[list[tuple]]) -> Block:
    """A table (cells ``(text, header[, colspan[, align]])``) painted from its Look. Example: ``table_block([[("w", True)]]).h == ROW``"""
    return Block(*table_svg(table_look(rows)))


def resolve_vars(s: str) -> str:
    """CSS ``var(--a, var(--b, #hex))`` -> ``#hex``: a picture is drawn in the light theme.

    Example: ``resolve_vars("fill:var(--jp-x, var(--vscode-y, #123456))") == "fill:#123456"``
    """
    pattern = re.compile(r"var\(--[\w-]+\s*,\s*([^()]*)\)")
    while True:
        new = pattern.sub(lambda m: m.group(1).strip(), s)
        if new == s:
            return re.sub(r"var\(--[\w-]+\)", "currentColor", s)
        s = new


def svg_block(raw: str) -> Block | None:
    """An inline SVG (the graph) embedded as it is, its theme variables resolved; None if it does not parse.

    Example: ``svg_block("<svg xmlns='http://www.w3.org/2000/svg' width='40' height='20'/>").w == 40``
    """
    raw = resolve_vars(raw)
    try:
        root = ET.fromstring(raw)
    except ET.ParseError:
        return None
    def px(name, default):
        m = re.match(r"[\d.]+", root.get(name, "") or "")
        return float(m.group()) if m else default
    return Block(raw, px("width", 300), px("height", 150))


def png_size(data_uri: str) -> tuple[int, int] | None:
    """(width, height) of a ``data:image/png;base64,`` image, from its IHDR chunk (None if it is not one).

    Example::

        from tr_widgets.views.image import png_data_uri
        png_size(png_data_uri(np.zeros((2, 3, 3), np.uint8))) == (3, 2)
    """
    try:
        head = base64.b64decode(data_uri.split(",", 1)[1][:64] + "==", validate=False)[:24]
        return struct.unpack(">II", head[16:24]) if head[:8] == b"\x89PNG\r\n\x1a\n" else None
    except (ValueError, IndexError, struct.error):
        return None


class _Rows(HTMLParser):
    """HTML -> blocks: text rows, tables, PNG images; a closed <details> shows only its summary."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks, self.lines, self.line = [], [], ""
        self.skip = self.hidden = 0
        self.details: list[bool] = []  # open?, innermost last
        self.bolds: list[str] = []  # the tags that made the text bold
        self.table: list | None = None
        self.cell: list | None = None

    def flush(self):
        if self.line.strip():
            self.lines.append((" ".join(self.line.split()), bool(self.bolds)))
        self.line = ""

    def flush_lines(self):
        self.flush()
        if self.lines:
            self.blocks.append(lines_block(self.lines))
            self.lines = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in BLOCKS and self.table is None:
            self.flush()
        if tag in ("style", "script"):
            self.skip += 1
        elif tag == "details":
            self.details.append("open" in a)
            self.hidden += not self.details[-1]
        elif tag == "summary" and self.details and not self.details[-1]:
            self.hidden -= 1  # a closed <details> shows its summary
        elif tag == "table" and not self.hidden:
            self.flush_lines()
            self.table = []
        elif tag == "tr" and self.table is not None:
            self.table.append([])
        elif tag in ("td", "th") and self.table is not None:
            span = a.get("colspan") or "1"
            aligns = re.findall(r"text-align:\s*(\w+)", a.get("style") or "")
            self.cell = ["", tag == "th", int(span) if span.isdigit() and int(span) > 0 else 1,
                         "end" if aligns and aligns[-1] == "right" else "start"]
        elif tag == "img" and not self.hidden and (a.get("src") or "").startswith("data:image/png"):
            size = png_size(a["src"])
            if size:
                self.flush_lines()
                src = html.escape(a["src"], quote=True)
                self.blocks.append(Block(f"<image width='{size[0]}' height='{size[1]}' href='{src}' "
                                         f"style='image-rendering:pixelated'/>", *size))
        if tag in ("b", "strong") or "font-weight:600" in (a.get("style") or "").replace(" ", ""):
            self.bolds.append(tag)

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self.skip = max(0, self.skip - 1)
        elif tag == "summary" and self.details and not self.details[-1]:
            self.flush()
            self.hidden += 1
        elif tag == "details" and self.details:
            self.hidden -= not self.details.pop()
        elif tag in ("td", "th") and self.cell is not None:
            if self.table:
                self.table[-1].append((" ".join(self.cell[0].split()), *self.cell[1:]))
            self.cell = None
        elif tag == "table" and self.table is not None:
            self.blocks.append(table_block(self.table))
            self.table = None
        if self.bolds and self.bolds[-1] == tag:
            self.flush()
            self.bolds.pop()
        if tag in BLOCKS and self.table is None:
            self.flush()

    def handle_data(self, data):
        if self.skip or self.hidden > 0:
            return
        if self.cell is not None:
            self.cell[0] += data
        elif self.table is None:
            self.line += data


def html_block(value: str, theme: dict) -> Block:
    """Our own panel markup (escaped user text) as SVG: text rows, aligned tables, embedded SVG and PNGs.

    Example: ``html_block("<table><tr><th>a</th></tr><tr><td>1</td></tr></table>", light_theme()).h == 2 * ROW``
    """
    blocks = []
    for i, part in enumerate(re.split(r"(<svg\b.*?</svg>)", value or "", flags=re.S | re.I)):
        if i % 2:
            b = svg_block(part)
            if b is not None:
                blocks.append(b)
                continue
        p = _Rows()
        p.feed(part)
        p.close()
        p.flush_lines()
        blocks += p.blocks
    return stack(blocks, across=False, gap=4)


def panel_block(widget, theme: dict) -> Block:
    """One widget of the stepper's tree as a Block: a canvas's own SVG, HTML as text rows, boxes stacked.

    Example: ``panel_block(w.HBox([w.HTML("a"), w.HTML("b")]), light_theme()).h == ROW``
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
    if getattr(widget, "looks", ()):  # a panel that keeps its Looks: painted, not read back from its HTML
        return stack([Block(*paint(look)) for look in widget.looks], across=False, gap=4)
    if hasattr(widget, "snapshot_html") and not isinstance(widget, w.Box):
        return html_block(widget.snapshot_html(), theme)  # until the panel draws its own SVG
    if isinstance(widget, w.HTML):
        return html_block(widget.value, theme)
    if isinstance(widget, w.Box):
        return stack([panel_block(c, theme) for c in widget.children], across=isinstance(widget, w.HBox))
    return Block("", 0, 0)


def view_svg(stepper) -> str:
    """The stepper's current view as one SVG document (light theme; what ``save("x.svg")`` writes).

    Example: ``ET.fromstring(view_svg(show(trace)))``  # parses as XML
    """
    theme = light_theme()
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
