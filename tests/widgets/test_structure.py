"""The front end's homes: no stepper imports another stepper; steppers share layout helpers through
widgets.layout and panels through widgets.panels; every stepper module is named in the kind table."""
import ast
import pathlib

import tr_widgets.widgets.steppers as steppers
from tr_widgets.widgets.registry import STEPPERS

HOME = pathlib.Path(steppers.__file__).parent
MODULES = sorted(p.stem for p in HOME.glob("*.py") if p.stem != "__init__")


def imported_modules(path: pathlib.Path) -> set[str]:
    """The relative module names ``path`` imports (``.attention``, ``..layout`` → 'attention', '..layout')."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            out.add("." * (node.level - 1) + (node.module or ""))
    return out


def test_no_stepper_imports_another_stepper():
    for name in MODULES:
        others = {m for m in imported_modules(HOME / f"{name}.py") if m.split(".")[-1] in MODULES and not m.startswith(".")}
        assert not others, f"steppers/{name}.py imports the stepper module(s) {others}"


def test_every_stepper_module_is_in_the_kind_table():
    named = {k.stepper.split(":")[0] for k in STEPPERS.values() if isinstance(k.stepper, str)}
    assert set(MODULES) <= named, set(MODULES) - named
