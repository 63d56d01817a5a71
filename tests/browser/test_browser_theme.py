"""Theme-following (issue 13) in a real JupyterLab 4 and Notebook 7, in Debian's Chromium.

One notebook shows every stepper kind (an LSTM recurrent trace, attention with tokens, a decode of the
shipped tiny GPT, a gradient trace and a Mamba state trace). In JupyterLab Light and Dark (set through
the settings REST API before the page opens) each stepper is screenshotted, every visible text inside it
must reach WCAG AA contrast (4.5:1) against its effective background (the first ancestor with an opaque
background, from the computed styles), and in Dark no canvas may keep a white background; the same
checks run in Notebook 7 Light and Dark. Switching the
theme from JupyterLab's Settings menu, with the notebook open, must repaint the canvases without a re-run.
A bar flow wrapped in a narrow box keeps every arrow beside the group it points into, shows its value
axis as text, and names the hovered bar's index and value.

Screenshots go to $TR_SCREENSHOTS (default: pytest's tmp_path), named <kind>_<light|dark>.png;
``TR_SCREENSHOTS=docs/screenshots`` refreshes the README's (attention, recurrent, decode, loop only).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

import stepper_cells as cells
from browser_harness import (
    assert_clean, cell_output, kernel_eval, open_notebook, run_all_cells, set_theme, wait_drawn, write_notebook,
)

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
README_KINDS = ("attention", "recurrent", "decode", "loop")
SETUP = """\
import torch, numpy as np, ipywidgets as w, tr_widgets
from tr_widgets.widgets import BarsCanvas
torch.manual_seed(0)"""
CELLS = {
    "recurrent": cells.lstm(6, 7),
    "attention": cells.ATTENTION,
    "decode": cells.DECODE,
    "gradients": cells.gradients(6),
    "state": cells.STATE,
    "loop": cells.LOOP,
    "compare": cells.COMPARE,
    "flow": """\
