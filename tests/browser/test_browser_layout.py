"""Every stepper fits the cell (issue 13): at a 900 px wide page in JupyterLab 4 and Notebook 7,
nothing inside a stepper's output runs past the output area sideways (a wide table scrolls inside
its own box, which is allowed), and each stepper at default options is at most about one screen tall
(MAX_HEIGHT px). One notebook holds one stepper of each kind: an LSTM of hidden size 10, attention
with tokens, decoding with the shipped tiny GPT, a gradient trace and a Mamba state trace.
"""
from __future__ import annotations

import pytest

import stepper_cells as cells
from browser_harness import assert_clean, cell_output, open_notebook, run_all_cells, wait_drawn, write_notebook

pytestmark = pytest.mark.browser

WIDTH, MAX_HEIGHT = 900, 800
SETUP = """\
import torch, tr_widgets
torch.manual_seed(0)"""
CELLS = {
    "lstm": cells.lstm(10, 5),
    "attention": cells.ATTENTION,
    "decode": cells.DECODE,
    "gradients": cells.gradients(8),
    "state": cells.STATE,
}
KINDS = list(CELLS)

# What sticks out of the output area sideways: every visible element of the stepper whose right edge
# passes the area's, unless a box between it and the stepper scrolls sideways (overflow-x auto/scroll).
OVERFLOW_JS = """(area) => {
  const stepper = area.querySelector('.tr-stepper');
  if (!stepper) return {error: 'no .tr-stepper in the output'};
  const box = area.getBoundingClientRect();
  const scrolls = (e) => { for (let p = e.parentElement; p && p !== stepper; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX; if (o === 'auto' || o === 'scroll') return true; }
    return false; };
  const bad = [];
  for (const e of stepper.querySelectorAll('*')) {
    const r = e.getBoundingClientRect();
    if (!r.width || !r.height || r.right <= box.right + 1 || scrolls(e)) continue;
    bad.push(`${e.tagName.toLowerCase()}.${[...e.classList].join('.')} right=${Math.round(r.right)}`);
  }
  const s = stepper.getBoundingClientRect();
  return {bad: bad.slice(0, 12), n: bad.length, areaRight: Math.round(box.right), areaWidth: Math.round(box.width),
          scrollWidth: area.scrollWidth, clientWidth: area.clientWidth, height: Math.round(s.height)};
}"""


STATE_JS = """() => { const w = window.jupyterapp.shell.currentWidget;
  if (!w || !w.content) return {current: w ? w.constructor.name : null};
  return {path: w.context && w.context.path, kernel: w.sessionContext.kernelDisplayStatus,
          counts: w.content.widgets.map(c => c.model.executionCount),
          errors: w.content.widgets.map(c => (c.model.outputs ? [...Array(c.model.outputs.length).keys()]
             .map(i => c.model.outputs.get(i).toJSON()).filter(o => o.output_type === 'error')
             .map(o => o.ename + ': ' + o.evalue) : [])).flat()};
}"""


ACTIVATE_JS = """(name) => { const app = window.jupyterapp;
  const w = [...app.shell.widgets('main')].find(w => w.context && w.context.path === name);
  if (w) app.shell.activateById(w.id); }"""


def _layout_page(browser_page, server, notebook_dir, name: str, ui: str):
    write_notebook(notebook_dir / name, [SETUP, *CELLS.values()])
    size = browser_page.viewport_size
    browser_page.set_viewport_size({"width": WIDTH, "height": 1000})
    open_notebook(browser_page, server, name, ui=ui)
    if ui == "lab":  # the notebook gets the page's whole width
        browser_page.evaluate("() => { window.jupyterapp.shell.collapseLeft(); window.jupyterapp.shell.collapseRight(); }")
    _run_cells(browser_page, name, ui)
    return size


def _run_cells(page, name: str, ui: str) -> None:
    """Run every cell of notebook ``name``, made the current widget first: "run all" acts on the current
    widget, and right after the page opened that may still be another one (the launcher being disposed),
    in which case nothing runs and the wait would last its whole timeout. Tried again once if no cell ran;
    a failure says which cells ran and what they raised."""
    page.evaluate(ACTIVATE_JS, name)
    page.wait_for_function("(name) => { const w = window.jupyterapp.shell.currentWidget;"
                           " return !!(w && w.context && w.context.path === name && w.content); }", arg=name)
    for attempt in (0, 1):
        try:
            run_all_cells(page, timeout=180_000)
            return
        except Exception as exc:
            state = page.evaluate(STATE_JS)
            if attempt or any(c is not None for c in state.get("counts", [None])) or state.get("kernel") != "idle":
                raise AssertionError(f"{ui}: the cells did not all run: {state}") from exc


def _measure(page, index: int, kind: str, artifacts, ui: str) -> dict:
    out = cell_output(page, index + 1)
    out.scroll_into_view_if_needed()  # JupyterLab skips rendering outputs out of view
    wait_drawn(page, out, timeout=60_000)
    page.wait_for_timeout(300)  # the canvases size themselves after their first draw
    m = out.evaluate(OVERFLOW_JS)
    out.screenshot(path=str(artifacts / f"layout_{ui}_{kind}.png"))
    return m


@pytest.fixture(scope="module")
def lab_layout(browser_page, jupyter, notebook_dir, artifacts):
    size = _layout_page(browser_page, jupyter, notebook_dir, "layout_lab.ipynb", "lab")
    yield {kind: _measure(browser_page, i, kind, artifacts, "lab") for i, kind in enumerate(KINDS)}
    browser_page.set_viewport_size(size)


@pytest.fixture(scope="module")
def nb7_layout(browser_page, notebook7, notebook_dir, artifacts):
    size = _layout_page(browser_page, notebook7, notebook_dir, "layout_nb7.ipynb", "notebook")
    yield {kind: _measure(browser_page, i, kind, artifacts, "nb7") for i, kind in enumerate(KINDS)}
    browser_page.set_viewport_size(size)


def _check(m: dict, kind: str, where: str) -> None:
    assert "error" not in m, f"{where} {kind}: {m}"
    assert m["scrollWidth"] <= m["clientWidth"] + 1 and not m["n"], \
        f"{where} {kind}: overflows the {m['areaWidth']} px output area sideways: {m}"
    assert m["height"] <= MAX_HEIGHT, f"{where} {kind}: the stepper is {m['height']} px tall (> {MAX_HEIGHT}): {m}"


@pytest.mark.parametrize("kind", KINDS)
def test_stepper_fits_the_cell_in_jupyterlab(lab_layout, browser_page, kind):
    _check(lab_layout[kind], kind, "JupyterLab")
    assert_clean(browser_page, f"layout {kind}")


@pytest.mark.parametrize("kind", KINDS)
def test_stepper_fits_the_cell_in_notebook7(nb7_layout, browser_page, kind):
    _check(nb7_layout[kind], kind, "Notebook 7")
    assert_clean(browser_page, f"layout nb7 {kind}")
