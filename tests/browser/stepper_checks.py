"""Checks that every stepper's browser test runs the same way: the keys step a live stepper (and the kernel's step
follows), and an nbconvert export of one steps offline by click and by key."""
from __future__ import annotations

from pathlib import Path

from browser_harness import VIEW_STATE_JS, button, clock_step, export_stepper, kernel_eval, offline_context


def step_by_keys(page, out, root, last: int, name: str) -> None:
    """Click "next" (focusing the stepper), then → , End and ← alone; wait until the kernel's ``name.step`` follows
    the browser to ``last - 1`` (a message: a slow machine gets 4 s)."""
    button(out, "next step").click()
    clock_step(page, root, 1)
    page.keyboard.press("ArrowRight")
    clock_step(page, root, 2)
    page.keyboard.press("End")
    clock_step(page, root, last)
    page.keyboard.press("ArrowLeft")
    clock_step(page, root, last - 1)
    for _ in range(40):
        if kernel_eval(page, f"{name}.step").strip() == str(last - 1):
            break
        page.wait_for_timeout(100)
    assert kernel_eval(page, f"{name}.step").strip() == str(last - 1), "Python's step did not follow the browser"


def offline_page(chromium, tmp_path_factory, name: str):
    """A module fixture's generator: ``(page, folder)``, a page that may load file://, data: and blob: only (every
    other request aborted: no network, no CDN) and a fresh folder for its files."""
    context, page = offline_context(chromium, allow=("file://", "data:", "blob:"))
    yield page, tmp_path_factory.mktemp(name)
    context.close()


def export_steps_to_2(page, stepper, path: Path):
    """Export ``stepper`` as nbconvert does, open the page offline, step it to 2 by a click on "next" and a key;
    returns the live view's element handle (after checking it changed and no script failed)."""
    export_stepper(stepper, path)
    page.goto(path.as_uri(), wait_until="domcontentloaded")
    page.wait_for_selector(".tr-export[data-tr-mounted='1']", timeout=30_000)
    box = page.locator(".tr-export[data-tr-mounted='1']").first
    live = box.locator(".tr-export-live").element_handle()
    before = live.evaluate(VIEW_STATE_JS)
    box.locator(".tr-next").first.click()
    clock_step(page, live, 1)
    page.keyboard.press("ArrowRight")
    clock_step(page, live, 2)
    assert live.evaluate(VIEW_STATE_JS) != before and not page.trw_errors, page.trw_errors
    return live
