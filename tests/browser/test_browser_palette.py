"""The canvases paint exactly the colours Python sends (views/palette.py): every code of both colour
tables, the blocked and NaN cells, and the bar chart's positive, negative and zero-line colours are read
back from the canvas pixels in Chromium and compared with the palette (the zero line, a non-data colour,
with the theme's --tr-fg-muted)."""
from __future__ import annotations

import pytest

from browser_harness import cell_output, open_notebook, run_all_cells, write_notebook
from tr_widgets.views import palette

pytestmark = pytest.mark.browser

CELLS = ["""\
import numpy as np
from tr_widgets.views.matrix import Window
from tr_widgets.widgets import BarsCanvas, MatrixCanvas, StepController
from ipywidgets import VBox
codes = np.arange(256, dtype=np.uint8).reshape(16, 16)  # every code: 0..253 values, 254 NaN, 255 blocked
canvases = []
for cmap in ("sequential", "diverging"):
    m = MatrixCanvas(title=cmap, cmap=cmap, cell_px=2)
    m.set_window(codes, Window(0, 16, 0, 16), (16, 16), 0.0, 1.0)
    canvases.append(m)
bars = BarsCanvas(title="bars")
bars.set_series([("signs", np.array([1.0, -1.0], np.float32), None, -1, "")])
VBox(canvases + [bars])"""]

PIXELS_JS = """root => [...root.querySelectorAll('canvas.tr-window, canvas.tr-series-canvas')].map(c => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  return {width: c.width, height: c.height, data: Array.from(d)};
})"""


# The bars' --tr-fg-muted as the canvas paints it (over --tr-bg: JupyterLab's text colours have alpha),
# filled into a 1×1 canvas and read back.
MUTED_JS = """root => { const cs = getComputedStyle(root.querySelector('.tr-bars'));
  const c = document.createElement('canvas'); c.width = c.height = 1;
  const ctx = c.getContext('2d');
  for (const k of ['--tr-bg', '--tr-fg-muted']) { ctx.fillStyle = cs.getPropertyValue(k).trim(); ctx.fillRect(0, 0, 1, 1); }
  return Array.from(ctx.getImageData(0, 0, 1, 1).data.slice(0, 3)); }"""


def _rgb(img, x, y):
    i = 4 * (y * img["width"] + x)
    return tuple(img["data"][i:i + 3])


def test_canvases_paint_the_python_palette(browser_page, jupyter, notebook_dir):
    write_notebook(notebook_dir / "palette.ipynb", CELLS)
    open_notebook(browser_page, jupyter, "palette.ipynb")
    run_all_cells(browser_page)
    out = cell_output(browser_page, 0)
    out.scroll_into_view_if_needed()
    browser_page.wait_for_function("root => root.querySelectorAll('canvas.tr-window').length == 2 && "
                                   "root.querySelectorAll('canvas.tr-series-canvas').length == 1",
                                   arg=out.element_handle(), timeout=30_000)
    seq, div, bars = out.evaluate(PIXELS_JS)
    for img, cmap in ((seq, "sequential"), (div, "diverging")):
        assert (img["width"], img["height"]) == (32, 32)  # cell size sent from Python: 2 px
        for code in range(256):
            r, c = divmod(code, 16)
            expected = (palette.COLOURS["blocked"] if code == 255 else palette.COLOURS["nonfinite"] if code == 254
                        else tuple(int(v) for v in palette.LUTS[cmap][code]))
            assert _rgb(img, 2 * c, 2 * r) == expected, (cmap, code)
    mid, bw = bars["height"] // 2, palette.bar_px(2)
    assert _rgb(bars, 0, mid - 2) == palette.COLOURS["positive"]
    assert _rgb(bars, bw, mid + 2) == palette.COLOURS["negative"]
    # the zero line is a non-data colour: the theme's muted text colour (--tr-fg-muted), read back the same way
    muted = out.evaluate(MUTED_JS)
    assert _rgb(bars, 0, mid) == tuple(muted), (muted, _rgb(bars, 0, mid))
    assert _rgb(bars, 0, mid) not in (palette.COLOURS["positive"], palette.COLOURS["negative"])
