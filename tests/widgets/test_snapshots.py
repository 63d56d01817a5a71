"""Deterministic reprs and static HTML snapshots; user text is always escaped."""
import re

import pytest
import torch
from torch import nn

import tr_widgets
from tr_widgets.widgets import BarsCanvas, MatrixCanvas, set_widget_view, show

EVIL = ["<script>alert(1)</script>", "<b>mat</b>", "&amp;", "ok"]
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _attention():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, 4, 8, generator=g) for _ in range(3))
    return tr_widgets.trace_attention(q, k, v, is_causal=True, tokens=EVIL)


def _recurrent():
    torch.manual_seed(0)
    return tr_widgets.trace_recurrent(nn.GRU(3, 4), torch.randn(6, 1, 3))


@pytest.mark.parametrize("make", [_attention, _recurrent])
def test_repr_and_snapshot_are_deterministic(make):
    trace = make()
    a, b = show(trace, progress=False, step=2), show(trace, progress=False, step=2)
    assert repr(a) == repr(b) and not re.search(r"0x[0-9a-f]{6,}", repr(a))
    ba, bb = a._repr_mimebundle_(), b._repr_mimebundle_()
    assert set(ba) == {"text/plain", "text/html"}  # no widget front end here (as under nbconvert)
    set_widget_view(True)
    try:
        assert set(a._repr_mimebundle_()) == {"text/plain", "text/html", WIDGET_MIME}
    finally:
        set_widget_view(None)
    assert ba["text/html"] == bb["text/html"] and ba["text/plain"] == repr(a)
    assert "data:image/png;base64," in ba["text/html"] and "<svg" in ba["text/html"]
    b.step = 3
    assert b._repr_mimebundle_()["text/html"] != ba["text/html"]  # the snapshot follows the step


def test_child_widgets_have_deterministic_reprs():
    s = show(_attention(), progress=False)
    for w in (s.weights, s.stages, s.terms, s.controller):
        assert not re.search(r"0x[0-9a-f]{6,}", repr(w)), repr(w)
        assert w._repr_mimebundle_()["text/plain"] == repr(w)
    assert repr(MatrixCanvas(title="m")) == repr(MatrixCanvas(title="m"))
    assert repr(BarsCanvas(title="b")) == repr(BarsCanvas(title="b"))


def test_token_text_is_escaped_everywhere():
    s = show(_attention(), progress=False, step=3)
    html = s._repr_mimebundle_()["text/html"]
    assert "<script>" not in html and "<b>mat</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;b&gt;mat&lt;/b&gt;" in html
    assert "&amp;amp;" in html  # '&amp;' as a token is shown literally
    for live in (s.controller.caption.value, s.output.value):
        assert "<script>" not in live and "<b>mat</b>" not in live
    # Labels reach the canvas as plain strings; matrix.js sets them with textContent only.
    # Whole (the canvas elides what it shows and keeps the full text for the hover title).
    assert s.weights.col_labels == EVIL


def test_snapshot_marks_the_current_step():
    s = show(_recurrent(), progress=False, step=4)
    html = s._repr_mimebundle_()["text/html"]
    assert "data-tr-step='4'" in html and "t=4 (0–5)" in html and ">h4<" in html
    assert "σ" in html and "⊙" in html  # the equations, readable without MathJax
