"""Frames in the browser (issue 12), in a real JupyterLab 4 / Notebook 7 and in exported pages.

One stepper shown in two cells steps, plays and scrubs together (the clock and its frames are shared
per model); a saved, executed tutorial reopened without running shows every stepper; an nbconvert HTML
export opened from file:// with every non-file request aborted steps every kind of stepper; the
over-budget notice appears in an export that cannot step, and only there.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter

from browser_harness import (
    VIEW_STATE_JS, button, cell_output, kernel_eval, offline_context, open_notebook, run_all_cells, write_notebook,
)

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[2]
SETUP = """\
import torch, tr_widgets
from tr_widgets.widgets import show
torch.manual_seed(0)
q, k, v = torch.randn(3, 1, 2, 12, 8).unbind(0)  # each [B=1, heads=2, T=12, E=8]
att = show(tr_widgets.trace_attention(q, k, v, is_causal=True), interval=100)
att"""
TWICE = "att  # the same stepper, a second view"
# One tutorial per kind of stepper (recurrent, attention, decode, gradient).
EXPORTS = {"recurrent": "03_lstm_gates", "attention": "05_attention", "decode": "06_decoding_kv_cache",
           "gradient": "10_when_time_runs_backwards"}


def _steps(page, root, step, timeout=15_000):
    page.wait_for_function(
        """([root, s]) => { const m = [...root.querySelectorAll('.tr-clock[data-step]')];
             return m.length > 0 && m.every(e => e.dataset.step === String(s)); }""",
        arg=[root, step], timeout=timeout)


def _two_views(page):
    return [cell_output(page, 0).element_handle(), cell_output(page, 1).element_handle()]


def _scrub(page, root, value):
    root.eval_on_selector(".tr-step-slider", """(s, v) => { s.value = String(v);
        s.dispatchEvent(new Event('input', {bubbles: true})); }""", value)


def _drive_two_views(page, full: bool):
    a, b = _two_views(page)
    for root in (a, b):
        root.wait_for_selector(".tr-clock[data-tr-targets]:not([data-tr-targets='-1'])", state="attached", timeout=30_000)
    _steps(page, a, 0), _steps(page, b, 0)
    before = b.evaluate(VIEW_STATE_JS)
    button(cell_output(page, 0), "next step").click()  # a click in the first view moves both
    _steps(page, a, 1), _steps(page, b, 1)
    assert b.evaluate(VIEW_STATE_JS) != before, "the second view did not change"
    _scrub(page, b, 7)  # scrub in the second view
    _steps(page, a, 7), _steps(page, b, 7)
    assert kernel_eval(page, "att.step").strip() == "7", "Python's step did not follow the browser"
    button(cell_output(page, 1), "play").click()  # play from the second view: both advance, to the end
    _steps(page, a, 11, timeout=20_000), _steps(page, b, 11)
    page.wait_for_function("e => e.querySelector('.tr-play').textContent === 'play'", arg=a, timeout=2_000)
    assert b.eval_on_selector(".tr-play", "e => e.textContent") == "play", "play stuck pressed at the end"
    if not full:
        return
    nxt, prev = a.query_selector(".tr-next"), a.query_selector(".tr-prev")
    assert nxt.is_disabled() and not prev.is_disabled()  # clamped at the end
    assert (nxt.get_attribute("title"), nxt.get_attribute("aria-label")) == ("next step", "next step")
    assert (prev.get_attribute("title"), prev.get_attribute("aria-label")) == ("previous step", "previous step")
    kernel_eval(page, "att.step = 0")  # set from Python (a later cell): both views follow, none jumps ahead
    _steps(page, a, 0), _steps(page, b, 0)
    assert a.query_selector(".tr-prev").is_disabled() and not a.query_selector(".tr-next").is_disabled()
    b.eval_on_selector(".tr-speed", "s => { s.value = s.options[s.options.length - 1].value; "
                                    "s.dispatchEvent(new Event('change', {bubbles: true})); }")
    fastest = b.eval_on_selector(".tr-speed", "s => s.value")
    page.wait_for_timeout(300)
    assert kernel_eval(page, "att.controller.interval").strip() == fastest, "the speed menu sets the interval"


def test_one_stepper_in_two_cells_jupyterlab(browser_page, jupyter, notebook_dir):
    write_notebook(notebook_dir / "twice_lab.ipynb", [SETUP, TWICE])
    open_notebook(browser_page, jupyter, "twice_lab.ipynb")
    run_all_cells(browser_page)
    _drive_two_views(browser_page, full=True)


def test_one_stepper_in_two_cells_notebook7(browser_page, notebook7, notebook_dir):
    write_notebook(notebook_dir / "twice_nb7.ipynb", [SETUP, TWICE])
    open_notebook(browser_page, notebook7, "twice_nb7.ipynb", ui="notebook")
    run_all_cells(browser_page)
    _drive_two_views(browser_page, full=False)


def test_a_saved_tutorial_reopens_with_every_stepper(browser_page, jupyter, notebook_dir):
    """Opened without running: each stepper's saved output is there, never "Error displaying widget"."""
    name = EXPORTS["attention"] + ".ipynb"
    shutil.copy(REPO / "tutorials" / name, notebook_dir / name)
    nb = nbformat.read(REPO / "tutorials" / name, as_version=4)
    n = sum("tr-snapshot" in "".join(o.get("data", {}).get("text/html", "")) for c in nb.cells
            if c.cell_type == "code" for o in c.get("outputs", []))
    open_notebook(browser_page, jupyter, name)
    page = browser_page
    page.wait_for_function("n => document.querySelectorAll('.jp-OutputArea .tr-export').length >= n", arg=n)
    assert page.get_by_text("Error displaying widget").count() == 0
    shown = page.locator(".jp-OutputArea .tr-export .tr-snapshot, .jp-OutputArea .tr-export-live")
    assert shown.count() >= n and n >= 2


