"""Whether outputs carry the live widget view: detected per kernel, or forced by the user."""
from __future__ import annotations

import os

import ipywidgets as w

from ..engine.errors import fail

_view = {"force": None, "seen": False}


def widget_frontend() -> bool:
    """Whether this kernel serves a front end that renders widgets (JupyterLab, Notebook 7, VS Code).

    jupyter_server names the notebook of every kernel it starts (``JPY_SESSION_NAME``), and widget
    front ends open ipywidgets' control comm or say hello through a stepper's clock; nbconvert, nbval
    and papermill do none of these. Without one, a stepper's output is its self-contained page
    (``frames.py``), so exported notebooks step without a widget manager or a CDN.

    Example::

        set_widget_view(False); widget_frontend() == False   # forced off, whatever the kernel
        set_widget_view(None)                                # back to detecting it
    """
    if _view["force"] is not None:
        return _view["force"]
    return bool(_view["seen"] or os.environ.get("JPY_SESSION_NAME")
                or getattr(w.Widget, "_control_comm", None) is not None)  # ipywidgets sets it on connect


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
