"""Docs that must stay true: exported notebooks step (nbconvert's HTML of a committed tutorial, executed
without widget state, holds every stepper's static snapshot and its live player, and loads nothing from a
CDN), and the README's tour runs."""
import pathlib
import re

import nbformat
from nbconvert import HTMLExporter

from tr_widgets.widgets.registry import stepper_classes

ROOT = pathlib.Path(__file__).resolve().parents[1]
# every stepper type of the one kind table (widgets.registry), so a new stepper is checked here too
STEPPERS = re.compile(r"^(" + "|".join(c.__name__ for c in stepper_classes()) + r")\(")


def _stepper_outputs(nb) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if STEPPERS.match("".join(o.get("data", {}).get("text/plain", "")))]


def test_nbconvert_html_steps_every_stepper_with_no_cdn():
    nb = nbformat.read(ROOT / "tutorials/03_lstm_gates.ipynb", as_version=4)
    assert "widgets" not in nb.metadata  # no widget state: the page has no kernel and no widget models
    shown = _stepper_outputs(nb)
    assert shown, "the tutorial shows at least one stepper"
    for o in shown:  # each stepper's saved output is its page: snapshot, frames and the player
        page = "".join(o["data"]["text/html"])
        assert "class='tr-snapshot'" in page and "data-tr-frames='1'" in page, "a stepper does not step"
        assert "class='tr-export-data'" in page and "mountAll" in page and "export default" in page
        assert not re.search(r"<script[^>]+src=", page), "a stepper loads a script from elsewhere"
    body, _ = HTMLExporter().from_notebook_node(nb)  # (its sanitiser may requote attributes)
    assert len(re.findall(r"<div class=[\"']tr-snapshot[\"']", body)) >= len(shown)  # HTML, not escaped text
    assert len(re.findall(r"data-tr-frames=[\"']1[\"']", body)) == len(shown) and "RecurrentStepper" in body
    assert len(re.findall(r"<script type=[\"']module[\"']>", body)) >= len(shown)  # the player runs
    assert "data:image/png;base64," in body
    # No widget renderer from a CDN (html-manager, require.js for widgets): the player ships in the page.
    assert not re.search(r"<script[^>]+src=[\"'][^\"']*(jupyter-widgets|html-manager|unpkg|jsdelivr)", body)
    assert "application/vnd.jupyter.widget-view+json" not in body


def test_every_committed_tutorial_steps_in_its_export():
    """Every stepper in every tutorial fits the frame budget, so its saved output steps (no notice), with
    the player the package ships now (re-execute the tutorials after a change to static/*.js)."""
    import json

    from tr_widgets.widgets.frames import player_sources

    player = json.dumps(player_sources()).replace("</", "<\\/")
    for path in sorted((ROOT / "tutorials").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for o in _stepper_outputs(nb):
            page = "".join(o["data"]["text/html"])
            assert "data-tr-frames='1'" in page and "tr-frames-notice" not in page, f"{path.name}: static only"
            assert player in page, f"{path.name}: an older player.js; re-execute it (tutorials/README.md)"


def test_the_readme_api_tour_runs_as_pasted():
    """The README's Python tour is real code: it runs top to bottom (the decode line included)."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```python\nimport torch, tr_widgets")
    code = readme[start + len("```python\n"):readme.index("```", start + 10)]
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["dt"].text.startswith("The cat sat on the mat")
    assert scope["rec"]["layers.0.self_attn"].weights.shape == (1, 2, 5, 5)
