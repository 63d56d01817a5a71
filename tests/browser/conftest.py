"""Fixtures of the real-browser tests: one Jupyter server, one Chromium and one page per session.

Every test here is marked `browser`; all are skipped (with the reason) where /usr/bin/chromium or
playwright is missing. `make test` (and so `.ci/run`) installs chromium, so in CI they run.
Screenshots go to `test-artifacts/browser/` (gitignored). The README's pictures (light, dark, Chinese) are
made by test_browser_theme.py and test_browser_cjk.py with TR_SCREENSHOTS=docs/screenshots.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from browser_harness import (
    JupyterServer, NetworkLog, chromium_missing_reason, launch_chromium,
)

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
# Wide enough that a notebook output is ~1200 px (README screenshots), tall enough for a stepper.
VIEWPORT = {"width": 1320, "height": 1000}


def pytest_collection_modifyitems(config, items):
    reason = chromium_missing_reason()
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def notebook_dir(tmp_path_factory) -> Path:
    """The server's root: notebooks are written here on the fly. Example: ``write_notebook(notebook_dir / "a.ipynb", ...)``."""
    root = tmp_path_factory.mktemp("browser") / "notebooks"
    root.mkdir()
    return root


@pytest.fixture(scope="session")
def jupyter(notebook_dir, artifacts):
    """A private `jupyter lab` on 127.0.0.1 (serves JupyterLab 4 and Notebook 7), stopped at teardown."""
    server = JupyterServer.start(notebook_dir)
    yield server
    server.stop()
    shutil.copy(server.log_path, artifacts / "jupyter-lab.log")


@pytest.fixture(scope="session")
def notebook7(notebook_dir, artifacts):
    """A private `jupyter notebook` (Notebook 7: /tree, /notebooks/<name>) on the same folder."""
    server = JupyterServer.start(notebook_dir, app="notebook")
    yield server
    server.stop()
    shutil.copy(server.log_path, artifacts / "jupyter-notebook.log")


@dataclass(frozen=True)
class FrontEnd:
    """One notebook front end: its (session-wide) server and `open_notebook`'s `ui` for it."""

    server: JupyterServer
    ui: str  # "lab" or "notebook"

    @property
    def name(self) -> str:
        return {"lab": "jupyterlab", "notebook": "notebook7"}[self.ui]


@pytest.fixture(params=["lab", "notebook"], ids=["jupyterlab", "notebook7"])
def front_end(request) -> FrontEnd:
    """JupyterLab 4, then Notebook 7: a test taking it runs in both, on the session's shared servers.
    Example: ``open_notebook(browser_page, front_end.server, "a.ipynb", ui=front_end.ui)``."""
    fixture = {"lab": "jupyter", "notebook": "notebook7"}[request.param]
    return FrontEnd(request.getfixturevalue(fixture), request.param)


@pytest.fixture(scope="session")
def chromium():
    """Headless Debian Chromium through Playwright (no downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def browser_page(chromium):
    """One page reused by every test (opening JupyterLab is the slow part), with its `NetworkLog`
    as `page.trw_log`. Example: ``open_notebook(browser_page, jupyter, "a.ipynb")``."""
    context = chromium.new_context(viewport=VIEWPORT, device_scale_factor=1)
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.trw_log = NetworkLog(page)
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "browser-console.log").write_text("".join(f"{m}\n" for m in page.trw_log.history))
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture(autouse=True)
def _per_test_log_and_failure_screenshot(request):
    """Each test sees only its own console errors; a failed test leaves a screenshot of the page."""
    page = request.getfixturevalue("browser_page") if "browser_page" in request.fixturenames else None
    if page is not None:
        page.trw_log.mark(request.node.nodeid)
    yield
    rep = getattr(request.node, "rep_call", None)
    if page is not None and rep is not None and rep.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = "".join(c if c.isalnum() else "_" for c in request.node.name)
        try:
            page.screenshot(path=str(ARTIFACTS / f"FAILED-{name}.png"), full_page=True)
        except Exception as exc:  # the page itself may be what broke
            print(f"no failure screenshot: {exc}")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """`test-artifacts/browser/` (gitignored), for screenshots of every test."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
