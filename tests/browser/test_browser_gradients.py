"""The GradientStepper in a real JupyterLab 4, driven in Debian's Chromium.

Only what a browser alone can show: it renders without a widget/script error and loads nothing from
outside 127.0.0.1, its canvases draw, and "next step" moves the backward clock (the kernel's step and
the view change). The rest is tested through traits and views (tests/widgets/test_gradient_stepper.py).
"""
from __future__ import annotations

import pytest

from browser_harness import (
    assert_clean, drawn, wait_drawn, wait_steps,
    VIEW_STATE_JS, button, cell_output, kernel_eval, open_notebook, run_all_cells, write_notebook,
)

pytestmark = pytest.mark.browser

SETUP = """\
import torch, tr_widgets
torch.manual_seed(0)"""
GRAD_CELL = """\
lstm = torch.nn.LSTM(input_size=3, hidden_size=6)
g = tr_widgets.trace_gradients(lstm, torch.randn(12, 1, 3), lambda out: out[0][-1].pow(2).sum())  # T=12, B=1
grad = tr_widgets.show(g)
grad"""


@pytest.fixture(scope="module")
def lab(browser_page, jupyter, notebook_dir):
    write_notebook(notebook_dir / "gradients_lab.ipynb", [SETUP, GRAD_CELL])
    open_notebook(browser_page, jupyter, "gradients_lab.ipynb")
    run_all_cells(browser_page)
    out = cell_output(browser_page, 1)
    wait_drawn(browser_page, out)
    return browser_page


def test_gradient_stepper_renders_draws_and_steps_backwards(lab, artifacts):
    out = cell_output(lab, 1)
    out.scroll_into_view_if_needed()  # JupyterLab skips rendering outputs out of view
    before = out.evaluate(VIEW_STATE_JS)
    out.screenshot(path=str(artifacts / "gradients_lab_initial.png"))
    assert_clean(lab, "gradients")
    assert len(before["canvases"]) >= 4, f"expected the flow, cell path, gains and heatmap canvases: {before}"
    assert drawn(before), f"every canvas is blank: {before['canvases']}"
    assert "time t = 11" in before["text"] and "log10 ‖∂L/∂h_t‖" in before["text"]
    button(out, "next step").click()
    wait_steps(lab, out, 1)
    after = out.evaluate(VIEW_STATE_JS)
    out.screenshot(path=str(artifacts / "gradients_lab_after_next.png"))
    assert int(kernel_eval(lab, "grad.step")) == 1
    assert "time t = 10" in after["text"] and after["text"] != before["text"]
    assert [c["checksum"] for c in after["canvases"]] != [c["checksum"] for c in before["canvases"]]
    assert int(kernel_eval(lab, "grad.heatmap.mark_col")) == 10
    assert_clean(lab, "gradients after next")
