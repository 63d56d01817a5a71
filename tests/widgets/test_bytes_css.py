"""The stylesheet crosses to the browser compact, and not with the caption (issue 21: bytes to open no worse).

Every anywidget sends its ``_css`` when its comm opens; a stepper opens four or five of them. tr.css grew with
the host-proof styles (issue 25), so the widgets send it without comments and spare spaces (``esm.stylesheet``),
and the caption, which lives inside the controller whose clock brings tr.css, sends none.
"""
import re

import torch

import tr_widgets
from tr_widgets.widgets import esm, show
from tr_widgets.widgets.frames import export_html
from tr_widgets.widgets.panels import BarsCanvas

SOURCE = (esm.STATIC / "tr.css").read_text(encoding="utf-8")
COMMENT = re.compile(r"/\*.*?\*/", re.S)


def _selectors(css: str) -> list[str]:
    """Each rule's selector with its spaces as a compact writer may leave them (none around "," and ">")."""
    return [re.sub(r"\s*([,>])\s*", r"\1", " ".join(rule.split("{")[0].split()))
            for rule in COMMENT.sub("", css).split("}") if "{" in rule]


def test_stylesheet_is_tr_css_less_comments_and_spaces():
    css = esm.stylesheet()
    assert "/*" not in css and len(css) < len(SOURCE)
    # every character but spaces, comments and a rule's last ";" is kept, in order
    assert "".join(css.split()) == "".join(COMMENT.sub("", SOURCE).split()).replace(";}", "}")
    # a space that is a descendant combinator stays (".tr-clock :is(button)" is not ".tr-clock:is(button)")
    assert _selectors(css) == _selectors(SOURCE)
    # several lines: anywidget reads a one-line _css ending like "name.ext" as a file path
    assert css.count("\n") == css.count("}")


def _anywidgets(s):
    """Every anywidget of a stepper's widget tree."""
    out, todo = [], [s]
    while todo:
        w = todo.pop()
        todo += list(getattr(w, "children", ()))
        if hasattr(w, "_anywidget_id"):
            out.append(w)
    return out


def test_a_stepper_sends_the_compact_stylesheet_once_per_panel_and_none_with_the_caption():
    torch.manual_seed(0)
    rnn = tr_widgets.trace_recurrent(torch.nn.LSTM(3, 4), torch.randn(5, 1, 3))
    s = show(rnn, progress=False)
    clock, caption = s.controller.clock, s.controller.caption
    assert clock._css == esm.stylesheet()
    assert not caption.has_trait("_css")  # nothing to send: the clock's stylesheet styles the caption too
    bars = [w for w in _anywidgets(s) if isinstance(w, BarsCanvas)]
    assert bars and all(b._css == esm.stylesheet() for b in bars)


def test_an_exported_page_embeds_the_compact_stylesheet():
    page = export_html("<p>t</p>", {"n_steps": 1}, b"\0")
    assert f"<style>{esm.stylesheet()}</style>" in page and "/*" not in page.split("<style>")[1].split("</style>")[0]
