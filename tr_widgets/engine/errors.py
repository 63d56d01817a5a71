"""Input checks shared by every public entry point, and the memory budget.

Every check raises :class:`TraceInputError` with one line that names the argument, what was
expected, what came and how to fix it (torch's ``rnn.py`` and altair's ``MaxRowsError`` are the
models). Checks run once, at the public boundary, before any torch kernel sees the input, so a user
never gets a deep torch traceback. :func:`describe` says what came in one line whatever it is (a
tensor, a numpy array, a PackedSequence, a generator...), and :func:`tensor_fix` gives the conversion
that works for that type. docs/errors.md lists every error a user may see.
"""
from __future__ import annotations

import math
import re
import reprlib
import sys
import warnings
from pathlib import Path

import torch
from torch.nn.utils.rnn import PackedSequence

GiB = 1024**3
_budget = {"bytes": 2 * GiB}
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


class TraceInputError(ValueError):
    """A public function got an argument it cannot trace (wrong shape, dtype, device, option...).

    Example::

        tr_widgets.trace_recurrent(nn.LSTM(3, 4), torch.ones(5, 1, 3, dtype=torch.long))
        # TraceInputError: x: expected a real floating-point tensor (...), got dtype torch.int64.
        #                  Fix: convert it with x.float()
    """


class MemoryBudgetError(TraceInputError):
    """Materialising a stage would exceed the memory budget (see :func:`set_memory_budget`).

    Example::

        at = tr_widgets.trace_attention(q, k, v)       # T = 100_000
        at.weights   # MemoryBudgetError: AttentionTrace.weights: expected a tensor within the memory budget
                     # of 2.0 GiB, got one of shape (1, 100000, 100000) (37.3 GiB), which exceeds it.
                     # Fix: use row(i, index) for one query's step instead, or raise the budget ...
    """


class NonFiniteInputWarning(UserWarning):
    """The input holds NaN or inf; the trace is still made, the warning names the first step."""


# Line breaks (everything str.splitlines splits on), lone surrogates (jupyter_client cannot encode them)
# and bidi controls (they reorder the text around them) are written as escapes in a message.
_BREAKS = re.compile(r"\s*[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+\s*")
_HIDDEN = re.compile("[\ud800-\udfff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def one_line(text) -> str:
    """``text`` as one printable line: line breaks become spaces, lone surrogates and bidi controls escapes.

    Example: ``one_line("a\\nb\\u202e")  # 'a b\\\\u202e'``
    """
    return _HIDDEN.sub(lambda m: ascii(m.group())[1:-1], _BREAKS.sub(" ", str(text)))


def fail(arg: str, expected: str, got: str, fix: str) -> None:
    """Raise one clear :class:`TraceInputError`: ``arg: expected ..., got .... Fix: ...`` (one line)."""
    raise TraceInputError(one_line(f"{arg}: expected {expected}, got {got}. Fix: {fix}"))


def set_memory_budget(nbytes: int) -> int:
    """Set the largest tensor (in bytes) a trace may materialise; returns the previous budget.

    Example::

        old = tr_widgets.set_memory_budget(512 * 1024**2)   # 512 MiB
    """
    if not isinstance(nbytes, int) or isinstance(nbytes, bool) or nbytes <= 0:
        fail("nbytes", "a positive int (bytes)", describe(nbytes), "pass e.g. 2 * 1024**3 for 2 GiB")
    old, _budget["bytes"] = _budget["bytes"], nbytes
    return old


def get_memory_budget() -> int:
    """The current memory budget in bytes (default 2 GiB).

    Example::

        tr_widgets.get_memory_budget()   # 2147483648
    """
    return _budget["bytes"]


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n} B"


def check_budget(what: str, shape, dtype: torch.dtype, alternative: str) -> None:
    """Refuse to materialise ``what`` of ``shape`` if it exceeds the budget; name the alternative."""
    nbytes = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
    if nbytes > _budget["bytes"]:
        raise MemoryBudgetError(
            f"{what}: expected a tensor within the memory budget of {_fmt_bytes(_budget['bytes'])}, got one of "
            f"shape {tuple(shape)} ({_fmt_bytes(nbytes)}), which exceeds it. Fix: use {alternative} instead, "
            f"or raise the budget with tr_widgets.set_memory_budget(nbytes)."
        )


# -- what came, in one line ------------------------------------------------------------------
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 2, 60, 60, 40
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 6


def _short_repr(x) -> str | None:
    """A short one-line repr, or None when the object's repr is long, multi-line or fails."""
    try:
        r = _SHORT.repr(x)
    except Exception:  # noqa: BLE001 - a user object whose __repr__ raises still gets described
        return None
    return r if len(r) <= 80 and not _BREAKS.search(r) else None


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")


