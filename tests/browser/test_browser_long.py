"""A long attention stepper (issue 26) in a real JupyterLab 4: it appears at once, steps while its overview
fills in, and the overview finishes equal to the one computed up front.

T=131,072, the issue's length (2 heads, E=64, one torch thread): the selected head's overview takes the CI machine
tens of seconds, many turns of the kernel's loop, long enough to step through; the notice under the overview says
how far it is (the marker this test reads).
"""
from __future__ import annotations

import re

import pytest

from browser_harness import (VIEW_STATE_JS, assert_clean, button, cell_output, kernel_eval, open_notebook,
                             run_all_cells, wait_drawn, wait_steps, write_notebook)

pytestmark = pytest.mark.browser
SETUP = """\
import time, numpy as np, torch, tr_widgets
from tr_widgets.views import weights_overview
from tr_widgets.widgets import filling, show
filling.UPDATE_S = 0.25  # the view updated 4× a second
torch.set_num_threads(1)  # a shared CI machine: no thread waits on a descheduled sibling
torch.manual_seed(0)
at = tr_widgets.trace_attention(*torch.randn(3, 1, 2, 131072, 64).unbind(0), is_causal=True)  # [B, H, T, E]"""
SHOW = "t0 = time.perf_counter(); s = show(at); shown_s = time.perf_counter() - t0\ns"
PERCENT = re.compile(r"computing the overview: (\d+)% of its rows done")


def _notice(out) -> str:
    return out.locator(".tr-notice").first.text_content() or ""


def test_a_long_stepper_appears_steps_while_its_overview_fills_in_and_finishes(browser_page, jupyter, notebook_dir,
                                                                               artifacts):
    page = browser_page
    write_notebook(notebook_dir / "long.ipynb", [SETUP, SHOW])
    open_notebook(page, jupyter, "long.ipynb")
    run_all_cells(page)
    out = cell_output(page, 1)
    out.scroll_into_view_if_needed()
    wait_drawn(page, out)
    assert float(kernel_eval(page, "shown_s")) < 10, "show() waited for the overview"
    first = _notice(out)
    assert PERCENT.search(first), first  # the view is up, its overview still coming
    seen, step = {first}, 0
    for _ in range(3):  # step while it fills in: each step is drawn
        button(out, "next step").click()
        step += 1
        wait_steps(page, out, step, timeout=10_000)
        seen.add(_notice(out))
    assert float(kernel_eval(page, "s.overview_progress")) < 1.0, "the overview finished before the steps"
    out.screenshot(path=str(artifacts / "long_filling.png"))
    filling_state = out.evaluate(VIEW_STATE_JS)
    for _ in range(3000):  # a slow machine: up to five minutes
        text = _notice(out)
        seen.add(text)
        if not PERCENT.search(text):
            break
        page.wait_for_timeout(100)
    assert not PERCENT.search(_notice(out)), "the overview never finished"
    percents = {int(m.group(1)) for t in seen if (m := PERCENT.search(t))}
    assert len(percents) >= 2, f"the progress marker never moved: {seen}"
    assert "reduced to 256×256" in _notice(out)
    same = kernel_eval(page, "np.array_equal(s.weights.overview_codes(), "
                             "weights_overview(at, (0, 0), s.overview_px).codes)")
    assert same.strip() == "True", "the finished overview is not the one computed up front"
    assert out.evaluate(VIEW_STATE_JS)["canvases"] != filling_state["canvases"], "the page never drew the overview"
    button(out, "next step").click()  # it still steps once finished
    wait_steps(page, out, step + 1, timeout=10_000)
    out.screenshot(path=str(artifacts / "long_finished.png"))
    assert_clean(page, "long attention")
