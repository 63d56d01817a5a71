"""One spec per mixer family, and the table that finds a module's spec by its type's MRO.

A spec (a :class:`StateKind`) owns every fact about its family: the names of its per-step quantities,
the components of its state as the model's cache keeps them, how to read the module's parameters, and
the family's math (delegated to the pure functions of ``scan.py`` and ``scan_delta.py``). The trace and its builder are
generic: a new family is a new spec registered here, not a new branch elsewhere.

Modules are found by what they compute, never by exact class: a spec names a class-name family
(``pattern``, searched in the names along the module's MRO, e.g. ``MambaMixer$`` finds FalconMambaMixer and
JambaMambaMixer) and the parts it reads (``needs``: the projections and parameters its math uses). The engine
never imports transformers. Each trace is then checked against the module's own output when it is built
(``build.py``); a look-alike that computes something else fails that check and is named in capture's warning.

The table is :data:`SPEC_MODULES`: one line per spec module (each registers its specs when imported), tried
in that order; within a module, specs registered first are tried first. A new family: one spec module
``families_<name>.py`` plus one line there.
"""
from __future__ import annotations

import importlib
import re

import torch

from tr_widgets.engine.errors import describe, fail

from .mixer_ops import cache_layer, call_cache, conv_buffer, mask_tokens


class StateKind:
    """The spec of one mixer family. Subclasses fill in the class attributes and the methods.

    ``inputs``: the per-step tensors the scan reads (time on dim 1), kept by the trace (``optional``: may
    be absent on bare tensors). ``state_names``: the components of ``trace.state(step)``, in the model's
    cache layout; the scan carries the last ones, ``present`` adds the rest (RWKV's token shift is the
    mixer's input). ``names``: what ``trace.quantities(step)`` returns. ``shapes``: the bare-tensor entry.

    Example::

        kind = kind_of("mamba")
        kind.names          # ('x', 'delta', 'A_bar', 'B', 'Bx', 'C', 'D', 'gate', 'y')
        kind.state_names    # ('ssm',)
    """

    name = ""
    title = ""
    classes: tuple[str, ...] = ()  # full names of classes known to be this family (docs; also matched)
    pattern = ""  # regular expression searched in the class names along the module's MRO
    needs: tuple[str, ...] = ()  # attributes (projections, parameters) the module must hold
    inputs: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    state_names: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    has_conv = False
    shapes: dict[str, str] = {}  # bare-tensor entry (trace_state): name -> dims, one letter per size

    def standalone(self, tensors: dict) -> tuple[dict, dict]:
        """``(inputs, consts)`` from the bare tensors of ``trace_state(kind, **tensors)`` (already checked)."""
        inputs = {n: tensors[n] for n in self.inputs if tensors.get(n) is not None}
        return inputs, {n: t for n, t in tensors.items() if n not in self.inputs and t is not None}

    def __repr__(self) -> str:
        return f"<StateKind {self.name}: {self.title}>"

    def matches(self, module) -> bool:
        """Whether the module looks like this family: a class name along its MRO fits ``pattern`` (or is one
        of ``classes``) and it holds every attribute in ``needs``."""
        names = [c.__name__ for c in type(module).__mro__]
        full = {f"{c.__module__}.{c.__qualname__}" for c in type(module).__mro__}
        named = bool(full & set(self.classes)) or bool(self.pattern and any(re.search(self.pattern, n) for n in names))
        return named and all(hasattr(module, a) for a in self.needs)

    # ---- reading a hooked call; each family overrides these
    def read(self, module, args: tuple, kwargs: dict):
        """``(hidden [B, T, C], mask [B, T] or None, consts)``: the call's input (checked) and the module's
        parameters the math reads (references, not copies)."""
        raise NotImplementedError

    def prepare(self, hidden, mask, consts: dict, initial: dict | None) -> dict:
        """What the module computes before its scan: the per-step inputs (time on dim 1)."""
        raise NotImplementedError

    def finish(self, y: torch.Tensor, inputs: dict, consts: dict):
        """The module's output from the scan output y (out projection, gating norm...)."""
        raise NotImplementedError

    def from_cache(self, module, args: tuple, kwargs: dict):
        """The layer's state that the call's cache holds (after the call), or None without a cache."""
        return None

    # ---- the math
    def zero(self, inputs: dict, consts: dict) -> tuple:
        """The recurrent state before any token, as the model starts it."""
        raise NotImplementedError

    def run(self, state: tuple | None, inputs: dict, consts: dict, keep: bool):
        """Scan over dim 1 of ``inputs``: ``(last state, states after every step or None)``."""
        raise NotImplementedError

    def readout(self, start: tuple, states: tuple, inputs: dict, consts: dict) -> torch.Tensor:
        """Per-step scan output from the state before the first step (start) and the states after each step."""
        raise NotImplementedError

    def step(self, state: tuple, inputs_t: dict, consts: dict):
        """One step on [B, ...] slices: ``(state, y, parts)`` with ``parts`` keyed by ``names``."""
        raise NotImplementedError

    def recurrent_of(self, snapshot: dict) -> tuple:
        """The scan's own components of a cache snapshot (``from_cache`` / ``state_before``)."""
        state = snapshot["state"]
        return tuple(s.float() for s in state) if isinstance(state, tuple) else (state.float(),)

    def recurrent_initial(self, initial: dict | None, T: int) -> tuple | None:
        """Where the module's scan starts for a call of T tokens, given the cache's state before it."""
        return None if initial is None else self.recurrent_of(initial)

    def present(self, rec: tuple, window) -> torch.Tensor | tuple:
        """``trace.state(step)`` from the recurrent state; ``window`` is the mixer input up to the step."""
        return rec[0] if len(rec) == 1 else tuple(rec)

    def present_all(self, rec: tuple, hidden) -> torch.Tensor | tuple:
        """``trace.states()`` from the recurrent states of every step ([B, T, ...] each)."""
        return rec[0] if len(rec) == 1 else tuple(rec)

    def conv_state(self, window, mask, consts: dict, initial: dict | None) -> torch.Tensor:
        fail("conv_state", f"a family with a convolution buffer (mamba, mamba2, gated_deltanet), not {self.name}",
             self.name,
             "read state(step) instead")

    def attention_row(self, trace, i: int, index):
        fail("attention_row", f"a family with an effective attention form, not {self.name}", self.name,
             "read quantities(step) instead")

    checkpoints = None  # optional fast path: callable(inputs, consts, every, initial) -> list of per-component stacks


