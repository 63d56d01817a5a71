"""The JavaScript modules the page runs, each assembled from the files in ``tr_widgets/static`` it imports.

Why assembled here, and not imported by the browser: anywidget hands each widget's ``_esm`` to the page as one
ES module (JupyterLab 4 and Notebook 7 import it from a ``blob:`` URL; an exported page from a ``data:`` URL).
Such a module cannot import the file beside it: a relative import has no base to resolve against, and a URL
served by the kernel's server would not exist in an exported page read offline, on GitHub or in nbviewer.
Bundlers (esbuild, rollup) would solve it with a build step and node_modules, which this package does without.

So each static file is a real ES module that imports what it uses by relative path (a reader sees where each
helper comes from), and :func:`module` resolves those imports once, in Python: the imported files in dependency
order, each once, their import lines dropped and their ``export`` keywords removed (inside one module they are
plain declarations), then the entry file with its own exports. The live widgets (``_esm = module("player")``)
and the exported-page writer (:func:`tr_widgets.widgets.frames.player_sources`) call the same function, so a
page runs the same code live and offline. Shared helpers live once, in ``static/lib/``; a name declared at the
top level of two static files is refused here (it would be a SyntaxError in the page) and by
tests/widgets/test_static_js.py.

Only this import form is understood: ``import { a, b } from "./file.js";`` (relative, named). A module is
assembled once per process: after editing a static file, restart the kernel (or call :func:`reload`).
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

from ..engine.errors import fail

STATIC = Path(__file__).resolve().parent.parent / "static"
PAGE = ("player", "export", "matrix", "bars")  # the modules an exported page loads: StepClock, exports, MatrixCanvas, BarsCanvas
ENTRIES = (*PAGE, "caption")  # and CaptionPanel's (a page draws the caption with export.js)

_IMPORT = re.compile(r'^import\s*\{([^}]*)\}\s*from\s*"([^"]+)";[ \t]*\n?', re.M)
_ANY_IMPORT = re.compile(r"^import\b", re.M)
_EXPORT_DECL = re.compile(r"^export\s+(?=(?:async\s+)?function\b|class\b|const\b|let\b)", re.M)
_EXPORT_OTHER = re.compile(r"^export\s+(?:default\b|\{)", re.M)
_DECL = re.compile(r"^(?:export\s+)?(?:async\s+)?(?:function\*?\s+(\w+)|class\s+(\w+)|(const|let|var)\s+)", re.M)
_IDENT = re.compile(r"[A-Za-z_$][\w$]*")


# A comment, a quoted string, the start of a template literal, or a run of code: one token at a time.
_TOKEN = re.compile(r"""//[^\n]*|/\*.*?(?:\*/|\Z)|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`|[^/"'`]+|/""", re.S)


def code_only(src: str, keep_strings: bool = False) -> str:
    """``src`` without its comments, and the text of its string and template literals blanked (``${...}`` kept):
    names left in it are names the code uses. With ``keep_strings``, the literals stay as written.

    Example::

        code_only('const a = "b(c)"; // d')   # 'const a = "    "; '
    """
    out, i, n = [], 0, len(src)
    while i < n:
        token = _TOKEN.match(src, i).group()
        if token == "`":
            j = _string_end(src, i)
            token = src[i:j] if keep_strings else _blank(src[i:j])
            i = j
        else:
            i += len(token)
        if token[:2] in ("//", "/*"):
            continue
        out.append(token if keep_strings or token[0] not in "\"'" else _blank(token))
    return "".join(out)


def _placeholder_end(src: str, i: int) -> int:
    """The index just after the ``${...}`` that starts at ``src[i]`` (strings inside it skipped whole)."""
    depth, i = 1, i + 2
    while i < len(src) and depth:
        if src[i] in "\"'`":
            i = _string_end(src, i)
            continue
        depth += (src[i] == "{") - (src[i] == "}")
        i += 1
    return i


def _string_end(src: str, i: int) -> int:
    """The index just after the string or template literal that starts at ``src[i]``."""
    quote, n, i = src[i], len(src), i + 1
    while i < n and src[i] != quote:
        if src[i] == "\\":
            i += 2
        elif quote == "`" and src.startswith("${", i):
            i = _placeholder_end(src, i)
        else:
            i += 1
    return i + 1


def _blank(literal: str) -> str:
    """A literal with its text as spaces; a template keeps the code of its ``${...}``."""
    if literal[0] != "`":
        return literal[0] + " " * (len(literal) - 2) + literal[-1]
    out, i, n = ["`"], 1, len(literal) - 1
    while i < n:
        if literal.startswith("${", i):
            j = _placeholder_end(literal, i)
            out.append("${" + code_only(literal[i + 2:j - 1]) + "}")
            i = j
        else:
            out.append("\n" if literal[i] == "\n" else " ")
            i += 1 + (literal[i] == "\\")
    return "".join(out) + "`"


def _declared_vars(code: str, start: int) -> list[str]:
    """The names a ``const``/``let`` statement starting at ``code[start]`` declares (``const A = 1, B = 2;``):
    the first name, and each after a comma outside brackets, up to the ``;`` that ends it."""
    names, depth, i = [], 0, start
    expect = True
    while i < len(code) and not (depth == 0 and code[i] == ";"):
        ch = code[i]
        if expect and not ch.isspace():
            m = _IDENT.match(code, i)
            names += [m.group()] if m else []
            expect = False
        depth += (ch in "([{") - (ch in ")]}")
        expect = expect or (depth == 0 and ch == ",")
        i += 1
    return names


