"""Input checks shared by every public entry point, and the memory budget.

Every check raises :class:`TraceInputError` with one sentence that names the argument, what was
expected, what came and how to fix it (torch's ``rnn.py`` and altair's ``MaxRowsError`` are the
models). Checks run once, at the public boundary, before any torch kernel sees the input, so a user
never gets a deep torch traceback.
"""
from __future__ import annotations

import math
import warnings

import torch

GiB = 1024**3
_budget = {"bytes": 2 * GiB}


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
        at.weights   # MemoryBudgetError: ... (37.3 GiB) exceeds the memory budget of 2.0 GiB.
                     # Fix: use row(i, index) for one query's step instead, or raise the budget ...
    """


class NonFiniteInputWarning(UserWarning):
    """The input holds NaN or inf; the trace is still made, the warning names the first step."""


def fail(arg: str, expected: str, got: str, fix: str) -> None:
    """Raise one clear :class:`TraceInputError`: ``arg: expected ..., got .... Fix: ...``."""
    raise TraceInputError(f"{arg}: expected {expected}, got {got}. Fix: {fix}")


def set_memory_budget(nbytes: int) -> int:
    """Set the largest tensor (in bytes) a trace may materialise; returns the previous budget.

    Example::

        old = tr_widgets.set_memory_budget(512 * 1024**2)   # 512 MiB
    """
    if not isinstance(nbytes, int) or isinstance(nbytes, bool) or nbytes <= 0:
        fail("nbytes", "a positive int (bytes)", repr(nbytes), "pass e.g. 2 * 1024**3 for 2 GiB")
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
            f"{what}: materialising a tensor of shape {tuple(shape)} ({_fmt_bytes(nbytes)}) exceeds "
            f"the memory budget of {_fmt_bytes(_budget['bytes'])}. Fix: use {alternative} instead, "
            f"or raise the budget with tr_widgets.set_memory_budget(nbytes)."
        )


def describe(x) -> str:
    """A short description of a value for error messages: shape, dtype and device for tensors."""
    if isinstance(x, torch.Tensor):
        return f"a tensor of shape {tuple(x.shape)}, dtype {x.dtype}, on {x.device}"
    return f"{type(x).__name__} {x!r}"[:120]


def check_tensor(arg: str, x, *, ranks: tuple[int, ...] | None = None, min_rank: int | None = None) -> None:
    """A floating-point tensor of an accepted rank, or a clear error."""
    if not isinstance(x, torch.Tensor):
        fail(arg, "a torch.Tensor", describe(x), f"convert it with torch.as_tensor({arg}, dtype=torch.float32)")
    if x.is_complex() or not x.is_floating_point():
        fail(arg, "a real floating-point tensor (float16, bfloat16, float32 or float64)",
             f"dtype {x.dtype}", f"convert it with {arg}.float()")
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


def warn_nonfinite(arg: str, x: torch.Tensor, step_dim: int, what: str = "step") -> None:
    """Warn (not fail) if ``x`` holds NaN/inf, naming the first index along ``step_dim``."""
    if bool(torch.isfinite(x.sum())):  # one cheap reduction: NaN/inf anywhere make the sum non-finite
        return
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        other = [d for d in range(x.dim()) if d != step_dim % x.dim()]
        per_step = bad.any(dim=other) if other else bad
        first = int(per_step.nonzero()[0, 0])
        warnings.warn(f"{arg} holds NaN or inf, first at {what} {first}; the trace is made, "
                      f"but every {what} that depends on it is NaN/inf too.",
                      NonFiniteInputWarning, stacklevel=3)
