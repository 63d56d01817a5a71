"""Drive a real JupyterLab / Notebook 7 in Debian's Chromium: shared by the browser tests and
`benchmarks/bench_browser_repaint.py`.

Owns: starting a private `jupyter lab` (own port, random token, own config/runtime dirs so the
user's settings never leak in), writing small notebooks with kernelspec metadata (so JupyterLab 4
does not ask "Select Kernel"), launching Chromium with every network path but 127.0.0.1 cut, and
running a notebook to completion. Nothing here knows about tr_widgets.

Example::

    with JupyterServer.start(tmp_dir) as server, sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page()
        write_notebook(tmp_dir / "a.ipynb", ["import ipywidgets as w; w.Label('hi')"])
        open_notebook(page, server, "a.ipynb")
        run_all_cells(page)
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    # Resolve every host but the local server to nothing: a widget that reaches for a CDN fails
    # here exactly as it would offline (and the attempt is recorded by `NetworkLog`).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
# Texts the widget managers print into an output when a widget cannot be shown.
ERROR_TEXTS = ("Error displaying widget", "Error loading script", "Failed to load model",
               "Failed to create view", "Model not found")


def chromium_missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None. Example: ``if r := chromium_missing_reason(): skip(r)``."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (`make chromium` installs Debian's chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -c constraints.txt playwright)"
    return None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now. Example: ``port = free_port()``."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class JupyterServer:
    """A private Jupyter server (JupyterLab and Notebook 7 front ends) serving `root_dir`.

    Example: ``server = JupyterServer.start(tmp); page.goto(server.url("lab/tree/a.ipynb")); server.stop()``
    """

    root_dir: Path
    port: int
    token: str
    proc: subprocess.Popen
    log_path: Path
    base: str = field(init=False)

    def __post_init__(self):
        self.base = f"http://127.0.0.1:{self.port}/"

    @classmethod
    def start(cls, root_dir: Path, app: str = "lab", timeout: float = 90.0,
              nodelay: bool = False) -> "JupyterServer":
        """Start `jupyter lab` (or `jupyter notebook`) on a free port and wait for /api/status.

        `nodelay=True` sets TCP_NODELAY on kernel websockets (jupyter_server leaves Nagle on, so a
        reply's second small message can wait ~40 ms for a delayed ACK); benchmarks use it to
        separate a widget's own cost from that stall.
        """
        root_dir = Path(root_dir)
        home = root_dir.parent / f".jupyter-{app}"
        config_dir = home / "config"
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "jupyter_server_config.json").write_text(json.dumps(_server_config()))
        (config_dir / "jupyter_server_config.py").write_text(_NODELAY_PATCH if nodelay else "")
        # No "get notified about Jupyter news?" toast over the screenshots, and no feed request.
        notification = config_dir / "lab/user-settings/@jupyterlab/apputils-extension"
        notification.mkdir(parents=True, exist_ok=True)
        (notification / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config_dir),
                   JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTER_PLATFORM_DIRS="1",
                   PYDEVD_DISABLE_FILE_VALIDATION="1")
        env.pop("JUPYTER_TOKEN", None)
        port, token = free_port(), secrets.token_hex(16)
        module = {"lab": "jupyterlab", "notebook": "notebook"}[app]
        cmd = [sys.executable, "-m", module, "--no-browser", "--allow-root", "--ip=127.0.0.1",
               f"--port={port}", "--port-retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root_dir}"]
        log_path = home / "server.log"
        log = open(log_path, "wb")
        # Own session: teardown can end the server's kernels with it even if it hangs.
        proc = subprocess.Popen(cmd, cwd=root_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        server = cls(root_dir, port, token, proc, log_path)
        server._wait_ready(timeout)
        return server

    def url(self, path: str = "") -> str:
        """Absolute URL of `path` with the token. Example: ``server.url("tree")``."""
        sep = "&" if "?" in path else "?"
        return f"{self.base}{path}{sep}token={self.token}"

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url("api/status"), timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"jupyter did not answer /api/status in {timeout}s:\n{self.log_tail()}")

    def log_tail(self, n: int = 4000) -> str:
        """The end of the server's log (for failure messages). Example: ``print(server.log_tail())``."""
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        """End the server, its kernels with it (SIGTERM, then SIGKILL to its own process group)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        try:  # kernels are in the server's session; end any that outlived it
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _server_config() -> dict:
    # Nothing may reach the network: no news feed, no update check, no PyPI extension manager.
    lab = {"news_url": None, "check_for_updates_class": "jupyterlab.handlers.announcements.NeverCheckForUpdate",
           "extension_manager": "readonly", "expose_app_in_browser": True}
    return {"LabApp": lab, "JupyterNotebookApp": {"expose_app_in_browser": True},
            "ServerApp": {"open_browser": False},
            "LanguageServerManager": {"autodetect": False}}


_NODELAY_PATCH = """\
# Written by tests/browser/browser_harness.py: TCP_NODELAY on every kernel websocket.
from jupyter_server.services.kernels.websocket import KernelWebsocketHandler as _H
_open = _H.open
async def _open_nodelay(self, *args, **kwargs):
    self.set_nodelay(True)
    return await _open(self, *args, **kwargs)
_H.open = _open_nodelay
"""


def write_notebook(path: Path, sources: list[str]) -> Path:
    """Write code cells as a notebook whose kernelspec is python3 (no "Select Kernel" dialog).

    Example: ``write_notebook(tmp / "a.ipynb", ["1 + 1"])``
    """
    nb = {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
                   "outputs": [], "source": src} for i, src in enumerate(sources)],
        "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                    "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    Path(path).write_text(json.dumps(nb, indent=1))
    return Path(path)


def launch_chromium(playwright, **kw):
    """Headless Debian Chromium (never a downloaded browser). Example: ``b = launch_chromium(pw)``."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, **kw)


class NetworkLog:
    """Console errors, page errors and non-local requests of one page, all of them (`history`)
    and those since the last `mark()`.

    Example: ``log = NetworkLog(page); log.mark(); ...; assert not log.external``
    """

    def __init__(self, page):
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.external: list[str] = []
        self.history: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)
        page.on("request", self._on_request)

    def mark(self, label: str = "") -> None:
        """Start afresh: the lists hold only what happens from now on (`history` keeps all)."""
        self.history.append(f"--- {label}")
        self.console_errors, self.page_errors, self.external = [], [], []

    def _on_console(self, msg):
        if msg.type == "error":
            text = f"{msg.text} @ {(msg.location or {}).get('url', '')}"
            self.console_errors.append(text)
            self.history.append(f"console.error: {text}")

    def _on_page_error(self, exc):
        # with its stack: where it was thrown tells a widget's error from the front end's own
        text = f"{exc}\n{getattr(exc, 'stack', '') or ''}"
        self.page_errors.append(text)
        self.history.append(f"pageerror: {text}")

    def _on_request(self, req):
        url = req.url
        if not url.startswith(("http://127.0.0.1", "data:", "blob:", "about:")):
            self.external.append(url)
            self.history.append(f"external request: {url}")

    def widget_errors(self) -> list[str]:
        """Console/page errors that concern widgets or scripts (others, e.g. a 404 favicon, pass)."""
        # anywidget runs a widget's ES module from a blob: URL; the widget managers say "widget".
        keys = ("widget", "blob:", "script", "canvas", "tr_widgets")
        return [m for m in self.console_errors + self.page_errors if any(k in m.lower() for k in keys)]


