"""One module being executed while a capture runs, as the recorder's stack holds it.

This module owns :class:`Frame` (what the recorder knows about a module between its pre- and post-hook:
its mixer kind, whether the capture's function mode was pushed or suspended for it, what was recorded
inside it), :func:`recorded_kind` (how a module recorded by type is recorded, ``modules.RECORDED``),
:func:`attn_impl` (the attention implementation a Hugging Face module declares) and :data:`FAST_PATHS`
(torch modules whose fused fast path the capture must leave on).
"""
from __future__ import annotations

from torch import nn

from . import mixers
from .modules import RECORDED, matches

FAST_PATHS = (nn.MultiheadAttention, nn.TransformerEncoderLayer, nn.TransformerEncoder)  # fast paths to protect


def attn_impl(module):
    """The attention implementation a Hugging Face module's config names (``"sdpa"``, ``"eager"``...), or None.

    Example: ``attn_impl(nn.Linear(2, 2)) is None``
    """
    return getattr(getattr(module, "config", None), "_attn_implementation", None)


def recorded_kind(module):
    """How ``module`` is recorded by type (``modules.RECORDED``), or None for a module not recorded by type.

    Example::

        recorded_kind(nn.LSTM(3, 4)) is not None
        recorded_kind(nn.Linear(2, 2)) is None
    """
    for test, method in RECORDED:
        if matches(test, module):
            return method
    return None


class Kinds(dict):
    """``kinds(module)``: ``(module, recorded kind, mixer kind, attention implementation)``, looked up once per
    capture (a dict by id): a module's class, parts and config stay while it runs, and decode calls each
    layer once a tick, where the lookups were a third of the pre-hook's time.

    Example::

        kinds = Kinds()
        lstm = nn.LSTM(3, 4)
        kinds(lstm)[1] is recorded_kind(lstm)
        kinds(lstm) is kinds(lstm)   # the second call is a dict lookup
    """

    def __call__(self, module) -> tuple:
        hit = self.get(id(module))
        if hit is None or hit[0] is not module:
            rkind = recorded_kind(module)
            kind = mixers.kind_of(module) if rkind is None else None
            hit = self[id(module)] = (module, rkind, kind, attn_impl(module) if kind is not None else None)
        return hit


class Frame:
    """One module on the recorder's stack: its mixer ``kind``, the mode pushed or ``suspended`` for it, and
    what was recorded inside (``covered``; counts of ``sdpa``, ``raw`` and ``hand`` records).

    Example: ``f = Frame(nn.LSTM(3, 4)); f.covered == False``
    """

    __slots__ = ("module", "suspended", "saw_mha", "src_shape", "kind", "pushed", "covered", "child_missing",
                 "sdpa", "raw", "hand", "note")

    def __init__(self, module, kind=None):
        self.module, self.suspended, self.saw_mha, self.src_shape = module, False, False, None
        self.kind, self.pushed, self.covered, self.child_missing = kind, False, False, False
        self.sdpa = self.raw = self.hand = 0
        self.note = None
