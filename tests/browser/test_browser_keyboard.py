"""The keyboard (issue 13), in a real JupyterLab 4 and Notebook 7 and in an exported page: with a stepper
focused, ← → step, Home and End jump, Space plays and pauses (the button then reads "pause"), a "tr-go"
event from a panel selects a step, and none of these keys reaches JupyterLab (the active cell stays,
no heading section collapses). The controls stay in view while the stepper scrolls by."""
from __future__ import annotations

import json

import pytest

from browser_harness import assert_clean, button, cell_output, open_notebook, run_all_cells, write_notebook

pytestmark = pytest.mark.browser
CELL = """\
import torch, tr_widgets
from tr_widgets.widgets import show
torch.manual_seed(0)
tokens = ["<s>", "the", "cat", "sat", "on", "the", "mat", "and", "purred", ".", "it", "slept"]
q, k, v = torch.randn(3, 1, 2, len(tokens), 8).unbind(0)  # each [B=1, heads=2, T=12, E=8]
att = show(tr_widgets.trace_attention(q, k, v, is_causal=True, tokens=tokens), interval=100)
att"""
LAST = 11
# The notebook's state JupyterLab's own shortcuts would change: the active cell, collapsed headings.
NOTEBOOK_STATE = """() => { const nb = window.jupyterapp.shell.currentWidget.content;
  return {active: nb.activeCellIndex, mode: nb.mode,
          collapsed: nb.widgets.filter(c => c.model.type === 'markdown' && c.headingCollapsed).length,
          hidden: nb.widgets.filter(c => c.isHidden).length}; }"""


def _notebook(path):
    """A heading (its section holds the stepper: ArrowLeft used to collapse it), the stepper, a cell below."""
    write_notebook(path, [CELL, "1 + 1"])
    nb = json.loads(path.read_text())
    nb["cells"].insert(0, {"cell_type": "markdown", "id": "h", "metadata": {}, "source": "# The stepper"})
    path.write_text(json.dumps(nb))


def _step(page, root, s, timeout=10_000):
    page.wait_for_function("([r, s]) => r.querySelector('.tr-clock').dataset.trStep === String(s)",
                           arg=[root, s], timeout=timeout)


def _drive(page, root, press, focus, clicked=lambda: None):
    """Focus (a click), then the keys alone; returns what play read while playing."""
    focus()
    _step(page, root, 1)  # the click was on "next step"
    clicked()
    press("ArrowRight"); _step(page, root, 2)
    press("ArrowRight"); _step(page, root, 3)
    press("ArrowLeft"); _step(page, root, 2)
    press("End"); _step(page, root, LAST)
    press("Home"); _step(page, root, 0)
    press(" ")  # play
    page.wait_for_function("r => r.querySelector('.tr-clock').dataset.trPlaying === 'true'", arg=root, timeout=5_000)
    play = root.query_selector(".tr-play")
    playing = {"text": play.text_content(), "label": play.get_attribute("aria-label")}
    page.wait_for_function("r => Number(r.querySelector('.tr-clock').dataset.trStep) >= 2", arg=root, timeout=10_000)
    press(" ")  # pause
    page.wait_for_function("r => r.querySelector('.tr-clock').dataset.trPlaying === 'false'", arg=root, timeout=5_000)
    paused = int(root.query_selector(".tr-clock").get_attribute("data-tr-step"))
    page.wait_for_timeout(400)  # four intervals: a paused clock stays
    assert int(root.query_selector(".tr-clock").get_attribute("data-tr-step")) == paused, "Space did not pause"
    assert root.query_selector(".tr-play").text_content() == "play"
    # a panel's click ("tr-go", as a matrix row sends it) selects that step
    root.eval_on_selector(".tr-matrix, canvas", """e => e.dispatchEvent(new CustomEvent('tr-go',
        {bubbles: true, composed: true, detail: {step: 7}}))""")
    _step(page, root, 7)
    # the slider keeps the keys, and they move the step; none reaches JupyterLab
    root.query_selector(".tr-step-slider").focus()
    press("ArrowRight"); _step(page, root, 8)
    live = root.query_selector(".tr-live")
    assert live.get_attribute("aria-live") == "polite" and live.text_content().startswith("query 8 (0–11)")
    assert "“purred”" in live.text_content() or "purred" in root.text_content()
    return playing


