"""The property every fuzz test checks, and the strategies they share.

The promise (issue 16): a public function given anything either returns a correct result, or raises exactly
one TraceInputError / MemoryBudgetError / UsageError whose message is one line naming the argument, with
"expected", "got" and "Fix"; no frame of torch (or safetensors) in its traceback, nothing chained to it;
and afterwards the kernel and the user's objects are as they were (SDPA unpatched, no hooks, no torch
function mode, grad mode, random state, memory budget, the user's tensors and modules).
"""
from __future__ import annotations

import contextlib
import copy
import os
import traceback
import warnings

import torch
import torch.nn.functional as F
from hypothesis import settings
from hypothesis import strategies as st
from torch.nn.modules import module as nn_module

import tr_widgets
from tr_widgets.engine.errors import TraceInputError

PROFILE = "large" if os.environ.get("TR_WIDGETS_FUZZ", "").lower() == "large" else "default"
SCALE = 10 if PROFILE == "large" else 1
REAL_SDPA = torch._C._nn.scaled_dot_product_attention  # F.scaled_dot_product_attention is this builtin
GLOBAL_HOOKS = ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_forward_hooks_with_kwargs",
                "_global_forward_hooks_always_called", "_global_backward_hooks", "_global_backward_pre_hooks")
LIBRARY_DIRS = tuple(os.path.dirname(m.__file__) + os.sep for m in (torch, __import__("safetensors")))


def fuzz_settings(n: int, **kw):
    """The profile of this run (conftest.py), with ``n`` examples (x10 under TR_WIDGETS_FUZZ=large)."""
    return settings(settings.get_profile(f"tr_widgets-{PROFILE}"), max_examples=n * SCALE, **kw)


# -- the error half of the property ------------------------------------------------------------
def check_error(e: BaseException, names) -> str:
    """``e`` keeps the promise: one line with an argument name (one of ``names``) before ': expected', and
    "got" and "Fix"; nothing chained; no torch or safetensors frame. Returns the message."""
    msg = str(e)
    assert len(msg.splitlines()) == 1 and msg == msg.strip(), f"not one line: {msg!r}"
    assert ": expected " in msg and " got " in msg and "Fix" in msg, msg
    head = msg.split(": expected ")[0]
    assert any(n in head for n in names), f"names none of {sorted(names)}: {msg}"
    assert e.__cause__ is None and (e.__context__ is None or e.__suppress_context__), f"chained: {e.__context__!r}"
    frames = [f.filename for f in traceback.extract_tb(e.__traceback__)]
    inside = [f for f in frames if f.startswith(LIBRARY_DIRS)]
    assert not inside, f"frames inside torch/safetensors: {inside} for {msg}"
    msg.encode("utf-8")  # sendable to the browser: no lone surrogate
    return msg


def outcome(fn, names, *args, **kwargs):
    """``(result, None)`` or ``(None, message)`` for a TraceInputError that keeps the promise. Any other
    exception propagates (the fuzz test fails with it)."""
    try:
        return fn(*args, **kwargs), None
    except TraceInputError as e:
        return None, check_error(e, names)


# -- the state half ------------------------------------------------------------------------------
def _value(obj):
    if isinstance(obj, torch.Tensor):
        if obj.is_nested or obj.layout != torch.strided:
            return ("tensor", obj._version if not obj.is_nested else None, None)
        data = None if obj.device.type == "meta" else obj.detach().clone()
        return ("tensor", obj._version, data)
    if isinstance(obj, torch.nn.Module):
        return ("module", obj.training, {id(m): (len(m._forward_hooks), len(m._forward_pre_hooks),
                                                 len(m._backward_hooks), m.training) for m in obj.modules()},
                {k: _value(v) for k, v in obj.state_dict(keep_vars=True).items()})
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [_value(o) for o in obj])
    if isinstance(obj, dict):
        return ("dict", {k: _value(v) for k, v in obj.items()})
    try:
        return ("other", copy.deepcopy(obj))
    except Exception:  # noqa: BLE001 - generators and the like: identity only
        return ("other", id(obj))


def _same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, torch.Tensor):
        return a.shape == b.shape and a.dtype == b.dtype and bool(
            ((a == b) | (a.isnan() & b.isnan()) if a.is_floating_point() or a.is_complex() else (a == b)).all())
    if type(a).__module__ == "numpy" and hasattr(a, "shape"):
        import numpy as np
        return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if type(a).__eq__ is object.__eq__:
        return True  # identity-only objects (iterators, functions): nothing to compare
    try:
        return bool(a == b) or (a != a and b != b)
    except Exception:  # noqa: BLE001
        return a is b


