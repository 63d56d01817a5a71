"""The committed tutorials published with mkdocs-jupyter under mkdocs-material (issue 25), opened from file://
with the network off: the players' controls keep their own styling (material resets buttons and restyles
tables), the LSTM equation table scrolls in its own box instead of overflowing the content column, and a
player steps in the page with no kernel.

The site is built as a course maintainer would (``mkdocs build`` with the material theme and the
mkdocs-jupyter plugin, execution off); material's web fonts are turned off (``font: false``), the only thing
it would fetch.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from browser_harness import offline_context

pytestmark = pytest.mark.browser
pytest.importorskip("mkdocs_jupyter")
pytest.importorskip("material")
REPO = Path(__file__).resolve().parents[2]
PAGES = ("03_lstm_gates", "05_attention")
CONFIG = """site_name: tr_widgets tutorials
theme:
  name: material
  font: false
plugins:
  - mkdocs-jupyter:
      execute: false
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mkdocs")
    (root / "docs").mkdir()
    (root / "docs" / "index.md").write_text("# tutorials\n", encoding="utf-8")
    for name in PAGES:
        shutil.copy(REPO / "tutorials" / f"{name}.ipynb", root / "docs")
    (root / "mkdocs.yml").write_text(CONFIG, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q"], cwd=root, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return root / "site"


@pytest.fixture
def offline(chromium):
    context, page = offline_context(chromium, allow=("file:",), viewport=(1280, 900))
    yield page
    context.close()


def _styled(button) -> bool:
    """A button material has not stripped: a visible border and a background of its own."""
    style = button.evaluate("b => { const s = getComputedStyle(b); return [s.borderTopStyle, s.borderTopWidth,"
                            " s.backgroundColor, s.paddingLeft]; }")
    border, width, background, padding = style
    return border != "none" and width != "0px" and background not in ("rgba(0, 0, 0, 0)", "transparent") \
        and padding != "0px"


@pytest.mark.parametrize("name", PAGES)
def test_material_pages_show_styled_controls_that_step(site, offline, name):
    page = offline
    page.goto((site / name / "index.html").as_uri(), wait_until="load")
    page.wait_for_function("() => { const b = [...document.querySelectorAll('.tr-export[data-tr-frames=\"1\"]')];"
                           " return b.length > 0 && b.every(e => e.dataset.trMounted === '1'); }", timeout=30_000)
    box = page.locator(".tr-export[data-tr-mounted='1']").first
    box.scroll_into_view_if_needed()
    for cls in (".tr-next", ".tr-prev"):
        assert _styled(box.locator(cls).first), f"{name}: material stripped the {cls} button's styling"
    before = int(box.evaluate("b => b.querySelector('.tr-clock[data-step]').dataset.step"))
    forward = not box.locator(".tr-next").first.is_disabled()
    box.locator(".tr-next" if forward else ".tr-prev").first.click()
    page.wait_for_function("([b, s]) => [...b.querySelectorAll('.tr-clock[data-step]')]"
                           ".every(e => e.dataset.step === String(s))",
                           arg=[box.element_handle(), before + (1 if forward else -1)], timeout=15_000)


def test_a_wide_table_scrolls_in_its_own_box_inside_materials_column(site, offline):
    page = offline
    page.goto((site / "03_lstm_gates" / "index.html").as_uri(), wait_until="load")
    page.wait_for_function("() => [...document.querySelectorAll('.tr-export')].some(e => e.dataset.trMounted === '1')",
                           timeout=30_000)
    column = page.evaluate("() => document.querySelector('.md-content').getBoundingClientRect().right")
    tables = page.locator(".tr-export table")
    assert tables.count() > 0, "the LSTM page shows no table"
    for i in range(tables.count()):
        t = tables.nth(i)
        t.evaluate("t => t.closest('details') && (t.closest('details').open = true)")
        ours, right = t.evaluate("t => { let e = t.parentElement; while (e && getComputedStyle(e).overflowX === "
                                 "'visible') e = e.parentElement; return [!!(e && e.closest('.tr-export')),"
                                 " (e || t).getBoundingClientRect().right]; }")
        assert ours, f"table {i} scrolls in no box of ours (the host page's wrapper, or not at all)"
        assert right <= column + 1, f"table {i}'s box ends at {right:.0f} px, past material's column ({column:.0f})"


def test_the_controls_stay_below_materials_header_while_the_stepper_scrolls_by(site, offline):
    """Scrolled past its top, a stepper keeps its controls in view: below material's fixed header, where
    they can be seen and clicked, not under it (where they were, and a click on them went to the header)."""
    page = offline
    page.goto((site / "03_lstm_gates" / "index.html").as_uri(), wait_until="load")
    page.wait_for_function("() => [...document.querySelectorAll('.tr-export')].some(e => e.dataset.trMounted === '1')",
                           timeout=30_000)
    box = page.locator(".tr-export[data-tr-mounted='1']").first
    header = page.evaluate("() => document.querySelector('.md-header').getBoundingClientRect().bottom")
    assert box.evaluate("b => b.getBoundingClientRect().height") > 400, "the stepper is too short to scroll past"
    box.evaluate("b => window.scrollTo(0, b.getBoundingClientRect().top + window.scrollY + 150)")
    page.wait_for_function("h => { const n = document.querySelector('.tr-export[data-tr-mounted=\"1\"] .tr-next')"
                           ".getBoundingClientRect(); return n.top >= h; }", arg=header, timeout=5_000)
    hit = box.evaluate("b => { const n = b.querySelector('.tr-next').getBoundingClientRect();"
                       " const at = document.elementFromPoint(n.left + n.width / 2, n.top + n.height / 2);"
                       " return at && at.closest('.tr-next') ? 'next' : (at ? at.className : 'nothing'); }")
    assert hit == "next", f"the next button is covered by {hit!r}"
    before = int(box.evaluate("b => b.querySelector('.tr-clock').dataset.step"))
    page.mouse.click(*box.evaluate("b => { const n = b.querySelector('.tr-next').getBoundingClientRect();"
                                   " return [n.left + n.width / 2, n.top + n.height / 2]; }"))
    page.wait_for_function("([b, s]) => b.querySelector('.tr-clock').dataset.step === String(s)",
                           arg=[box.element_handle(), before + 1], timeout=5_000)
