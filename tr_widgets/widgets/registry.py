"""The one table of trace kinds: which stepper shows which trace, and how a user makes one, looked up
along the trace's MRO.

A new kind is one :class:`Kind` line in :data:`STEPPERS` (or one :func:`register_stepper` call from outside
the package). ``show``, ``widgets.__all__``, the magic, the docs test and the error messages all read this
table, so none keeps its own list. Steppers are named here as ``"module:Class"`` of ``widgets.steppers``
and imported when first shown, so a stepper that shows other kinds (CaptureView) can use the table
without an import loop.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from ..engine import AttentionTrace, RecurrentTrace
from ..engine.capture import Capture
from ..engine.decode import DecodeTrace
from ..engine.errors import describe, fail
from ..engine.gradients import GradientTrace
from ..engine.loops import LoopTrace
from ..engine.state import StateTrace
from ..engine.whatif.compare import Comparison


@dataclass(frozen=True)
class Kind:
    """One kind of trace: its type, the stepper that shows it (a class, or ``"module:Class"`` of
    ``widgets.steppers``, imported when first shown) and the call that makes one (for error messages).

    Example: ``Kind(RecurrentTrace, "recurrent:RecurrentStepper", "tr_widgets.trace_recurrent(module, x)")``
    """

    trace: type
    stepper: type | str
    make: str

    def stepper_class(self) -> type:
        """The stepper class, imported on first use. Example: ``STEPPERS[RecurrentTrace].stepper_class()``"""
        if isinstance(self.stepper, type):
            return self.stepper
        module, name = self.stepper.split(":")
        return getattr(importlib.import_module(f"{__package__}.steppers.{module}"), name)


STEPPERS: dict[type, Kind] = {k.trace: k for k in (
    Kind(RecurrentTrace, "recurrent:RecurrentStepper", "tr_widgets.trace_recurrent(module, x)"),
    Kind(AttentionTrace, "attention:AttentionStepper", "tr_widgets.trace_attention(q, k, v)"),
    Kind(DecodeTrace, "decode:DecodeStepper", "tr_widgets.decode(model, prompt, n)"),
    Kind(Capture, "capture_view:CaptureView", "tr_widgets.capture(model)"),
    Kind(GradientTrace, "gradients:GradientStepper", "tr_widgets.trace_gradients(module, x, loss_fn)"),
    Kind(StateTrace, "state:StateStepper",
         "tr_widgets.engine.state.trace_state(kind, ...) or trace_mixer_call(...) from a hook"),
    Kind(LoopTrace, "loop:LoopStepper", "tr_widgets.capture(model)"),
    Kind(Comparison, "compare:CompareStepper", "tr_widgets.what_if(model, run, *edits) or tr_widgets.compare(a, b)"),
)}


def register_stepper(trace_type: type, stepper_cls: type, make: str = "") -> None:
    """Make ``show`` return ``stepper_cls(trace, **options)`` for traces of ``trace_type``; ``make``: the
    call that makes such a trace, for error messages.

    Example::

        class MyTrace: ...
        class MyStepper:
            def __init__(self, trace, **options): self.trace = trace
        register_stepper(MyTrace, MyStepper, "my_package.trace_mine(model)")
        isinstance(show(MyTrace()), MyStepper) == True
        del STEPPERS[MyTrace]        # (the example leaves the table as it found it)
    """
    if not isinstance(trace_type, type) or not isinstance(stepper_cls, type):
        fail("register_stepper", "two classes: (trace type, stepper class)",
             f"{describe(trace_type)}, {describe(stepper_cls)}", "pass e.g. register_stepper(MyTrace, MyStepper)")
    STEPPERS[trace_type] = Kind(trace_type, stepper_cls, make or f"a {trace_type.__name__}")


def stepper_class(value) -> type | None:
    """The stepper registered for ``value``'s type or its nearest base class, or None.

    Example: ``stepper_class(tr_widgets.trace_recurrent(nn.GRU(1, 2), torch.ones(3, 1, 1)))  # RecurrentStepper``
    """
    entry = next((STEPPERS[c] for c in type(value).__mro__ if c in STEPPERS), None)
    return None if entry is None else entry.stepper_class()


def stepper_classes() -> list[type]:
    """Every registered stepper class, in the table's order (imported).

    Example: ``[c.__name__ for c in stepper_classes()][:2]  # ['RecurrentStepper', 'AttentionStepper']``
    """
    return [k.stepper_class() for k in STEPPERS.values()]


def supported() -> list[str]:
    """Names of the trace types ``show`` accepts. Example: ``supported()[:2]  # ['RecurrentTrace', 'AttentionTrace']``"""
    return [t.__name__ for t in STEPPERS]


def show(trace, **options):
    """The stepper widget for ``trace`` (the one :data:`STEPPERS` names for its type): play, pause and
    step through it in Jupyter. RecurrentTrace → RecurrentStepper, AttentionTrace → AttentionStepper,
    DecodeTrace → DecodeStepper, Capture → CaptureView, GradientTrace → GradientStepper, StateTrace →
    StateStepper, LoopTrace → LoopStepper, Comparison → CompareStepper (a test checks this list against the table).

    Options (each checked, errors name the option): ``step`` (first step), ``progress`` (tqdm bar for
    long work, default True), ``interval`` (ms per step when playing), ``window`` (matrix window cells
    per side, ≤ 256), ``overview_px`` (≤ 256), and a starting index per selector (``layer=``,
    ``direction=``, ``batch=``, ``head=``...). Recurrent: ``units``, ``max_bars``, ``graph_nodes``.
    Attention: ``dims``, ``top_k``. Decode: ``text_tokens``, ``timeline``.

    Example::

        lstm = torch.nn.LSTM(4, 6)
        s = show(tr_widgets.trace_recurrent(lstm, torch.randn(7, 1, 4)))   # a RecurrentStepper
        s.step = 3                                                          # every view follows
        show(tr_widgets.trace_attention(q, k, v, is_causal=True), head=1)   # an AttentionStepper
    """
    cls = stepper_class(trace)
    if cls is None:
        makers = "; ".join(f"{t.__name__}: {k.make}" for t, k in STEPPERS.items())
        fail("trace", f"one of the supported traces ({', '.join(supported())})", describe(trace),
             f"make one first ({makers})")
    return cls(trace, **options)
