"""Wrap functions while a capture is active: every module-level name bound to a watched function is
rebound to a wrapper that calls the real function with the same arguments, then hands them to the active
captures of the calling thread. ``F.scaled_dot_product_attention`` is one entry of :data:`PATCHES`;
another watched function is one more entry (its recorder method receives ``(args, kwargs)``).

``via="patch"`` (default) rebinds ``torch.nn.functional``'s and ``torch._C._nn``'s names and any module's
that did ``from torch.nn.functional import scaled_dot_product_attention``; and, at every start, the names of
the model's own code (its classes' module namespaces, e.g. a notebook's ``__main__`` after a later import),
its modules' attributes (``self.attn_fn = F.scaled_dot_product_attention``), class attributes and the
closures of their ``forward``. Cost: one Python call per watched call; every other op runs untouched, and so
do the fast paths of torch's transformer modules. A reference kept anywhere else is still seen where it
matters: inside attention modules ``hand.HandMode`` sees the call whatever reference was used.

Naming a call needs the module that made it. Hugging Face models call attention through
``AttentionInterface``'s ``"sdpa"`` entry with the module as first argument: while a capture is active that
entry is wrapped to note the module (one Python call, where walking the stack's frames costs ~10x more).

``via="mode"``: ``hand.HandMode`` (a ``TorchFunctionMode``) stays on for the whole block and sees every call,
whatever reference is used, at the price of a Python round trip on *every* torch call (see
benchmarks/bench_capture.py), so it is opt-in. A mode is handed the wrapper while the name is patched:
:func:`is_sdpa` recognises both, and :func:`in_wrapper` says whether the wrapper will report the call.

``via="patch"`` also starts ``softmax_net`` with each capture: it notices attention-shaped softmaxes that run
outside attention modules, where nothing here or in ``hand`` looks, so the capture can say what it missed.
"""
from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable

import torch.nn.functional as F

from . import softmax_net

SDPA = F.scaled_dot_product_attention  # the real function, taken at import


@dataclass(eq=False)
class Patch:
    """One watched function: the real one, and the recorder method that receives each call's arguments.

    Example::

        p = Patch(torch.add, "on_add")  # a capture's recorder would receive on_add(args, kwargs)
        p.wrapper(torch.tensor(2), 3).item() == 5
        p.wrapper.__wrapped__ is torch.add
    """

    original: Callable
    handler: str
    wrapper: Callable = field(init=False)

    def __post_init__(self):
        original, handler = self.original, self.handler

        def wrapper(*args, **kwargs):
            _depth.n = getattr(_depth, "n", 0) + 1  # modes below see this call: they leave it to the wrapper
            try:
                out = original(*args, **kwargs)
            finally:
                _depth.n -= 1
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
_WRAPPERS = {p.wrapper for p in PATCHES}
_depth = threading.local()  # .n: wrapper calls running on this thread
_active: list = []  # captures using the wrappers, in start order
_bound: list = []  # (module, name, patch) rebound while any capture is active
_aliases: list = []  # (module, name, patch) found bound to a watched function
_scanned: dict = {"n": -1, "names": set()}
_hf: dict = {"mapping": None, "original": None}
_current = threading.local()  # .module: the Hugging Face attention module running on this thread


def _hf_sdpa(module, *args, **kwargs):
    prev, _current.module = getattr(_current, "module", None), module
    prev_q = getattr(_current, "query_shape", None)
    q = args[0] if args else kwargs.get("query")
    _current.query_shape = tuple(q.shape) if hasattr(q, "shape") else None  # before HF packs GQA queries
    try:
        return _hf["original"](module, *args, **kwargs)
    finally:
        _current.module, _current.query_shape = prev, prev_q


def hf_query_shape():
    """The query shape the running Hugging Face sdpa function was given ([B, Hq, L, E]), or None.

    Example::

        hf_query_shape() == None  # no Hugging Face attention call is running here
    """
    return getattr(_current, "query_shape", None)


def is_sdpa(func) -> bool:
    """Whether a function a TorchFunctionMode was handed is scaled_dot_product_attention (torch hands the
    name currently bound in torch.nn.functional: our wrapper while a capture patches it).

    Example::

        is_sdpa(F.scaled_dot_product_attention) == True
        is_sdpa(PATCHES[0].wrapper) == True
        is_sdpa(F.softmax) == False
    """
    return func is SDPA or func in _WRAPPERS


def in_wrapper() -> bool:
    """Whether this thread is inside a wrapper's call (its recorders get the call from the wrapper).

    Example::

        in_wrapper() == False
        Patch(lambda: in_wrapper(), "on_probe").wrapper() == True
    """
    return getattr(_depth, "n", 0) > 0


def active() -> list:
    """The captures the wrappers currently report to.

    Example::

        active() == []  # no capture is running
    """
    return _active


