"""The attention weights matrix in JupyterLab 4 and Notebook 7: token axis labels as text that never overlaps, a colour
bar with its ticks, the hover line with both tokens and the exact value, and a click that asks to go
to that query (a ``tr-go`` event, which player.js handles)."""
from __future__ import annotations

import math

import pytest

from browser_harness import assert_clean, cell_output, kernel_eval, open_notebook, run_all_cells, wait_drawn, write_notebook

pytestmark = pytest.mark.browser

TOKENS = ["<s>", "the", "cat", "sat", "on", "the", "mat", "and", "purred", "."]
CELLS = ["import torch, tr_widgets\ntorch.manual_seed(0)",
         f"""tokens = {TOKENS!r}
q, k, v = torch.randn(3, 1, 1, len(tokens), 8).unbind(0)  # each [B=1, heads=1, T=10, E=8]
att = tr_widgets.show(tr_widgets.trace_attention(q, k, v, is_causal=True, tokens=tokens))
att.weights.click_step = "row"
att"""]

# The weights matrix's root and what it shows: label texts and boxes, the colour bar's ticks.
ROOT_JS = """[...out.querySelectorAll('.tr-matrix')].find(m =>
      m.querySelector('.tr-title').textContent.startsWith('attention weights'))"""
MATRIX_JS = """(out) => {
  const root = %s;
  const boxes = (sel) => [...root.querySelectorAll(sel)].map(e => {
      const r = e.getBoundingClientRect();
      return {text: e.textContent, title: e.title, x: r.left, y: r.top, w: r.width, h: r.height}; });
  const c = root.querySelector('canvas.tr-window').getBoundingClientRect();
  return {rows: boxes('.tr-row-labels .tr-axis-label'), cols: boxes('.tr-col-labels .tr-axis-label'),
          ticks: boxes('.tr-bar-tick').map(b => b.text), bar: !!root.querySelector('.tr-colour-bar canvas'),
          hover: root.querySelector('.tr-hover').textContent, canvas: {x: c.left, y: c.top, w: c.width, h: c.height}};
}""" % ROOT_JS


def _overlap(a, b) -> bool:
    return min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"]) > 0.5 and \
        min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"]) > 0.5


def test_weights_matrix_labels_colour_bar_hover_and_click(browser_page, front_end, notebook_dir, artifacts):
    page, name = browser_page, f"matrix_look_{front_end.name}"
    write_notebook(notebook_dir / f"{name}.ipynb", CELLS)
    open_notebook(page, front_end.server, f"{name}.ipynb", ui=front_end.ui)
    run_all_cells(page)
    out = cell_output(page, 1)
    out.scroll_into_view_if_needed()
    wait_drawn(page, out, "canvas.tr-window")
    out.evaluate(f"out => ({ROOT_JS}).querySelector('canvas.tr-window').scrollIntoView({{block: 'center'}})")
    m = out.evaluate(MATRIX_JS)
    assert [b["text"] for b in m["rows"]] == TOKENS and [b["text"] for b in m["cols"]] == TOKENS
    for axis in ("rows", "cols"):
        boxes = m[axis]
        assert all(b["w"] > 0 and b["h"] > 0 for b in boxes), axis
        assert not [(a["text"], b["text"]) for i, a in enumerate(boxes) for b in boxes[i + 1:] if _overlap(a, b)], axis
    assert m["rows"][2]["title"].endswith("cat")  # the full text on hover
    assert m["bar"] and len(m["ticks"]) >= 2 and m["ticks"][0] == "0"  # weights: from 0 up
    assert "hover a cell" in m["hover"]  # the hover line says it exists

    r, c = 6, 2  # query "mat", key "cat": below the diagonal, not masked
    cv = m["canvas"]
    px, py = (cv["w"] - 2) / 10, (cv["h"] - 2) / 10  # 1 px border
    page.mouse.move(cv["x"] + 1 + (c + 0.5) * px, cv["y"] + 1 + (r + 0.5) * py)
    page.wait_for_function(f"out => ({ROOT_JS}).querySelector('.tr-hover').textContent.includes('“cat”')",
                           arg=out.element_handle(), timeout=10_000)
    hover = out.evaluate(MATRIX_JS)["hover"]
    exact = float(kernel_eval(page, f"print(repr(float(att.weights.exact_values()[{r}, {c}])))").strip())
    assert "“mat”" in hover and "“cat”" in hover and "≈" not in hover, hover
    shown = float(hover.rsplit("·", 1)[1].split()[0])
    assert math.isclose(shown, exact, rel_tol=5e-4), (hover, exact)  # ≥ 4 significant digits of the float32
    out.screenshot(path=str(artifacts / f"{name}_hover.png"))

    # capture phase: the stepper around the matrix (player.js) takes the event on its way up
    page.evaluate("() => { window.__trGo = []; "
                  "document.addEventListener('tr-go', e => window.__trGo.push(e.detail.step), true); }")
    cv = out.evaluate(MATRIX_JS)["canvas"]  # measured again: the hover line may have moved the layout
    page.mouse.click(cv["x"] + 1 + 1.5 * px, cv["y"] + 1 + (4 + 0.5) * py)  # row 4
    page.wait_for_function("() => window.__trGo.length > 0", timeout=5_000)
    assert page.evaluate("() => window.__trGo")[0] == 4
    assert out.locator("canvas.tr-window").first.evaluate("c => getComputedStyle(c).cursor") == "pointer"
    assert_clean(page, name)
