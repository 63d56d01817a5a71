"""Every public function and class of the package carries an example, and the examples run.

The runner finds each module-level public function and class of ``tr_widgets`` (defined in that module),
takes its example (an ``Example::`` block, the code in ````…```` after ``Example:``, or ``>>>`` lines) and
runs it in a small shared namespace: torch, nn, F, np, tr_widgets, the module's own names, and a few
objects examples name (``x``, ``q, k, v``, ``loss_fn``, ``lstm``, a recurrent ``tr``, an attention ``at``,
a gradient trace ``g``), and the setups that several examples share, built once:

- ``Cell``: a cell of one's own, ``h_t = tanh(W [x_t, h_{t-1}] + b)`` (an ``nn.Linear(5, 2)`` on ``[x_t, h]``),
  and ``loop_tr``: the LoopTrace a capture records of it called once per step, 4 steps of ``x_t [3, 3]`` from
  ``h = zeros(3, 2)`` (batch 3, state 2);
- ``scan`` (a function) and ``Scan`` (a module), each a loop ``for x in xs: h = torch.tanh(h + x)``, compiled
  from a source registered in linecache under ``"<scan cell>"`` as IPython registers a cell's (a name of its
  own: some examples register a ``"<scan>"`` of theirs); ``xs``, the ``[5, 2]`` inputs, and ``scan_rec``: an
  OpRecorder's recording of ``scan_h = scan(torch.zeros(2), xs)``;
- ``Attention``: a hand-written attention module (``softmax(q kᵀ / √8) v``), and ``attn_cap``: a capture of
  ``Attention()`` called on ``q, k, v``.

A line ``a == b`` at the top level of an example is checked, so an example that says what a call returns says
it truly. Examples of IPython syntax (``%tr_step``) are left to the magic's tests.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import linecache
import pathlib
import pkgutil
import re
import textwrap

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import tr_widgets

SKIP_MODULES = ("tr_widgets.models.train",)  # none today; modules whose import needs more than the package
# Objects whose example is missing or does not run yet, one qualified name a line: the ratchet. Each is
# expected to fail here; one that passes fails the test until its line is removed, so the list only shrinks.
TODO = {line.strip() for line in pathlib.Path(__file__).with_name("docstring_examples_todo.txt").read_text(
    encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")}


def public_objects():
    """(qualified name, object) of every public module-level function and class defined in the package."""
    for info in pkgutil.walk_packages(tr_widgets.__path__, "tr_widgets."):
        if info.name.startswith(SKIP_MODULES) or any(p.startswith("_") for p in info.name.split(".")[1:]):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if getattr(obj, "__module__", None) == module.__name__:
                yield f"{module.__name__}.{name}", obj


def example_of(doc: str) -> str | None:
    """The example's code in ``doc``: a ``>>>`` session, an ``Example::`` block, or ````code```` after ``Example:``."""
    if ">>>" in doc:
        return "\n".join(line.strip()[4:] for line in doc.splitlines() if line.strip().startswith((">>>", "...")))
    block = re.search(r"Examples?::\s*\n((?:[ \t]*\n|[ \t]+\S.*\n?)+)", doc)
    if block:
        return textwrap.dedent(block.group(1)).strip()
    inline = re.search(r"Examples?:\s*``(.+?)``(?!`)", doc, re.S)
    return " ".join(inline.group(1).split()) if inline else None


def checked(code: str) -> ast.Module:
    """``code`` parsed, each top-level ``a == b`` expression turned into an assert of it."""
    tree = ast.parse(code)
    for i, node in enumerate(tree.body):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Compare) and all(
                isinstance(op, ast.Eq) for op in node.value.ops):
            tree.body[i] = ast.copy_location(ast.Assert(test=node.value, msg=None), node)
    return ast.fix_missing_locations(tree)


def shared_namespace() -> dict:
    """What examples may name without making it: the public API, a few inputs, and one trace of each kind."""
    torch.manual_seed(0)
    x = torch.randn(6, 1, 3)
    lstm = nn.LSTM(3, 4)
    q, k, v = (torch.randn(1, 2, 6, 8) for _ in range(3))
    loss_fn = lambda out: out[0][-1].pow(2).sum()  # noqa: E731
    model, tok = tr_widgets.load_tiny()
    with tr_widgets.capture(lstm) as rec:
        lstm(x)
    tr = tr_widgets.trace_recurrent(lstm, x)
    api = {name: getattr(tr_widgets, name) for name in tr_widgets.__all__}
    return {**api, "torch": torch, "nn": nn, "F": F, "np": np, "tr_widgets": tr_widgets, "views": tr_widgets.views,
            "x": x, "lstm": lstm, "q": q, "k": k, "v": v, "loss_fn": loss_fn, "model": model, "tok": tok,
            "rec": rec, "tr": tr, "fwd": tr, "at": tr_widgets.trace_attention(q, k, v, is_causal=True),
            "g": tr_widgets.trace_gradients(lstm, x, loss_fn),
            "dt": tr_widgets.decode(model, "The cat sat on the", 3, tokenizer=tok), "t": 2,
            **loop_setups(), **attention_setup(q, k, v)}


