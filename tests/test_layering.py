"""The layers run one way (architecture.md): engine (pure torch) → views (numpy) → widgets → magic.

Every module of the package is parsed (subpackages included); each import is resolved to its absolute
module name and checked against the layer it may reach. A second test keeps names private to their
module: no module imports another module's ``_name``.
"""
import ast
import pathlib
import subprocess
import sys

import tr_widgets

ROOT = pathlib.Path(tr_widgets.__file__).parent
FRONTEND = ("ipywidgets", "anywidget", "altair", "IPython", "traitlets")
# layer -> module prefixes it must never import
FORBIDDEN = {
    "engine": FRONTEND + ("numpy", "tr_widgets.views", "tr_widgets.widgets", "tr_widgets.magic", "tr_widgets.testing"),
    "models": FRONTEND + ("tr_widgets.views", "tr_widgets.widgets", "tr_widgets.magic"),
    "views": FRONTEND + ("tr_widgets.widgets", "tr_widgets.magic"),
    "widgets": ("IPython", "altair", "tr_widgets.magic", "tr_widgets.testing"),
    "testing": ("tr_widgets.magic",),
}


def modules():
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        package = parts if parts[-1] == "__init__" else parts[:-1]
        yield path, ".".join(p for p in parts if p != "__init__"), [p for p in package if p != "__init__"]


def imports(path, package):
    """(absolute module name, imported names) of every import statement in ``path``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, []
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            name = ".".join(base + ([node.module] if node.module else []))
            yield name, [a.name for a in node.names]


def test_the_walk_sees_every_subpackage():
    names = {name for _, name, _ in modules()}
    assert {"tr_widgets.engine.recurrent.cells", "tr_widgets.engine.capture.recorder", "tr_widgets.views.palette",
            "tr_widgets.widgets.registry", "tr_widgets.magic.demos"} <= names


def test_each_layer_imports_only_what_lies_below_it():
    bad = []
    for path, name, package in modules():
        layer = name.split(".")[1] if "." in name else None
        for target, _ in imports(path, package):
            if layer in FORBIDDEN and target.startswith(FORBIDDEN[layer]):
                bad.append(f"{name} imports {target}")
    assert not bad, bad


def test_no_module_imports_another_modules_private_name():
    bad = []
    for path, name, package in modules():
        for target, names in imports(path, package):
            if not target.startswith("tr_widgets"):
                continue
            if any(p.startswith("_") and p != "__init__" for p in target.split(".")):
                bad.append(f"{name} imports the private module {target}")
            bad += [f"{name} imports {target}.{n}" for n in names if n.startswith("_") and not n.startswith("__")]
    assert not bad, bad


def test_importing_the_engine_loads_no_frontend_module():
    code = ("import sys, tr_widgets.engine, tr_widgets.engine.capture, tr_widgets.engine.decode; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('ipywidgets', 'anywidget', 'altair', 'IPython')]; "
            "print(bad); assert not bad")
    subprocess.run([sys.executable, "-c", code], check=True)
