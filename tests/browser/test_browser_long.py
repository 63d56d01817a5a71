"""A long attention stepper (issue 26) in a real JupyterLab 4: it appears at once, steps while its overview
fills in, and the overview finishes equal to the one computed up front.

T=131,072, the issue's length (2 heads, E=64, one torch thread): the selected head's overview takes the CI machine
tens of seconds, many turns of the kernel's loop, long enough to step through; the notice under the overview says
how far it is (the marker this test reads).
"""
from __future__ import annotations

import json
import base64
import re

import numpy as np
import pytest

from browser_harness import (VIEW_STATE_JS, assert_clean, button, cell_output, kernel_eval, open_notebook,
                             run_all_cells, wait_drawn, wait_steps, write_notebook)
from test_browser_overview_not_yet import READ_JS, _blend

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
    _jump_fills_the_window_in(page)
    assert_clean(page, "long attention")


def _jump_fills_the_window_in(page) -> None:
    """A jump to another window: its current row's group at once, the rest "not yet", then all of it, equal
    to the window computed at once (views.window_fill)."""
    rows = kernel_eval(page, "s.step = 100000\nprint(s.weights.done_rows)")
    a, b = eval(rows)  # noqa: S307  (a list of two ints printed by the kernel)
    assert a <= 100000 - int(kernel_eval(page, "s.weights.r0")) < b < 192, rows
    for _ in range(300):
        if kernel_eval(page, "s.weights.done_rows").strip() == "[]":
            break
        page.wait_for_timeout(100)
    same = kernel_eval(page, "from tr_widgets.views import weights_window, window_around\n"
                             "win = window_around((at.L, at.S), 100000, 100000, s.window, s.window)\n"
                             "np.array_equal(s.weights.window_codes(), weights_window(at, (0, 0), win, s._range((0, 0))).codes)")
    assert same.strip() == "True", "the filled window is not the one computed at once"


# The window canvas's pixels (base64 RGBA) and the page's resolved bg and border colours as [r, g, b, a].
READ_WINDOW_JS = READ_JS.replace("canvas.tr-overview", "canvas.tr-window")
WINDOW_SETUP = """\
import numpy as np
from tr_widgets.views.matrix import NONFINITE, Window, quantize
from tr_widgets.widgets import MatrixCanvas
rng = np.random.default_rng(3)
codes = quantize(rng.random((12, 9)).astype(np.float32), 0, 1)
codes[:3] = NONFINITE; codes[7:] = NONFINITE  # rows [3, 7) computed, as a filling window leaves them
mat = MatrixCanvas(title="filling window")
mat.set_window(codes, Window(0, 12, 0, 9), (512, 400), 0.0, 1.0, done=(3, 7))
mat"""


def test_a_filling_windows_rows_not_yet_paint_as_the_saved_picture(browser_page, jupyter, notebook_dir):
    page = browser_page
    write_notebook(notebook_dir / "window_not_yet.ipynb", [WINDOW_SETUP])
    open_notebook(page, jupyter, "window_not_yet.ipynb")
    run_all_cells(page)
    out = cell_output(page, 0)
    out.scroll_into_view_if_needed()
    page.wait_for_function("root => { const c = root.querySelector('canvas.tr-window'); return c && c.width > 8; }",
                           arg=out.element_handle(), timeout=30_000)
    page.wait_for_timeout(1000)
    live = out.evaluate(READ_WINDOW_JS)
    colours = (tuple(live["bg"][:3]), _blend(live["bg"], live["border"]))
    text = kernel_eval(page, "import base64, json\nfrom tr_widgets.views import image\n"
                             "rgb = image.colorize(mat.window_codes(), mat.cmap, (mat.cell_h, mat.cell_w), (3, 7), %r)\n"
                             "print(json.dumps([rgb.shape, base64.b64encode(rgb.tobytes()).decode()]))" % (colours,))
    shape, b64 = json.loads(text)
    want = np.frombuffer(base64.b64decode(b64), np.uint8).reshape(shape).astype(int)
    got = np.frombuffer(base64.b64decode(live["pixels"]), np.uint8).reshape(live["h"], live["w"], 4)[..., :3]
    assert got.shape == want.shape
    off = np.abs(got.astype(int) - want).max(-1) > 8
    assert not off.any(), (int(off.sum()), np.argwhere(off)[:3].tolist())
    px = live["h"] // 12
    for rows in (got[:3 * px], got[7 * px:]):  # above and below the computed rows: background and stroke only
        assert not (rows == (255, 0, 255)).all(-1).any() and len({tuple(c) for c in rows.reshape(-1, 3)}) == 2
    words = json.loads(kernel_eval(page, "print(json.dumps(mat.texts))"))
    out.locator("canvas.tr-window").hover(position={"x": 5, "y": px + 2})
    assert out.locator(".tr-hover").text_content().endswith(words["not_yet"])
