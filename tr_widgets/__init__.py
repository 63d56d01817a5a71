"""tr_widgets: watch sequence models compute, one time step at a time, inside Jupyter.

The public surface is small and pinned by a test:

- ``trace_recurrent(module, x)``: gates, cell and hidden state of RNN/LSTM/GRU at every step.
- ``trace_attention(q, k, v, ...)``: raw, scaled, masked scores, softmax weights, weighted sums.
- ``trace_gradients(module, x, loss_fn)``: ∂L/∂h_t at every step, the clock run backwards (BPTT).
- ``set_memory_budget`` / ``get_memory_budget``: the largest tensor a trace may materialise.
- ``capture(model)``: record every recurrent module, nn.MultiheadAttention and SDPA call of a forward.
- ``LoopTrace``: what capture records of a recurrence you wrote (a loop of tensor ops, a cell called per step).
- ``StateTrace``: what capture records of a state-space / linear-attention mixer (Mamba, RWKV, Gated DeltaNet).
- ``decode(model, prompt, n)``: token-by-token decoding, one tick per token, with the KV cache visible.
- ``show(trace)``: the stepper widget for a trace (play, pause, step) in JupyterLab / Notebook 7.
- ``load_tiny(lang="en")``: the tiny GPT shipped in the package with its tokenizer ("en" word-level, "zh" character-level Chinese).
- ``token_labels(tokenizer, ids)``: one readable label per token id (byte-level pieces decoded, '␣' for spaces).
- ``set_language("zh")`` / ``get_language()``: the language of the steppers' captions and controls (en, zh).
- ``what_if(model, run, *edits)``: the run recorded without and with ``Edit``s (a state, a gate, a head changed
  at step t), compared step by step; ``compare(a, b)`` compares two captures or traces already made.
- ``load(path)``: a trace saved with ``trace.save(path)`` (safetensors + JSON, no pickle), without the model.

Widgets are imported on first use, so ``import tr_widgets`` (and the engine) stays pure torch.
"""
from .engine import (
    AttentionTrace,
    MemoryBudgetError,
    RecurrentTrace,
    TraceInputError,
    get_memory_budget,
    set_memory_budget,
    trace_attention,
    trace_recurrent,
)

from .engine.capture import capture
from .engine.decode import DecodeTrace, decode
from .engine.files import load_trace as load
from .engine.gradients import GradientTrace, trace_gradients
from .engine.loops import LoopTrace
from .engine.state import StateTrace
from .engine.text import token_labels
from .engine.whatif import Edit, compare, what_if
from .i18n import get_language, set_language
from .models import load_tiny

__version__ = "0.1.0"


def show(trace, **options):
    """The stepper widget for ``trace``: RecurrentTrace → RecurrentStepper, AttentionTrace → AttentionStepper,
    DecodeTrace → DecodeStepper, Capture → CaptureView, GradientTrace → GradientStepper, StateTrace →
    StateStepper, LoopTrace → LoopStepper, Comparison → CompareStepper (the table
    ``tr_widgets.widgets.registry.STEPPERS``; a test checks this list against it).

    Example::

        tr = tr_widgets.trace_recurrent(torch.nn.LSTM(1, 10), torch.arange(1., 6).view(5, 1, 1))
        w = tr_widgets.show(tr)      # play / pause / previous step / next step
        w.step = 2                   # every view follows
    """
    from .widgets import show as _show

    return _show(trace, **options)


def load_ipython_extension(ipython) -> None:
    """``%load_ext tr_widgets`` registers the ``%tr_step`` line magic and ``%%tr_step`` cell magic.

    Example::

        %load_ext tr_widgets
        w = %tr_step lstm --input "1 2 3 4 5" --hidden 10 --seed 0
    """
    from .magic import load_ipython_extension as load

    load(ipython)

__all__ = [
    "AttentionTrace",
    "Edit",
    "DecodeTrace",
    "GradientTrace",
    "LoopTrace",
    "MemoryBudgetError",
    "RecurrentTrace",
    "StateTrace",
    "TraceInputError",
    "__version__",
    "capture",
    "compare",
    "decode",
    "get_language",
    "get_memory_budget",
    "load",
    "load_tiny",
    "set_language",
    "set_memory_budget",
    "show",
    "token_labels",
    "trace_gradients",
    "trace_attention",
    "trace_recurrent",
    "what_if",
]