# GPT-2-sized o_i panels (16 values per head) in a narrow box: the flow must wrap
b = BarsCanvas(title="stages")
r = np.random.default_rng(0)
b.set_series([(f"s{j}", r.standard_normal(16), None, 3, "", 5) for j in range(6)], [[0], [1], [2], [3], [4, 5]])
w.Box([b], layout=w.Layout(width="420px"))""",
}
KINDS = [k for k in CELLS if k != "flow"]
INDEX = {k: i + 1 for i, k in enumerate(CELLS)}  # code cell of each (cell 0 is SETUP)

# Every visible, enabled text inside the stepper: its colour against its effective background (the first ancestor,
# itself included, with a non-transparent background-color; semi-transparent ones are composited down).
CONTRAST_JS = """(area) => {
  const root = area.querySelector('.tr-stepper') || area;
  const parse = (s) => { const m = s.match(/rgba?\\(([^)]*)\\)/); if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const over = (c, b) => [0, 1, 2].map(i => c[i] * c[3] + b[i] * (1 - c[3])).concat([1]);
  const lum = (c) => { const f = (x) => { x /= 255; return x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const ratio = (a, b) => { const [h, l] = [lum(a), lum(b)].sort((x, y) => y - x); return (h + 0.05) / (l + 0.05); };
  const background = (e) => { const layers = [];
    for (let p = e; p; p = p.parentElement) {
      const c = parse(getComputedStyle(p).backgroundColor || '');
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; } }
    let bg = [255, 255, 255, 1]; for (const c of layers.reverse()) bg = over(c, bg); return bg; };
  const out = []; let checked = 0;
  for (const e of root.querySelectorAll('*')) {
    const own = [...e.childNodes].filter(n => n.nodeType === 3 && n.textContent.trim()).map(n => n.textContent.trim()).join(' ');
    if (!own || ['SCRIPT', 'STYLE', 'OPTION', 'TITLE'].includes(e.tagName)) continue;
    if (e.closest(':disabled, [aria-disabled="true"]')) continue;  // WCAG exempts inactive controls
    const r = e.getBoundingClientRect(), cs = getComputedStyle(e);
    if (!r.width || !r.height || cs.visibility === 'hidden' || cs.display === 'none' || Number(cs.opacity) === 0) continue;
    const svg = e instanceof SVGElement;
    let fg = parse(svg ? cs.fill : cs.color); if (!fg) continue;
    fg = [fg[0], fg[1], fg[2], fg[3] * Number(cs.opacity)];
    const bg = background(svg ? e.ownerSVGElement || e : e);
    const k = ratio(over(fg, bg), bg); checked++;
    if (k < 4.5) out.push({text: own.slice(0, 60), tag: e.tagName.toLowerCase(), cls: String(e.className.baseVal ?? e.className),
                           colour: svg ? cs.fill : cs.color, background: 'rgb(' + bg.slice(0, 3).map(Math.round).join(',') + ')',
                           ratio: Math.round(k * 100) / 100});
  }
  return {checked, low: out};
}"""

# Per canvas of `root`: the share of opaque pure-white pixels (a white background left in a dark theme).
WHITE_JS = """(root) => [...root.querySelectorAll('canvas')].filter(c => c.width && c.height).map(c => {
  const ctx = c.getContext('2d'); if (!ctx) return {cls: c.className, white: 0};
  const d = ctx.getImageData(0, 0, c.width, c.height).data; let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] === 255 && d[i+1] === 255 && d[i+2] === 255 && d[i+3] === 255) n++;
  return {cls: c.className, white: n / (c.width * c.height)};
})"""

DRAWS_JS = """() => [...document.querySelectorAll('.tr-bars, .tr-matrix')].map(e => ({
  cls: e.className, draws: e.dataset.trDraws || '', theme: e.dataset.trTheme || ''}))"""


def _screens(tmp_path) -> Path:
    folder = Path(os.environ.get("TR_SCREENSHOTS") or tmp_path)
    folder = folder if folder.is_absolute() else REPO / folder
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _open_and_run(page, server, name: str, ui: str = "lab") -> None:
    open_notebook(page, server, name, ui=ui)
    if ui == "lab":
        page.evaluate("() => { window.jupyterapp.shell.collapseLeft(); window.jupyterapp.shell.collapseRight(); }")
    run_all_cells(page, timeout=300_000)
    for kind in CELLS:
        out = cell_output(page, INDEX[kind])
        out.scroll_into_view_if_needed()
        wait_drawn(page, out, timeout=60_000, step=None if kind == "flow" else 0)


def _check(page, kinds, folder: Path | None, theme: str) -> tuple[dict, dict]:
    """Screenshot each stepper into ``folder`` and return (low-contrast texts, white canvases) per kind."""
    low, white = {}, {}
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": 2400})  # a whole stepper in one screenshot
    try:
        for kind in kinds:
            _check_one(page, kind, folder, theme, low, white)
    finally:
        page.set_viewport_size(size)
    return low, white


def _check_one(page, kind: str, folder: Path | None, theme: str, low: dict, white: dict) -> None:
    """Screenshot one stepper, and record its low-contrast texts (and, in Dark, its white canvases)."""
    out = cell_output(page, INDEX[kind])
    out.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    if folder is not None and (folder.resolve() != (REPO / "docs" / "screenshots").resolve() or kind in README_KINDS):
        out.screenshot(path=str(folder / f"{kind}_{theme}.png"))
    res = out.evaluate(CONTRAST_JS)
    assert res["checked"] > 5, f"{kind}: only {res['checked']} texts found"
    if res["low"]:
        low[kind] = res["low"]
    if theme == "dark":
        bad = [c for c in out.evaluate(WHITE_JS) if c["white"] > 0.3]
        if bad:
            white[kind] = bad


@pytest.fixture(scope="module")
def theme_notebook(notebook_dir, jupyter):
    write_notebook(notebook_dir / "theme.ipynb", [SETUP, *CELLS.values()])
    yield "theme.ipynb"
    set_theme(jupyter, THEMES["light"])  # the other browser tests expect the default theme


def test_light_theme_text_contrast_and_screenshots(browser_page, jupyter, theme_notebook, tmp_path):
    set_theme(jupyter, THEMES["light"])
    _open_and_run(browser_page, jupyter, theme_notebook)
    assert browser_page.evaluate("() => document.body.dataset.jpThemeLight") == "true"
    low, _ = _check(browser_page, KINDS, _screens(tmp_path), "light")
    assert_clean(browser_page, "light theme")
    assert not low, f"texts below 4.5:1 in JupyterLab Light: {json.dumps(low, ensure_ascii=False, indent=1)}"


def test_wrapped_flow_keeps_each_arrow_beside_its_group(browser_page, jupyter, theme_notebook):
    if not browser_page.evaluate("() => !!document.querySelector('.tr-flow-step')"):
        _open_and_run(browser_page, jupyter, theme_notebook)
    out = cell_output(browser_page, INDEX["flow"])
    out.scroll_into_view_if_needed()
    res = out.evaluate("""(root) => {
      const flow = root.querySelector('.tr-flow'), fr = flow.getBoundingClientRect();
      const steps = [...flow.querySelectorAll('.tr-flow-step')];
      const rows = new Set(steps.map(s => Math.round(s.getBoundingClientRect().top)));
      const bad = [];
      for (const a of flow.querySelectorAll('.tr-arrow')) {
        const g = a.nextElementSibling, ar = a.getBoundingClientRect(), gr = g.getBoundingClientRect();
        const mid = (ar.top + ar.bottom) / 2;
        if (!g.classList.contains('tr-group') || mid < gr.top || mid > gr.bottom || gr.left < ar.right - 1
            || gr.left - ar.right > 12) bad.push([ar.left, ar.top, gr.left, gr.top]);
      }
      return {rows: rows.size, arrows: flow.querySelectorAll('.tr-arrow').length, bad,
              overflow: flow.scrollWidth > flow.clientWidth + 1 || fr.right > root.getBoundingClientRect().right + 1};
    }""")
    assert res["rows"] >= 2, f"the flow did not wrap in a 420 px box: {res}"
    assert res["arrows"] == 4 and not res["bad"], f"an arrow is not beside the group it points into: {res}"
    assert not res["overflow"], f"the flow runs past its box: {res}"
    # the value axis is text: +max, 0, −max as Python computed it; hovering a bar names its index and value
    axis = out.locator(".tr-value-axis").first.evaluate("e => [...e.children].map(c => c.textContent)")
    top = kernel_eval(browser_page, "print(b.axis[0])").strip()
    assert axis == [f"+{top}", "0", f"\u2212{top}"], axis
    box = out.locator("canvas.tr-series-canvas").first.bounding_box()
    browser_page.mouse.move(box["x"] + box["width"] * 3.5 / 16, box["y"] + box["height"] / 2)
    hover = out.locator(".tr-hover").first
    browser_page.wait_for_function("e => e.textContent.startsWith('s0 [3]')", arg=hover.element_handle(), timeout=10_000)
    assert re.fullmatch(r"s0 \[3\] \(0–15\) = [+−]\d+(\.\d+)?(e[+-]\d+)?", hover.text_content()), hover.text_content()


def test_theme_switch_from_the_settings_menu_redraws_without_rerun(browser_page, jupyter, theme_notebook):
    page = browser_page
    if page.evaluate("() => document.body.dataset.jpThemeLight") != "true" or \
            not page.evaluate("() => !!document.querySelector('.tr-bars')"):
        set_theme(jupyter, THEMES["light"])
        _open_and_run(page, jupyter, theme_notebook)
    for kind in CELLS:  # every output rendered once (JupyterLab skips drawing cells never scrolled to)
        cell_output(page, INDEX[kind]).scroll_into_view_if_needed()
    before = page.evaluate(DRAWS_JS)
    counts = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets.map(c => c.model.executionCount)")
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
    page.locator(".lm-Menu-itemLabel", has_text="JupyterLab Dark").first.click()
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
    page.wait_for_function("""(before) => { const now = [...document.querySelectorAll('.tr-bars')];
        return now.length > 0 && now.every((e, i) => e.dataset.trTheme && e.dataset.trTheme !== before[i]); }""",
                           arg=[e["theme"] for e in before if "tr-bars" in e["cls"]], timeout=30_000)
    page.wait_for_timeout(3000)  # the theme's late CSS and the bars' delayed re-checks
    # matrices paint only when on screen: each output scrolled to, and each folded panel opened, repaints
    for kind in CELLS:
        cell_output(page, INDEX[kind]).scroll_into_view_if_needed()
        page.wait_for_timeout(300)
    page.evaluate("() => document.querySelectorAll('.tr-fold .jupyter-widget-Collapse-header')"
                  ".forEach(h => h.closest('.jupyter-widget-Collapse').classList.contains('jupyter-widget-Collapse-open') || h.click())")
    for kind in CELLS:
        cell_output(page, INDEX[kind]).scroll_into_view_if_needed()
        page.wait_for_timeout(300)
    after = page.evaluate(DRAWS_JS)
    assert len(after) == len(before)
    stale = [b["cls"] for b, a in zip(before, after) if a["draws"] == b["draws"]]
    assert not stale, f"canvases not redrawn after the theme switch: {stale}"
    assert counts == page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets"
                                   ".map(c => c.model.executionCount)"), "a cell was re-run"
    bg = page.evaluate("() => getComputedStyle(document.querySelector('.tr-bars')).getPropertyValue('--tr-bg').trim()")
    assert bg.lower() in ("#111", "#111111", "rgb(17, 17, 17)"), bg
    assert_clean(page, "theme switch")


def test_dark_theme_text_contrast_canvases_and_screenshots(browser_page, jupyter, theme_notebook, tmp_path):
    set_theme(jupyter, THEMES["dark"])
    _open_and_run(browser_page, jupyter, theme_notebook)
    assert browser_page.evaluate("() => document.body.dataset.jpThemeLight") == "false"
    low, white = _check(browser_page, KINDS, _screens(tmp_path), "dark")
    set_theme(jupyter, THEMES["light"])
    assert_clean(browser_page, "dark theme")
    assert not white, f"canvases with a white background in JupyterLab Dark: {white}"
    assert not low, f"texts below 4.5:1 in JupyterLab Dark: {json.dumps(low, ensure_ascii=False, indent=1)}"


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_notebook7_text_contrast(browser_page, notebook7, theme_notebook, theme, artifacts):
    """Notebook 7 reads the same setting (@jupyterlab/apputils-extension:themes) from its own server.
    Screenshots: test-artifacts/browser/notebook7/<kind>_<theme>.png."""
    set_theme(notebook7, THEMES[theme])
    try:
        _open_and_run(browser_page, notebook7, theme_notebook, ui="notebook")
        assert browser_page.evaluate("() => document.body.dataset.jpThemeLight") == str(theme == "light").lower()
        folder = artifacts / "notebook7"
        folder.mkdir(exist_ok=True)
        low, white = _check(browser_page, KINDS, folder, theme)
    finally:
        if theme != "light":
            set_theme(notebook7, THEMES["light"])  # the other Notebook 7 tests expect the default theme
    assert_clean(browser_page, f"Notebook 7 {theme}")
    assert not white, f"canvases with a white background in Notebook 7 Dark: {white}"
    assert not low, f"texts below 4.5:1 in Notebook 7 {theme}: {json.dumps(low, ensure_ascii=False, indent=1)}"
