"""Front-end detection: each front end is recognised by what it leaves in the kernel, and a stepper's
output carries the live widget view exactly there (issue 25: Voila was missed)."""
import sys
import types

import pytest
import torch
from torch import nn

import tr_widgets
from tr_widgets.widgets import frontend, set_widget_view, show

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
MARKS = ("VOILA_BASE_URL", "VOILA_KERNEL_ID", "JPY_SESSION_NAME")


@pytest.fixture
def bare(monkeypatch):
    """A kernel no front end started: no server's variables, no VS Code name, no Colab, no hello."""
    for var in MARKS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(frontend, "_user_namespace", lambda: {})
    monkeypatch.setitem(frontend._view, "seen", False)
    monkeypatch.setattr(frontend.w.Widget, "_control_comm", None, raising=False)
    set_widget_view(None)
    return monkeypatch


def _stepper():
    torch.manual_seed(0)
    return show(tr_widgets.trace_recurrent(nn.GRU(3, 4), torch.randn(5, 1, 3)), progress=False)


def test_no_front_end_gives_the_kernel_less_page(bare):
    assert frontend.frontend_name() is None and not frontend.widget_frontend()
    assert WIDGET_MIME not in _stepper()._repr_mimebundle_()


@pytest.mark.parametrize("var, value, name", [
    ("VOILA_BASE_URL", "/", "voila"),                      # set by voila on every kernel it starts
    ("VOILA_KERNEL_ID", "5f0c", "voila"),                  # set by voila's first line in a Python kernel
    ("JPY_SESSION_NAME", "/home/a/x.ipynb", "jupyter_server"),
])
def test_server_started_kernels_are_live(bare, var, value, name):
    bare.setenv(var, value)
    assert frontend.frontend_name() == name and frontend.widget_frontend()
    bundle = _stepper()._repr_mimebundle_()
    assert WIDGET_MIME in bundle and "text/html" in bundle  # live view, page kept as the fallback


def test_vscode_is_seen_by_the_notebook_name_it_assigns(bare):
    bare.setattr(frontend, "_user_namespace", lambda: {"__vsc_ipynb_file__": "/w/a.ipynb"})
    assert frontend.frontend_name() == "vscode"


def test_user_namespace_is_read_from_the_running_shell(bare):
    bare.undo()  # the real _user_namespace, with a stand-in IPython whose shell VS Code named
    for var in MARKS:
        bare.delenv(var, raising=False)
    shell = types.SimpleNamespace(user_ns={"__vsc_ipynb_file__": "/w/a.ipynb"})
    bare.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    assert frontend._user_namespace() is shell.user_ns
    bare.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: None))
    assert frontend._user_namespace() == {}


def test_colab_is_seen_by_its_kernel_module(bare):
    bare.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert frontend.frontend_name() == "colab"


def test_any_widget_manager_by_its_comm_or_a_hello(bare):
    bare.setattr(frontend.w.Widget, "_control_comm", object(), raising=False)
    assert frontend.frontend_name() == "widget manager"
    bare.setattr(frontend.w.Widget, "_control_comm", None, raising=False)
    frontend.frontend_seen()
    assert frontend.frontend_name() == "widget manager"


def test_forcing_wins_over_detection(bare):
    bare.setenv("VOILA_BASE_URL", "/")
    set_widget_view(False)
    try:
        assert not frontend.widget_frontend() and WIDGET_MIME not in _stepper()._repr_mimebundle_()
    finally:
        set_widget_view(None)
    with pytest.raises(tr_widgets.engine.errors.TraceInputError, match="set_widget_view"):
        set_widget_view("yes")
