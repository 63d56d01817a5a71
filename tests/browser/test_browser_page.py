"""One stepper as a file (issue 25): ``w.save("view.html")`` opened from file:// with the network off.

The page must step, scrub and play with nothing but itself: every request that is not file:// or data: is
aborted and recorded, and none may be made. Over the frame budget the page shows its picture and says how
to make it fit.
"""
from __future__ import annotations

import pytest
import torch

import tr_widgets
from browser_harness import VIEW_STATE_JS, button, offline_context

pytestmark = pytest.mark.browser
T = 9


@pytest.fixture(scope="module")
def offline(chromium, tmp_path_factory):
    """A page that may load file:// and data: only; ``blocked`` lists every other request it tried."""
    context, page = offline_context(chromium, ours_only=False)
    yield page, tmp_path_factory.mktemp("pages"), page.trw_blocked, page.trw_errors
    context.close()


def _step(page) -> int:
    return int(page.eval_on_selector(".tr-export-live .tr-step-slider", "s => s.value"))


def _wait_step(page, step: int, timeout: float = 15_000) -> None:
    page.wait_for_function("s => { const m = [...document.querySelectorAll('.tr-export-live [data-step]')];"
                           " return m.length > 0 && m.every(e => e.dataset.step === String(s)); }",
                           arg=step, timeout=timeout)


def test_view_html_steps_scrubs_and_plays_offline(offline):
    page, folder, blocked, errors = offline
    torch.manual_seed(0)
    w = tr_widgets.show(tr_widgets.trace_recurrent(torch.nn.LSTM(2, 3), torch.randn(T, 1, 2)), interval=60)
    w.step = 2
    path = w.save(folder / "view.html")
    page.goto(path.as_uri())
    page.wait_for_selector(".tr-export[data-tr-mounted='1']", state="attached", timeout=30_000)
    _wait_step(page, 2)  # it opens at the step it was saved at
    live = page.locator(".tr-export-live").element_handle()
    before = live.evaluate(VIEW_STATE_JS)
    button(page, "next step").click()
    _wait_step(page, 3)
    assert live.evaluate(VIEW_STATE_JS) != before, "the view did not change on 'next step'"
    page.eval_on_selector(".tr-export-live .tr-step-slider",
                          "s => { s.value = '6'; s.dispatchEvent(new Event('input', {bubbles: true})); }")
    _wait_step(page, 6)
    button(page, "play").click()
    _wait_step(page, T - 1)
    assert _step(page) == T - 1
    assert not blocked, f"the page asked the network for {blocked}"
    assert not errors, errors


def test_view_html_over_the_budget_says_so_and_how_to_fit(offline):
    page, folder, blocked, _ = offline
    q, k, v = torch.randn(3, 1, 1, 12, 8).unbind(0)
    w = tr_widgets.show(tr_widgets.trace_attention(q, k, v, is_causal=True), frames=0)
    path = w.save(folder / "over.html")
    page.goto(path.as_uri())
    notice = page.locator(".tr-frames-notice")
    notice.wait_for(state="visible", timeout=15_000)
    text = notice.text_content()
    assert "window=" in text and "set_frame_budget" in text  # how to make it fit
    assert page.locator(".tr-snapshot").first.is_visible() and page.locator(".tr-next").count() == 0
    assert not blocked
