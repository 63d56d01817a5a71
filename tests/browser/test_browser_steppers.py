"""The steppers in a real JupyterLab 4 and Notebook 7, driven in Debian's Chromium.

Only what a browser alone can show is checked here (the rest is tested through traits and views):
each stepper renders without a widget/script error, draws something on its canvas, changes its
view when "next step" is pressed, follows `step` set from Python, shows token labels as text, and
loads nothing from outside 127.0.0.1. Screenshots go to test-artifacts/browser/ and, for the
README, docs/screenshots/.
"""
from __future__ import annotations

import pytest

from browser_harness import (
    assert_clean, drawn, wait_drawn, wait_steps,
    VIEW_STATE_JS, button, cell_output, kernel_eval, open_notebook, run_all_cells,
    write_notebook,
)

pytestmark = pytest.mark.browser

# A token that would run script if a label were ever inserted as HTML: the test reads the flag.
EVIL_TOKEN = '<img src=x onerror="window.__trw_injected=1">'
SETUP = """\
import torch, tr_widgets
from tr_widgets.widgets import show
torch.manual_seed(0)"""
LSTM_CELL = """\
lstm = torch.nn.LSTM(input_size=4, hidden_size=6)
rec = show(tr_widgets.trace_recurrent(lstm, torch.randn(7, 1, 4)))  # T=7, B=1, I=4
rec"""
# Special tokens like <s> are everyday text that looks like HTML: shown as text, never markup.
ATTENTION_CELL = """\
tokens = ["<s>", "the", "cat", "sat", "on", "the", "mat", "and", "purred", "."]
q, k, v = torch.randn(3, 1, 2, len(tokens), 8).unbind(0)  # each [B=1, heads=2, T=10, E=8]
att = show(tr_widgets.trace_attention(q, k, v, is_causal=True, tokens=tokens))
att"""
HOSTILE_CELL = f"""\
evil = [{EVIL_TOKEN!r}, "<b>bold</b>", "&amp;"]
q, k, v = torch.randn(3, len(evil), 4).unbind(0)  # each [T=3, E=4]
hostile = show(tr_widgets.trace_attention(q, k, v, tokens=evil))
hostile"""
DECODE_CELL = """\
from tr_widgets.models import load_tiny
model, tok = load_tiny()  # the shipped tiny GPT: no download
dec = show(tr_widgets.decode(model, "The cat sat on the", 8, tokenizer=tok))
dec"""
RECURRENT, ATTENTION, HOSTILE, DECODE = 1, 2, 3, 4  # code cell indices
STEPPERS = {"recurrent": (RECURRENT, "rec"), "attention": (ATTENTION, "att"), "decode": (DECODE, "dec")}
KINDS = list(STEPPERS)


def _state(output):
    return output.evaluate(VIEW_STATE_JS)


def _shown(page, cell: int):
    """The output of code cell `cell`, scrolled into view (JupyterLab skips rendering cells out of
    view, and screenshots and visible-text waits need it on screen)."""
    out = cell_output(page, cell)
    out.scroll_into_view_if_needed()
    return out


def out_height(output) -> int:
    return int(output.evaluate("e => e.getBoundingClientRect().height"))


@pytest.fixture(scope="module")
def lab(browser_page, jupyter, notebook_dir):
    """Every stepper built by one notebook, run in JupyterLab 4."""
    write_notebook(notebook_dir / "steppers_lab.ipynb", [SETUP, LSTM_CELL, ATTENTION_CELL, HOSTILE_CELL, DECODE_CELL])
    open_notebook(browser_page, jupyter, "steppers_lab.ipynb")
    # Fold the side bars away: the notebook gets the page's width (README screenshots ~1200 px).
    browser_page.evaluate("() => { window.jupyterapp.shell.collapseLeft(); window.jupyterapp.shell.collapseRight(); }")
    run_all_cells(browser_page)
    for cell, _ in STEPPERS.values():
        wait_drawn(browser_page, cell_output(browser_page, cell))
    return browser_page


def test_harness_sees_a_plain_ipywidget_and_catches_a_broken_one(browser_page, jupyter, notebook_dir, artifacts):
    """The harness itself: a plain ipywidgets button and label round-trip a click, and an
    anywidget whose module throws is reported (anywidget fails silently in the page: only the
    console says so, which is why every test checks the console)."""
    write_notebook(notebook_dir / "plain.ipynb", [
        "import ipywidgets as w\n"
        "label = w.Label('step 0')\n"
        "nxt = w.Button(description='>', tooltip='next step')\n"
        "nxt.on_click(lambda _: setattr(label, 'value', f'step {int(label.value[5:]) + 1}'))\n"
        "w.HBox([nxt, label])",
        "import anywidget\n"
        "class Broken(anywidget.AnyWidget):\n"
        "    _esm = 'export default { render({ el }) { el.textContent = \"drawn\"; null.trw_boom; } }'\n"
        "Broken()"])
    open_notebook(browser_page, jupyter, "plain.ipynb")
    run_all_cells(browser_page)
    out = cell_output(browser_page, 0)
    out.get_by_text("step 0").wait_for()
    button(out, "next step").click()
    out.get_by_text("step 1").wait_for()
    cell_output(browser_page, 1).get_by_text("drawn").wait_for()
    browser_page.screenshot(path=str(artifacts / "plain_ipywidget.png"))
    log = browser_page.trw_log
    assert any("trw_boom" in e for e in log.widget_errors()), f"the broken widget went unnoticed: {log.history}"
    log.mark("after the deliberately broken widget")
    assert not log.external


