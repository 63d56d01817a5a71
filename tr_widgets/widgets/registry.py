"""The one table of trace kinds: which stepper shows which trace, looked up along the trace's MRO.

A new kind is one line in :data:`STEPPERS` (or one :func:`register_stepper` call from outside the
package). ``show``, the magic and the error messages all read this table, so none keeps its own list.
Steppers are named here as ``"module:Class"`` of this package and imported when first shown, so a
stepper that shows other kinds (CaptureView) can use the table without an import loop.
"""
from __future__ import annotations

import importlib

from ..engine import AttentionTrace, RecurrentTrace
from ..engine.capture import Capture
from ..engine.decode import DecodeTrace
from ..engine.errors import describe, fail
from ..engine.gradients import GradientTrace
from ..engine.state import StateTrace

STEPPERS: dict[type, type | str] = {
    RecurrentTrace: "steppers.recurrent:RecurrentStepper",
    AttentionTrace: "steppers.attention:AttentionStepper",
    DecodeTrace: "steppers.decode:DecodeStepper",
    Capture: "steppers.capture_view:CaptureView",
    GradientTrace: "steppers.gradients:GradientStepper",
    StateTrace: "steppers.state:StateStepper",
}
# How to make each kind, for the message a user gets when show() is handed something else.
MAKERS = {RecurrentTrace: "tr_widgets.trace_recurrent(module, x)", AttentionTrace: "tr_widgets.trace_attention(q, k, v)",
          DecodeTrace: "tr_widgets.decode(model, prompt, n)", Capture: "tr_widgets.capture(model)",
          GradientTrace: "tr_widgets.trace_gradients(module, x, loss_fn)",
          StateTrace: "tr_widgets.engine.state.trace_state(kind, ...) or trace_mixer_call(...) from a hook"}


def register_stepper(trace_type: type, stepper_cls: type) -> None:
    """Make ``show`` return ``stepper_cls(trace, **options)`` for traces of ``trace_type``.

    Example::

        register_stepper(MyTrace, MyStepper)
        show(my_trace)               # a MyStepper
    """
    if not isinstance(trace_type, type) or not isinstance(stepper_cls, type):
        fail("register_stepper", "two classes: (trace type, stepper class)",
             f"{describe(trace_type)}, {describe(stepper_cls)}", "pass e.g. register_stepper(MyTrace, MyStepper)")
    STEPPERS[trace_type] = stepper_cls


def stepper_class(value) -> type | None:
    """The stepper registered for ``value``'s type or its nearest base class, or None.

    Example: ``stepper_class(tr_widgets.trace_recurrent(nn.GRU(1, 2), torch.ones(3, 1, 1)))  # RecurrentStepper``
    """
    entry = next((STEPPERS[c] for c in type(value).__mro__ if c in STEPPERS), None)
    if isinstance(entry, str):
        module, name = entry.split(":")
        entry = getattr(importlib.import_module(f"{__package__}.{module}"), name)
    return entry


def supported() -> list[str]:
    """Names of the trace types ``show`` accepts. Example: ``supported()[:2]  # ['RecurrentTrace', 'AttentionTrace']``"""
    return [t.__name__ for t in STEPPERS]


def show(trace, **options):
    """The stepper widget for ``trace``: play, pause and step through it in Jupyter.

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
        makers = "; ".join(f"{t.__name__}: {m}" for t, m in MAKERS.items())
        fail("trace", f"one of the supported traces ({', '.join(supported())})", describe(trace),
             f"make one first ({makers})")
    return cls(trace, **options)
