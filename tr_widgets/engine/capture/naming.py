"""The names a capture gives what it recorded.

This module owns :data:`SDPA_NAME` (a call made outside any module), :func:`base_names` (each module's
shortest dotted path from the scope's variables or from the model; a module made on the fly gets its
class name, ``_2``, ``_3``...) and :func:`call_names` (``#2``, ``#3``... for a module's repeated calls).
"""
from __future__ import annotations

from torch import nn

from . import keras
from .entries import Entry

SDPA_NAME = "scaled_dot_product_attention"  # the name of a call made outside any module


def base_names(model, scope, recorder) -> dict:
    """id(module) -> name: the shortest dotted path from the scope's variables or from the model.

    Example::

        with tr_widgets.capture(lstm) as rec:
            lstm(x)
        base_names(lstm, {"net": lstm}, rec.recorder)[id(lstm)] == "net"
    """
    names = {}

    def offer(m, name):
        if id(m) not in names or len(name) < len(names[id(m)]):
            names[id(m)] = name
    for var, obj in list((scope or {}).items()):
        if isinstance(obj, nn.Module) and isinstance(var, str) and not var.startswith("_"):
            for qn, m in obj.named_modules():
                offer(m, f"{var}.{qn}" if qn else var)
    if model is not None and id(model) not in names:
        for qn, m in keras.named(model):
            offer(m, qn or type(model).__name__)
    per_class = {}
    extra = [m for m, _ in recorder.skipped] + [m for m, _, _ in recorder.unrecorded.values()]
    for e in recorder.normalize() + [Entry(m, None, [], []) for m in extra]:
        if e.module is not None and id(e.module) not in names:  # made on the fly: class name, _2, _3...
            cls = type(e.module).__name__
            per_class[cls] = per_class.get(cls, 0) + 1
            names[id(e.module)] = cls if per_class[cls] == 1 else f"{cls}_{per_class[cls]}"
    return names


def call_names(entries, base: dict) -> dict:
    """id(entry) -> its name: the module's name (``base``), ``#2``, ``#3``... for its repeated calls.

    Example::

        with tr_widgets.capture(lstm) as rec:
            lstm(x); lstm(x)
        list(call_names(rec.recorder.entries, {id(lstm): "lstm"}).values()) == ["lstm", "lstm#2"]
    """
    counts, names = {}, {}
    for e in entries:
        if e.trace is None and e.build is None:
            continue
        b = base[id(e.module)] if e.module is not None else SDPA_NAME
        counts[b] = counts.get(b, 0) + 1
        names[id(e)] = b if counts[b] == 1 else f"{b}#{counts[b]}"
    return names
