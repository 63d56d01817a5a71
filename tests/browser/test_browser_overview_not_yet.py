"""A filling overview's rows not computed yet (issue 26): the canvas paints them as the saved picture does, and the
hover line says "not computed yet", in JupyterLab Light and Dark.

The overview is set by hand (its first rows computed, one real NaN among them, the rest not yet), as
``views.attention.overview_image`` leaves it mid-way. The live canvas (static/matrix/paint.js) is compared pixel by
pixel with ``MatrixCanvas.overview_rgb`` (views/image.py), given the page's resolved --tr-bg and --tr-border: the
not-yet rows are the panel background with a light diagonal stroke, the computed rows (and their NaN) as before.
The window's outline, which only the live overview draws, is left out (the top-left 8×8 px). Tolerance as in
test_browser_looks.py: 8 levels per channel; here every pixel must match (both painters set whole pixels).
"""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from browser_harness import cell_output, kernel_eval, open_notebook, run_all_cells, set_theme, write_notebook

pytestmark = pytest.mark.browser

SETUP = """\
import numpy as np
from tr_widgets.views.matrix import NONFINITE, Overview, Window, quantize
from tr_widgets.views.palette import COLOURS
from tr_widgets.widgets import MatrixCanvas
rng = np.random.default_rng(3)
mat = MatrixCanvas(title="filling")
mat.set_window(quantize(rng.random((6, 9)).astype(np.float32), 0, 1), Window(0, 6, 0, 9), (512, 400), 0.0, 1.0,
               [f"r{i}" for i in range(6)], [f"c{j}" for j in range(9)])
codes = quantize(rng.random((256, 200)).astype(np.float32), 0, 1)
codes[40, 50] = NONFINITE  # a real NaN in a computed row: magenta still
codes[DONE:] = NONFINITE   # not computed yet
mat.set_overview(Overview(codes, 0.0, 1.0, (2, 2), (512, 400), "computing the overview", DONE))
mat"""
DONE = 100

# The overview canvas's pixels (base64 RGBA) and the page's resolved bg and border colours as [r, g, b, a].
READ_JS = """root => {
  const rgba = (name) => { const c = document.createElement('canvas'); c.width = c.height = 1;
    const x = c.getContext('2d');
    x.fillStyle = getComputedStyle(root.querySelector('.tr-matrix')).getPropertyValue('--tr-' + name).trim();
    x.fillRect(0, 0, 1, 1); return [...x.getImageData(0, 0, 1, 1).data]; };
  const cv = root.querySelector('canvas.tr-overview'), d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
  let s = ''; for (let i = 0; i < d.length; i += 8192) s += String.fromCharCode(...d.subarray(i, i + 8192));
  return {w: cv.width, h: cv.height, pixels: btoa(s), bg: rgba('bg'), border: rgba('border')};
}"""


def _blend(bg, stroke):
    a = stroke[3] / 255  # the canvas blends the stroke by its alpha (the page's bg is opaque)
    return tuple(int(round(b + (s - b) * a)) for b, s in zip(bg[:3], stroke[:3]))


@pytest.mark.parametrize("theme", ["JupyterLab Light", "JupyterLab Dark"])
def test_not_yet_rows_paint_as_the_saved_picture_and_hover_says_so(browser_page, jupyter, notebook_dir, theme):
    page = browser_page
    set_theme(jupyter, theme)
    try:
        name = f"not_yet_{theme.split()[-1].lower()}.ipynb"
        write_notebook(notebook_dir / name, [f"DONE = {DONE}\n" + SETUP])
        open_notebook(page, jupyter, name)
        run_all_cells(page)
        out = cell_output(page, 0)
        out.scroll_into_view_if_needed()
        page.wait_for_function("root => { const c = root.querySelector('canvas.tr-overview'); return c && c.width > 8; }",
                               arg=out.element_handle(), timeout=30_000)
        light = "true" if theme.endswith("Light") else "false"
        page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'", timeout=30_000)
        page.wait_for_timeout(3000)  # the theme's late CSS and the views' delayed re-checks (as test_browser_theme)
        live = out.evaluate(READ_JS)
        assert live["bg"][3] == 255, live["bg"]
        colours = (tuple(live["bg"][:3]), _blend(live["bg"], live["border"]))
        text = kernel_eval(page, "import base64, json\nrgb = mat.overview_rgb(%r)\n"
                                 "print(json.dumps([rgb.shape, base64.b64encode(rgb.tobytes()).decode()]))"
                           % (colours,))
        assert not text.startswith("ERROR"), text
        shape, b64 = json.loads(text)
        want = np.frombuffer(base64.b64decode(b64), np.uint8).reshape(shape).astype(int)
        got = np.frombuffer(base64.b64decode(live["pixels"]), np.uint8).reshape(live["h"], live["w"], 4)[..., :3]
        assert got.shape == want.shape
        off = np.abs(got.astype(int) - want).max(-1) > 8
        off[:8, :8] = False  # the window's outline: drawn on the live overview only
        assert not off.any(), (theme, int(off.sum()), np.argwhere(off)[:3].tolist(), live["bg"], live["border"])
        px = live["h"] // 256
        below = got[DONE * px:]
        assert not (below == (255, 0, 255)).all(-1).any()  # nothing not computed yet reads as NaN
        assert (got[40 * px, 50 * px] == (255, 0, 255)).all()  # a real NaN still does
        assert len({tuple(c) for c in below.reshape(-1, 3)}) == 2  # background and stroke only
        hover = out.locator(".tr-hover")
        words = json.loads(kernel_eval(page, "print(json.dumps(mat.texts))"))
        out.locator("canvas.tr-overview").hover(position={"x": 30, "y": (DONE + 50) * px})
        assert hover.text_content() == words["not_yet"]
        out.locator("canvas.tr-overview").hover(position={"x": 30, "y": (DONE - 50) * px})
        assert hover.text_content() != words["not_yet"]
    finally:
        set_theme(jupyter, "JupyterLab Light")