class Cell(nn.Linear):
    """A cell of one's own, called once per step: h_t = tanh(W [x_t, h_{t-1}] + b)."""

    def forward(self, x, h):
        return torch.tanh(super().forward(torch.cat([x, h], -1)))


class Attention(nn.Module):
    """Hand-written attention, in a module whose class name says Attention (head size 8)."""

    def forward(self, q, k, v):
        return (q @ k.transpose(-2, -1) / 8 ** 0.5).softmax(-1) @ v


# registered in linecache as IPython registers a cell's: the loop tracer reads a notebook's loops from there
SCAN_SOURCE = """\
def scan(h, xs):
    for x in xs:
        h = torch.tanh(h + x)
    return h


class Scan(nn.Module):
    def forward(self, h, xs):
        for x in xs:
            h = torch.tanh(h + x)
        return h
"""


def loop_setups() -> dict:
    """``Cell`` and its ``loop_tr``; ``scan``, ``Scan``, ``xs`` and ``scan_rec`` / ``scan_h`` (module docstring)."""
    from tr_widgets.engine.loops import OpRecorder

    cell, h = Cell(5, 2), torch.zeros(3, 2)  # batch 3, state 2
    with tr_widgets.capture(cell) as cap:
        for x_t in torch.randn(4, 3, 3):  # 4 steps of x_t [3, 3]
            h = cell(x_t, h)
    linecache.cache["<scan cell>"] = (len(SCAN_SOURCE), None, SCAN_SOURCE.splitlines(True), "<scan cell>")
    defined = {"torch": torch, "nn": nn}
    exec(compile(SCAN_SOURCE, "<scan cell>", "exec"), defined)  # defines scan and Scan
    scan, xs, ops = defined["scan"], torch.randn(5, 2), OpRecorder()
    recording = ops.start(scan.__code__)
    scan_h = scan(torch.zeros(2), xs)
    ops.stop(recording)
    return {"Cell": Cell, "loop_tr": cap["Cell"], "scan": scan, "Scan": defined["Scan"], "xs": xs,
            "scan_rec": recording, "scan_h": scan_h}


def attention_setup(q, k, v) -> dict:
    """``Attention`` and ``attn_cap``, its capture on ``q, k, v`` (module docstring)."""
    with tr_widgets.capture(Attention()) as cap:
        cap.model(q, k, v)
    return {"Attention": Attention, "attn_cap": cap}


# the trace an example calls ``trace``: the one of its module's kind
TRACE_OF = (("recurrent", "tr"), ("attention", "at"), ("gradients", "g"), ("decode", "dt"))


OBJECTS = sorted(public_objects(), key=lambda p: p[0])


@pytest.fixture
def settings_kept():
    """The package's settings as they were before an example (one that sets a budget must not change later tests)."""
    from tr_widgets.widgets import get_frame_budget, set_frame_budget
    kept = get_frame_budget(), tr_widgets.get_memory_budget(), tr_widgets.get_language()
    yield
    set_frame_budget(kept[0]), tr_widgets.set_memory_budget(kept[1]), tr_widgets.set_language(kept[2])


@pytest.fixture(scope="module")
def namespace():
    return shared_namespace()


def test_every_public_function_and_class_has_an_example():
    missing = [name for name, obj in OBJECTS if not (obj.__doc__ and example_of(obj.__doc__)) and name not in TODO]
    assert not missing, f"{len(missing)} without an example: {missing}"


@pytest.mark.parametrize("name, obj", OBJECTS, ids=[n for n, _ in OBJECTS])
def test_the_example_runs(name, obj, namespace, tmp_path, monkeypatch, settings_kept):
    monkeypatch.chdir(tmp_path)  # examples that write a file (w.save("attention.png")) write it here, not in the repo
    code = example_of(obj.__doc__ or "")
    if code is not None and (code.lstrip().startswith("%") or "\n%" in code):
        pytest.skip("IPython syntax: the magic's tests run those")
    try:
        if code is None:
            raise AssertionError("no example")
        run(name, obj, code, namespace)
    except Exception as err:  # noqa: BLE001  (a listed one is expected to fail, any way it fails)
        if name in TODO:
            pytest.xfail(f"listed in docstring_examples_todo.txt: {type(err).__name__}")
        raise
    assert name not in TODO, f"{name}'s example runs now: remove it from docstring_examples_todo.txt"


def run(name: str, obj, code: str, namespace: dict) -> None:
    module = importlib.import_module(obj.__module__)
    scope = {**namespace, **{k: v for k, v in vars(module).items() if not k.startswith("__")}}
    scope.setdefault("trace", next((namespace[t] for part, t in TRACE_OF if part in name), namespace["tr"]))
    exec(compile(checked(code), f"<example of {name}>", "exec"), scope)
