"""What came, in one line: the text of every error message about a user's input.

This module owns :func:`describe` (shape, dtype and device of a tensor, a numpy array or a
PackedSequence; a short repr of a small value; the type and length otherwise; it never raises),
:func:`tensor_fix` (the conversion that works for what came) and :func:`one_line` (a message stays one
printable line). :mod:`.errors` builds its messages from these; it re-exports them.
"""
from __future__ import annotations

import re
import reprlib

import torch
from torch.nn.utils.rnn import PackedSequence

# Line breaks (everything str.splitlines splits on), lone surrogates (jupyter_client cannot encode them)
# and bidi controls (they reorder the text around them) are written as escapes in a message.
_BREAKS = re.compile(r"\s*[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+\s*")
_HIDDEN = re.compile("[\ud800-\udfff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def one_line(text) -> str:
    """``text`` as one printable line: line breaks become spaces, lone surrogates and bidi controls escapes.

    Example: ``one_line("a\\nb\\u202e")  # 'a b\\\\u202e'``
    """
    return _HIDDEN.sub(lambda m: ascii(m.group())[1:-1], _BREAKS.sub(" ", str(text)))


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
