"""The one table of what can be edited: per trace type, the edit kinds it takes and how (style.md §13).

A :class:`Target` checks edits against the recorded trace (before anything runs again), installs them on the
recorded module for the edited run, and ``finish`` turns the after-run's trace of that module into the trace
of what the edited call really computed. Found along the trace type's MRO, never by a kind's name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from ..attention import AttentionTrace
from ..errors import fail
from ..loops import LoopTrace
from ..recurrent import RecurrentTrace
from ..state import StateTrace
from . import heads, loops, recurrent, states


def _keep(after, installed, edits):
    return after


def _no_op(*_):
    return None


def _install_heads(iv, module, trace, edits, call):
    if isinstance(module, nn.MultiheadAttention):
        forward = heads.MhaForward(module, edits, call)
        iv.override(module, forward)
        # nn.TransformerEncoderLayer runs one fused kernel, never calling self_attn, unless a submodule has a hook
        iv.hook(module.register_forward_pre_hook(_no_op))
        return forward
    mode = heads.SdpaEdit(call, edits)  # an SDPA call made inside `module` (None: outside every module)
    iv.mode_in(module, mode)
    return mode


@dataclass(frozen=True)
class Target:
    """How one trace type is edited: ``kinds`` (of Edit), ``check(edits, trace)``,
    ``install(iv, module, trace, edits, call)`` (``call``: which of the module's recorded calls), and
    ``finish(after_trace, installed, edits)``. What ``install`` returns says ``applied`` once the run made the
    edited call (a run that never reaches it is refused, never shown as "no difference").

    Example: ``target_of(rec["LSTM"]).kinds == ("state", "gate")``
    """

    kinds: tuple
    check: Callable
    install: Callable
    finish: Callable = _keep
    once: bool = True  # the module must be recorded once (its calls are counted from the first)


TARGETS: dict[type, Target] = {
    RecurrentTrace: Target(("state", "gate"), recurrent.check,
                           lambda iv, m, tr, edits, call: recurrent.install(iv, m, tr, edits),
                           lambda after, installed, edits: recurrent.finish(after, installed)),
    LoopTrace: Target(("state", "gate"), loops.check, lambda iv, m, tr, edits, call: loops.install(iv, m, tr, edits)),
    AttentionTrace: Target(("head",), heads.check, _install_heads,
                           heads.finish, once=False),
    StateTrace: Target(("state",), states.check, states.install, once=False),
}

WHAT = {"state": "a state", "gate": "a gate", "head": "an attention head"}


def target_of(trace, edit=None) -> Target:
    """The Target of ``trace``'s type (its MRO), or one TraceInputError saying what can be edited.

    Example: ``(target_of(at).kinds, target_of(loop_tr).kinds) == (("head",), ("state", "gate"))``
    """
    found = next((TARGETS[t] for t in type(trace).__mro__ if t in TARGETS), None)
    kinds = [] if found is None else list(found.kinds)
    if found is None or (edit is not None and edit.kind not in kinds):
        takes = ", ".join(f"{t.__name__}: {'/'.join(v.kinds)}" for t, v in TARGETS.items())
        fail("edits", f"an edit its trace takes ({takes})",
             f"Edit.{edit.kind if edit else '?'} on {trace.name!r}, a {type(trace).__name__}"
             + (f" (it takes {'/'.join(kinds)} edits)" if kinds else " (which cannot be edited yet)"),
             f"edit {WHAT[kinds[0]]} of it instead" if kinds else
             f"edit a name whose trace is one of {[t.__name__ for t in TARGETS]} (a {type(trace).__name__} takes "
             "no edit in this version; compare two runs with tr_widgets.compare(a, b) instead)")
    return found
