"""Wrap functions while a capture is active: every module-level name bound to a watched function is
rebound to a wrapper that calls the real function with the same arguments, then hands them to the active
captures of the calling thread. ``F.scaled_dot_product_attention`` is one entry of :data:`PATCHES`;
another watched function is one more entry (its recorder method receives ``(args, kwargs)``).

``via="patch"`` (default) rebinds ``torch.nn.functional``'s and ``torch._C._nn``'s names and any module's
that did ``from torch.nn.functional import scaled_dot_product_attention``. Cost: one Python call per
watched call; every other op runs untouched, and so do the fast paths of torch's transformer modules. Not
seen: a reference to the function kept elsewhere (a class attribute, a closure) before the capture started.

Naming a call needs the module that made it. Hugging Face models call attention through
``AttentionInterface``'s ``"sdpa"`` entry with the module as first argument: while a capture is active that
entry is wrapped to note the module (one Python call, where walking the stack's frames costs ~10x more).

``via="mode"``: a ``TorchFunctionMode`` sees every call, whatever reference is used, at the price of a
Python round trip on *every* torch call (see benchmarks/bench_capture.py), so it is opt-in.
"""
from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from typing import Callable

import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

SDPA = F.scaled_dot_product_attention  # the real function, taken at import


@dataclass(eq=False)
class Patch:
    """One watched function: the real one, and the recorder method that receives each call's arguments."""

    original: Callable
    handler: str
    wrapper: Callable = field(init=False)

    def __post_init__(self):
        original, handler = self.original, self.handler

        def wrapper(*args, **kwargs):
            out = original(*args, **kwargs)
            if _active:
                me = threading.get_ident()
                for rec in tuple(_active):
                    if rec.thread == me:
                        getattr(rec, handler)(args, kwargs)
            return out
        wrapper.__name__ = wrapper.__qualname__ = original.__name__
        wrapper.__doc__, wrapper.__wrapped__ = original.__doc__, original
        self.wrapper = wrapper


PATCHES = [Patch(SDPA, "on_sdpa")]
_active: list = []  # captures using the wrappers, in start order
_bound: list = []  # (module, name, patch) rebound while any capture is active
_aliases: list = []  # (module, name, patch) found bound to a watched function
_scanned: dict = {"n": -1, "names": set()}
_hf: dict = {"mapping": None, "original": None}
_current = threading.local()  # .module: the Hugging Face attention module running on this thread


def _hf_sdpa(module, *args, **kwargs):
    prev, _current.module = getattr(_current, "module", None), module
    try:
        return _hf["original"](module, *args, **kwargs)
    finally:
        _current.module = prev


def hf_module():
    """The Hugging Face attention module whose sdpa function is running on this thread, or None."""
    return getattr(_current, "module", None)


def hf_mapping():
    """transformers' global attention-function mapping, if transformers is already imported."""
    mu = sys.modules.get("transformers.modeling_utils")
    mapping = getattr(getattr(mu, "AttentionInterface", None), "_global_mapping", None)
    return mapping if isinstance(mapping, dict) and callable(mapping.get("sdpa")) else None


def _find_aliases() -> None:
    """Search modules imported since the last search for names bound to a watched function."""
    if len(sys.modules) == _scanned["n"]:
        return
    _scanned["names"].add(__name__)  # our own references must stay the real functions
    originals = {id(p.original): p for p in PATCHES}
    for name in list(sys.modules.keys() - _scanned["names"]):
        _scanned["names"].add(name)
        d = getattr(sys.modules.get(name), "__dict__", None)
        if type(d) is dict:
            _aliases.extend((sys.modules[name], k, originals[id(v)]) for k, v in list(d.items())
                            if id(v) in originals and originals[id(v)].original is v)
    _scanned["n"] = len(sys.modules)


def start(rec) -> None:
    """Route this thread's watched calls to ``rec``'s handlers until :func:`stop`."""
    if not _active:
        _find_aliases()
        for mod, k, p in _aliases:
            if getattr(mod, k, None) is p.original:
                try:
                    setattr(mod, k, p.wrapper)
                    _bound.append((mod, k, p))
                except (AttributeError, TypeError):  # a read-only namespace: its calls go unseen
                    pass
        mapping = hf_mapping()
        if mapping is not None and mapping["sdpa"] is not _hf_sdpa:
            _hf["mapping"], _hf["original"] = mapping, mapping["sdpa"]
            mapping["sdpa"] = _hf_sdpa
    _active.append(rec)


def stop(rec) -> None:
    """Stop routing to ``rec``; the last capture to stop restores every rebound name."""
    if rec in _active:
        _active.remove(rec)
    if not _active:
        for mod, k, p in _bound:
            if getattr(mod, k, None) is p.wrapper:
                setattr(mod, k, p.original)
        _bound.clear()
        if _hf["mapping"] is not None and _hf["mapping"].get("sdpa") is _hf_sdpa:
            _hf["mapping"]["sdpa"] = _hf["original"]
        _hf["mapping"] = None


class SDPAMode(TorchFunctionMode):
    """Calls every torch function unchanged; hands scaled_dot_product_attention calls to the capture."""

    def __init__(self, rec):
        super().__init__()
        self.rec = rec

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if kwargs is None:
            kwargs = {}
        out = func(*args, **kwargs)
        if func is SDPA:
            self.rec.on_sdpa(args, kwargs)
        return out