def _check_lab(page, out, artifacts, name):
    root = out.element_handle()
    root.wait_for_selector(".tr-clock[data-tr-targets]:not([data-tr-targets='-1'])", state="attached", timeout=30_000)
    stepper = out.locator(".tr-stepper").first
    assert stepper.get_attribute("tabindex") == "0" and stepper.get_attribute("role") == "group"
    assert "Space" in (stepper.get_attribute("aria-keyshortcuts") or "")
    seen = {}
    playing = _drive(page, root, page.keyboard.press, lambda: button(out, "next step").click(),
                     lambda: seen.update(page.evaluate(NOTEBOOK_STATE)))  # the click made this cell active
    before = seen
    after = page.evaluate(NOTEBOOK_STATE)
    assert playing == {"text": "pause", "label": "pause"}, f"{name}: play did not read pause while playing: {playing}"
    assert after["active"] == before["active"], f"{name}: the keys moved JupyterLab's active cell: {before} -> {after}"
    assert after["collapsed"] == before["collapsed"] == 0 and after["hidden"] == before["hidden"], \
        f"{name}: a heading section collapsed: {before} -> {after}"
    for label in ("previous step", "next step", "play", "save picture", "speed"):
        assert out.get_by_label(label, exact=True).count() == 1, f"{name}: no one control named {label!r}"
    unnamed = out.evaluate("""o => [...o.querySelectorAll('canvas')].filter(c => !c.getAttribute('aria-label')
        && c.getAttribute('aria-hidden') !== 'true' && c.getClientRects().length > 0).map(c => c.className || c.parentElement.className)""")
    assert not unnamed, f"{name}: canvases without an accessible name: {unnamed}"
    out.screenshot(path=str(artifacts / f"keyboard_{name}.png"))
    assert_clean(page, name)


def test_keyboard_in_jupyterlab(browser_page, jupyter, notebook_dir, artifacts):
    _notebook(notebook_dir / "keys_lab.ipynb")
    open_notebook(browser_page, jupyter, "keys_lab.ipynb")
    run_all_cells(browser_page)
    _check_lab(browser_page, cell_output(browser_page, 0), artifacts, "jupyterlab")


def test_the_controls_stay_in_view_in_jupyterlab(browser_page, jupyter, notebook_dir):
    """Scrolled so that the stepper's top is above the notebook's view: its controls stick at the top."""
    page = browser_page  # the notebook of the test above is open
    out = cell_output(page, 0)
    top = page.evaluate("""o => { const s = o.querySelector('.tr-stepper');
        const sc = document.querySelector('.jp-WindowedPanel-outer') || document.scrollingElement;
        sc.scrollTop += s.getBoundingClientRect().top - sc.getBoundingClientRect().top + 300;
        return new Promise(r => setTimeout(() => requestAnimationFrame(() => requestAnimationFrame(() => {
          const c = s.querySelector('.tr-controller').getBoundingClientRect(), v = sc.getBoundingClientRect();
          r({controller: c.top, view: v.top, stepper: s.getBoundingClientRect().top,
             bg: getComputedStyle(s.querySelector('.tr-controller')).backgroundColor}); })), 100));
      }""", out.element_handle())
    assert top["stepper"] < top["view"] - 200, json.dumps(top, indent=0)  # the stepper's top is out of view...
    assert abs(top["controller"] - top["view"]) <= 2, f"the controls scrolled away: {top}"  # ...its controls are not
    assert top["bg"] not in ("transparent", "rgba(0, 0, 0, 0)"), top


def test_keyboard_in_notebook7(browser_page, notebook7, notebook_dir, artifacts):
    _notebook(notebook_dir / "keys_nb7.ipynb")
    open_notebook(browser_page, notebook7, "keys_nb7.ipynb", ui="notebook")
    run_all_cells(browser_page)
    _check_lab(browser_page, cell_output(browser_page, 0), artifacts, "notebook7")


def test_keyboard_in_an_exported_page(chromium, tmp_path):
    import torch
    import tr_widgets
    from tr_widgets.widgets import show

    torch.manual_seed(0)
    tokens = ["<s>", "the", "cat", "sat", "on", "the", "mat", "and", "purred", ".", "it", "slept"]
    q, k, v = torch.randn(3, 1, 2, len(tokens), 8).unbind(0)
    att = show(tr_widgets.trace_attention(q, k, v, is_causal=True, tokens=tokens), interval=100, progress=False)
    path = tmp_path / "export.html"
    path.write_text(f"<html><body>{att.export_html()}</body></html>", encoding="utf-8")
    context = chromium.new_context(viewport={"width": 1200, "height": 900})
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file://", "data:", "blob:")) else r.abort())
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(path.as_uri())
        page.wait_for_selector(".tr-export[data-tr-mounted='1']")
        box = page.locator(".tr-export").first
        assert box.get_attribute("tabindex") == "0"
        playing = _drive(page, box.element_handle(), page.keyboard.press, lambda: box.locator(".tr-next").click())
        assert playing == {"text": "pause", "label": "pause"}, playing
        assert not errors, errors
    finally:
        context.close()
