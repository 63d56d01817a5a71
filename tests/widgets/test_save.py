"""Keep it (issue 13): ``Stepper.save`` writes the current view as SVG or PNG, offline, same content as on screen."""
import re
import struct
import sys
import xml.etree.ElementTree as ET

import ipywidgets
import numpy as np
import pytest
import torch

import tr_widgets
from tr_widgets import TraceInputError
from tr_widgets.widgets import show
from tr_widgets.widgets import save
from tr_widgets.widgets.save import view_svg
from tr_widgets.views.looks_graph import GraphLook
from tr_widgets.views.svg import graph_svg
from tr_widgets.engine.state import trace_state
from tr_widgets.views.image import text_px

TOKENS = ["<s>", "the", "cat", "sat", "on"]


@pytest.fixture(scope="module")
def att():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 1, 2, len(TOKENS), 8).unbind(0)  # each [B=1, heads=2, T=5, E=8]
    return show(tr_widgets.trace_attention(q, k, v, is_causal=True, tokens=TOKENS), progress=False)


def _text(svg: str) -> str:
    return " ".join(ET.fromstring(svg).itertext())


def test_svg_parses_and_shows_the_step_the_selection_and_the_numbers(att, tmp_path):
    att.step = 2
    att.select(head=1)
    fold = next(c for c in att.children if isinstance(c, ipywidgets.Accordion))
    fold.selected_index = 0  # o_i's table open, as a reader opens it
    path = att.save(tmp_path / "view.svg")
    assert path == tmp_path / "view.svg"
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg") and float(root.get("width")) > 100 and float(root.get("height")) > 100
    text = " ".join(root.itertext())
    assert "query=2 (0–4), head=1" in text and "cat" in text and "<s>" in text  # token text, escaped in the file
    caption = "".join(ET.fromstring(f"<p>{att.controller.caption.value}</p>").itertext())
    assert " ".join(caption.split()) in " ".join(text.split())  # the caption, word for word
    out = att.trace.output[0, 1, 2]  # o_i of this query and head: the numbers of the output table
    assert f"{out[0].item():+.4f}" in text
    att.step = 3
    later = _text(view_svg(att))
    assert "query=3 (0–4), head=1" in later and "sat" in later and later != text
    att.select(head=0)
    fold.selected_index = None


def test_png_has_the_signature_and_the_svg_size(att, tmp_path):
    pytest.importorskip("vl_convert")
    att.step = 1
    svg = ET.fromstring(view_svg(att))
    png = att.save(str(tmp_path / "view.png")).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (int(svg.get("width")), int(svg.get("height")))
    big = att.save(tmp_path / "big.png", scale=2).read_bytes()
    assert struct.unpack(">II", big[16:24]) == (2 * int(svg.get("width")), 2 * int(svg.get("height")))


@pytest.mark.parametrize("bad", ["view.jpg", "view", "view.svg.gz", 3])
def test_an_unknown_suffix_is_one_clear_error(att, tmp_path, bad):
    with pytest.raises(TraceInputError) as e:
        att.save(tmp_path / bad if isinstance(bad, str) else bad)
    msg = str(e.value)
    assert msg.startswith("save(path): expected") and ".svg" in msg and ".png" in msg and "got" in msg and "Fix:" in msg


def test_a_bad_scale_is_one_clear_error(att, tmp_path):
    with pytest.raises(TraceInputError, match=r"save\(scale=\.\.\.\): expected a number in \(0, 8\]"):
        att.save(tmp_path / "v.png", scale=0)


def test_without_vl_convert_png_names_the_fix(att, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "vl_convert", None)  # import fails as if it were not installed
    with pytest.raises(TraceInputError, match="pip install vl-convert-python"):
        att.save(tmp_path / "v.png")
    assert att.save(tmp_path / "v.svg").exists()  # SVG needs nothing


def test_the_recurrent_stepper_saves_its_equations_table_and_graph(tmp_path):
    torch.manual_seed(0)
    rec = show(tr_widgets.trace_recurrent(torch.nn.LSTM(4, 6), torch.randn(5, 1, 4)), progress=False,
               equations=True)  # the equations table open (folded by default)
    rec.step = 3
    text = _text(view_svg(rec))
    assert "t=3 (0–4)" in text and "unit 0" in text and "h3" not in text  # state line, table; the graph is closed
    acc = next(c for c in rec.children if isinstance(c, ipywidgets.Accordion))
    acc.selected_index = 1  # as on screen: the open section shows, the others only their header
    text = _text(view_svg(rec))
    assert "h3" in text and "unit 0" not in text and "▸ torch's equations" in text and "▾ the unrolled" in text
    caption, graph = rec.graph.looks  # the graph's Look, painted by the one painter, as the screen's is
    assert isinstance(graph, GraphLook) and len(graph.boxes) == 4 and graph.current == 3
    assert graph_svg(graph) in view_svg(rec) and caption.rows[0].text in text


def test_save_reads_no_html_back():
    """Every panel is painted from its Look: the module holds no HTML parser and no pattern over markup."""
    import inspect
    source = inspect.getsource(save)
    for reader in ("HTMLParser", "html.parser", "import re", "ElementTree", "html_block", "fromstring"):
        assert reader not in source, reader


# ---- every stepper kind: well formed, nothing overlapping or cut, in the stepper's language -------------

