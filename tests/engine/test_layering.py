"""The engine is pure torch: it never imports widget, IPython or altair code (architecture.md)."""
import ast
import pathlib
import subprocess
import sys

import tr_widgets

FRONTEND = ("ipywidgets", "anywidget", "altair", "IPython", "traitlets", "tr_widgets.widgets",
            "tr_widgets.views", "tr_widgets.magic")
ENGINE = pathlib.Path(tr_widgets.__file__).parent / "engine"


def test_engine_sources_import_no_frontend_code():
    files = sorted(ENGINE.glob("*.py"))
    assert files
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
                if node.level:  # relative: only siblings inside the engine are allowed
                    assert node.level == 1, f"{path.name} imports from outside the engine"
            for name in names:
                assert not name.startswith(FRONTEND), f"{path.name} imports {name}"


def test_importing_the_engine_loads_no_frontend_module():
    code = ("import sys, tr_widgets.engine; bad = [m for m in sys.modules if m.split('.')[0] in "
            "('ipywidgets', 'anywidget', 'altair', 'IPython')]; print(bad); assert not bad")
    subprocess.run([sys.executable, "-c", code], check=True)
