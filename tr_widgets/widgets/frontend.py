"""Whether outputs carry the live widget view: detected per kernel, or forced by the user.

A stepper's output carries ipywidgets' widget view only where a front end will draw it and talk to
this kernel; everywhere else its output is the self-contained page (``frames.py``), which steps
without a widget manager or a CDN. Each front end is recognised by what it leaves in the kernel,
never by guessing from the operating system:

* **JupyterLab 4 and Notebook 7** (and any jupyter_server front end, remote VS Code included):
  jupyter_server starts every session's kernel with ``JPY_SESSION_NAME``, the notebook's path.
* **Voila**: it starts its kernels itself, without ``JPY_SESSION_NAME``, but always with
  ``VOILA_BASE_URL`` in their environment (``voila/handler.py`` for a request's kernel,
  ``voila_kernel_manager.py`` for a pre-heated one), and it sets ``VOILA_KERNEL_ID`` by running one
  line in a Python kernel before the first cell. Its page runs every cell and draws the widget views.
* **VS Code** (local kernel): the Jupyter extension runs ipykernel directly and assigns the
  notebook's path to ``__vsc_ipynb_file__`` in the user namespace before the first cell.
* **Colab**: its kernel is ``google.colab``'s own, so ``google.colab`` is imported before any cell.
* **Any widget manager**, whoever made it: it opens ipywidgets' control comm when it connects, and a
  stepper's clock says hello from a live page (:func:`frontend_seen`), so the next outputs are live.

nbconvert, nbval, papermill, nbclient and a plain ``python`` do none of these: there the outputs are
the kernel-less page.

A live output keeps the kernel-less page as its ``text/html``. Reopened after its kernel is gone, in a
JupyterLab 4 or Notebook 7 that did not save the widget state (the default), the widget manager finds no
model; tr_widgets' prebuilt extension (``tr_widgets/share/labextensions/tr-widgets-reopen``, installed
with the wheel) then renders that page instead of "Error displaying widget".
"""
from __future__ import annotations

import os
import sys

import ipywidgets as w

from ..engine.errors import fail

_view = {"force": None, "seen": False}
# Environment variables a front end's server sets on the kernels it starts (see above).
_SERVER_ENV = (("VOILA_BASE_URL", "voila"), ("VOILA_KERNEL_ID", "voila"),
               ("JPY_SESSION_NAME", "jupyter_server"))


def frontend_name() -> str | None:
    """The front end detected for this kernel, or None where none draws widgets.

    One of ``"voila"``, ``"jupyter_server"`` (JupyterLab, Notebook 7), ``"vscode"``, ``"colab"``,
    ``"widget manager"`` (one connected or said hello) or None (nbconvert, papermill, python).

    Example::

        frontend_name() in (None, "voila", "jupyter_server", "vscode", "colab", "widget manager")
    """
    for var, name in _SERVER_ENV:
        if os.environ.get(var):
            return name
    if _user_namespace().get("__vsc_ipynb_file__"):
        return "vscode"
    if "google.colab" in sys.modules:
        return "colab"
    if _view["seen"] or getattr(w.Widget, "_control_comm", None) is not None:  # ipywidgets sets it on connect
        return "widget manager"
    return None


def _user_namespace() -> dict:
    ip = sys.modules.get("IPython")
    shell = ip.get_ipython() if ip is not None else None
    return getattr(shell, "user_ns", None) or {}


def widget_frontend() -> bool:
    """Whether this kernel serves a front end that renders widgets (JupyterLab, Notebook 7, VS Code, Colab, Voila).

    See the module's docstring for how each is detected. Without one, a stepper's output is its
    self-contained page (``frames.py``), so exported notebooks step without a widget manager or a CDN.

    Example::

        set_widget_view(False); widget_frontend() == False   # forced off, whatever the kernel
        set_widget_view(None)                                # back to detecting it
    """
    if _view["force"] is not None:
        return _view["force"]
    return frontend_name() is not None


def frontend_seen() -> None:
    """A stepper's clock said hello from a live page: later outputs carry the widget view.

    Example::

        before = dict(_view)
        frontend_seen(); widget_frontend() == True
        _view.update(before)   # (put back: this example is not a live page)
    """
    _view["seen"] = True


def set_widget_view(on: bool | None) -> None:
    """Force the live widget view in outputs (True), never (False) or detect it (None, the default).

    Example: ``set_widget_view(False)  # outputs are the self-contained page only, as under nbconvert``
    """
    if on is not None and not isinstance(on, bool):
        fail("set_widget_view(on)", "True, False or None", repr(on), "pass None to detect the front end")
    _view["force"] = on