def _is_numpy(x) -> bool:
    return type(x).__module__ == "numpy" and hasattr(x, "shape") and hasattr(x, "dtype")


def _is_iterator(x) -> bool:
    return hasattr(x, "__next__") and hasattr(x, "__iter__") and not isinstance(x, (str, bytes))


def describe(x) -> str:
    """What ``x`` is, in one line for an error message: shape, dtype and device for tensors, numpy arrays
    and PackedSequences; a short repr for small values; the type and length otherwise. Never raises.

    Example::

        describe(torch.ones(2, 3))            # 'a tensor of shape (2, 3), dtype torch.float32, on cpu'
        describe(np.zeros((2, 3)))            # 'a numpy.ndarray of shape (2, 3), dtype float64'
        describe(x for x in "ab")             # 'a generator (an iterator: no length, read only once)'
    """
    cls = type(x)
    name = cls.__name__
    if isinstance(x, torch.Tensor):
        kind = "nested tensor" if x.is_nested else ("tensor" if x.layout == torch.strided else f"{x.layout} tensor")
        shape = f" of shape {tuple(x.shape)}" if not x.is_nested else f" of {x.size(0)} tensors"
        return f"a {kind}{shape}, dtype {x.dtype}, on {x.device}"
    if isinstance(x, PackedSequence):
        sizes = x.batch_sizes
        return (f"a PackedSequence ({len(sizes)} steps, batch {int(sizes[0]) if len(sizes) else 0}, data of shape "
                f"{tuple(x.data.shape)}, dtype {x.data.dtype}, on {x.data.device})")
    if _is_numpy(x):
        if getattr(x, "ndim", 0) == 0:
            return f"a numpy.{name} {_short_repr(x) or ''}".rstrip()
        return f"a numpy.{name} of shape {tuple(x.shape)}, dtype {x.dtype}"
    if x is None or isinstance(x, (bool, int, float, complex)):
        return f"{name} {_short_repr(x)}"  # 'float 1.5', 'NoneType None': the type says what came
    if isinstance(x, (str, bytes)):
        return f"{name} {_short_repr(x)}"
    if _is_iterator(x):
        return f"a {name} (an iterator: no length, read only once)"
    if isinstance(x, torch.nn.Module):
        extra = _short_repr(_Raw(x.extra_repr())) if hasattr(x, "extra_repr") else None
        return f"the module {name}" + (f"({extra})" if extra else "")
    if isinstance(x, type):
        return f"the class {x.__qualname__} (not an instance of it)"
    if isinstance(x, (list, tuple, dict, set, frozenset)):
        r = _short_repr(x)
        if r is not None:
            return f"{name} {r}"
        first = next(iter(x.values() if isinstance(x, dict) else x), None)
        return f"a {name} of {len(x)} items" + (f", the first {describe(first)}" if len(x) else "")
    if callable(x) and hasattr(x, "__qualname__"):
        return f"{name} {x.__qualname__}"
    r = _short_repr(x)
    if r is None or _ADDRESS.search(r):  # a default repr says nothing but an address
        return f"a {cls.__module__}.{name} object"
    return f"{name} {r}"


class _Raw:
    """Wraps text so reprlib shows it unquoted (a module's extra_repr, e.g. ``3, 4, num_layers=2``)."""

    def __init__(self, text):
        self.text = str(text)

    def __repr__(self) -> str:
        return self.text


def tensor_fix(arg: str, x, *, batch_first: bool = False) -> str:
    """How to turn ``x`` into the floating-point tensor ``arg`` needs: a conversion that works for its type.

    Example: ``tensor_fix("x", np.zeros(3))  # 'convert it with torch.from_numpy(x).float()'``
    """
    if isinstance(x, PackedSequence):
        bf = ", batch_first=True" if batch_first else ""
        return (f"pad it first: {arg}_padded, lengths = torch.nn.utils.rnn.pad_packed_sequence({arg}{bf}), then pass "
                f"{arg}_padded (or pass the padded tensor you packed)")
    if _is_numpy(x):
        if str(getattr(x, "dtype", "")) == "object":
            return f"make it a numeric array first, e.g. torch.from_numpy({arg}.astype('float32'))"
        if getattr(x, "ndim", 0) == 0:
            return f"pass a tensor, e.g. torch.tensor([{arg}], dtype=torch.float32) reshaped to the expected rank"
        copy = ".copy()" if any(s < 0 for s in getattr(x, "strides", ())) else ""
        return f"convert it with torch.from_numpy({arg}{copy}).float()"
    if isinstance(x, (list, tuple)) and len(x) and all(isinstance(t, torch.Tensor) for t in x):
        return f"stack them into one tensor: torch.stack({arg}) (or torch.cat)"
    if isinstance(x, (list, tuple)):
        return f"convert it with torch.tensor({arg}, dtype=torch.float32)"
    if _is_iterator(x):
        return f"make a list first: torch.tensor(list({arg}), dtype=torch.float32)"
    if isinstance(x, (str, bytes)):
        return "pass numbers in a tensor, not text, e.g. torch.tensor([1.0, 2.0, 3.0])"
    if isinstance(x, (bool, int, float)):
        return f"pass a tensor, e.g. torch.tensor([{arg}], dtype=torch.float32) reshaped to the expected rank"
    if x is None:
        return f"pass a tensor as {arg}"
    if isinstance(x, torch.nn.Module):
        return f"pass the tensor the module takes as {arg}, not a module"
    return f"convert it with torch.as_tensor({arg}, dtype=torch.float32)"


