"""One stepper as a file (issue 25): ``w.save("view.html")`` writes one self-contained page (the browser test
tests/browser/test_browser_page.py steps it offline). Here: what the file holds, checked against the stepper's
own exported output."""
import re

import pytest
import torch

import tr_widgets
from tr_widgets.engine.errors import TraceInputError


@pytest.fixture(scope="module")
def at():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 1, 1, 6, 4).unbind(0)
    return tr_widgets.trace_attention(q, k, v, is_causal=True)


def test_view_html_is_the_steppers_export_in_one_document(at, tmp_path):
    w = tr_widgets.show(at)
    w.step = 3
    path = w.save(tmp_path / "view.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<meta charset='utf-8'>" in page
    assert w.export_html() in page  # the same snapshot, frames and player JS as an exported notebook
    assert "data-tr-frames='1'" in page and '"step": 3' in page
    # nothing to fetch: no src/href to another resource, the JS is imported from data: URLs
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)


def test_over_the_budget_the_file_says_so_and_how_to_fit(at, tmp_path):
    page = tr_widgets.show(at, frames=0).save(tmp_path / "over.html").read_text(encoding="utf-8")
    assert "tr-frames-notice" in page and "data-tr-frames" not in page
    assert "window=" in page and "set_frame_budget" in page


def test_an_unwritable_path_gets_one_clear_message(at, tmp_path):
    with pytest.raises(TraceInputError, match="can be written"):
        tr_widgets.show(at).save(tmp_path / "missing" / "view.html")
