"""The languages the steppers speak: one message catalogue per language (``en.py``, ``zh.py``).

Every caption, control name, hover text and notice a stepper shows is ``msg(key, **values)``: the
template of ``key`` in the active language, filled with ``values``. The active language is the one
``set_language`` chose, unless a stepper built with ``show(..., lang=...)`` is drawing (``language``).
Error messages (``TraceInputError``) stay English: they are searched for and quoted in bug reports.

It imports only ``engine.errors`` (for the one error message), so every layer may use it.

Example::

    set_language("zh"); msg("control.play")     # '播放'
    with language("en"): msg("control.play")    # 'play'
"""
from __future__ import annotations

import contextlib
import contextvars
import string

from . import en, zh

CATALOGUES = {"en": en.MESSAGES, "zh": zh.MESSAGES}
LANGUAGES = tuple(CATALOGUES)
_chosen = "en"
_listeners: list = []  # called with the new code after set_language (the magic's help follows)
_drawing: contextvars.ContextVar[str | None] = contextvars.ContextVar("tr_widgets_language", default=None)


def check_language(lang, argument: str = "lang") -> str:
    """``lang`` if it is a known language code, else one clear error naming ``argument``.

    Example: ``check_language("ZH") == "zh"``
    """
    if isinstance(lang, str) and lang.lower() in CATALOGUES:
        return lang.lower()
    from ..engine.errors import describe, fail

    fail(argument, f"one of {list(LANGUAGES)}", describe(lang), 'pass "en" (English) or "zh" (中文)')


def set_language(lang: str) -> str:
    """Choose the language of every stepper shown from now on ("en" or "zh"); returns the one before.

    Example::

        tr_widgets.set_language("zh")   # captions, controls, hover texts and notices in Chinese
        tr_widgets.set_language("en")   # and back
    """
    global _chosen
    before, _chosen = _chosen, check_language(lang)
    for listener in _listeners:
        listener(_chosen)
    return before


def on_language_change(listener) -> None:
    """Call ``listener(lang)`` after every ``set_language``. Example: ``on_language_change(print)``"""
    _listeners.append(listener)


def get_language() -> str:
    """The active language code: the drawing stepper's own, else the one ``set_language`` chose.

    Example: ``get_language() == "en"`` until ``set_language("zh")``.
    """
    return _drawing.get() or _chosen


@contextlib.contextmanager
def language(lang: str | None):
    """Within the block, ``msg`` speaks ``lang`` (None: the chosen language). Steppers draw inside it.

    Example::

        with language("zh"):
            msg("control.next")      # '下一步'
    """
    token = _drawing.set(check_language(lang) if lang is not None else None)
    try:
        yield
    finally:
        _drawing.reset(token)


def msg(key: str, **values) -> str:
    """The message ``key`` in the active language, its ``{placeholders}`` filled from ``values``.

    Example: ``msg("control.steps_per_s", n=3) == "3 steps/s"`` in English.
    """
    return CATALOGUES[get_language()][key].format(**values)


def msg_or(key: str, fallback: str, **values) -> str:
    """``msg(key)`` where the catalogue has ``key``, else ``fallback`` (e.g. a demo a user registered).

    Example: ``msg_or("magic.demo.mine", "my demo") == "my demo"``
    """
    template = CATALOGUES[get_language()].get(key)
    return fallback if template is None else template.format(**values)


def texts(prefix: str) -> dict[str, str]:
    """Every message under ``prefix`` (without it) in the active language: what the JavaScript shows.

    Example: ``texts("control.")["play"] == "play"`` in English.
    """
    cat = CATALOGUES[get_language()]
    return {k[len(prefix):]: v for k, v in cat.items() if k.startswith(prefix)}


def placeholders(template: str) -> set[str]:
    """The ``{names}`` a template fills. Example: ``placeholders("{step} of {last}") == {"step", "last"}``"""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}