@pytest.mark.parametrize("kind", KINDS)
def test_stepper_renders_and_draws(lab, kind, artifacts):
    out = _shown(lab, STEPPERS[kind][0])
    state = _state(out)
    out.screenshot(path=str(artifacts / f"{kind}_lab_initial.png"))
    assert_clean(lab, kind)
    assert state["canvases"], f"{kind}: no canvas in the output"
    assert drawn(state), f"{kind}: every canvas is blank: {state['canvases']}"


@pytest.mark.parametrize("kind", KINDS)
def test_next_step_changes_the_view(lab, kind, artifacts):
    cell, var = STEPPERS[kind]
    out = _shown(lab, cell)
    kernel_eval(lab, f"{var}.step = 0")
    wait_steps(lab, out, 0)
    before = _state(out)
    button(out, "next step").click()
    wait_steps(lab, out, 1)
    after = _state(out)
    out.screenshot(path=str(artifacts / f"{kind}_lab_after_next.png"))
    assert int(kernel_eval(lab, f"{var}.step")) == 1
    assert after["text"] != before["text"], f"{kind}: the step readout did not change"
    assert [c["checksum"] for c in after["canvases"]] != [c["checksum"] for c in before["canvases"]], \
        f"{kind}: no canvas was redrawn"
    assert_clean(lab, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_step_set_from_python_updates_the_view(lab, kind, artifacts):
    cell, var = STEPPERS[kind]
    out = _shown(lab, cell)
    before = _state(out)
    kernel_eval(lab, f"{var}.step = 5")
    wait_steps(lab, out, 5)
    after = _state(out)
    assert after["text"] != before["text"] and drawn(after)
    assert_clean(lab, kind)
    # A picture of this stepper, at a step in the middle of the sequence (test-artifacts/). The notebook
    # scrolls inside the page, so the viewport grows until the whole output fits on screen.
    size = lab.viewport_size
    lab.set_viewport_size({"width": size["width"], "height": max(size["height"], out_height(out) + 300)})
    try:
        out.scroll_into_view_if_needed()
        lab.wait_for_timeout(300)
        out.screenshot(path=str(artifacts / f"{kind}_stepper.png"))
    finally:
        lab.set_viewport_size(size)


@pytest.mark.parametrize("kind", KINDS)
def test_controls_have_accessible_names(lab, kind):
    out = _shown(lab, STEPPERS[kind][0])
    for name in ("previous step", "next step", "play"):
        assert out.get_by_role("button", name=name).count() == 1, f"{kind}: no one button named {name!r}"


def test_play_runs_in_the_browser_and_pauses(lab):
    """Play advances the steps by itself (the clock runs in the page); pressing it again stops it."""
    out = _shown(lab, ATTENTION)
    kernel_eval(lab, "att.step = 0")
    wait_steps(lab, out, 0)
    play = out.get_by_role("button", name="play")
    play.click()
    try:
        lab.wait_for_function("root => [...root.querySelectorAll('[data-step]')].some(e => e.dataset.step >= 2)",
                              arg=out.element_handle(), timeout=15_000)
    finally:
        out.get_by_role("button", name="pause").click()  # while playing, the play button says pause
    lab.wait_for_timeout(600)
    paused_at = int(kernel_eval(lab, "att.step"))
    lab.wait_for_timeout(1200)  # more than two intervals at the default 2 steps/s
    assert int(kernel_eval(lab, "att.step")) == paused_at, "the stepper kept playing after pause"
    assert paused_at >= 2
    assert_clean(lab, "play")


def test_token_labels_are_text_not_html(lab, artifacts):
    out = _shown(lab, HOSTILE)
    wait_drawn(lab, out, step=None)
    kernel_eval(lab, "hostile.step = 2")
    wait_steps(lab, out, 2)
    out.get_by_text("<b>bold</b>").first.wait_for()  # shown, literally, as text
    out.screenshot(path=str(artifacts / "hostile_tokens.png"))
    assert lab.evaluate("() => window.__trw_injected") is None, "a token label ran as HTML"
    assert out.locator("img[src=x], b:text-is('bold')").count() == 0, "a token label became an element"
    assert "<s>" in cell_output(lab, ATTENTION).text_content(), "the <s> token is not shown as text"
    assert_clean(lab, "hostile tokens")


def test_attention_stepper_in_notebook7(browser_page, notebook7, notebook_dir, artifacts):
    """`jupyter notebook` (Notebook 7): the file list at /tree, then /notebooks/<name>."""
    write_notebook(notebook_dir / "steppers_nb7.ipynb", [SETUP, ATTENTION_CELL])
    browser_page.goto(notebook7.url("tree"))
    browser_page.get_by_text("steppers_nb7.ipynb").first.wait_for()
    open_notebook(browser_page, notebook7, "steppers_nb7.ipynb", ui="notebook")
    run_all_cells(browser_page)
    out = cell_output(browser_page, 1)
    wait_drawn(browser_page, out, step=None)
    before = _state(out)
    assert drawn(before)
    button(out, "next step").click()
    wait_steps(browser_page, out, 1)
    assert _state(out)["text"] != before["text"]
    assert kernel_eval(browser_page, "att.step") == "1"
    browser_page.screenshot(path=str(artifacts / "attention_notebook7.png"), full_page=True)
    assert_clean(browser_page, "Notebook 7")