def open_notebook(page, server: JupyterServer, name: str, ui: str = "lab", timeout: float = 60_000):
    """Open notebook `name` in JupyterLab (`ui="lab"`) or Notebook 7 (`ui="notebook"`) and wait
    until its kernel is idle. Example: ``open_notebook(page, server, "a.ipynb", ui="notebook")``.
    """
    path = f"lab/tree/{name}" if ui == "lab" else f"notebooks/{name}"
    page.goto(server.url(path), wait_until="domcontentloaded")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=timeout)
    page.wait_for_function(_KERNEL_IDLE_JS, arg=name, timeout=timeout, polling=200)
    if ui == "lab":  # one notebook at a time: earlier tabs would keep their kernels and DOM
        page.evaluate("""async (name) => {
          const app = window.jupyterapp;
          for (const w of [...app.shell.widgets('main')]) {
            if (w.context && w.context.path === name) continue;
            if (w.sessionContext) await w.sessionContext.shutdown();  // frees the kernel's memory
            w.dispose();  // not close(): a run notebook is dirty and close() would ask to save
          }
        }""", name)


# The notebook panel showing `name`, once its session's kernel is up and idle.
_KERNEL_IDLE_JS = """(name) => {
  const app = window.jupyterapp;
  const w = [...(app.shell.widgets ? app.shell.widgets('main') : [])]
      .find(w => w.context && w.context.path === name) || app.shell.currentWidget;
  if (!w || !w.context || w.context.path !== name || !w.sessionContext || !w.content) return false;
  return w.sessionContext.isReady && w.sessionContext.session && w.sessionContext.session.kernel
      && w.sessionContext.kernelDisplayStatus === 'idle';
}"""


