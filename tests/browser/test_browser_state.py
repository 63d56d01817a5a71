"""The StateStepper in a real JupyterLab 4, driven in Debian's Chromium.

Only what a browser alone can show: a Mamba mixer's state stepper (a MambaMixer built from a config, no
download) renders without a widget/script error and loads nothing from outside 127.0.0.1, its canvases
draw, and "next step" moves the view and the kernel's step. The rest is tested through traits and views
(tests/widgets/test_state_stepper.py, tests/views/test_state_views.py).
"""
from __future__ import annotations

import pytest

from browser_harness import (
    assert_clean, drawn, wait_drawn, wait_steps,
    VIEW_STATE_JS, button, cell_output, kernel_eval, open_notebook, run_all_cells, write_notebook,
)

pytestmark = pytest.mark.browser

SETUP = """\
import torch, transformers, tr_widgets
from transformers.models.mamba.modeling_mamba import MambaMixer
from tr_widgets.engine.state import trace_state
transformers.logging.set_verbosity_error()
torch.manual_seed(0)"""
STATE_CELL = """\
cfg = transformers.MambaConfig(hidden_size=16, state_size=8, expand=2, conv_kernel=4, time_step_rank=4)
mixer = MambaMixer(cfg, layer_idx=0).eval()
t = trace_state(mixer, torch.randn(1, 10, 16))  # T=10, B=1, d_inner=32, d_state=8
ssm = tr_widgets.show(t)
ssm"""


@pytest.fixture(scope="module")
def lab(browser_page, jupyter, notebook_dir):
    write_notebook(notebook_dir / "state_lab.ipynb", [SETUP, STATE_CELL])
    open_notebook(browser_page, jupyter, "state_lab.ipynb")
    run_all_cells(browser_page)
    out = cell_output(browser_page, 1)
    wait_drawn(browser_page, out)
    return browser_page


def test_state_stepper_renders_draws_and_steps(lab, artifacts):
    out = cell_output(lab, 1)
    out.scroll_into_view_if_needed()  # JupyterLab skips rendering outputs out of view
    before = out.evaluate(VIEW_STATE_JS)
    out.screenshot(path=str(artifacts / "state_lab_initial.png"))
    assert_clean(lab, "state")
    assert len(before["canvases"]) >= 3, f"expected the state heatmap and the bar charts: {before}"
    assert any(c["nonBackground"] > 50 for c in before["canvases"]), f"every canvas is blank: {before['canvases']}"
    assert "t = 0 (0–9)" in before["text"] and "A_bar" in before["text"] and "KV cache" in before["text"]
    button(out, "next step").click()
    wait_steps(lab, out, 1)
    after = out.evaluate(VIEW_STATE_JS)
    out.screenshot(path=str(artifacts / "state_lab_after_next.png"))
    assert int(kernel_eval(lab, "ssm.step")) == 1
    assert "t = 1 (0–9)" in after["text"] and after["text"] != before["text"]
    assert [c["checksum"] for c in after["canvases"]] != [c["checksum"] for c in before["canvases"]]
    assert_clean(lab, "state after next")
