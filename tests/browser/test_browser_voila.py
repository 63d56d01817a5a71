"""Voila (issue 25): a notebook served by Voila on 127.0.0.1 has live steppers.

Voila runs every cell with a live kernel but sets no ``JPY_SESSION_NAME``; the stepper must still
carry its widget view (detected by ``VOILA_BASE_URL``, see ``tr_widgets/widgets/frontend.py``), so an
over-budget stepper streams its frames from the kernel instead of showing its "Static picture" page.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from browser_harness import VIEW_STATE_JS, ERROR_TEXTS, JupyterServer, button, free_port, write_notebook

pytestmark = pytest.mark.browser
CELLS = [
    """\
import torch, tr_widgets
from tr_widgets.widgets import set_frame_budget, show
from tr_widgets.widgets.frontend import frontend_name
set_frame_budget(1024)  # far below this stepper's frames: its kernel-less page could not step
torch.manual_seed(0)
q, k, v = torch.randn(3, 1, 2, 12, 8).unbind(0)  # each [B=1, heads=2, T=12, E=8]
att = show(tr_widgets.trace_attention(q, k, v, is_causal=True))
att""",
    "print('front end:', frontend_name())",
]


class VoilaServer(JupyterServer):
    """`voila <notebook>` on a free port of 127.0.0.1, with the lab server's private dirs and token.

    Example: ``with VoilaServer.start(tmp / "a.ipynb") as v: page.goto(v.url())``
    """

    @classmethod
    def start(cls, notebook: Path, timeout: float = 90.0) -> "VoilaServer":  # type: ignore[override]
        root = notebook.parent
        home = root.parent / ".jupyter-voila"
        (home / "config").mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
                   JUPYTER_PLATFORM_DIRS="1", PYDEVD_DISABLE_FILE_VALIDATION="1")
        for var in ("JUPYTER_TOKEN", "JPY_SESSION_NAME", "VOILA_BASE_URL", "VOILA_KERNEL_ID"):
            env.pop(var, None)  # the kernel must be recognised by what Voila itself gives it
        port, token = free_port(), os.urandom(16).hex()
        cmd = [sys.executable, "-m", "voila", str(notebook), "--no-browser", "--Voila.ip=127.0.0.1",
               f"--port={port}", "--Voila.port_retries=0", f"--token={token}",
               "--VoilaConfiguration.show_tracebacks=True"]
        log_path = home / "voila.log"
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=open(log_path, "wb"), stderr=subprocess.STDOUT,
                                start_new_session=True)
        server = cls(root, port, token, proc, log_path)
        server._wait_listening(timeout)
        return server

    def _wait_listening(self, timeout: float) -> None:
        # Voila has no /api/status: its port accepting connections means it serves.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"voila exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"voila did not listen in {timeout}s:\n{self.log_tail()}")


def test_voila_steppers_are_live_and_stream_from_the_kernel(chromium, tmp_path, artifacts):
    (tmp_path / "nb").mkdir()
    notebook = write_notebook(tmp_path / "nb" / "voila_budget.ipynb", CELLS)
    context = chromium.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(60_000)
    page = context.new_page()
    external: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(("http://127.0.0.1", "data:", "blob:", "about:"))
            else external.append(r.url))
    server = VoilaServer.start(notebook)
    try:
        page.goto(server.url(), wait_until="domcontentloaded", timeout=120_000)  # Voila runs the cells first
        root = page.locator(".tr-clock[data-step]").first
        root.wait_for(state="attached", timeout=120_000)  # the widget view drew (the page would have no clock)
        page.get_by_text("front end: voila").wait_for()
        view = page.locator(".jp-OutputArea-output").filter(has=root).first.element_handle()
        assert root.get_attribute("data-step") == "0"
        before = view.evaluate(VIEW_STATE_JS)
        button(page, "next step").click()
        page.wait_for_function("e => e.dataset.step === '1'", arg=root.element_handle(), timeout=20_000)
        assert view.evaluate(VIEW_STATE_JS) != before, "the step marker moved but the view did not change"
        text = page.evaluate("() => document.body.textContent")
        assert "Static picture" not in text and page.locator(".tr-frames-notice").count() == 0
        assert not [t for t in ERROR_TEXTS if t in text]
        page.screenshot(path=str(artifacts / "voila-live.png"), full_page=True)
    finally:
        context.close()
        server.stop()
    # Voila's lab template itself links Font Awesome (and MathJax) from a CDN; nothing else may leave.
    assert not [u for u in external if not any(k in u.lower() for k in ("fontawesome", "mathjax"))], external
