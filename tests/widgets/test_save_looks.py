"""Issue 21: every HTML panel (the equations and o_i tables, the graph, the notices) carries its Looks, so ``save()``
paints them and reads no HTML back, also after frames set a panel's value."""
import html
import re
import xml.etree.ElementTree as ET

import ipywidgets
import pytest
import torch

import tr_widgets
from tr_widgets.widgets import save, show
from tr_widgets.widgets.save import view_svg
from tr_widgets.widgets.panels.html import LOOKS_KEPT

TOKENS = ["<s>", "the", "cat", "sat", "on"]


def _cells(markup: str) -> list[str]:
    """The text of every table cell of our HTML, subscripts written ``_x`` (the test's own reading of the HTML)."""
    cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", markup, flags=re.S)
    cells = [re.sub(r"<sub>(.*?)</sub>", r"_\1", c) for c in cells]
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells]


@pytest.fixture
def no_reader(monkeypatch):
    """save() paints every HTML panel from its Looks: it fails here if it meets one on screen that has none."""
    real = save.panel_block

    def painted(widget, theme):
        if isinstance(widget, ipywidgets.HTML) and widget.value and not widget.layout.display == "none":
            assert widget.looks, f"save() met an HTML panel without Looks: {widget.value[:80]}"
        return real(widget, theme)

    monkeypatch.setattr(save, "panel_block", painted)


def _svg_text(stepper) -> str:
    return " ".join(" ".join(ET.fromstring(view_svg(stepper)).itertext()).split())


def test_a_saved_recurrent_step_paints_its_equations_from_their_look(no_reader):
    torch.manual_seed(0)
    cell = torch.nn.LSTM(4, 6)
    rec = show(tr_widgets.trace_recurrent(cell, torch.randn(5, 1, 4)), progress=False, equations=True)
    rec.step = 3
    text = _svg_text(rec)  # save() draws the step again: each panel holds the Looks of what it shows
    assert rec.equations.looks  # shown from Looks, so save() paints them
    cells = [c for c in _cells(rec.equations.value) if c]
    assert len(cells) > 4 * 6  # four LSTM gate equations (and c, h) with six units' arithmetic each
    for c in cells:
        assert " ".join(c.split()) in text, c
    rec.step = 1  # the Looks follow the step shown
    assert _svg_text(rec) != text and all(" ".join(c.split()) in _svg_text(rec)
                                          for c in _cells(rec.equations.value) if c)


def test_a_saved_gradient_step_paints_its_equations_from_their_look(no_reader):
    torch.manual_seed(0)
    g = show(tr_widgets.trace_gradients(torch.nn.GRU(3, 4), torch.randn(6, 1, 3),
                                       lambda out: out[0][-1].sum()), progress=False)
    fold = next(c for c in g.children if isinstance(c, ipywidgets.Accordion))
    fold.selected_index = next(i for i, c in enumerate(fold.children) if c is g.table)
    g.step = 2
    text = _svg_text(g)
    assert g.table.looks
    for c in _cells(g.table.value):
        assert " ".join(c.split()) in text, c


def test_a_saved_attention_row_paints_the_o_i_table_from_its_look(no_reader):
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 1, 2, len(TOKENS), 8).unbind(0)  # each [B=1, heads=2, T=5, E=8]
    at = show(tr_widgets.trace_attention(q, k, v, is_causal=True, tokens=TOKENS), progress=False)
    fold = next(c for c in at.children if isinstance(c, ipywidgets.Accordion))
    fold.selected_index = 0  # o_i's table open
    at.step = 3
    text = _svg_text(at)
    assert at.output.looks
    for c in _cells(at.output.value):
        assert " ".join(c.split()) in text, c
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)[0, 0, 3]  # torch's own o_3
    assert " ".join(f"{x:+.4f}" for x in ref[:4].tolist()) in text
    assert text.count("✓") == 2  # the weights sum to 1; o_i matches torch's SDPA


def test_a_saved_decode_tick_paints_its_text_strip_and_candidates_from_their_looks(no_reader):
    model, tok = tr_widgets.load_tiny()
    dt = tr_widgets.decode(model, "the cat", 4, tokenizer=tok)
    d = show(dt, progress=False)
    fold = next(c for c in d.children if isinstance(c, ipywidgets.Accordion))
    fold.selected_index = 0  # the strip open
    d.step = 2
    text = _svg_text(d)
    assert d.text.looks and d.strip.looks
    tick = dt.ticks[2]
    for token, p in zip(tick.topk_tokens, tick.topk_probs):  # the candidates, each with its p
        assert f"{p:.3f}" in text and " ".join(token.split()) in text
    box_text = re.findall(r"<div style='font:10px monospace'>(.*?)</div>", d.strip.value)  # "position · weight"
    assert box_text and all(html.unescape(s) in text for s in box_text)


def test_the_notes_panel_paints_its_look(no_reader):
    from tr_widgets.engine.attention.build import make_trace
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 1, 1, 3, 4).unbind(0)  # each [B=1, heads=1, T=3, E=4]
    note = "dropout (p=0.1) is not replayed <here>"
    at = show(make_trace(q, k, v, None, False, None, notes=(note,)), progress=False)
    assert any(getattr(p, "looks", ()) and "tr-notes" in p.value for p in at.panels)
    assert "• " + note in _svg_text(at)


def test_a_panel_set_by_a_frame_is_saved_from_the_looks_of_that_step(no_reader):
    torch.manual_seed(0)
    rec = show(tr_widgets.trace_recurrent(torch.nn.GRU(2, 3), torch.randn(6, 1, 2)), progress=False, equations=True)
    assert rec.frames_mode == "browser"
    fold = next(c for c in rec.children if isinstance(c, ipywidgets.Accordion))
    fold.selected_index = next(i for i, c in enumerate(fold.children) if c is rec.graph)  # the graph open
    rec.step = 4
    for i in range(LOOKS_KEPT):  # as if the panel had been drawn for many other steps since: older Looks dropped
        rec.graph.show(f"<b>another step {i}</b>", ())
    rec.step = 2  # the page applies the frame; Python follows from the recorded frame, without drawing
    assert rec.graph.looks == ()  # the value came from a frame: no Looks kept for it
    text = _svg_text(rec)  # save() draws the step again: the Looks of what is on screen
    caption, graph = rec.graph.looks
    assert graph.current == 2 and "h2" in text and "0–2 of 0–5" in text


def test_a_notice_panel_is_saved_from_its_look():
    from tr_widgets.widgets.panels import HTMLPanel
    note = HTMLPanel.notice("no scaled_dot_product_attention <ran>", "bad", True)
    assert note.looks[0].rows[0].text in note.value.replace("&lt;", "<").replace("&gt;", ">")
    assert save.panel_block(note, {}).body.count("<text") == 1
