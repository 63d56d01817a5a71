"""The browser and the SVG painter paint one Look alike (issue 21): for each panel type, every canvas the
browser painted is compared, pixel by pixel, with Chromium's rendering of views.svg's picture of the same Look.

The SVG is written in the light theme's colours; the page paints the theme colours (background, zero line,
mark, highlight, hatch) with JupyterLab's values, so those hex values are swapped for the page's resolved
--tr-* colours before rendering, and the data colours (palette.COLOURS) are left as they are.

Tolerance: a pixel matches when no channel differs by more than 8 (of 255), and at most 0.5 % of a canvas's
pixels may miss. Both pictures are rasterised by the same engine (Skia) at 1:1 with no resampling, so filled
rectangles on whole pixels, the window's cells (a pixelated PNG) and the 2 px outlines agree exactly; what may
differ is antialiasing where a painter strokes a diagonal (a masked bar's hatch) or blends a translucent
theme colour (JupyterLab's text colours carry alpha): a few pixels, by a few levels. A painter that decides
anything else (another scale, bar height or width, zero line row, outline place) moves whole bars or lines:
hundreds of pixels, by far more than 8 levels. Measured on Debian's Chromium: 0 pixels differ, on every canvas.
"""
from __future__ import annotations

import json

import pytest

from browser_harness import cell_output, kernel_eval, open_notebook, run_all_cells, write_notebook
from tr_widgets.views import palette

pytestmark = pytest.mark.browser

SETUP = """\
import numpy as np
from ipywidgets import VBox
from tr_widgets.views.matrix import Window, quantize
from tr_widgets.widgets import BarsCanvas, MatrixCanvas
rng = np.random.default_rng(7)
bars = BarsCanvas(title="looks")
gates = [(n, rng.uniform(-1, 1, 6).astype(np.float32), None, 2, "") for n in "ifgo"]
masked = ("masked", np.array([0.5, np.nan, -0.2, 0.9, 0.1], np.float32), np.array([0, 0, 1, 0, 1]), 1, "", 3)
ms = ("ms", np.array([3.0, 111.2, 40.0], np.float32), None, -1, "", 1)
bars.set_series(gates + [masked, ms], groups=[[0, 1, 2, 3], [4], [5]], scales=["g"] * 4 + ["", ""],
                units={5: "ms"})
values = rng.standard_normal((6, 9)).astype(np.float32)
values[1, 4] = np.nan
codes = quantize(values, -2.5, 2.5)
mat = MatrixCanvas(title="window", cmap="diverging")
mat.set_window(codes, Window(0, 6, 0, 9), (6, 9), -2.5, 2.5, [f"r{i}" for i in range(6)], [f"c{j}" for j in range(9)])
mat.mark_row, mat.highlight_col = 2, 5
VBox([bars, mat])"""

# In the kernel: the SVG painter's pictures of each canvas's part of the panels' Looks, in DOM order.
PICTURES = """\
import json
from tr_widgets.views.looks import CHART_H
from tr_widgets.views.svg import matrix_svg, plot_svg
look = bars.look()
svgs = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{look.charts[s].plot_w}' height='{CHART_H}'>"
        f"{plot_svg(look.charts[s])}</svg>" for g in look.groups for s in g]
m = mat.look()
body, _, _ = matrix_svg(m)
w, h = m.window
window = (f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' viewBox='{m.x0} {m.y0} {w} {h}'>"
          f"{body}</svg>")
axes = [list(look.charts[s].axis) for g in look.groups for s in g]
legend = [i.words for i in look.legend]
print(json.dumps({"bars": svgs, "matrix": [window], "axes": axes, "legend": legend}))"""

# Render each SVG (theme colours swapped for the page's) and compare it with its canvas, pixel by pixel.
COMPARE_JS = """async (root, [pictures, swaps, tol]) => {
  const resolve = (el, name) => { const c = document.createElement('canvas').getContext('2d');
    c.fillStyle = getComputedStyle(el).getPropertyValue('--tr-' + name).trim(); return c.fillStyle; };
  const out = {};
  for (const [kind, selector, owner] of [['bars', 'canvas.tr-series-canvas', '.tr-bars'],
                                          ['matrix', 'canvas.tr-window', '.tr-matrix']]) {
    const canvases = [...root.querySelectorAll(selector)], el = root.querySelector(owner);
    out[kind] = [];
    for (let k = 0; k < canvases.length; k++) {
      let svg = pictures[kind][k];
      for (const [light, name] of swaps) svg = svg.split(`'${light}'`).join(`'${resolve(el, name)}'`);
      const live = canvases[k], w = live.width, h = live.height;
      const img = new Image();
      img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(svg);
      await img.decode();
      const c = document.createElement('canvas'); c.width = w; c.height = h;
      const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
      const a = live.getContext('2d').getImageData(0, 0, w, h).data, b = ctx.getImageData(0, 0, w, h).data;
      let missed = 0, worst = 0;
      for (let i = 0; i < a.length; i += 4) {
        const d = Math.max(Math.abs(a[i] - b[i]), Math.abs(a[i + 1] - b[i + 1]), Math.abs(a[i + 2] - b[i + 2]));
        worst = Math.max(worst, d); if (d > tol) missed++;
      }
      out[kind].push({w, h, missed, worst, size: [img.naturalWidth, img.naturalHeight]});
    }
  }
  return out;
}"""

TOLERANCE, SHARE = 8, 0.005  # levels per channel; share of a canvas's pixels allowed to miss
# The words beside the canvases: each chart's axis texts (bars.js writes them from the label by the Look's rule)
# and the legend items, in DOM order.
WORDS_JS = """root => ({
  axes: [...root.querySelectorAll('.tr-value-axis')].map(a => [...a.children].map(s => s.textContent)),
  legend: [...root.querySelectorAll('.tr-legend-item')].map(i => i.textContent)})"""


def test_each_panel_paints_its_look_as_the_svg_painter_does(browser_page, jupyter, notebook_dir):
    write_notebook(notebook_dir / "looks.ipynb", [SETUP])
    open_notebook(browser_page, jupyter, "looks.ipynb")
    run_all_cells(browser_page)
    out = cell_output(browser_page, 0)
    out.scroll_into_view_if_needed()
    browser_page.wait_for_function("root => root.querySelectorAll('canvas.tr-series-canvas').length == 6 && "
                                   "root.querySelector('canvas.tr-window') && root.querySelector('canvas.tr-window').width > 8",
                                   arg=out.element_handle(), timeout=30_000)
    text = kernel_eval(browser_page, PICTURES)
    assert not text.startswith("ERROR"), text
    pictures = json.loads(text)
    pictures_only = {k: pictures[k] for k in ("bars", "matrix")}
    swaps = [(palette.THEME[name][2], name) for name in ("bg", "fg-muted", "mark", "highlight", "hatch", "fg")]
    result = out.evaluate(COMPARE_JS, [pictures_only, swaps, TOLERANCE])
    words = out.evaluate(WORDS_JS)
    assert words == {"axes": pictures["axes"], "legend": pictures["legend"]}  # the Look's texts, as it decided them
    for kind, canvases in result.items():
        assert canvases and len(canvases) == len(pictures[kind]), (kind, canvases)
        for k, c in enumerate(canvases):
            assert c["size"] == [c["w"], c["h"]], (kind, k, c)  # the Look's size is the canvas's
            assert c["missed"] <= SHARE * c["w"] * c["h"], (kind, k, c)