SVG = "{http://www.w3.org/2000/svg}"


def _matrix(transform: str) -> np.ndarray:
    """An SVG transform list (translate, rotate, matrix) as a 3 x 3 affine matrix."""
    out = np.eye(3)
    for name, args in re.findall(r"(\w+)\s*\(([^)]*)\)", transform or ""):
        v = [float(a) for a in re.split(r"[\s,]+", args.strip()) if a]
        if name == "translate":
            m = np.array([[1, 0, v[0]], [0, 1, v[1] if len(v) > 1 else 0], [0, 0, 1]])
        elif name == "rotate":
            a = np.radians(v[0])
            m = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        elif name == "matrix":
            m = np.array([[v[0], v[2], v[4]], [v[1], v[3], v[5]], [0, 0, 1]])
        else:
            raise AssertionError(f"transform {name} not handled by the test")
        out = out @ m
    return out


def text_boxes(svg: str) -> tuple[list, float, float]:
    """Each <text>'s estimated box (x0, y0, x1, y1, text) in the picture's px: ``text_px`` wide, from
    0.8 em above the baseline to 0.25 em below; sizes and transforms inherited. And the SVG's size."""
    root = ET.fromstring(svg)
    boxes = []

    def walk(el, m, size):
        size = float(el.get("font-size", size))
        m = m @ _matrix(el.get("transform"))
        if el.tag == SVG + "svg" and el is not root:
            m = m @ _matrix(f"translate({el.get('x', 0)},{el.get('y', 0)})")
        if el.tag == SVG + "text":
            s = "".join(el.itertext())
            if s.strip():
                wd, x, y = text_px(s, size), float(el.get("x", 0)), float(el.get("y", 0))
                x -= {"middle": wd / 2, "end": wd}.get(el.get("text-anchor"), 0)
                corners = m @ np.array([[x, x + wd, x, x + wd], [y - .8 * size, y - .8 * size, y + .25 * size,
                                                                    y + .25 * size], [1, 1, 1, 1]])
                boxes.append((*corners[:2].min(1), *corners[:2].max(1), s))
            return
        for c in el:
            walk(c, m, size)

    walk(root, np.eye(3), 16)
    return [(b[0], b[1], b[2], b[3], b[4]) for b in boxes], float(root.get("width")), float(root.get("height"))


def _steppers():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 1, 2, len(TOKENS), 8).unbind(0)
    yield "attention", show(tr_widgets.trace_attention(q, k, v, is_causal=True, tokens=TOKENS), step=3, progress=False)
    yield "lstm", show(tr_widgets.trace_recurrent(torch.nn.LSTM(1, 10), torch.arange(1., 6).view(5, 1, 1)),
                       step=2, progress=False)
    model, tok = tr_widgets.load_tiny()
    yield "decode", show(tr_widgets.decode(model, "the cat", 4, tokenizer=tok), progress=False)
    yield "gradients", show(tr_widgets.trace_gradients(torch.nn.LSTM(3, 5, num_layers=2), torch.randn(9, 2, 3),
                                                        lambda out: out[0][-1].pow(2).sum()), progress=False)
    g = torch.Generator().manual_seed(1)
    st = trace_state("mamba2", x=torch.randn(2, 5, 3, 2, generator=g), dt=torch.rand(2, 5, 3, generator=g),
                     A=-torch.ones(3), B=torch.randn(2, 5, 1, 4, generator=g), C=torch.randn(2, 5, 1, 4, generator=g),
                     D=torch.rand(3, generator=g))
    yield "state", show(st, progress=False)


@pytest.fixture(scope="module")
def every_kind():
    return dict(_steppers())


@pytest.mark.parametrize("kind", ["attention", "lstm", "decode", "gradients", "state"])
def test_no_text_overlaps_another_or_leaves_the_picture(every_kind, kind):
    svg = view_svg(every_kind[kind])
    boxes, width, height = text_boxes(svg)
    assert len(boxes) > 10
    for x0, y0, x1, y1, s in boxes:
        assert x0 >= -0.5 and x1 <= width + 0.5 and y0 >= -0.5 and y1 <= height + 0.5, (s, x0, x1, width)
    clash = [(a[4], b[4]) for i, a in enumerate(boxes) for b in boxes[i + 1:]
             if min(a[2], b[2]) - max(a[0], b[0]) > 0.5 and min(a[3], b[3]) - max(a[1], b[1]) > 0.5]
    assert not clash, clash[:5]


def test_a_zh_stepper_saves_its_chinese_captions(tmp_path):
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 1, 2, len(TOKENS), 8).unbind(0)
    zh = show(tr_widgets.trace_attention(q, k, v, is_causal=True, tokens=TOKENS), step=2, lang="zh", progress=False)
    svg = view_svg(zh)
    text = _text(svg)
    assert re.search(r"[\u4e00-\u9fff]{2}", text)  # Chinese words
    for canvas in (zh.stages,):
        assert canvas.title in text and canvas.texts["signs"] in text
    boxes, width, _ = text_boxes(svg)
    assert all(b[2] <= width + 0.5 for b in boxes)
    pytest.importorskip("vl_convert")
    png = zh.save(tmp_path / "zh.png").read_bytes()
    root = ET.fromstring(svg)
    assert struct.unpack(">II", png[16:24]) == (int(root.get("width")), int(root.get("height")))
