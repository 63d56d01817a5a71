"""Keep it (issue 13) in the browser: the "save picture" control downloads the stepper as a PNG, drawn in the
page from its canvases and text (no kernel, no network), in JupyterLab 4, in Notebook 7 and in an exported page."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest

from browser_harness import assert_clean, button, cell_output, open_notebook, run_all_cells, write_notebook

pytestmark = pytest.mark.browser
CELL = """\
import torch, tr_widgets
from tr_widgets.widgets import show
torch.manual_seed(0)
q, k, v = torch.randn(3, 1, 2, 6, 8).unbind(0)  # each [B=1, heads=2, T=6, E=8]
att = show(tr_widgets.trace_attention(q, k, v, is_causal=True, tokens=["<s>", "the", "cat", "sat", "on", "mats"]))
att"""


def _png(download, artifacts: Path, name: str) -> tuple[int, int, bytes]:
    data = Path(download.path()).read_bytes()
    (artifacts / name).write_bytes(data)
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "the download is not a PNG"
    w, h = struct.unpack(">II", data[16:24])
    return w, h, data


def _picture_is_the_stepper(page, root, w, h):
    box = root.evaluate("r => { const b = r.getBoundingClientRect(); return [b.width, b.height, window.devicePixelRatio]; }")
    assert abs(w - round(box[0] * box[2])) <= 2 and abs(h - round(box[1] * box[2])) <= 2, (w, h, box)


def test_save_picture_in_the_notebook(browser_page, front_end, notebook_dir, artifacts):
    name = f"save_{front_end.name}"
    write_notebook(notebook_dir / f"{name}.ipynb", [CELL])
    open_notebook(browser_page, front_end.server, f"{name}.ipynb", ui=front_end.ui)
    run_all_cells(browser_page)
    out = cell_output(browser_page, 0)
    out.locator(".tr-clock[data-tr-targets]:not([data-tr-targets='-1'])").wait_for(state="attached", timeout=30_000)
    button(out, "next step").click()
    browser_page.wait_for_function("o => o.querySelector('.tr-clock').dataset.trStep === '1'", arg=out.element_handle())
    with browser_page.expect_download() as d:
        button(out, "save picture").click()
    assert d.value.suggested_filename == "tr_widgets-query-1.png"
    w, h, data = _png(d.value, artifacts, f"{name}.png")
    _picture_is_the_stepper(browser_page, out.locator(".tr-stepper").first, w, h)
    assert len(data) > 5_000, "the picture is nearly empty"
    assert_clean(browser_page, f"save picture in {front_end.name}")


def test_save_picture_in_an_exported_page(chromium, tmp_path, artifacts):
    import torch
    import tr_widgets
    from tr_widgets.widgets import show

    torch.manual_seed(0)
    q, k, v = torch.randn(3, 1, 2, 6, 8).unbind(0)
    att = show(tr_widgets.trace_attention(q, k, v, is_causal=True), progress=False)
    path = tmp_path / "export.html"
    path.write_text(f"<html><body>{att.export_html()}</body></html>", encoding="utf-8")
    context = chromium.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file://", "data:", "blob:")) else r.abort())
    page = context.new_page()
    try:
        page.goto(path.as_uri())
        page.wait_for_selector(".tr-export[data-tr-mounted='1']")
        box = page.locator(".tr-export").first
        with page.expect_download() as d:
            box.get_by_role("button", name="save picture").click()
        w, h, _ = _png(d.value, artifacts, "save_export.png")
        _picture_is_the_stepper(page, box, w, h)
    finally:
        context.close()
