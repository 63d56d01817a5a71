"""The LoopStepper (issue 22) in a real JupyterLab 4 (Dark theme) and in an nbconvert export opened offline.

Only what a browser alone can show: a d2l-style scratch RNN, defined in the notebook and recorded by capture,
renders without a widget or script error and loads nothing from outside 127.0.0.1; its canvases draw on the
Dark theme's background (no white canvas) and every text reaches 4.5:1; the keys step it (the kernel's step
follows) and the code panel shows the values Python computes for that step; the exported page steps by
click and by key with every non-file request aborted. The rest is tested through traits and views
(tests/widgets/test_loop_stepper.py).
"""
from __future__ import annotations

import re

import pytest

import stepper_cells as cells
from browser_harness import VIEW_STATE_JS, assert_clean, cell_output, dark_notebook, drawn, kernel_eval
from stepper_checks import export_steps_to_2, offline_page, step_by_keys
from test_browser_theme import CONTRAST_JS, WHITE_JS

pytestmark = pytest.mark.browser
SETUP = "import torch, tr_widgets\nfrom tr_widgets.views.loop import step_view\ntorch.manual_seed(0)"
LAST = 7  # T = 8


def source_text(root) -> str:
    return root.eval_on_selector(".tr-loop-source", "e => e.textContent")


@pytest.fixture(scope="module")
def dark_lab(browser_page, jupyter, notebook_dir):
    yield from dark_notebook(browser_page, jupyter, notebook_dir / "loop_lab.ipynb", [SETUP, cells.LOOP])


def test_loop_stepper_draws_in_dark_and_steps_by_key(dark_lab, artifacts):
    page, out = dark_lab, cell_output(dark_lab, 1)
    root = out.element_handle()
    before = out.evaluate(VIEW_STATE_JS)
    out.screenshot(path=str(artifacts / "loop_dark.png"))
    assert_clean(page, "loop")
    assert drawn(before) and len(before["canvases"]) >= 2, before["canvases"]
    assert "t = 0 (0–7)" in before["text"] and "state = torch.tanh" in before["text"]
    assert not [c for c in out.evaluate(WHITE_JS) if c["white"] > 0.3], "a white canvas in JupyterLab Dark"
    contrast = out.evaluate(CONTRAST_JS)
    assert contrast["checked"] > 5 and not contrast["low"], contrast["low"]
    step_by_keys(page, out, root, LAST, "loop")
    want = kernel_eval(page, f"dict(step_view(loop.trace, {LAST - 1}).rows[-2].shown)['state']").strip().strip("'")
    assert want.startswith("[") and f"state = {want}" in source_text(root), (want, source_text(root))
    assert_clean(page, "loop after the keys")


@pytest.fixture(scope="module")
def offline(chromium, tmp_path_factory):
    yield from offline_page(chromium, tmp_path_factory, "loop_export")


def test_an_nbconvert_export_of_a_loop_steps_offline(offline):
    import torch

    import tr_widgets
    from tests.loops.test_op_loops import LSTMScratch
    from tr_widgets.views.loop import step_view

    page, folder = offline
    torch.manual_seed(0)
    model = LSTMScratch(3, 4)
    with tr_widgets.capture(model) as rec:
        model(torch.randn(6, 1, 3))
    s = tr_widgets.show(rec.traces[0][1], progress=False)
    path = folder / "loop.html"
    live = export_steps_to_2(page, s, path)
    line = next(r for r in step_view(s.trace, 2).rows if r.number == s.trace.line_of("C"))
    assert f"C = {dict(line.shown)['C']}" in source_text(live)  # the values Python computes for step 2
    assert re.search(r"t = 2 \(0–5\)", live.evaluate("e => e.textContent"))
    assert all(u.startswith(("http", "https")) for u in page.trw_blocked)  # only the template's own CDN tags
