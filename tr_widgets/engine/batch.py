"""The batch axes of a trace, and the index checks every trace uses.

One naming rule for the leading (batch) dimensions of attention: the last two are ``batch`` and ``head``
(one dimension: ``head``; more: ``dim0, dim1, ...`` before them), as Hugging Face and SDPA lay them out.
"""
from __future__ import annotations

import torch

from .errors import describe, fail


def batch_names(n: int) -> tuple[str, ...]:
    """Names of ``n`` leading dimensions. Example: ``batch_names(2) == ('batch', 'head')``"""
    return tuple(f"dim{i}" for i in range(n - 2)) + ("batch", "head")[max(0, 2 - n):]


def broadcast(*shapes) -> tuple[int, ...]:
    """The shape ``shapes`` broadcast to, as ``torch.broadcast_shapes`` gives it, in plain Python: a trace's batch
    shape is read many times a step, and torch's function costs 20–100 µs a call.

    Example: ``broadcast((1, 8), (4, 1), (8,)) == (4, 8)``
    """
    out: list[int] = []
    for shape in shapes:
        shape = tuple(shape)
        if len(shape) > len(out):
            out[:0] = [1] * (len(shape) - len(out))
        for k, n in enumerate(shape, len(out) - len(shape)):
            if n != out[k] and n != 1:
                if out[k] != 1:
                    return tuple(torch.broadcast_shapes(*shapes))  # torch's own error for shapes that don't fit
                out[k] = n
    return tuple(out)


def is_index(value, n: int) -> bool:
    """A Python int (not a bool, not a numpy or tensor integer) in [0, n).

    Example: ``is_index(2, 3) == True; is_index(3, 3) == False; is_index(True, 3) == False``
    """
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < n


def int_like(value) -> bool:
    """A whole number that is not a Python int: a numpy integer or a one-element integer tensor.

    Example: ``int_like(np.int64(2)) == True; int_like(torch.tensor([2])) == True; int_like(2) == False``
    """
    if isinstance(value, torch.Tensor):
        return value.numel() == 1 and not (value.is_floating_point() or value.is_complex() or value.dtype == torch.bool)
    return not isinstance(value, (int, bool)) and hasattr(value, "__index__")


def check_index(arg: str, value, n: int, fix: str, what: str = "") -> int:
    """``value`` as an index in [0, n), or one TraceInputError naming ``arg``.

    Example: ``check_index("layer", 1, 2, "pick an existing layer")  # 1``
    """
    if not is_index(value, n):
        expected = f"an int in [0, {n - 1}]" if n > 0 else f"an existing {arg} (there is none)"
        if int_like(value):
            fix = f"convert it with int({arg}); {fix}"
        got = repr(value)[:80] if isinstance(value, (int, float, str)) else describe(value)
        fail(arg, expected + (f" ({what})" if what else ""), got, fix)
    return value
