"""Reopen anywhere (issue 25): a notebook run and saved in a stock JupyterLab 4 / Notebook 7 (the widget
manager's saveState off, as shipped) reopens with every stepper shown as its saved kernel-less page, stepping
on its saved frames, and never "Error displaying widget: model not found".

The server loads tr_widgets' prebuilt extension (tr_widgets/share/labextensions/tr-widgets-reopen) the way
``pip install tr_widgets`` puts it: from a data directory on JUPYTER_PATH. Nothing else is configured.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from browser_harness import (VIEW_STATE_JS, JupyterServer, open_notebook, page_error_texts, run_all_cells,
                             write_notebook)
from stepper_cells import lstm

pytestmark = pytest.mark.browser
SHARE = Path(__file__).resolve().parents[2] / "tr_widgets" / "share"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
CELLS = [
    "import torch, tr_widgets\ntorch.manual_seed(0)",
    """q, k, v = torch.randn(3, 1, 2, 8, 8).unbind(0)  # each [B=1, heads=2, T=8, E=8]
tr_widgets.show(tr_widgets.trace_attention(q, k, v, is_causal=True))""",
    lstm(4, 6),
]


def _saved_outputs(path: Path) -> list[dict]:
    nb = json.loads(path.read_text())
    assert "widgets" not in nb["metadata"], "the widget state was saved: this is not a stock front end"
    return [o for c in nb["cells"] for o in c.get("outputs", []) if WIDGET_MIME in o.get("data", {})]


def _save(page, path: Path) -> None:
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000)
    assert len(_saved_outputs(path)) == 2, "both steppers should have been saved as live widget views"


def _steps(page, box) -> None:
    live = box.locator(".tr-export-live").element_handle()
    before = live.evaluate(VIEW_STATE_JS)
    nxt = box.locator(".tr-next").first
    (box.locator(".tr-prev").first if nxt.is_disabled() else nxt).click()
    for _ in range(40):  # the saved frame is applied within a frame or two; allow a slow machine 2 s
        if live.evaluate(VIEW_STATE_JS) != before:
            return
        page.wait_for_timeout(50)
    raise AssertionError("the reopened stepper did not change on a step click")


@pytest.fixture(scope="module")
def stock_server(tmp_path_factory):
    """One `jupyter lab` (it serves JupyterLab 4 at /lab and Notebook 7 at /notebooks) with the extension."""
    root = tmp_path_factory.mktemp("reopen") / "nb"
    root.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(SHARE))  # where pip puts share/jupyter: the extension, nothing else
        server = JupyterServer.start(root)
    yield server
    server.stop()


@pytest.mark.parametrize("app", ["lab", "notebook"], ids=["jupyterlab", "notebook7"])
def test_a_notebook_saved_in_a_stock_front_end_reopens_with_every_stepper(chromium, stock_server, app):
    server = stock_server
    path = write_notebook(server.root_dir / f"saved_{app}.ipynb", CELLS)
    context = chromium.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(60_000)
    page = context.new_page()
    try:
        open_notebook(page, server, path.name, ui=app)
        run_all_cells(page)
        page.locator(".tr-clock[data-step]").nth(1).wait_for(state="attached")  # both live views drew
        _save(page, path)
        page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
        open_notebook(page, server, path.name, ui=app)  # reopened: a fresh kernel holds no widget model
        boxes = page.locator(".tr-reopened .tr-export[data-tr-mounted='1']")
        page.wait_for_function("""() => { const b = [...document.querySelectorAll('.tr-reopened .tr-export')];
            return b.length >= 2 && b.every(e => ['1', 'error'].includes(e.dataset.trMounted)); }""")
        assert boxes.count() == 2 and page.locator(".tr-export[data-tr-mounted='error']").count() == 0
        assert not page_error_texts(page), page_error_texts(page)
        page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")  # no kernel at all
        for i in range(2):
            boxes.nth(i).scroll_into_view_if_needed()
            _steps(page, boxes.nth(i))
    finally:
        context.close()
