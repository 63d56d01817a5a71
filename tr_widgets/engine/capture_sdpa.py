"""How ``capture`` sees ``F.scaled_dot_product_attention`` calls: a wrapper (default) or a TorchFunctionMode.

``via="patch"`` (default): while a capture is active, every module-level name bound to torch's
``scaled_dot_product_attention`` (``torch.nn.functional``'s, ``torch._C._nn``'s, and any module that did
``from torch.nn.functional import scaled_dot_product_attention``) is rebound to a wrapper that calls the
real function with the same arguments, then hands them to the active captures of the calling thread.
Cost: one Python call per attention call; every other op runs untouched, and so do the fast paths of
torch's transformer modules. Not seen: a reference to the function kept elsewhere (a class attribute, a
closure) before the capture started.

Naming a call needs the module that made it. Hugging Face models call attention through
``AttentionInterface``'s ``"sdpa"`` entry with the module as first argument: while a capture is active that
entry is wrapped to note the module (one Python call, where walking the stack's frames costs ~10x more).
Anything else is named by walking the frames (``Recorder._caller``).

``via="mode"``: a ``TorchFunctionMode`` sees every call, whatever reference is used, at the price of a
Python round trip on *every* torch call: on a launch-bound GPU forward that is most of the time (see
benchmarks/bench_capture.py), so it is opt-in.
"""
from __future__ import annotations

import sys
import threading

import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

SDPA = F.scaled_dot_product_attention  # the real function, taken at import
_active: list = []  # captures using the wrapper, in start order
_bound: list = []  # (module, name) rebound to the wrapper while any capture is active
_aliases: list = []  # (module, name) found bound to SDPA
_scanned: dict = {"n": -1, "names": set()}
_hf: dict = {"mapping": None, "original": None}
_current = threading.local()  # .module: the Hugging Face attention module running on this thread


def _wrapper(*args, **kwargs):
    out = SDPA(*args, **kwargs)
    if _active:
        me = threading.get_ident()
        for rec in tuple(_active):
            if rec._thread == me:
                rec._on_sdpa(args, kwargs)
    return out


_wrapper.__name__ = _wrapper.__qualname__ = "scaled_dot_product_attention"
_wrapper.__doc__, _wrapper.__wrapped__ = SDPA.__doc__, SDPA


def _hf_sdpa(module, *args, **kwargs):
    prev, _current.module = getattr(_current, "module", None), module
    try:
        return _hf["original"](module, *args, **kwargs)
    finally:
        _current.module = prev


def hf_module():
    """The Hugging Face attention module whose sdpa function is running on this thread, or None."""
    return getattr(_current, "module", None)


def _hf_mapping():
    """transformers' global attention-function mapping, if transformers is already imported."""
    mu = sys.modules.get("transformers.modeling_utils")
    mapping = getattr(getattr(mu, "AttentionInterface", None), "_global_mapping", None)
    return mapping if isinstance(mapping, dict) and callable(mapping.get("sdpa")) else None


def _find_aliases() -> None:
    """Search modules imported since the last search for names bound to SDPA (once per new module)."""
    if len(sys.modules) == _scanned["n"]:
        return
    _scanned["names"].add(__name__)  # our own SDPA must stay the real function
    for name in list(sys.modules.keys() - _scanned["names"]):
        _scanned["names"].add(name)
        d = getattr(sys.modules.get(name), "__dict__", None)
        if type(d) is dict:
            _aliases.extend((sys.modules[name], k) for k, v in list(d.items()) if v is SDPA)
    _scanned["n"] = len(sys.modules)


def start(rec) -> None:
    """Route this thread's SDPA calls to ``rec._on_sdpa`` until :func:`stop`."""
    if not _active:
        _find_aliases()
        for mod, k in _aliases:
            if getattr(mod, k, None) is SDPA:
                try:
                    setattr(mod, k, _wrapper)
                    _bound.append((mod, k))
                except (AttributeError, TypeError):  # a read-only namespace: its calls go unseen
                    pass
        mapping = _hf_mapping()
        if mapping is not None and mapping["sdpa"] is not _hf_sdpa:
            _hf["mapping"], _hf["original"] = mapping, mapping["sdpa"]
            mapping["sdpa"] = _hf_sdpa
    _active.append(rec)


def stop(rec) -> None:
    if rec in _active:
        _active.remove(rec)
    if not _active:
        for mod, k in _bound:
            if getattr(mod, k, None) is _wrapper:
                setattr(mod, k, SDPA)
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
            self.rec._on_sdpa(args, kwargs)
        return out