class ConvKind(StateKind):
    """A family whose cache also keeps a depthwise conv buffer (Mamba, Mamba-2, Gated DeltaNet). Its mixer is
    called as ``mixer(hidden_states, cache_params=None, attention_mask=None)``; a subclass gives ``conv_input``.

    Example::

        class MyConvMixerKind(ConvKind): ...     # then register(MyConvMixerKind())
    """

    has_conv = True

    def conv_input(self, hidden, consts):
        """The conv's input [B, C, T] from the mixer input [B, T, hidden] (the cache buffers it)."""
        raise NotImplementedError

    def from_cache(self, module, args, kwargs):
        cache = call_cache(args, kwargs)
        layer = cache_layer(cache, module.layer_idx)
        if layer is None or not layer.has_previous_state[0] or layer.recurrent_states[0] is None:
            return None
        return {"state": layer.recurrent_states[0], "conv": layer.conv_states[0]}

    def conv_state(self, window, mask, consts, initial):
        xp = self.conv_input(mask_tokens(window, mask), consts)  # [B, C, t]
        return conv_buffer(xp, consts["conv_width"], None if initial is None else initial.get("conv"))


# The table of spec modules, one line each, tried in this order (a more specific family before a general one).
SPEC_MODULES = (
    "families_mamba",
    "families_zamba",  # Zamba's multi-head Mamba (per-head x_proj / dt_proj weights)
    "families_gdn",
    "families_rwkv",
    "families_shortconv",  # LFM2 / LFM2-MoE / LFM3 gated short convolution
    "families_rglru",  # RecurrentGemma's RG-LRU
    "families_kda",  # Kimi Delta Attention (KimiLinear, BailingHybrid)
    "families_lightning",  # MiniMax lightning attention
    "families_mlstm",  # xLSTM mLSTM
)

_BY_NAME: dict[str, StateKind] = {}
_BY_TYPE: dict[type, StateKind | None] = {}
_LOADED: list[str] = []


def _load() -> None:
    """Import the spec modules of the table (once): importing one registers its specs."""
    for mod in SPEC_MODULES:
        if mod not in _LOADED:
            _LOADED.append(mod)
            importlib.import_module(f"{__package__}.{mod}")


def register(kind: StateKind) -> StateKind:
    """Add a spec to the table (by its name; found for a module by ``kind.matches``); returns it.

    Example::

        kind = kind_of("mamba")
        assert register(kind) is kind     # registering again is harmless; a new family: register(MyMixerKind())
    """
    _BY_NAME[kind.name] = kind
    _BY_TYPE.clear()
    return kind


def specs() -> tuple[StateKind, ...]:
    """Every registered spec, in the order they are tried.

    Example::

        [k.name for k in specs()][:2]    # ['mamba', 'mamba2']
    """
    _load()
    return tuple(_BY_NAME.values())


def supported() -> str:
    """The traced kinds and the class-name families they match, for error messages and docs.

    Example::

        supported()   # 'mamba (MambaMixer$), mamba2 (Mamba2Mixer$|...), ...'
    """
    return ", ".join(f"{k.name} ({k.pattern})" for k in specs())


def mixer_kind(module) -> StateKind | None:
    """The spec whose structure the module has (the first that ``matches`` it), or None: what a capture asks
    of every module to decide whether to hook it. Cached per type.

    Example::

        [name for name, m in model.named_modules() if mixer_kind(m)]    # ['backbone.layers.0.mixer', ...]
    """
    cls = type(module)
    if cls not in _BY_TYPE:
        _BY_TYPE[cls] = next((k for k in specs() if k.matches(module)), None)
    return _BY_TYPE[cls]


def kind_of(obj) -> StateKind:
    """The spec for a kind name, a spec, or a module (looked up along its type's MRO).

    Example::

        from transformers import MambaConfig
        from transformers.models.mamba.modeling_mamba import MambaMixer
        kind_of(MambaMixer(MambaConfig(hidden_size=8, state_size=4), layer_idx=0)) is kind_of("mamba")  # by type
        kind_of("mamba2").state_names == ("ssm",)
    """
    if isinstance(obj, StateKind):
        return obj
    if isinstance(obj, str):
        _load()
        if obj not in _BY_NAME:
            fail("kind", f"one of {sorted(_BY_NAME)}", repr(obj), "pass a supported kind name or a mixer module")
        return _BY_NAME[obj]
    kind = mixer_kind(obj)
    if kind is not None:
        return kind
    fail("module", f"a state-space or linear-attention mixer: {supported()}", describe(obj),
         "hook the mixer module itself (e.g. model.backbone.layers[i].mixer), or trace its math with trace_state")
