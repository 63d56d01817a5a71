"""The documentation site (issue 25): ``make docs``'s build, opened from file:// with the network off.

The module builds the site once (docs/site/build.py, as ``make docs`` does, into a temporary folder), then opens
every tutorial page, in English and in Chinese, in a browser context that aborts and records every request whose
URL is not file:. Each page must show as many players as its notebook has stepper outputs, all of them mounted,
and its first player must step in the page (no kernel). The front pages (index, guide, API) load nothing remote.
"""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from browser_harness import offline_context

# myst-parser 5.2 still reads Sphinx APIs that Sphinx 11 removes: their notices are not about this project
pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning:myst_parser.*"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning:sphinx.*")]
REPO = Path(__file__).resolve().parents[2]
PLAYER = re.compile(r"data-tr-frames=[\"']1[\"']")
NOTEBOOKS = sorted((REPO / "tutorials").glob("[0-9]*.ipynb")) + sorted((REPO / "tutorials" / "zh").glob("[0-9]*.ipynb"))
CJK = re.compile(r"[\u4e00-\u9fff]")


def _players_in(notebook: Path) -> int:
    """How many self-contained players the committed notebook's outputs hold."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    html = ["".join(o.get("data", {}).get("text/html", "")) for c in cells for o in c.get("outputs", [])]
    return sum(len(PLAYER.findall(h)) for h in html)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site built by docs/site/build.py into a fresh folder (Sphinx's exit status must be 0)."""
    spec = importlib.util.spec_from_file_location("tr_site_build", REPO / "docs" / "site" / "build.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    out = tmp_path_factory.mktemp("docs") / "site"
    assert builder.build(out) == 0
    return out


@pytest.fixture(scope="module")
def offline(chromium):
    """A page that may load file: URLs only; ``blocked`` lists every other request, ``errors`` the page's errors."""
    context, page = offline_context(chromium, allow=("file:",), viewport=(1280, 900), ours_only=False)
    yield page, page.trw_blocked, page.trw_errors
    context.close()


def _open(offline, path: Path):
    page, blocked, errors = offline
    blocked.clear(), errors.clear()
    assert path.is_file(), f"the site has no {path.name}"
    page.goto(path.as_uri(), wait_until="load")
    return page


def test_front_pages_load_nothing_remote(site, offline):
    page = _open(offline, site / "index.html")
    links = page.eval_on_selector_all("a[href]", "as => as.map(a => a.getAttribute('href'))")
    for nb in NOTEBOOKS:  # every tutorial, in both languages, is reachable from the front page
        assert any(h.split("#")[0].endswith(f"{nb.parent.name}/{nb.stem}.html") for h in links), nb
    _open(offline, site / "README.html")
    assert page.locator("h1").first.inner_text().startswith("tr_widgets")
    _open(offline, site / "api.html")
    for name in ("tr_widgets.show", "tr_widgets.trace_recurrent", "tr_widgets.capture"):
        assert page.locator(f"dt[id='{name}']").count() == 1, f"the API page does not document {name}"
    assert page.locator("dt[id$='RecurrentStepper']").count() == 1
    assert not offline[1], f"the front pages asked the network for {offline[1]}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[f"{p.parent.name}/{p.stem}" for p in NOTEBOOKS])
def test_tutorial_page_steps_offline(site, offline, notebook):
    page = _open(offline, site / notebook.relative_to(REPO).with_suffix(".html"))
    if notebook.parent.name == "zh":  # the Chinese page shows the Chinese notebook
        assert CJK.search(page.locator("h1").first.inner_text())
    n = _players_in(notebook)
    assert n >= 1, f"{notebook.name} has no stepper output"
    page.wait_for_function("""n => { const b = [...document.querySelectorAll('.tr-export[data-tr-frames="1"]')];
        return b.length === n && b.every(e => ['1', 'error'].includes(e.dataset.trMounted)); }""",
                           arg=n, timeout=30_000)
    assert page.locator(".tr-export[data-tr-mounted='error']").count() == 0
    box = page.locator(".tr-export[data-tr-mounted='1']").first
    box.scroll_into_view_if_needed()
    marker = "b => b.querySelector('.tr-clock[data-step]').dataset.step"
    before = int(box.evaluate(marker))
    # by class: the Chinese players label their buttons in Chinese
    forward = not box.locator(".tr-next").first.is_disabled()  # a player saved at its last step goes back
    box.locator(".tr-next" if forward else ".tr-prev").first.click()
    page.wait_for_function("([b, s]) => [...b.querySelectorAll('.tr-clock[data-step]')]"
                           ".every(e => e.dataset.step === String(s))",
                           arg=[box.element_handle(), before + (1 if forward else -1)], timeout=15_000)
    _, blocked, errors = offline
    assert not blocked, f"{notebook.name}: the page asked the network for {blocked}"
    assert not errors, errors
