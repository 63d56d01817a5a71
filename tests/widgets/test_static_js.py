"""The JavaScript is written once (issue 21): every helper is defined in one static file, each file imports what it
uses from another, and each module the page loads (assembled by widgets/esm.py) holds every helper it uses,
parses, and loads. Files stay small: one job each."""
from __future__ import annotations

import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from tr_widgets.engine.errors import TraceInputError
from tr_widgets.widgets import esm, frames

FILES = sorted(esm.STATIC.rglob("*.js"))
# A function, or a const/let bound to an arrow function, at any depth (helpers were retyped inside `render` too).
HELPER = re.compile(r"\bfunction\*?\s+([A-Za-z_$][\w$]*)\s*\(|\b(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*"
                    r"(?:async\s*)?(?:\([^()]*\)|[A-Za-z_$][\w$]*)\s*=>")
# A name the code uses: not a property (`.text`) nor an object key (`text:`).
USED = re.compile(r"(?<![\w$.])([A-Za-z_$][\w$]*)(?![\w$])(?!\s*:)")


def _rel(path: Path) -> str:
    return path.relative_to(esm.STATIC).as_posix()


def _owner() -> dict[str, str]:
    """Each top-level name of the static files, and the file that declares it."""
    return {name: _rel(p) for p in FILES for name in esm.declarations(p)}


def test_no_helper_is_defined_in_two_static_files():
    where = defaultdict(set)
    for p in FILES:
        for m in HELPER.finditer(esm.code_only(p.read_text(encoding="utf-8"))):
            where[m.group(1) or m.group(2)].add(_rel(p))
        for name in esm.declarations(p):
            where[name].add(_rel(p))
    twice = {name: sorted(files) for name, files in where.items() if len(files) > 1}
    assert not twice, f"defined in two static files (write it once, in static/lib/, and import it): {twice}"
    for helper in ("bytesOf", "floatsOf", "el", "text", "attr", "outline", "themeColour", "watchTheme"):
        assert len(where[helper]) == 1 and next(iter(where[helper])).startswith("lib/"), helper  # the copies


def test_each_file_imports_what_it_uses_from_another():
    owner = _owner()
    for p in FILES:
        code, imported = esm.code_only(p.read_text(encoding="utf-8")), esm.imports_of(p)
        own = set(esm.declarations(p))
        used = {m.group(1) for m in USED.finditer(code)}
        missing = sorted(n for n in used & set(owner) if n not in own and n not in imported)
        assert not missing, f"{_rel(p)} uses {missing} (from {[owner[n] for n in missing]}) without importing it"
        for name, src in imported.items():
            assert owner.get(name) == _rel(src), f"{_rel(p)} imports {name} from {_rel(src)}"


@pytest.mark.parametrize("name", esm.ENTRIES)
def test_each_assembled_module_holds_every_helper_it_uses(name):
    owner, src = _owner(), esm.module(name)
    files = {_rel(p) for p in esm.files_of(name)}
    declared = {n for p in esm.files_of(name) for n in esm.declarations(p)}
    used = {m.group(1) for m in USED.finditer(esm.code_only(src))}
    assert not sorted(n for n in used & set(owner) if n not in declared)
    assert f"{name}.js" in files and "import {" not in src  # resolved: nothing left for the page to fetch
    for p in esm.files_of(name):  # each file once, each helper once
        assert src.count(f"// ---- {_rel(p)}\n") == 1
    for helper in declared:
        assert len(re.findall(rf"^(?:async\s+)?function\*?\s+{re.escape(helper)}\b", src, re.M)) <= 1, helper


def test_shared_helpers_come_from_lib_and_the_page_gets_the_same_modules_live_and_exported():
    for name in ("matrix", "bars"):
        files = [_rel(p) for p in esm.files_of(name)]
        assert {"lib/dom.js", "lib/theme.js", "lib/bytes.js", "lib/canvas.js"} <= set(files), files
    assert "lib/bytes.js" in [_rel(p) for p in esm.files_of("player")]
    assert frames.player_sources() == esm.sources()
    from tr_widgets.widgets.controller import StepClock
    from tr_widgets.widgets.panels import BarsCanvas, MatrixCanvas
    for cls, name in ((StepClock, "player"), (MatrixCanvas, "matrix"), (BarsCanvas, "bars")):
        assert cls._esm == esm.module(name)


def _function_lengths(lines: list[str]):
    start = re.compile(r"^(\s*)(?:export\s+)?(?:async\s+)?function\b.*\{\s*$|^(\s*)(?:export\s+)?(?:const|let)\s+\w+\s*="
                       r"\s*(?:async\s*)?\([^()]*\)\s*=>\s*\{\s*$")
    for i, line in enumerate(lines):
        m = start.match(line)
        if m:
            indent = m.group(1) if m.group(1) is not None else m.group(2)
            end = next(j for j in range(i + 1, len(lines)) if re.match(rf"^{indent}\}}", lines[j]))
            yield line.strip()[:40], end - i + 1


def test_static_files_are_small_and_so_are_their_functions():
    for p in FILES:
        lines = p.read_text(encoding="utf-8").splitlines()
        assert len(lines) <= 300, (_rel(p), len(lines))
        long = [(f, n) for f, n in _function_lengths(lines) if n > 60]
        assert not long, (_rel(p), long)


def test_the_loader_refuses_a_name_declared_twice_and_an_import_it_cannot_resolve(tmp_path, monkeypatch):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.js").write_text("export function helper() { return 1; }\n")
    (tmp_path / "bars.js").write_text('import { helper } from "./lib/a.js";\nfunction helper() {}\nexport default {};\n')
    monkeypatch.setattr(esm, "STATIC", tmp_path)
    esm.reload()
    try:
        with pytest.raises(TraceInputError, match="helper.*declare a helper once"):
            esm.module("bars")
        (tmp_path / "bars.js").write_text('import { other } from "./lib/a.js";\nexport default {};\n')
        esm.reload()
        with pytest.raises(TraceInputError, match="names that a.js exports, got other"):
            esm.module("bars")
        (tmp_path / "bars.js").write_text('import { helper } from "./lib/a.js";\nexport default { helper };\n')
        esm.reload()
        assert esm.module("bars").count("function helper()") == 1 and "export function" not in esm.module("bars")
    finally:
        monkeypatch.undo()
        esm.reload()


NODE = shutil.which("node")
LOAD = """const m = await import(process.argv[1]);
console.log(JSON.stringify({named: Object.keys(m).sort(), entry: Object.keys(m.default || {}).sort()}));"""


@pytest.mark.skipif(NODE is None, reason="node is not installed (the browser tests load the modules too)")
@pytest.mark.parametrize("name", esm.ENTRIES)
def test_each_assembled_module_parses_and_loads(name, tmp_path):
    path = tmp_path / f"{name}.mjs"
    path.write_text(esm.module(name), encoding="utf-8")
    out = subprocess.run([NODE, "--input-type=module", "-e", LOAD, path.as_uri()], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    want = {"player": ({"decodeFrames", "default", "valueAt"}, {"initialize", "render"}),
            "export": ({"mountAll"}, set()), "matrix": ({"default"}, {"render"}), "bars": ({"default"}, {"render"}),
            "caption": ({"default"}, {"render"})}
    import json
    got = json.loads(out.stdout)
    assert (set(got["named"]), set(got["entry"])) == want[name]
