"""Every catalogue key is used somewhere in the package, and every key the package names exists (issue 15).

A key is used when its literal text appears in the package's sources. Three kinds of key are built from
parts instead, and are listed here explicitly:

- ``<stem>.one`` / ``<stem>.many`` (``markup.counted(stem, n)``): used when the stem appears;
- keys under a prefix that travels to the JavaScript whole (``i18n.texts(prefix)``): used when the rest
  of the key appears as a quoted name or an attribute (``texts.hover``, ``word(model, "play")``) in the
  package's JavaScript or Python (``cmap="diverging"`` picks ``texts[cmap]``);
- ``state.family.<name>`` (``msg_or("state.family." + kind.name, kind.title)``): used when the state
  family's name appears quoted in the sources (the engine's kinds);
- ``selector.<name>`` (``msg_or("selector." + name, name)`` in the controller): used when the name
  appears quoted in the sources (the views name the selectors);
- ``magic.demo.<name>`` and ``magic.option.<--flag>`` (``msg_or("magic.demo." + name, ...)``): used
  when the demo is registered (``magic.DEMOS``) or the flag appears quoted in the magic's sources.
"""
import ast
import pathlib
import re

import pytest

from tr_widgets import i18n
from tr_widgets.magic import DEMOS

PACKAGE = pathlib.Path(i18n.__file__).resolve().parent.parent
# the catalogues themselves (each language's module and the parts it merges, ``<lang>_*.py``), and
# i18n/__init__.py, whose docstrings name keys only as examples
CATALOGUE_FILES = ({p for lang in i18n.LANGUAGES for p in (PACKAGE / "i18n").glob(f"{lang}.py")}
                   | {p for lang in i18n.LANGUAGES for p in (PACKAGE / "i18n").glob(f"{lang}_*.py")}
                   | {PACKAGE / "i18n" / "__init__.py"})
SOURCES = {p: p.read_text(encoding="utf-8") for p in sorted(PACKAGE.rglob("*.py")) + sorted(PACKAGE.rglob("*.js"))
           if p not in CATALOGUE_FILES}
ALL = "\n".join(SOURCES.values())
MAGIC = "\n".join(text for p, text in SOURCES.items() if "magic" in p.parts)
COUNTED = (".one", ".many")  # markup.counted(stem, n) picks one of these
SHIPPED = ("control.", "matrix.", "bars.")  # i18n.texts(prefix): the JavaScript reads the rest of the key
BUILT = ("magic.demo.", "magic.option.")  # msg_or(prefix + name, fallback) in the magic
MESSAGE_FUNCTIONS = {"msg": 0, "msg_or": 0, "counted": 0}  # name -> position of the key argument


def quoted(name: str, text: str) -> bool:
    return re.search(rf"""["'`]{re.escape(name)}["'`]|\.{re.escape(name)}\b""", text) is not None


def is_used(key: str) -> bool:
    if key in ALL:
        return True
    for suffix in COUNTED:
        if key.endswith(suffix) and quoted(key[:-len(suffix)], ALL):
            return True
    for prefix in SHIPPED:
        if key.startswith(prefix) and f'texts("{prefix}")' in ALL and quoted(key[len(prefix):], ALL):
            return True
    if key.startswith("state.family.") and quoted(key[len("state.family."):], ALL):
        return True
    if key.startswith("selector.") and quoted(key[len("selector."):], ALL):
        return True
    if key.startswith("magic.demo.") and key[len("magic.demo."):] in DEMOS:
        return True
    if key.startswith("magic.option.") and quoted(key[len("magic.option."):], MAGIC):
        return True
    return False


def named_keys():
    """(file, line, function, key) of every msg / msg_or / counted call whose key is a literal string."""
    for path, text in SOURCES.items():
        if path.suffix != ".py":
            continue
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name in MESSAGE_FUNCTIONS and len(node.args) > MESSAGE_FUNCTIONS[name]:
                arg = node.args[MESSAGE_FUNCTIONS[name]]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    yield path.relative_to(PACKAGE.parent), node.lineno, name, arg.value


def test_no_key_is_unused():
    unused = sorted(k for k in i18n.CATALOGUES["en"] if not is_used(k))
    assert not unused, f"keys no source names (remove them, or list how they are built in this test): {unused}"


def test_the_package_names_keys():
    keys = list(named_keys())
    assert len(keys) > 60, len(keys)  # the parser finds the calls (a guard against a silently empty check)


@pytest.mark.parametrize("where", [pytest.param(k, id=f"{k[0]}:{k[1]}") for k in named_keys()])
def test_every_key_named_in_a_source_exists(where):
    path, line, function, key = where
    cat = i18n.CATALOGUES["en"]
    if function == "counted":
        assert all(key + s in cat for s in COUNTED), (path, line, key)
    elif function == "msg":
        assert key in cat, f"{path}:{line}: msg({key!r}) names no catalogue key"
    else:  # msg_or's key may be missing only where it is built (a literal key must exist)
        assert key in cat, f"{path}:{line}: msg_or({key!r}) names no catalogue key"


def test_keys_built_from_a_prefix_exist_in_both_languages():
    for prefix in SHIPPED + BUILT:
        assert any(k.startswith(prefix) for k in i18n.CATALOGUES["en"]), prefix
