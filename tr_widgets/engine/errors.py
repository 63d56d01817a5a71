"""Input checks shared by every public entry point, and the memory budget.

Every check raises :class:`TraceInputError` with one line that names the argument, what was
expected, what came and how to fix it (torch's ``rnn.py`` and altair's ``MaxRowsError`` are the
models). Checks run once, at the public boundary, before any torch kernel sees the input, so a user
never gets a deep torch traceback. :func:`describe` says what came in one line whatever it is (a
tensor, a numpy array, a PackedSequence, a generator...), and :func:`tensor_fix` gives the conversion
that works for that type: both live in :mod:`.describing` and are re-exported here. docs/errors.md
lists every error a user may see.
"""
from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

import torch

from .describing import describe, one_line, tensor_fix

GiB = 1024**3
_budget = {"bytes": 2 * GiB}
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


class TraceInputError(ValueError):
    """A public function got an argument it cannot trace (wrong shape, dtype, device, option...).

    Example::

        try: tr_widgets.trace_recurrent(nn.LSTM(3, 4), torch.ones(5, 1, 3, dtype=torch.long))
        except TraceInputError as e: err = str(e)   # x: expected a real floating-point tensor (...), got ...
        err.endswith("got dtype torch.int64. Fix: convert it with x.float()") == True
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
    """The input holds NaN or inf; the trace is still made, the warning names the first step.

    Example::

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tr_widgets.trace_recurrent(lstm, x.index_fill(0, torch.tensor([2]), float("nan")))   # x[2]: NaN
        found = [str(w.message) for w in caught if w.category is NonFiniteInputWarning]
        found[0].startswith("x holds NaN or inf, first at step 2") == True
    """


def fail(arg: str, expected: str, got: str, fix: str) -> None:
    """Raise one clear :class:`TraceInputError`: ``arg: expected ..., got .... Fix: ...`` (one line).

    Example::

        try: fail("hidden", "an int ≥ 1", "0", "pass e.g. hidden=10")
        except TraceInputError as e: err = str(e)
        err == "hidden: expected an int ≥ 1, got 0. Fix: pass e.g. hidden=10"
    """
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
    """Refuse to materialise ``what`` of ``shape`` if it exceeds the budget; name the alternative.

    Example::

        check_budget("weights", (2, 6, 6), torch.float32, "row(i, index)")              # 288 bytes: passes
        try: check_budget("weights", (1, 100_000, 100_000), torch.float32, "row(i, index)")   # 37.3 GiB
        except MemoryBudgetError as e: err = str(e)
        err.startswith("weights: expected a tensor within the memory budget of") == True
    """
    nbytes = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
    if nbytes > _budget["bytes"]:
        raise MemoryBudgetError(
            f"{what}: expected a tensor within the memory budget of {_fmt_bytes(_budget['bytes'])}, got one of "
            f"shape {tuple(shape)} ({_fmt_bytes(nbytes)}), which exceeds it. Fix: use {alternative} instead, "
            f"or raise the budget with tr_widgets.set_memory_budget(nbytes)."
        )


# -- tensors ---------------------------------------------------------------------------------
def check_dense(arg: str, x: torch.Tensor) -> None:
    """A dense tensor that holds values (not nested, sparse or on the meta device), or a clear error.

    Example::

        check_dense("x", x)                          # passes
        try: check_dense("x", x.to_sparse())
        except TraceInputError as e: err = str(e)
        err.endswith("Fix: convert it with x.to_dense()") == True
    """
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
    error whose fix suits what came (``batch_first``: how to pad a PackedSequence).

    Example::

        check_tensor("x", x, ranks=(2, 3))           # x [6, 1, 3]: passes
        try: check_tensor("x", x[0, 0], ranks=(2, 3))
        except TraceInputError as e: err = str(e)
        err.startswith("x: expected a tensor of rank 2 or 3, got rank 1 (shape (3,))") == True
    """
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
    """All named devices equal, or an error naming the first that differs.

    Example::

        check_same_device([("q", q.device), ("k", k.device)])                  # both on cpu: passes
        try: check_same_device([("q", q.device), ("k", torch.device("meta"))])
        except TraceInputError as e: err = str(e)
        err.startswith("k: expected a tensor on cpu (the device of q), got a tensor on meta") == True
    """
    first_name, first = pairs[0]
    for name, dev in pairs[1:]:
        if dev != first:
            fail(name, f"a tensor on {first} (the device of {first_name})", f"a tensor on {dev}",
                 f"move it with {name}.to({str(first)!r})")


def check_name(name) -> None:
    """A trace's ``name``: a str (it labels the stepper), or a clear error.

    Example::

        check_name("encoder")                        # passes
        try: check_name(3)
        except TraceInputError as e: err = str(e)
        err.startswith("name: expected a str") == True
    """
    if not isinstance(name, str):
        fail("name", "a str (the label shown above the stepper)", describe(name), "pass e.g. name='encoder'")


def warn_nonfinite(arg: str, x: torch.Tensor, step_dim: int, what: str = "step") -> None:
    """Warn (not fail) if ``x`` holds NaN/inf, naming the first index along ``step_dim``.

    Example::

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warn_nonfinite("x", torch.tensor([[1.0], [float("inf")]]), step_dim=0)
        str(caught[0].message).startswith("x holds NaN or inf, first at step 1") == True
    """
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
    """The ``stacklevel`` that makes a warning point at the caller's code, the first frame outside tr_widgets.

    Example: ``user_stacklevel() == 1  # called from your own code: the warning points at the line that called``
    """
    level, f = 1, sys._getframe(1)
    while f is not None and str(Path(f.f_code.co_filename).resolve()).startswith(_PACKAGE):
        level, f = level + 1, f.f_back
    return level