# -- tensors ---------------------------------------------------------------------------------
def check_dense(arg: str, x: torch.Tensor) -> None:
    """A dense tensor that holds values (not nested, sparse or on the meta device), or a clear error."""
    if x.is_nested:
        fail(arg, "a dense tensor", describe(x), f"pad it with {arg}.to_padded_tensor(0.0)")
    if x.layout != torch.strided:
        fail(arg, "a dense (strided) tensor", describe(x), f"convert it with {arg}.to_dense()")
    if x.device.type == "meta":
        fail(arg, "a tensor that holds values (on cpu or an accelerator)",
             f"{describe(x)} (the meta device keeps shapes only)",
             "create it on a real device, e.g. device='cpu'; a model built on meta needs "
             "model.to_empty(device='cpu') and its weights loaded")


def check_tensor(arg: str, x, *, ranks: tuple[int, ...] | None = None, min_rank: int | None = None,
                 batch_first: bool = False) -> None:
    """A dense floating-point tensor (float16, bfloat16, float32 or float64) of an accepted rank, or a clear
    error whose fix suits what came (``batch_first``: how to pad a PackedSequence)."""
    if not isinstance(x, torch.Tensor):
        fail(arg, "a torch.Tensor", describe(x), tensor_fix(arg, x, batch_first=batch_first))
    check_dense(arg, x)
    if x.dtype not in FLOAT_DTYPES:
        fix = f"dequantize it with {arg}.dequantize()" if x.is_quantized else f"convert it with {arg}.float()"
        fail(arg, "a real floating-point tensor (float16, bfloat16, float32 or float64)", f"dtype {x.dtype}", fix)
    if ranks is not None and x.dim() not in ranks:
        fail(arg, f"a tensor of rank {' or '.join(map(str, ranks))}", f"rank {x.dim()} (shape {tuple(x.shape)})",
             "reshape it, e.g. add a batch dimension with .unsqueeze(1)")
    if min_rank is not None and x.dim() < min_rank:
        fail(arg, f"a tensor of rank ≥ {min_rank}", f"rank {x.dim()} (shape {tuple(x.shape)})",
             "add the missing dimensions with .unsqueeze(0)")


def check_same_device(pairs: list[tuple[str, torch.device]]) -> None:
    """All named devices equal, or an error naming the first that differs."""
    first_name, first = pairs[0]
    for name, dev in pairs[1:]:
        if dev != first:
            fail(name, f"a tensor on {first} (the device of {first_name})", f"a tensor on {dev}",
                 f"move it with {name}.to({str(first)!r})")


def check_name(name) -> None:
    """A trace's ``name``: a str (it labels the stepper), or a clear error."""
    if not isinstance(name, str):
        fail("name", "a str (the label shown above the stepper)", describe(name), "pass e.g. name='encoder'")


def warn_nonfinite(arg: str, x: torch.Tensor, step_dim: int, what: str = "step") -> None:
    """Warn (not fail) if ``x`` holds NaN/inf, naming the first index along ``step_dim``."""
    if x.device.type == "meta" or x.numel() == 0:  # nothing to look at (the checks refuse both first)
        return
    if bool(torch.isfinite(x.sum())):  # one cheap reduction: NaN/inf anywhere make the sum non-finite
        return
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        other = [d for d in range(x.dim()) if d != step_dim % x.dim()]
        per_step = bad.any(dim=other) if other else bad
        first = int(per_step.nonzero()[0, 0])
        warnings.warn(f"{arg} holds NaN or inf, first at {what} {first}; the trace is made, "
                      f"but every {what} that depends on it is NaN/inf too.",
                      NonFiniteInputWarning, stacklevel=user_stacklevel())


_PACKAGE = str(Path(__file__).resolve().parents[1])


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning point at the caller's code, the first frame outside tr_widgets."""
    level, f = 1, sys._getframe(1)
    while f is not None and str(Path(f.f_code.co_filename).resolve()).startswith(_PACKAGE):
        level, f = level + 1, f.f_back
    return level
