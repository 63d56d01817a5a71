"""The batch axes of a trace, and the index checks every trace uses.

One naming rule for the leading (batch) dimensions of attention: the last two are ``batch`` and ``head``
(one dimension: ``head``; more: ``dim0, dim1, ...`` before them), as Hugging Face and SDPA lay them out.
"""
from __future__ import annotations

from .errors import describe, fail


def batch_names(n: int) -> tuple[str, ...]:
    """Names of ``n`` leading dimensions. Example: ``batch_names(2) == ('batch', 'head')``"""
    return tuple(f"dim{i}" for i in range(n - 2)) + ("batch", "head")[max(0, 2 - n):]


def is_index(value, n: int) -> bool:
    """An int (not a bool) in [0, n)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < n


def check_index(arg: str, value, n: int, fix: str, what: str = "") -> int:
    """``value`` as an index in [0, n), or one TraceInputError naming ``arg``.

    Example: ``check_index("layer", 1, 2, "pick an existing layer")  # 1``
    """
    if not is_index(value, n):
        fail(arg, f"an int in [0, {n - 1}]" + (f" ({what})" if what else ""),
             repr(value) if isinstance(value, (int, float, str)) else describe(value), fix)
    return value
