"""A stepper's views tell the kernel when they come and go (issue 26): in a real JupyterLab 4, clearing a long
stepper's output stops its overview filling in (nobody sees it: minutes of a kernel's time at 128k tokens, and the
same again each time its cell runs), and running the cell again fills the new stepper in. The counting itself is
tested through messages in tests/widgets/test_long_overview.py."""
from __future__ import annotations

import pytest

from browser_harness import assert_clean, cell_output, kernel_eval, open_notebook, run_all_cells, wait_drawn, write_notebook

pytestmark = pytest.mark.browser
SETUP = """\
import torch, tr_widgets
from tr_widgets.widgets import show
torch.set_num_threads(1)
shown = globals().get("shown", [])
at = tr_widgets.trace_attention(*torch.randn(3, 1, 1, 100000, 16).unbind(0), is_causal=True)  # an overview of seconds"""
SHOW = "s = show(at); shown.append(s); s"


def _until(page, code: str, want: str, tries: int = 100) -> str:
    got = ""
    for _ in range(tries):
        got = kernel_eval(page, code).strip()
        if got == want:
            break
        page.wait_for_timeout(100)
    return got


def test_clearing_a_steppers_output_stops_its_fill_and_running_the_cell_again_starts_the_new_one(
        browser_page, jupyter, notebook_dir):
    page = browser_page
    write_notebook(notebook_dir / "views_count.ipynb", [SETUP, SHOW])
    open_notebook(page, jupyter, "views_count.ipynb")
    run_all_cells(page)
    wait_drawn(page, cell_output(page, 1))
    assert _until(page, "shown[0]._views", "1") == "1"  # the view said it is shown
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    assert _until(page, "shown[0]._views", "0") == "0", "the cleared view did not say it went"
    stopped = kernel_eval(page, "shown[0].overview_progress").strip()
    page.wait_for_timeout(1000)
    assert kernel_eval(page, "shown[0].overview_progress").strip() == stopped  # no work for a view nobody sees
    assert float(stopped) < 1.0, "the overview finished before the test could see it stop: make it longer"
    run_all_cells(page)  # the cell again: a new stepper, shown
    wait_drawn(page, cell_output(page, 1))
    assert _until(page, "[v._views for v in shown]", "[0, 1]") == "[0, 1]"
    assert _until(page, "shown[1].overview_progress", "1.0", tries=600) == "1.0"  # the shown one fills in to the end
    assert kernel_eval(page, "shown[0].overview_progress").strip() == stopped
    assert_clean(page, "views counted")