@functools.cache
def _code(path: Path) -> str:
    return code_only(path.read_text(encoding="utf-8"))


def declarations(path: Path, exported: bool = False) -> list[str]:
    """The names declared at the top level of a static file (functions, classes, consts), in order; with
    ``exported``, only those it exports.

    Example: ``"bytesOf" in declarations(STATIC / "lib" / "bytes.js")``
    """
    code = _code(path)
    names: list[str] = []
    for m in _DECL.finditer(code):
        if exported and not m.group().startswith("export"):
            continue
        names += [m.group(1) or m.group(2)] if not m.group(3) else _declared_vars(code, m.end())
    return names


def _read(path: Path) -> tuple[list[tuple[list[str], Path]], str]:
    """A static file's imports ``[(names, path)]`` and its text without them."""
    src = path.read_text(encoding="utf-8")
    imports = [([s.strip() for s in names.split(",") if s.strip()], (path.parent / rel).resolve())
               for names, rel in _IMPORT.findall(src)]
    body = _IMPORT.sub("", src)
    if _ANY_IMPORT.search(body):
        fail(str(path.relative_to(STATIC)), 'imports of the form import { a, b } from "./file.js";',
             _ANY_IMPORT.search(body).string.splitlines()[0], "write the import in that form (see widgets/esm.py)")
    return imports, body


def imports_of(path: Path) -> dict[str, Path]:
    """Each name a static file imports, and the file it comes from.

    Example: ``imports_of(STATIC / "player" / "frames.js")["bytesOf"].name == "bytes.js"``
    """
    return {name: src for names, src in _read(path)[0] for name in names}


def files_of(name: str) -> list[Path]:
    """The static files module ``name`` is assembled from: its imports in dependency order, then the entry.

    Example: ``[p.name for p in files_of("bars")][-1] == "bars.js"``
    """
    order: list[Path] = []

    def visit(path: Path, chain: tuple[Path, ...]) -> None:
        if path in chain:
            fail("static imports", "no import cycle", " -> ".join(p.name for p in (*chain, path)),
                 "move the shared part into its own file")
        if path in order:
            return
        for names, src in _read(path)[0]:
            if not src.is_file():
                fail(path.name, "imports of existing static files", str(src), "fix the import's path")
            missing = [n for n in names if n not in declarations(src, exported=True)]
            if missing:
                fail(path.name, f"names that {src.name} exports", ", ".join(missing), f"export them from {src.name}")
            visit(src, (*chain, path))
        order.append(path)

    visit((STATIC / f"{name}.js").resolve(), ())
    return order


def _compact(body: str) -> str:
    """The code without comments and blank lines: the page runs code; the reasons stay in the files."""
    lines = (line.rstrip() for line in code_only(body, keep_strings=True).splitlines())
    return "\n".join(line for line in lines if line)


@functools.cache
def module(name: str) -> str:
    """The ES module ``name`` (one of :data:`ENTRIES`) as the page loads it: one source text.

    Example: ``_esm = module("player")`` in a widget class; ``"export default" in module("bars")``
    """
    if name not in ENTRIES:
        fail("name", f"one of {', '.join(ENTRIES)}", repr(name), "pass the name of a module in tr_widgets/static")
    files, seen, parts = files_of(name), {}, []
    for path in files:
        rel = path.relative_to(STATIC).as_posix()
        for declared in declarations(path):
            if declared in seen:
                fail(rel, f"names not declared in {seen[declared]}", declared, "declare a helper once, in static/lib/")
            seen[declared] = rel
        body = _read(path)[1]
        if path != files[-1]:
            if _EXPORT_OTHER.search(body):
                fail(rel, "only `export` before declarations (it is imported)", "export default or export {...}",
                     "keep those in the entry file")
            body = _EXPORT_DECL.sub("", body)
        parts.append(f"// ---- {rel}\n{_compact(body)}\n")
    listed = ", ".join(p.relative_to(STATIC).as_posix() for p in files)
    return f"// tr_widgets {name}.js, assembled by tr_widgets/widgets/esm.py from: {listed}\n\n" + "\n".join(parts)


_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_CSS_SPACE = re.compile(r"\s*([{};,>])\s*|(:)\s+")  # never before ":": ".tr-clock :is(...)" is a descendant


@functools.cache
def stylesheet() -> str:
    """``static/tr.css`` as the page gets it: without comments and spare spaces, one rule a line (every widget that
    brings it sends it once per page, and an exported page embeds it; the reasons stay in the file).

    Example: ``"/*" not in stylesheet() and ".tr-bars" in stylesheet()``
    """
    src = _CSS_COMMENT.sub("", (STATIC / "tr.css").read_text(encoding="utf-8"))
    rules = (_CSS_SPACE.sub(lambda m: m[1] or m[2], " ".join(line.split())) for line in src.split("}"))
    return "".join(f"{r.strip().rstrip(';')}}}\n" for r in rules if r.strip())


def reload() -> None:
    """Forget the assembled modules and the files read, so that the next :func:`module` reads the files again
    (widget classes keep the module they were defined with: restart the kernel to load an edited file).

    Example: ``reload(); module("bars")``
    """
    module.cache_clear()
    _code.cache_clear()
    stylesheet.cache_clear()


def sources() -> dict[str, str]:
    """Every module an exported page loads, by name (what it embeds).

    Example: ``set(sources()) == {"player", "export", "matrix", "bars"}``
    """
    return {name: module(name) for name in PAGE}
