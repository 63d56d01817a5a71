"""What a capture says when it ends: the one warning naming what ran unrecorded, and why.

This module owns :data:`SUPPORTED` (what a capture records, in words: the warnings and ``rec[name]``
quote it), :class:`CaptureWarning` and :func:`report`, the warning a capture gives when its block ends.
A capture is never silent: it names the sequence mixers that ran unrecorded, the compiled modules it
stepped aside from, the calls it could not trace, or says that nothing supported ran at all.
"""
from __future__ import annotations

import warnings

from .naming import SDPA_NAME

SUPPORTED = ("nn.RNN, nn.LSTM, nn.GRU and their cells (PackedSequence inputs too; called once per step with the "
             "state carried, as one trace); a module of your own called once per step with its state fed back (as "
             "a LoopTrace); nn.MultiheadAttention (also inside "
             "nn.TransformerEncoder/Decoder layers); F.scaled_dot_product_attention (e.g. Hugging Face "
             "models with their default sdpa attention); softmax(q·kᵀ)·v written by hand in any module (eager "
             "Hugging Face attention, minGPT, d2l, a user's Head, Bloom's ALiBi, Gemma 2's soft cap, GPT-OSS's "
             "sinks); state-space, linear-attention and short-conv mixers found by structure (Mamba, Mamba-2/SSD, "
             "RWKV-4, Gated DeltaNet and more: tr_widgets.engine.state.supported(); as StateTraces); Keras 3 RNN layers and MultiHeadAttention (torch backend)")


class CaptureWarning(UserWarning):
    """A capture ended with something it did not record: which modules ran unrecorded, why, and the fix.

    Example::

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with tr_widgets.capture(nn.Linear(2, 2)):
                pass                                   # nothing supported ran
        caught[0].category is CaptureWarning
    """


def report(rec, base_names, drained: int) -> None:
    """Never silent: one warning naming what ran unrecorded (and why), or saying nothing was recorded.

    ``rec`` is the capture's Recorder; ``base_names()`` gives id(module) -> name (asked only when a warning
    names a module); ``drained`` counts the records a decode loop took out already. The capture's
    ``__exit__`` calls it, so ``stacklevel=3`` points at the user's with-block.

    Example::

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report(rec.recorder, dict, 0)      # rec recorded the LSTM's call: nothing to say
        caught == []
    """
    missed = list(rec.unrecorded.values())
    if rec.stepped_aside:
        base = base_names()
        shown = ", ".join(f"{base.get(id(m), type(m).__name__)!r} (backend {b!r})" for m, b in rec.stepped_aside)
        warnings.warn(f"capture: nothing was recorded: {shown} is compiled, and recording would run it eagerly, "
                      "changing the last bits of its outputs, so the capture stepped aside. Fix: capture the "
                      "module before torch.compile (model._orig_mod), or compile it with backend='eager'",
                      CaptureWarning, stacklevel=3)
    elif missed:
        base = base_names()
        shown = "; ".join(f"{base.get(id(m), type(m).__name__)!r} ({type(m).__name__}: {why})"
                          for m, _, why in missed[:8]) + (f"; ... ({len(missed) - 8} more)" if len(missed) > 8 else "")
        fixes = " ".join(dict.fromkeys(k.fix.rstrip(".") + "." for _, k, _ in missed))
        warnings.warn(f"capture: {len(missed)} sequence-mixing module{'s' if len(missed) != 1 else ''} ran "
                      f"but {'were' if len(missed) != 1 else 'was'} not recorded: {shown}. Recorded "
                      f"{len(rec.entries)} call{'s' if len(rec.entries) != 1 else ''}; rec.skipped lists what "
                      f"was not. Fix: {fixes}", CaptureWarning, stacklevel=3)
    elif not rec.entries and not rec.skipped and not drained:
        warnings.warn(f"capture: nothing was recorded; the block ran none of the supported modules "
                      f"({SUPPORTED}). Fix: call the model inside the with-block (e.g. model(x)), or capture "
                      "a model that holds one of these", CaptureWarning, stacklevel=3)
    elif rec.skipped:
        base = base_names()
        shown = "; ".join(f"{SDPA_NAME if m is None else base.get(id(m), type(m).__name__)!r}: {why}"
                          for m, why in rec.skipped[:5])
        warnings.warn(f"capture: {len(rec.skipped)} call(s) could not be recorded: {shown}. "
                      "Fix: see rec.skipped for each reason", CaptureWarning, stacklevel=3)
