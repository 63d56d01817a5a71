"""Docs that must stay true: exported notebooks still show the steppers (nbconvert's HTML of a committed
tutorial, executed without widget state, holds each stepper's static snapshot), and the README's tour runs."""
import pathlib

import nbformat
from nbconvert import HTMLExporter

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_nbconvert_html_shows_the_static_snapshots():
    nb = nbformat.read(ROOT / "tutorials/03_lstm_gates.ipynb", as_version=4)
    assert "widgets" not in nb.metadata  # no widget state: the page has no kernel and no widget models
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert shown, "the tutorial shows at least one stepper"
    body, _ = HTMLExporter().from_notebook_node(nb)
    assert body.count("<div class=\"tr-snapshot\"") >= len(shown)  # rendered HTML, not escaped text
    assert "RecurrentStepper" in body and "data:image/png;base64," in body


def test_the_readme_api_tour_runs_as_pasted():
    """The README's Python tour is real code: it runs top to bottom (the decode line included)."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```python\nimport torch, tr_widgets")
    code = readme[start + len("```python\n"):readme.index("```", start + 10)]
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["dt"].text.startswith("The cat sat on the mat")
    assert scope["rec"]["layers.0.self_attn"].weights.shape == (1, 2, 5, 5)
