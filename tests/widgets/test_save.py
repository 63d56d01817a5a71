"""Keep it (issue 13): ``Stepper.save`` writes the current view as SVG or PNG, offline, same content as on screen."""
import struct
import sys
import xml.etree.ElementTree as ET

import pytest
import torch

import tr_widgets
from tr_widgets import TraceInputError
from tr_widgets.widgets import show
from tr_widgets.widgets.save import html_block, resolve_vars, view_svg
from tr_widgets.views.palette import light_theme

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
    rec = show(tr_widgets.trace_recurrent(torch.nn.LSTM(4, 6), torch.randn(5, 1, 4)), progress=False)
    rec.step = 3
    text = _text(view_svg(rec))
    assert "t=3 (0–4)" in text and "unit 0" in text and "h3" in text  # state line, table, graph nodes


def test_html_panels_become_text_rows_tables_and_embedded_svg():
    theme = light_theme()
    b = html_block("<div style='font-weight:600'>title</div><table><tr><th>a</th><th>b</th></tr>"
                   "<tr><td>x &lt;s&gt;</td><td>1.5</td></tr></table><details><summary>more</summary>hidden</details>"
                   "<svg xmlns='http://www.w3.org/2000/svg' width='40' height='20'><rect width='4' height='4' "
                   "style='fill:var(--jp-a, var(--vscode-b, #123456))'/></svg>", theme)
    svg = ET.fromstring(f"<svg xmlns='http://www.w3.org/2000/svg'>{b.body}</svg>")
    text = " ".join(svg.itertext())
    assert "title" in text and "x <s>" in text and "1.5" in text and "more" in text and "hidden" not in text
    assert "#123456" in b.body and "var(" not in b.body and b.w >= 40
    assert resolve_vars("stroke:var(--x)") == "stroke:currentColor"