def hf_module():
    """The Hugging Face attention module whose sdpa function is running on this thread, or None.

    Example::

        hf_module() == None  # no Hugging Face attention call is running here
    """
    return getattr(_current, "module", None)


def hf_mapping():
    """transformers' global attention-function mapping, if transformers is already imported.

    Example::

        mapping = hf_mapping()  # None until transformers.modeling_utils is imported
        assert mapping is None or callable(mapping["sdpa"])
    """
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


def _model_refs(modules) -> list:
    """(namespace, name, patch) for references held by the model's code: its classes' module globals (scanned
    again at every start), instance and class attributes, and cells of ``forward`` closures ((cell, None, p))."""
    originals = {id(p.original): p for p in PATCHES}
    found, seen_ns, seen_cls = [], set(), set()

    def scan(d, owner, private=None):  # names starting with ``private`` are left alone
        if isinstance(d, (dict, MappingProxyType)):  # a namespace, or a class's vars
            for k, v in list(d.items()):
                p = originals.get(id(v))  # the name is checked on a hit only: most names hold nothing watched
                if p is not None and p.original is v and not (private and isinstance(k, str) and k.startswith(private)):
                    found.append((owner, k, p))
    for m in modules:
        d = getattr(m, "__dict__", None)
        if d:
            scan(d, m, "_")
        cls = type(m)
        if cls in seen_cls:
            continue
        seen_cls.add(cls)
        for c in cls.__mro__:
            if c.__module__.startswith("torch.") or c is object:
                continue
            scan(vars(c), c, "__")
            fwd = vars(c).get("forward")
            g = getattr(fwd, "__globals__", None)
            if g is not None and id(g) not in seen_ns:
                seen_ns.add(id(g))
                mod = sys.modules.get(g.get("__name__", ""))
                if mod is not None and getattr(mod, "__dict__", None) is g and mod.__name__ != __name__:
                    scan(g, mod)
            for cell in getattr(fwd, "__closure__", None) or ():
                try:
                    p = originals.get(id(cell.cell_contents))
                except ValueError:  # an empty cell
                    continue
                if p is not None:
                    found.append((cell, None, p))
    return found


def _rebind(owner, k, p) -> None:
    try:
        if k is None:
            if owner.cell_contents is p.original:
                owner.cell_contents = p.wrapper
                _bound.append((owner, k, p))
        elif getattr(owner, k, None) is p.original:  # a class attribute must not bind as a method
            setattr(owner, k, staticmethod(p.wrapper) if isinstance(owner, type) else p.wrapper)
            _bound.append((owner, k, p))
    except (AttributeError, TypeError):  # a read-only namespace: its calls go unseen here
        pass


def start(rec, modules=()) -> None:
    """Route this thread's watched calls to ``rec``'s handlers until :func:`stop` (``modules``: the model's,
    whose own references are rebound too).

    Example::

        import threading, types
        seen = []
        fake = types.SimpleNamespace(thread=threading.get_ident(), model=None, on_sdpa=lambda a, kw: seen.append(a))
        start(fake)
        out = F.scaled_dot_product_attention(q, k, v)
        stop(fake)
        len(seen) == 1
    """
    if not _active:
        _find_aliases()
        for mod, k, p in _aliases:
            _rebind(mod, k, p)
        mapping = hf_mapping()
        if mapping is not None and mapping["sdpa"] is not _hf_sdpa:
            _hf["mapping"], _hf["original"] = mapping, mapping["sdpa"]
            mapping["sdpa"] = _hf_sdpa
    refs = _model_refs(modules)
    if refs:
        done = {(id(o), n) for o, n, _ in _bound}
        for owner, k, p in refs:
            if (id(owner), k) not in done:
                _rebind(owner, k, p)
    _active.append(rec)
    softmax_net.start(rec, modules)  # hand-written attention outside attention modules: noticed, reported


def stop(rec) -> None:
    """Stop routing to ``rec``; the last capture to stop restores every rebound name.

    Example::

        import threading, types
        fake = types.SimpleNamespace(thread=threading.get_ident(), model=None, on_sdpa=lambda a, kw: None)
        start(fake)
        stop(fake)
        assert F.scaled_dot_product_attention is SDPA  # the real function is back
    """
    softmax_net.stop(rec)
    if rec in _active:
        _active.remove(rec)
    if not _active:
        for owner, k, p in reversed(_bound):
            if k is None:
                if owner.cell_contents is p.wrapper:
                    owner.cell_contents = p.original
            elif getattr(owner, k, None) is p.wrapper or (isinstance(owner, type) and getattr(
                    vars(owner).get(k), "__func__", None) is p.wrapper):
                setattr(owner, k, p.original)
        _bound.clear()
        if _hf["mapping"] is not None and _hf["mapping"].get("sdpa") is _hf_sdpa:
            _hf["mapping"]["sdpa"] = _hf["original"]
        _hf["mapping"] = None
