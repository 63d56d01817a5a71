"""The source of a forward, read once per code object with ``ast``: which statement each line belongs to,
what each assignment names, and where the loops are.

A statement spanning several lines (d2l's ``I = torch.sigmoid(torch.matmul(X, self.W_xi) +`` continued on the
next line) is one statement: every line of it maps to it, so an op reported on a continuation line is still
part of the assignment to ``I``. A compound statement (``for``, ``while``, ``if``, ``with``) owns its header
lines only; the statements of its body are statements of their own.
"""
from __future__ import annotations

import ast
import inspect
import textwrap

import torch  # noqa: F401 - the examples use it
from dataclasses import dataclass

_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_INFO: dict = {}  # code object -> CodeInfo, or None when its source cannot be read (built-ins, exec'd text)


@dataclass(frozen=True)
class Stmt:
    """One statement: its lines, the names it assigns (``("H",)``, ``("h", "c")`` for ``h, c = ...``, or ``()``),
    whether the target is a tuple, and the index of the innermost loop whose body holds it (-1: none).

    Example::

        info = code_info(nn.Sequential.forward.__code__)  # for module in self: input = module(input)
        s = info.stmts[info.loops[0].header + 1]
        (s.targets, s.tuple_target, s.loop) == (("input",), False, 0)  # in loop 0's body
    """

    first: int
    last: int
    targets: tuple[str, ...]
    tuple_target: bool
    loop: int


@dataclass(frozen=True)
class Loop:
    """A ``for``/``while`` loop: its header statement, the statements of its body (indices), its lines, the
    ``for`` target's text (``"X"``; '' for ``while``), and the ``self`` attributes its iterable reads
    (``for block in self.h`` -> ``("h",)``: over a ModuleList, a loop in depth).

    Example::

        loop = code_info(nn.Sequential.forward.__code__).loops[0]
        (loop.target, loop.over) == ("module", ())
        code_info(nn.TransformerEncoder.forward.__code__).loops[0].over == ("layers",)  # for mod in self.layers
    """

    header: int
    body: frozenset
    first: int
    last: int
    target: str = ""
    over: tuple = ()
    straight: bool = True  # its body holds no if / break / continue / return / raise / try / with / match


@dataclass(frozen=True)
class CodeInfo:
    """What the source of one code object says (line numbers are the file's).

    Example::

        info = code_info(nn.Sequential.forward.__code__)
        info.lines[0].strip() == "def forward(self, input):"
        info.stmt_of_line[info.loops[0].first] == info.loops[0].header  # the for line is the loop's header
    """

    file: str
    first_line: int
    lines: tuple[str, ...]
    stmts: tuple[Stmt, ...]
    stmt_of_line: dict
    loops: tuple[Loop, ...]


def _targets(node) -> tuple[tuple[str, ...], bool]:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        tgt = node.targets[0]
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and node.value is not None:
        tgt = node.target
    else:
        return (), False
    if isinstance(tgt, (ast.Tuple, ast.List)):
        return tuple(ast.unparse(e) for e in tgt.elts), True
    return (ast.unparse(tgt),), False


def _walk(body, offset, stmts, loops, line_map, loop) -> None:
    for node in body:
        idx = len(stmts)
        inner = getattr(node, "body", None)
        head_last = (inner[0].lineno - 1 if inner else node.end_lineno) + offset
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            inner, head_last = None, node.end_lineno + offset  # a nested def runs elsewhere: its lines are its own
        targets, is_tuple = _targets(node)
        stmts.append(Stmt(node.lineno + offset, head_last, targets, is_tuple, loop))
        for ln in range(node.lineno + offset, head_last + 1):
            line_map.setdefault(ln, idx)
        if not inner:
            continue
        here = loop
        if isinstance(node, _LOOPS):
            here = len(loops)
            loops.append(None)  # filled once the body's statements are known
        start = len(stmts)
        for part in ("body", "orelse", "handlers", "finalbody"):
            sub = getattr(node, part, None) or []
            if part == "handlers":
                sub = [s for h in sub for s in h.body]
            if part == "orelse" and isinstance(node, _LOOPS):
                _walk(sub, offset, stmts, loops, line_map, loop)  # a loop's else runs once, after it
                continue
            _walk(sub, offset, stmts, loops, line_map, here)
        if isinstance(node, _LOOPS):
            body = frozenset(i for i in range(start, len(stmts)) if _inside(stmts, i, loops, here))
            target = ast.unparse(node.target) if isinstance(node, (ast.For, ast.AsyncFor)) else ""
            over = tuple(sorted({n.attr for n in ast.walk(getattr(node, "iter", ast.Pass())) if isinstance(n, ast.Attribute)
                                 and isinstance(n.value, ast.Name) and n.value.id == "self"}))
            loops[here] = Loop(idx, body, node.lineno + offset, node.end_lineno + offset, target, over,
                               _straight(node))


_BRANCHES = (ast.If, ast.Break, ast.Continue, ast.Return, ast.Raise, ast.Try, ast.With, ast.Match)


def _straight(loop_node) -> bool:
    """The loop's body runs the same statements on every step (no statement that may branch or leave it)."""
    todo = list(loop_node.body)
    while todo:
        node = todo.pop()
        if isinstance(node, _BRANCHES):
            return False
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))
    return True


def _inside(stmts, i, loops, target) -> bool:
    """Statement i lies in loop ``target``'s body, directly or through inner loops (each inner loop is complete
    before its outer one: a loop's parent is the loop holding its header)."""
    k = stmts[i].loop
    while k != -1:
        if k == target:
            return True
        k = stmts[loops[k].header].loop
    return False


def code_info(code) -> CodeInfo | None:
    """The parsed source of ``code`` (cached), or None when it has no readable source.

    Example: ``code_info(type(model).forward.__code__).loops``
    """
    if code in _INFO:
        return _INFO[code]
    info = None
    try:
        lines, first = inspect.getsourcelines(code)
        tree = ast.parse(textwrap.dedent("".join(lines)))
        fn = tree.body[0]
        stmts, loops, line_map = [], [], {}
        _walk(fn.body, first - 1, stmts, loops, line_map, -1)
        info = CodeInfo(inspect.getsourcefile(code) or code.co_filename, first,
                        tuple(ln.rstrip("\n") for ln in lines), tuple(stmts), line_map, tuple(loops))
    except (OSError, TypeError, SyntaxError, IndexError, AttributeError):
        info = None
    if len(_INFO) > 4096:  # a long session defining many models: forget the oldest half
        for k in list(_INFO)[:2048]:
            del _INFO[k]
    _INFO[code] = info
    return info


def has_loop(code) -> bool:
    """``code``'s source holds a ``for`` or ``while`` loop (read once per code object).

    Example: ``has_loop(torch.nn.Sequential.forward.__code__) == True``
    """
    info = code_info(code)
    return info is not None and bool(info.loops)