def snapshot(*user_objects, rng: bool = True) -> dict:
    """What must be the same after a call: global torch state and the given objects of the user."""
    return {
        "sdpa": F.scaled_dot_product_attention, "c_sdpa": torch._C._nn.scaled_dot_product_attention,
        "hooks": {n: len(getattr(nn_module, n, {})) for n in GLOBAL_HOOKS},
        "modes": torch._C._len_torch_function_stack(), "grad": torch.is_grad_enabled(),
        "rng": torch.get_rng_state() if rng else None, "budget": tr_widgets.get_memory_budget(),
        "dtype": torch.get_default_dtype(), "objects": [(o, _value(o)) for o in user_objects],
    }


def check_state(before: dict) -> None:
    """The kernel and the user's objects are as :func:`snapshot` saw them."""
    assert F.scaled_dot_product_attention is REAL_SDPA and torch._C._nn.scaled_dot_product_attention is REAL_SDPA
    after = snapshot(rng=before["rng"] is not None)
    for key in ("hooks", "modes", "grad", "budget", "dtype"):
        assert after[key] == before[key], f"{key} changed: {before[key]} -> {after[key]}"
    if before["rng"] is not None:
        assert torch.equal(after["rng"], before["rng"]), "the global random state changed"
    for obj, value in before["objects"]:
        assert _same(_value(obj), value), f"the user's {type(obj).__name__} changed"


# -- strategies ------------------------------------------------------------------------------------
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.bool, torch.complex64,
          torch.float8_e4m3fn]
TEXTS = st.one_of(
    st.sampled_from(["the", "cat", " ", "", "\n", "\t", "\x00", "\ud800", "a\udfffb", "\u202eevil", "\u2067x\u2069",
                     "注意", "🧠‍🔥", "é", "<unk>", "'", '"', "\\", "${x}", "<b>x</b>", "a" * 300, "\u200b", "\ufeff"]),
    st.text(max_size=8))


def junk():
    """Values that are no valid argument of anything (each function's checks must name them)."""
    return st.one_of(
        st.sampled_from([None, True, False, 0, -1, 2**63, 1.5, float("nan"), float("inf"), "yes", "", b"x", (), [],
                         {}, object(), print, torch.nn.LSTM, range(3)]),
        st.builds(lambda: (i for i in range(3))),
        st.builds(lambda: __import__("numpy").zeros((2, 3))),
        st.builds(lambda: torch.tensor(1)),
        st.builds(lambda: torch.nn.utils.rnn.pack_sequence([torch.randn(3, 2), torch.randn(1, 2)])))


def index_like(n: int):
    """Indices for a dimension of size ``n``: valid ones often, and every kind of wrong one."""
    return st.one_of(st.integers(0, max(0, n - 1)), st.integers(-n - 2, n + 2), st.sampled_from(
        [True, False, None, 0.0, 1.5, "0", [0]]), st.builds(lambda i: __import__("numpy").int64(i), st.integers(0, 2)),
        st.builds(lambda i: torch.tensor(i), st.integers(0, 2)))


def to_other_kind(x: torch.Tensor, kind: str):
    """``x`` as something else a careless user passes: numpy, list, PackedSequence, generator, meta..."""
    import numpy as np
    return {
        "numpy": lambda: x.detach().double().numpy(),
        "numpy_neg_stride": lambda: np.ascontiguousarray(x.detach().double().numpy())[..., ::-1],
        "list": lambda: x.tolist(),
        "tensors": lambda: list(x.unbind(0)),
        "packed": lambda: torch.nn.utils.rnn.pack_sequence(list(x.reshape(x.shape[0], -1, x.shape[-1]).unbind(1))),
        "generator": lambda: (row for row in x.tolist()),
        "meta": lambda: x.to("meta"),
        "sparse": lambda: x.to_sparse(),
        "scalar": lambda: 1.0,
        "none": lambda: None,
        "text": lambda: "1 2 3",
        "module": lambda: torch.nn.Linear(2, 2),
    }[kind]()


OTHER_KINDS = ["numpy", "numpy_neg_stride", "list", "tensors", "packed", "generator", "meta", "sparse", "scalar",
               "none", "text", "module"]


@contextlib.contextmanager
def quiet():
    """Warnings off inside a fuzz example (NaN inputs warn by design; torch warns about odd modules)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
