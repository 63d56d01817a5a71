"""The sequence-mixing modules a capture must account for: one table, looked up by class name.

A module whose class name says it mixes positions (attention of any kind, state-space scans, recurrent or
linear-attention mixers) is watched while a capture runs. When one runs and nothing is recorded inside it,
the capture names it, says why and what to do (``rec.skipped``, one warning at exit, ``rec[name]``): a
capture is never silent about what it missed. The kinds a capture *records* by module type are a separate
table (``modules.RECORDED``; state mixers are found there by ``engine.state``'s specs, by structure: a class-name
family plus the projections the math reads); a module matched there is recorded, not listed here.

A new kind is one entry of :data:`MIXERS`, first match wins (``RwkvSelfAttention`` is a recurrent mixer, not
attention). ``attention=True`` entries get ``hand.HandMode`` inside, which records softmax(q·kᵀ)·v written
by hand and SDPA calls through any reference.
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class MixerKind:
    """One kind of sequence mixer: which class names, whether attention is looked for inside, and the words
    a user gets when one ran unrecorded.

    Example::

        [k.label for k in MIXERS if k.attention] == ["attention"]  # only attention is looked into
    """

    label: str
    pattern: str  # regular expression searched in the class name
    attention: bool
    reason: str
    fix: str


MIXERS = (
    MixerKind("state-space mixer", r"Mamba|SSM|S4D?(?![a-z])|Hyena|ShortConv|Mixer$|MixerLayer", False,
              "a state-space mixer whose structure matches none of the state tracer's specs (it records the "
              "Mamba and Mamba-2/SSD families by what they hold and checks each trace against the module's "
              "output: tr_widgets.engine.state.supported() lists them)",
              "the model's other layers are recorded; for this layer, trace its recurrence on its own tensors "
              "with tr_widgets.engine.state.trace_state('mamba' or 'mamba2', x=..., delta=..., A=..., B=..., C=...), "
              "or add a spec for its class (a StateKind subclass, tr_widgets.engine.state.register)"),
    MixerKind("recurrent mixer", r"Rwkv|RWKV|xLSTM|[mMsS]LSTM(?![a-z])|DeltaNet|GatedDelta|RecurrentBlock|"
              r"RecurrentLayer|Rglru|RGLRU|Retention|LinearAttention|LightningAttention", False,
              "a recurrent or linear-attention mixer whose structure matches none of the state tracer's specs "
              "(it records RWKV-4 and the delta-rule, short-conv, RG-LRU, lightning and mLSTM families by what "
              "they hold, checked against the module's output, and torch's nn.RNN/LSTM/GRU: "
              "tr_widgets.engine.state.supported() lists them)",
              "the model's other layers are recorded; for this layer, trace its recurrence on its own tensors "
              "with tr_widgets.engine.state.trace_state('rwkv' or 'gated_deltanet', ...), or add a spec for its "
              "class (a StateKind subclass, tr_widgets.engine.state.register)"),
    MixerKind("attention", r"Attention|Attn|SelfAttn", True,
              "attention that called neither F.scaled_dot_product_attention nor a softmax over a product of "
              "two tensors whose weights multiply a value tensor",
              "load a Hugging Face model with attn_implementation='sdpa' or 'eager' (not flash/flex), or write "
              "the attention as F.scaled_dot_product_attention(q, k, v) or softmax(q @ k.transpose(-2, -1) * "
              "scale) @ v"),
)

_COMPILED = [(re.compile(k.pattern), k) for k in MIXERS]
# parts of a mixer's family that mix nothing themselves (MambaRMSNorm, RwkvFeedForward, GPT2Model...)
_NOT_MIXERS = re.compile(r"Norm|Embed|Rotary|Cache|MLP|FeedForward|Intermediate|Output$|Model$|PreTrained|"
                         r"For[A-Z]\w+$|Head$|Pooler|Experts?$|Router|Gate$|Conv1d$|Linear$|Dropout")
_BY_CLASS: dict = {}


def kind_of(module) -> MixerKind | None:
    """The mixer kind of a module (by its class name), or None.

    Example::

        class GPT2Attention(nn.Module): pass
        class MambaMixer(nn.Module): pass
        kind_of(GPT2Attention()).label == "attention"
        kind_of(MambaMixer()).label == "state-space mixer"
        kind_of(nn.LayerNorm(4)) == None
    """
    cls = type(module)
    if cls not in _BY_CLASS:
        name = cls.__name__
        _BY_CLASS[cls] = None if _NOT_MIXERS.search(name) else next(
            (k for rx, k in _COMPILED if rx.search(name)), None)
    return _BY_CLASS[cls]