def run_all_cells(page, timeout: float = 120_000) -> None:
    """Run every cell of the current notebook and wait until all have a fresh execution count.

    Outputs (and counts) are cleared first, so counts saved in the file never pass for a run.
    Example: ``open_notebook(page, server, "a.ipynb"); run_all_cells(page)``
    """
    page.evaluate("""async () => {
      const cmds = window.jupyterapp.commands;
      await cmds.execute('notebook:clear-all-cell-outputs');
      await cmds.execute('notebook:run-all-cells');
    }""")
    page.wait_for_function(_ALL_RAN_JS, timeout=timeout, polling=200)


_ALL_RAN_JS = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  if (!w || !w.content || !w.content.widgets) return false;
  const cells = w.content.widgets.filter(c => c.model.type === 'code');
  return cells.length > 0 && cells.every(c => c.model.executionCount !== null)
      && w.sessionContext.kernelDisplayStatus === 'idle';
}"""


def kernel_eval(page, code: str, timeout: float = 60_000) -> str:
    """Run `code` in the current notebook's kernel (outside the cells) and return its text/plain
    result plus any printed text; a Python error comes back as "ERROR Name: message".

    Example: ``assert kernel_eval(page, "stepper.step") == "0"``
    """
    return page.evaluate("""async (code) => {
      const w = window.jupyterapp.shell.currentWidget;
      const kernel = w.sessionContext.session.kernel;
      const future = kernel.requestExecute({code, silent: false, store_history: false});
      let out = '';
      future.onIOPub = (msg) => {
        const t = msg.header.msg_type, c = msg.content;
        if (t === 'execute_result') out += c.data['text/plain'];
        else if (t === 'stream') out += c.text;
        else if (t === 'error') out += 'ERROR ' + c.ename + ': ' + c.evalue;
      };
      await future.done;
      return out;
    }""", code)


def cell_output(page, index: int):
    """Locator of the output area of code cell `index` (0-based) of the current notebook.

    Example: ``out = cell_output(page, 1); out.locator("canvas").count()``
    """
    # Scoped by the panel's id: JupyterLab keeps other tabs' notebooks in the DOM (not display:none).
    panel = page.evaluate("() => window.jupyterapp.shell.currentWidget.id")
    cells = page.locator(f"[id='{panel}'] .jp-Notebook .jp-CodeCell")
    return cells.nth(index).locator(".jp-OutputArea")


def button(scope, name: str):
    """The button called `name` by its accessible name, aria-label or title (tooltip).

    Example: ``button(out, "next step").click()``
    """
    return (scope.get_by_role("button", name=name, exact=True)
            .or_(scope.locator(f'button[title="{name}"], [role=button][title="{name}"]'))).first


def page_error_texts(page) -> list[str]:
    """Which of `ERROR_TEXTS` (and Python tracebacks) appear anywhere in the page."""
    # textContent, not innerText: JupyterLab skips rendering cells out of view (content-visibility),
    # and innerText of a skipped cell is empty
    text = page.evaluate("() => document.body.textContent")
    found = [t for t in ERROR_TEXTS if t in text]
    stderr = page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']")
    for i in range(stderr.count()):
        err = stderr.nth(i).text_content() or ""
        if "Traceback" in err or "Error" in err:
            found.append(f"stderr: {err[:2000]}")
    return found


# What a view shows right now: its text and, per canvas, pixel statistics (below). Two states
# differ when the text or any canvas's checksum differs.
VIEW_STATE_JS = """(root) => {
  const stats = %s;
  return {text: root.textContent,  // not innerText: empty for cells JupyterLab skips rendering
          canvases: [...root.querySelectorAll('canvas')].map(stats),
          // every view that says which step it drew (widgets set data-step after drawing)
          dataSteps: [...root.querySelectorAll('[data-step]')].map(e => e.dataset.step)};
}"""


# In-page pixel statistics of a 2D canvas: how many pixels differ from the most common colour,
# and a cheap checksum to tell two paints apart. Works on any same-origin 2D canvas.
CANVAS_STATS_JS = """(canvas) => {
  const w = canvas.width, h = canvas.height;
  if (!w || !h) return {width: w, height: h, nonBackground: 0, colours: 0, checksum: 0};
  const ctx = canvas.getContext('2d');
  if (!ctx) {  // a WebGL canvas: no pixel read-back here, tell paints apart by their PNG
    const url = canvas.toDataURL(); let sum = 0;
    for (let i = 0; i < url.length; i++) sum = (sum * 31 + url.charCodeAt(i)) >>> 0;
    return {width: w, height: h, nonBackground: -1, colours: -1, checksum: sum};
  }
  const d = ctx.getImageData(0, 0, w, h).data;
  const counts = new Map();
  let checksum = 0;
  for (let i = 0; i < d.length; i += 4) {
    const key = (d[i] << 24 | d[i+1] << 16 | d[i+2] << 8 | d[i+3]) >>> 0;
    counts.set(key, (counts.get(key) || 0) + 1);
    checksum = (checksum * 31 + key) >>> 0;
  }
  let most = 0; for (const c of counts.values()) most = Math.max(most, c);
  return {width: w, height: h, nonBackground: w * h - most, colours: counts.size, checksum};
}"""
VIEW_STATE_JS = VIEW_STATE_JS % CANVAS_STATS_JS


def assert_clean(page, where: str):
    """No widget or page error, and no request left 127.0.0.1 (a CDN, say)."""
    errors = page_error_texts(page)
    assert not errors, f"{where}: the page shows {errors}"
    log = page.trw_log
    assert not log.widget_errors(), f"{where}: console errors {log.widget_errors()}"
    assert not log.external, f"{where}: requests left 127.0.0.1 (CDN?): {log.external}"


def wait_steps(page, output, step: int, timeout: float = 20_000):
    """Wait until every view in `output` says (data-step, set after drawing) it shows `step`."""
    page.wait_for_function(
        """([root, step]) => { const marks = [...root.querySelectorAll('[data-step]')];
             return marks.length > 0 && marks.every(e => e.dataset.step === String(step)); }""",
        arg=[output.element_handle(), step], timeout=timeout)


def wait_drawn(page, output, canvas: str = "canvas", timeout: float = 30_000, step: int | None = 0):
    """Wait until `output` holds a `canvas` element and (unless step is None) every view marks `step`.

    Example: ``out = cell_output(page, 1); wait_drawn(page, out)``
    """
    output.locator(canvas).first.wait_for(state="attached", timeout=timeout)
    if step is not None:
        wait_steps(page, output, step)


def drawn(state) -> bool:
    """Some canvas of a VIEW_STATE_JS state has drawn pixels."""
    return any(c["nonBackground"] > 50 or c["nonBackground"] == -1 for c in state["canvases"])


def set_theme(server, theme: str) -> None:
    """Set JupyterLab's theme through its settings REST API (read when the page next loads)."""
    body = json.dumps({"raw": json.dumps({"theme": theme})}).encode()
    req = urllib.request.Request(server.url("lab/api/settings/@jupyterlab/apputils-extension:themes"), data=body,
                                 method="PUT", headers={"Content-Type": "application/json",
                                                        "Authorization": f"token {server.token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status in (200, 204), r.status


def offline_context(chromium, allow=("file://", "data:"), viewport=(1200, 900), ours_only: bool = True):
    """``(context, page)``: a fresh browser context whose page may load only URLs that start with ``allow``; every
    other request is aborted and listed in ``page.trw_blocked``. Console errors go to ``page.trw_errors``: only
    tr_widgets' when ``ours_only``, else every one and the page's uncaught errors too. The caller closes it."""
    context = chromium.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    blocked: list[str] = []
    errors: list[str] = []

    def route(r):
        if r.request.url.startswith(allow):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()
    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and (not ours_only or "tr_widgets" in m.text) else None)
    if not ours_only:
        page.on("pageerror", lambda e: errors.append(str(e)))
    page.trw_errors, page.trw_blocked = errors, blocked
    return context, page


def export_stepper(stepper, path: Path) -> str:
    """Write ``stepper``'s saved output as nbconvert exports a notebook holding it (one page, at ``path``);
    returns the page's HTML."""
    import nbformat
    from nbconvert import HTMLExporter

    out = nbformat.v4.new_output("display_data", data={"text/html": stepper.export_html(), "text/plain": repr(stepper)})
    body, _ = HTMLExporter().from_notebook_node(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        path.stem, outputs=[out])]))
    path.write_text(body, encoding="utf-8")
    return body


def clock_step(page, root, s: int, timeout: float = 10_000) -> None:
    """Wait until the player clock inside ``root`` (an element handle) marks step ``s``."""
    page.wait_for_function("([r, s]) => r.querySelector('.tr-clock').dataset.trStep === String(s)",
                           arg=[root, s], timeout=timeout)


def dark_notebook(page, server, path: Path, sources: list[str]):
    """A generator for a module fixture: ``sources`` written to ``path``, opened and run in JupyterLab Dark, its
    second cell's output drawn; yields ``page`` and puts JupyterLab Light back (the other tests open in Light)."""
    set_theme(server, "JupyterLab Dark")
    try:
        write_notebook(path, sources)
        open_notebook(page, server, path.name)
        run_all_cells(page)
        out = cell_output(page, 1)
        out.scroll_into_view_if_needed()
        wait_drawn(page, out)
        yield page
    finally:
        set_theme(server, "JupyterLab Light")
