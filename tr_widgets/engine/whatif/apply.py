"""Applying edits while the model runs, and leaving the model exactly as it was found.

An edit acts on one call of one module, through the model's own forward:

* ``Interventions.override(module, forward)`` puts a ``forward`` on the module instance for the run (what
  ``nn.Module.__call__`` calls; every hook, the capture's included, still sees the call's own arguments and
  the edited output), and takes it off afterwards;
* ``Interventions.hook(handle)`` keeps a per-module hook handle to remove;
* ``Interventions.mode_in(module, mode)`` puts a ``TorchFunctionMode`` on torch's stack while ``module``
  runs (an SDPA call made inside it is then computed with the edit).

Leaving: everything installed is undone in reverse order whatever happened (errors included), then the
model's *footprint* (every module's hook tables and instance attributes ``forward``, every parameter's and
buffer's identity, storage and version counter, torch's global hook tables) is compared with the one taken
before: a difference is a bug of ours, reported as such, never left silently.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.modules import module as nn_module

from ..capture.torchstate import GLOBAL_TABLES, remove_mode

_HOOK_TABLES = ("_forward_hooks", "_forward_pre_hooks", "_forward_hooks_with_kwargs",
                "_forward_hooks_always_called", "_forward_pre_hooks_with_kwargs", "_backward_hooks",
                "_backward_pre_hooks", "_state_dict_hooks", "_load_state_dict_pre_hooks")
_MISSING = object()


def footprint(model: nn.Module | None) -> tuple:
    """What ``what_if`` promises to leave unchanged: hook tables, instance ``forward``, parameters and
    buffers (identity, storage, version counter), torch's global hook tables.

    Example::

        lstm = nn.LSTM(2, 3); before = footprint(lstm)
        h = lstm.register_forward_hook(lambda *a: None); changed = footprint(lstm) != before
        h.remove(); (changed, footprint(lstm) == before) == (True, True)
    """
    glob = tuple(tuple(getattr(nn_module, t).keys()) for t in GLOBAL_TABLES)
    if model is None:
        return (glob,)
    mods, tensors = [], []
    for m in model.modules():  # one walk; a module's own dicts read directly (this runs twice per what-if)
        d = m.__dict__
        mods.append((id(m), id(d.get("forward")), *(tuple(d[t]) for t in _HOOK_TABLES if d.get(t))))
        tensors += [(id(p), p.data_ptr(), p._version) for p in (*d["_parameters"].values(), *d["_buffers"].values())
                    if p is not None]
    return glob, tuple(mods), tuple(tensors)


class Interventions:
    """The edits installed for one run: a context manager that undoes them all on leaving.

    Example::

        lstm = nn.LSTM(2, 3)
        with Interventions(lstm) as iv:
            iv.override(lstm, lambda x, hx=None: (x[..., :3] * 0, None))  # the run sees the override
            out, _ = lstm(torch.ones(4, 1, 2))
        (float(out.abs().sum()), "forward" in lstm.__dict__) == (0.0, False)
    """

    def __init__(self, model: nn.Module | None):
        self.model, self.undo, self.found = model, [], None

    def __enter__(self) -> "Interventions":
        self.found = footprint(self.model)
        return self

    def __exit__(self, *exc) -> bool:
        try:
            while self.undo:
                self.undo.pop()()
        finally:
            if exc[0] is None and footprint(self.model) != self.found:  # never silent (an error in flight wins)
                raise RuntimeError("what_if: the model is not as it was before the edited run (a hook, an instance "
                                   "forward or a weight differs) although everything what_if installed was removed: "
                                   "run() itself changed it (training, registering a hook), or this is a bug of "
                                   "tr_widgets. Fix: make run() only call the model")
        return False

    def override(self, module: nn.Module, forward) -> None:
        old = module.__dict__.get("forward", _MISSING)
        module.forward = forward

        def restore():
            if old is _MISSING:
                module.__dict__.pop("forward", None)
            else:
                module.__dict__["forward"] = old
        self.undo.append(restore)

    def hook(self, handle) -> None:
        self.undo.append(handle.remove)

    def mode_in(self, module: nn.Module | None, mode) -> None:
        """``mode`` on torch's function-mode stack while ``module`` runs (None: for the whole run)."""
        if module is None:
            torch._C._push_on_torch_function_stack(mode)
            self.undo.append(lambda: remove_mode(mode))
            return

        def push(*_):
            torch._C._push_on_torch_function_stack(mode)

        def pop(*_):
            remove_mode(mode)
        self.hook(module.register_forward_pre_hook(push))
        self.hook(module.register_forward_hook(pop, always_call=True))
        self.undo.insert(0, lambda: remove_mode(mode))  # a forward that raised past pop: off the stack last
