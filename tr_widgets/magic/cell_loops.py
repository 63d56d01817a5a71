"""A loop of tensor ops written in a ``%%tr_step`` cell itself (no module around it), found as capture finds one in a
forward: the seed's σ-RNN as a learner types it,
``for t in range(T): h = torch.sigmoid(W @ torch.cat([h, x[t]]) + b)``.

Capture watches the forwards of modules; a cell's top-level code is no forward. So the magic runs the cell as the
body of one function that declares every name the cell binds ``global`` (each assignment lands in the notebook's
namespace exactly as a cell's would, and a name read before it is assigned reads the notebook's value), with
its source registered in ``linecache`` as IPython registers cells, and watches that function's code with the
engine's op recorder (``engine.loops``). What it finds is built by the same builder as a forward's loop, then its
line numbers are shifted back to the cell's own. A cell that cannot be wrapped (``from m import *``, top-level
``await``) runs as it is, unwatched.
"""
from __future__ import annotations

import ast
import dataclasses
import itertools
import linecache
import symtable

from ..engine.loops import OpRecorder, Source
from ..engine.loops.detect import find
from ..engine.loops.watch import build_loop_trace

WRAPPER = "__tr_step_cell__"
HEADER = 2  # lines before the cell's first line in the wrapped source: the def, the global declaration
_count = itertools.count(1)


def bound_names(source: str) -> list[str]:
    """Every name the cell's top level binds (assigns, imports, defines, deletes, loops over), sorted.

    Example: ``bound_names("h = 0\\nfor t in range(3):\\n    h = h + t") == ["h", "t"]``
    """
    table = symtable.symtable(source, "<cell>", "exec")
    return sorted(s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported())


def has_loop(tree) -> bool:
    """The cell's own code (not a function or class it defines) holds a ``for`` or ``while`` loop.

    Example::

        has_loop(ast.parse("with torch.no_grad():\\n    for x in xs: pass")) == True
        has_loop(ast.parse("def f(xs):\\n    for x in xs: pass")) == False   # a function's own loop
    """
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.For, ast.While)):
            return True
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))
    return False


def spans_lines(tree) -> bool:
    """A string literal runs over several lines: indenting the cell would change its text, so it is not wrapped.

    Example: ``spans_lines(ast.parse("h = torch.zeros(2)"))  # False``
    """
    return any(isinstance(n, (ast.Constant, ast.JoinedStr)) and (n.end_lineno or n.lineno) > n.lineno
               for n in ast.walk(tree))


def wrapped(source: str) -> str | None:
    """The cell as the body of one function whose bound names are global, or None when it cannot be (a syntax that
    only a module allows, or no loop at its top level: nothing to watch).

    Example: ``wrapped("for t in range(3):\\n    h = h + t").splitlines()[1]  # ' global h, t'``
    """
    try:
        tree = ast.parse(source)
        names = bound_names(source)
    except SyntaxError:
        return None
    if not has_loop(tree) or spans_lines(tree):
        return None
    body = "".join(f" {line}\n" if line.strip() else "\n" for line in source.splitlines())
    text = f"def {WRAPPER}():\n global {', '.join(names) or WRAPPER}\n{body} return None\n"
    try:
        ast.parse(text)
    except SyntaxError:  # e.g. ``from m import *`` or top-level ``await``: a module's syntax only
        return None
    return text


def _cell_lines(trace):
    """``trace`` with its line numbers those of the cell (the wrapper's header lines taken off)."""
    src = trace.source
    lines = tuple(ln[1:] if ln.startswith(" ") else ln for ln in src.lines)  # the wrapper's one space of indent
    return dataclasses.replace(trace, lines=tuple(n - HEADER for n in trace.lines),
                               source=Source(src.file, src.first_line - HEADER, lines))


def run_watched(source: str, code, user_global_ns: dict, user_ns: dict) -> tuple[list, list]:
    """Run the cell (``code``, compiled from ``source``); returns the (name, LoopTrace) of each recurrence its own
    top-level loops ran, and (name, why) of each found but not traceable. Without a loop, it runs ``code`` as is.

    Example::

        cell = "h = torch.zeros(2)\\nfor t in range(4):\\n    h = torch.tanh(W @ h + xs[t])"
        ns = {"torch": torch, "W": torch.eye(2), "xs": torch.randn(4, 2)}
        traces, skipped = run_watched(cell, compile(cell, "<cell>", "exec"), ns, ns)
        [name for name, _ in traces] == ["cell"]
        ns["t"] == 3   # the cell's names land in the namespace, as a cell's would
    """
    text = wrapped(source)
    if text is None or user_global_ns is not user_ns:
        exec(code, user_global_ns, user_ns)  # the cell's variables stay defined
        return [], []
    filename = f"<%%tr_step-{next(_count)}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    scope: dict = {}
    exec(compile(text, filename, "exec"), user_ns, scope)  # defines the wrapper only (its globals: the notebook's)
    fn = scope[WRAPPER]
    ops = OpRecorder(steady=True)
    recording = ops.start(fn.__code__)
    try:
        fn()
    finally:
        ops.stop(recording)
    return found_traces(recording)


def found_traces(recording) -> tuple[list, list]:
    """(name, LoopTrace) of each recurrence ``recording`` holds, and (name, why) of those that cannot be traced.

    Example::

        src = "def scan(h, xs):\\n    for x in xs:\\n        h = torch.tanh(h + x)\\n    return h\\n"
        linecache.cache["<scan>"] = (len(src), None, src.splitlines(True), "<scan>")   # as IPython does a cell's
        exec(compile(src, "<scan>", "exec"), ns := {"torch": torch})
        ops = OpRecorder(steady=True); rec = ops.start(ns["scan"].__code__)
        ns["scan"](torch.zeros(2), torch.randn(4, 2)); ops.stop(rec)
        [(name, len(loop)) for name, loop in found_traces(rec)[0]] == [("cell", 4)]
    """
    traces, skipped = [], []
    try:
        recording.check_budget("the cell's loop")
        found = find(recording)
    except Exception as e:  # noqa: BLE001 - said in the magic's message, never silent
        return [], [("the cell", f"{type(e).__name__}: {e}")]
    for k, f in enumerate(found):
        info, loop = recording.info, f.loop
        lo, hi = loop.first - info.first_line, loop.last - info.first_line + 1
        f.source = Source(info.file, loop.first, info.lines[lo:hi])  # the loop's own lines
        name = "cell" if k == 0 else f"cell#{k + 1}"
        try:
            traces.append((name, _cell_lines(build_loop_trace(f, None, name=name))))
        except Exception as e:  # noqa: BLE001
            skipped.append((name, f"{type(e).__name__}: {e}"))
    return traces, skipped
