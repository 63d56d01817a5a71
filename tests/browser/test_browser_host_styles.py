"""Looks right in every host page (issue 25): an exported stepper inside a page whose stylesheet resets buttons
and stretches tables, as mkdocs material and Sphinx themes do, keeps styled controls, and its wide tables scroll
in their own box instead of running out of the content column.
"""
from __future__ import annotations

import pytest
import torch

import tr_widgets

pytestmark = pytest.mark.browser
COLUMN = 420  # px: a narrow content column, narrower than the LSTM's equation table
# what host themes do to bare elements (material's reset, Sphinx themes' tables), at its most aggressive
HOST_CSS = """
*, *::before, *::after { box-sizing: border-box; }
button, select { all: unset; }
table { width: 100%; display: block; border: 0; font-size: 0.64rem; }
td, th { border: 0; padding: 0.9em 1.2em; }
div { line-height: 2; }
#col { width: COLUMNpx; margin: 0 auto; font: 16px serif; }
""".replace("COLUMN", str(COLUMN))


@pytest.fixture(scope="module")
def host_page(chromium, tmp_path_factory):
    torch.manual_seed(0)
    w = tr_widgets.show(tr_widgets.trace_recurrent(torch.nn.LSTM(3, 10), torch.randn(5, 1, 3)))
    path = tmp_path_factory.mktemp("host") / "host.html"
    path.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{HOST_CSS}</style></head>"
                    f"<body><article id='col'><p>Some prose of the host page.</p>{w.export_html()}</article>"
                    "</body></html>", encoding="utf-8")
    context = chromium.new_context(viewport={"width": 900, "height": 900})
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file://", "data:")) else r.abort())
    page = context.new_page()
    page.goto(path.as_uri())
    page.wait_for_selector(".tr-export[data-tr-mounted='1']", state="attached", timeout=30_000)
    yield page
    context.close()


def test_buttons_keep_a_border_a_background_and_padding(host_page):
    styles = host_page.eval_on_selector_all(".tr-export-live button, .tr-export-live select", """els => els
        .filter(e => e.offsetParent !== null)
        .map(e => { const s = getComputedStyle(e); return {name: e.className, border: s.borderTopStyle,
            width: parseFloat(s.borderTopWidth), bg: s.backgroundColor, pad: parseFloat(s.paddingLeft),
            display: s.display, cursor: s.cursor, off: e.disabled}; })""")
    assert len(styles) >= 4  # previous, play, next, save (and the speed menu)
    for s in styles:
        assert s["border"] != "none" and s["width"] >= 1, s
        assert s["bg"] not in ("rgba(0, 0, 0, 0)", "transparent"), s
        assert s["pad"] >= 2 and s["display"] != "inline", s  # inline: padding and border would not lay out
        assert s["cursor"] == ("default" if s["off"] else "pointer"), s


def test_wide_tables_scroll_in_their_own_box_within_the_column(host_page):
    col = host_page.eval_on_selector("#col", "e => e.getBoundingClientRect().right")
    boxes = host_page.eval_on_selector_all(".tr-export-live .tr-equations", """els => els
        .filter(e => e.offsetParent !== null)
        .map(e => ({right: e.getBoundingClientRect().right, scroll: e.scrollWidth, client: e.clientWidth,
                    table: e.querySelector('table').getBoundingClientRect().width}))""")
    assert boxes, "no equation table shown"
    for b in boxes:
        assert b["right"] <= col + 1, b  # the box stays in the column
        assert b["scroll"] > b["client"] and b["table"] > COLUMN, b  # the table is wider: its box scrolls
    # nothing of the stepper runs past the column (what lies inside a scrolling box is clipped by it)
    past = host_page.eval_on_selector("#col", """(col, right) => [...col.querySelectorAll('.tr-export-live *')]
        .filter(e => e.offsetParent !== null && !e.parentElement.closest('[style*="overflow-x"]'))
        .filter(e => e.getBoundingClientRect().right > right + 1).map(e => e.className || e.tagName)""", col)
    assert not past, past
