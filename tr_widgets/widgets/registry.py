"""``show(trace)`` picks the stepper registered for the trace's type; ``register_stepper`` adds one.

A later stepper (e.g. ``DecodeStepper`` for ``DecodeTrace``) plugs in with one call and no change
here: ``register_stepper(DecodeTrace, DecodeStepper)``.
"""
from __future__ import annotations

from ..engine.errors import describe, fail

_STEPPERS: dict[type, type] = {}


def register_stepper(trace_type: type, stepper_cls: type) -> None:
    """Make ``show`` return ``stepper_cls(trace, **options)`` for traces of ``trace_type``.

    Example::

        register_stepper(DecodeTrace, DecodeStepper)
        show(decode_trace)               # a DecodeStepper
    """
    if not isinstance(trace_type, type) or not isinstance(stepper_cls, type):
        fail("register_stepper", "two classes: (trace type, stepper class)",
             f"{describe(trace_type)}, {describe(stepper_cls)}", "pass e.g. register_stepper(DecodeTrace, DecodeStepper)")
    _STEPPERS[trace_type] = stepper_cls


def supported() -> list[str]:
    """Names of the trace types ``show`` accepts."""
    return [t.__name__ for t in _STEPPERS]


def show(trace, **options):
    """The stepper widget for ``trace``: play, pause and step through it in Jupyter.

    Options (each checked, errors name the option): ``step`` (first step), ``progress`` (tqdm bar for
    long work, default True), ``interval`` (ms per step when playing), ``window`` (matrix window cells
    per side, ≤ 256), ``overview_px`` (≤ 256), and a starting index per selector (``layer=``,
    ``direction=``, ``batch=``, ``head=``...). Recurrent: ``units``, ``max_bars``, ``graph_nodes``.
    Attention: ``dims``, ``top_k``.

    Example::

        lstm = torch.nn.LSTM(4, 6)
        s = show(tr_widgets.trace_recurrent(lstm, torch.randn(7, 1, 4)))   # a RecurrentStepper
        s.step = 3                                                          # every view follows
        show(tr_widgets.trace_attention(q, k, v, is_causal=True), head=1)   # an AttentionStepper
    """
    # The most recently registered type wins, so a subclass registered later overrides its base.
    for trace_type, stepper_cls in reversed(list(_STEPPERS.items())):
        if isinstance(trace, trace_type):
            return stepper_cls(trace, **options)
    fail("trace", f"one of the supported traces ({', '.join(supported())})", describe(trace),
         "make one with tr_widgets.trace_recurrent(module, x) or tr_widgets.trace_attention(q, k, v)")
