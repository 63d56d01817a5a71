"""State edits on a state-space / linear-attention mixer (a StateTrace), through the model's own cache.

A mixer carries its state from one call to the next in the cache the run passes it (a decode: one call per
tick). The state carried out of a call's last step is what the next call reads from the cache, so the edit is
written into the cache, in place, right before the module's next call (a forward pre-hook; the cache is the
run's, not the model's), and the mixer's own forward continues from it. The capture of that next call
snapshots the cache after the edit, so its trace starts from the state it really received.

A step inside a multi-token call has no such seam (the model's multi-token path runs its scan in one go, from
zero): it is refused with a Fix (decode token by token: ``tr_widgets.decode``).
"""
from __future__ import annotations

import torch

from ..errors import TraceInputError, fail  # noqa: F401  (TraceInputError: named by an example)
from .edits import new_state


def _parts(state) -> tuple:
    return state if isinstance(state, tuple) else (state,)


def check(edits, trace) -> None:
    """Every edit is on the last step of the recorded call (the state the cache carries on), value shapes fit.

    Example::

        from tr_widgets.engine.state import trace_state
        t = trace_state("mamba", x=torch.randn(1, 3, 4), delta=torch.rand(1, 3, 4), A=-torch.ones(4, 2),
                        B=torch.randn(1, 3, 2), C=torch.randn(1, 3, 2))
        check([Edit.state("mixer", 2, 0.0)], t) is None  # the call's last step
        try:
            check([Edit.state("mixer", 0, 0.0)], t); said = ""
        except TraceInputError as e:
            said = str(e)
        said.startswith("step: expected the last step of")
    """
    T = len(trace)
    for e in edits:
        s = e.steps[0]
        if not -T <= s < T:
            fail("step", f"a step in [0, {T - 1}] of {trace.name!r}", repr(s), f"pick a recorded step (T = {T})")
        if s % T != T - 1:
            fail("step", f"the last step of {trace.name!r} ({T - 1}: the state its cache carries to the next call)",
                 repr(s), "decode token by token (tr_widgets.decode) to edit the state after any token: each tick "
                 "is one call, and its last step is the token")
        new_state(e.value, _parts(trace.state(s)), "value")


def install(iv, module, trace, edits, call):
    """A pre-hook on ``module`` writing the edited state into the cache before its call number ``call + 1``.

    Example::

        from tr_widgets.engine.state import trace_state
        from tr_widgets.engine.whatif.apply import Interventions
        t = trace_state("mamba", x=torch.randn(1, 1, 4), delta=torch.rand(1, 1, 4), A=-torch.ones(4, 2),
                        B=torch.randn(1, 1, 2), C=torch.randn(1, 1, 2))
        m = nn.Identity()  # a mixer's stand-in: nothing calls it here
        with Interventions(m) as iv:
            hook = install(iv, m, t, [Edit.state("mixer", 0, 0.0)], 0)
        (len(m._forward_pre_hooks), hook.applied) == (0, False)  # removed on leaving; never reached
    """
    hook = _CacheEdit(trace, edits[-1].value, call + 1)
    iv.hook(module.register_forward_pre_hook(hook, with_kwargs=True))
    return hook


class _CacheEdit:
    finishes = False  # the next call's trace starts from the snapshot its capture took: the edited state

    def __init__(self, trace, value, call):
        self.spec, self.value, self.call, self.n, self.applied = trace.spec, value, call, 0, False

    def __call__(self, module, args, kwargs):
        n, self.n = self.n, self.n + 1
        if n != self.call:
            return None
        snap = self.spec.from_cache(module, tuple(args), dict(kwargs))
        if snap is None:
            fail("edits", "a mixer call that reads its state from a cache (a decode's next tick)",
                 "a call without a cache state", "edit a decode: tr_widgets.decode(model, prompt, n)")
        old = _parts(snap["state"])
        with torch.no_grad():
            for part, new in zip(old, new_state(self.value, tuple(p.clone() for p in old), "value")):
                part.copy_(new)  # the cache's own tensor: the run's, not the model's
        self.applied = True
        return None
