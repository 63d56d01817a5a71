"""The CompareStepper (issue 24) in a real JupyterLab 4 (Dark theme) and in an nbconvert export opened offline.

Only what a browser alone can show: two LSTM runs whose inputs part at step 3, compared, render without a widget
or script error and load nothing from outside 127.0.0.1; the difference map and the bars draw on the Dark theme's
background (no white canvas) and every text reaches 4.5:1; the keys step both runs on one clock (the kernel's step
follows) and the summary shows the ‖Δ‖ Python computes for that step; the exported page steps by click and by key
with every non-file request aborted. The rest is tested through traits and views
(tests/widgets/test_compare_stepper.py).
"""
from __future__ import annotations

import re

import pytest

import stepper_cells as cells
from browser_harness import VIEW_STATE_JS, assert_clean, cell_output, dark_notebook, drawn, kernel_eval
from stepper_checks import export_steps_to_2, offline_page, step_by_keys
from test_browser_theme import CONTRAST_JS, WHITE_JS

pytestmark = pytest.mark.browser
SETUP = "import torch, tr_widgets\nfrom tr_widgets.views.compare import step_view\nfrom tr_widgets.views.recurrent import fmt\ntorch.manual_seed(0)"
LAST = 7  # T = 8


def summary_text(root) -> str:
    return root.eval_on_selector(".tr-compare-summary", "e => e.textContent")


@pytest.fixture(scope="module")
def dark_lab(browser_page, jupyter, notebook_dir):
    yield from dark_notebook(browser_page, jupyter, notebook_dir / "compare_lab.ipynb", [SETUP, cells.COMPARE])


def test_compare_stepper_draws_in_dark_and_steps_both_runs_by_key(dark_lab, artifacts):
    page, out = dark_lab, cell_output(dark_lab, 1)
    root = out.element_handle()
    before = out.evaluate(VIEW_STATE_JS)
    out.screenshot(path=str(artifacts / "compare_dark.png"))
    assert_clean(page, "compare")
    assert drawn(before) and len(before["canvases"]) >= 2, before["canvases"]
    assert "t = 0 (0–7)" in before["text"] and "the runs part at t = 3" in before["text"]
    assert "<polyline" in root.eval_on_selector(".tr-compare-norms", "e => e.innerHTML")  # ‖Δ‖ over time
    assert not [c for c in out.evaluate(WHITE_JS) if c["white"] > 0.3], "a white canvas in JupyterLab Dark"
    contrast = out.evaluate(CONTRAST_JS)
    assert contrast["checked"] > 5 and not contrast["low"], contrast["low"]
    step_by_keys(page, out, root, LAST, "cmp")
    want = kernel_eval(page, f"fmt(step_view(cmp.trace, None, {LAST - 1}).norm)").strip().strip("'")
    assert f"‖Δ‖ = {want}" in summary_text(root), (want, summary_text(root))
    assert_clean(page, "compare after the keys")


@pytest.fixture(scope="module")
def offline(chromium, tmp_path_factory):
    yield from offline_page(chromium, tmp_path_factory, "compare_export")


def test_an_nbconvert_export_of_a_comparison_steps_offline(offline):
    import torch

    import tr_widgets
    from tr_widgets.engine.whatif.compare import compare
    from tr_widgets.views.compare import step_view
    from tr_widgets.views.recurrent import fmt

    page, folder = offline
    torch.manual_seed(0)
    model, tok = tr_widgets.load_tiny()
    cmp = compare(tr_widgets.decode(model, "The cat", 5, tokenizer=tok), tr_widgets.decode(model, "The dog", 5, tokenizer=tok))
    s = tr_widgets.show(cmp, progress=False)
    path = folder / "compare.html"
    live = export_steps_to_2(page, s, path)
    assert f"‖Δ‖ = {fmt(step_view(cmp, None, 2).norm)}" in summary_text(live)  # what Python computes for tick 2
    tokens = live.eval_on_selector(".tr-compare-tokens", "e => e.textContent")
    assert "dog" in tokens and "cat" in tokens  # the two runs' tokens side by side
    assert re.search(r"tick = 2 \(0–4\)", live.evaluate("e => e.textContent"))
    assert all(u.startswith(("http", "https")) for u in page.trw_blocked)  # only the template's own CDN tags