@pytest.fixture(scope="module")
def offline_page(chromium, tmp_path_factory):
    """A page that may load file:// only: every other request is aborted (no network, no CDN)."""
    context, page = offline_context(chromium)
    yield page, tmp_path_factory.mktemp("exports")
    context.close()


@pytest.mark.parametrize("kind", list(EXPORTS))
def test_an_nbconvert_export_steps_offline(offline_page, kind):
    page, folder = offline_page
    nb = nbformat.read(REPO / "tutorials" / f"{EXPORTS[kind]}.ipynb", as_version=4)
    body, _ = HTMLExporter().from_notebook_node(nb)
    path = folder / f"{EXPORTS[kind]}.html"
    path.write_text(body, encoding="utf-8")
    page.goto(path.as_uri(), wait_until="domcontentloaded")
    n = len(re.findall(r"data-tr-frames=[\"']1[\"']", body))  # nbconvert may requote attributes
    assert n >= 1
    page.wait_for_function("""n => { const b = [...document.querySelectorAll('.tr-export[data-tr-frames]')];
        return b.length === n && b.every(e => e.dataset.trMounted === '1' || e.dataset.trMounted === 'error'); }""",
                           arg=n, timeout=30_000)
    assert page.locator(".tr-export[data-tr-mounted='error']").count() == 0 and not page.trw_errors
    for i in range(n):  # every stepper of the page changes its view on "next step"
        box = page.locator(".tr-export[data-tr-mounted='1']").nth(i)
        box.scroll_into_view_if_needed()
        live = box.locator(".tr-export-live").element_handle()
        before = live.evaluate(VIEW_STATE_JS)
        nxt = box.locator(".tr-next").first
        if nxt.is_disabled():  # saved at its last step
            box.locator(".tr-prev").first.click()
        else:
            nxt.click()
        for _ in range(40):  # the frame is applied within a frame or two; allow a slow machine 2 s
            if live.evaluate(VIEW_STATE_JS) != before:
                break
            page.wait_for_timeout(50)
        assert live.evaluate(VIEW_STATE_JS) != before, f"{kind}: stepper {i} did not change"
    assert all(u.startswith(("http", "https")) for u in page.trw_blocked)  # only the template's own CDN tags


def test_the_over_budget_notice_shows_only_where_it_cannot_step(offline_page):
    import torch
    import tr_widgets
    from tr_widgets.widgets import show

    page, folder = offline_page
    q, k, v = torch.randn(3, 1, 1, 12, 8).unbind(0)
    trace = tr_widgets.trace_attention(q, k, v, is_causal=True)
    over, fits = show(trace, progress=False, frames=0), show(trace, progress=False)
    path = folder / "budget.html"
    path.write_text(f"<html><body><div id=over>{over.export_html()}</div><div id=fits>{fits.export_html()}</div>"
                    "</body></html>", encoding="utf-8")
    page.goto(path.as_uri())
    page.wait_for_selector("#fits .tr-export[data-tr-mounted='1']")
    notice = page.locator("#over .tr-frames-notice")
    assert notice.is_visible() and "set_frame_budget" in notice.text_content()
    assert page.locator("#over .tr-snapshot").is_visible() and page.locator("#over .tr-next").count() == 0
    assert page.locator("#fits .tr-frames-notice").count() == 0
