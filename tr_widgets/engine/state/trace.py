"""StateTrace: the recurrent state of one state-space / linear-attention mixer call, step by step.

A trace keeps the scan's per-step inputs and the state every ``every`` ≈ √T steps (its checkpoints,
made in the one build pass). ``state(step)`` reruns at most ``every`` steps from the nearest
checkpoint; ``states()`` reruns all segments at once (segments folded into the batch dim, so the
loop is over ``every`` steps, not T). What is derived on request is cached in ``derived``.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import torch

from tr_widgets.engine.errors import check_budget, fail

from ..files.saving import Saveable
from .effective import EffectiveAttention, effective_attention
from .families import StateKind

RECENT_STEPS = 8  # quantities(step) keeps this many steps: a stepper moves back and forth, not over all T


@dataclass(eq=False, frozen=True)
class StateTrace(Saveable):
    """What :func:`trace_mixer_call` and :func:`trace_state` return. A trace is data; widgets only read it.

    ``inputs``: the scan's per-step inputs [B, T, ...]; ``consts``: the module's parameters it reads
    (references, not copies); ``checkpoints``: per state component, [T // every + 1, B, ...], entry s
    holding the state after ``s * every`` steps; ``hidden``/``mask``: the mixer's input (a reference),
    for the conv buffer and token shift; ``initial``: the cache's state before the call, if given.

    Example::

        from tr_widgets.engine.state import trace_state
        t = trace_state("mamba", x=torch.randn(1, 6, 4), delta=torch.rand(1, 6, 4), A=-torch.ones(4, 2),
                        B=torch.randn(1, 6, 2), C=torch.randn(1, 6, 2))     # or trace_mixer_call in a forward hook
        (len(t), t.state(-1).shape) == (6, (1, 4, 2))     # steps; [B, d_inner, d_state] as the cache keeps it
        t.quantities(3)["A_bar"].shape == (1, 4, 2)       # how much of each state entry survives step 3
    """

    spec: StateKind  # the family's spec (what the state is, how to run and present it); .kind is its name
    output: Any
    inputs: dict[str, torch.Tensor]
    consts: dict[str, Any]
    checkpoints: tuple[torch.Tensor, ...]
    every: int
    hidden: torch.Tensor | None = None
    mask: torch.Tensor | None = None
    initial: dict | None = None
    name: str = ""
    derived: dict = field(default_factory=dict, repr=False)  # the only mutable part: results derived on request

    def __len__(self) -> int:
        return next(iter(self.inputs.values())).shape[1]

    def __repr__(self) -> str:
        return (f"StateTrace(kind={self.kind!r}, name={self.name!r}, steps={len(self)}, "
                f"batch={self.batch_size}, every={self.every})")

    @property
    def kind(self) -> str:
        """The family's name, as ``RecurrentTrace.kind`` is the cell's (the spec object is ``spec``).

        Example::

            t.kind, t.spec.title    # 'mamba', 'Mamba selective scan'
        """
        return self.spec.name

    @property
    def batch_size(self) -> int:
        """The batch size B of every tensor in the trace.

        Example::

            t.batch_size    # 2
        """
        return next(iter(self.inputs.values())).shape[0]

    @property
    def names(self) -> tuple[str, ...]:
        """The per-step quantities :meth:`quantities` returns, under the family's own names.

        Example::

            t.names     # Mamba-2: ('x', 'dt', 'dA', 'B', 'Bx', 'C', 'D', 'y')
        """
        return self.spec.names

    @property
    def state_names(self) -> tuple[str, ...]:
        """The components of :meth:`state` (one name: a tensor; several: a tuple in this order).

        Example::

            t.state_names   # RWKV: ('att_shift', 'num', 'den', 'max'); Mamba: ('ssm',)
        """
        return self.spec.state_names if self.hidden is not None else self.spec.state_names[-len(self.checkpoints):]

    def _index(self, step: int, arg: str = "step") -> int:
        T = len(self)
        if isinstance(step, bool) or not isinstance(step, int) or not -T <= step < T:
            fail(arg, f"an int in [-{T}, {T}) (0-based, negative counts from the end)", repr(step),
                 f"pass e.g. {arg}=0 or {arg}=-1")
        return step % T

    def recurrent(self, done: int) -> tuple[torch.Tensor, ...]:
        """The scan's own state after ``done`` steps (0 … T): the nearest checkpoint, then ≤ every steps.

        Example::

            t.recurrent(0)      # the state before the first token (zeros, or the cache's snapshot)
        """
        s = min(done // self.every, len(self.checkpoints[0]) - 1)
        start = tuple(c[s] for c in self.checkpoints)
        if done == s * self.every:
            return start
        segment = {k: v[:, s * self.every: done] for k, v in self.inputs.items()}
        with torch.no_grad():
            return self.spec.run(start, segment, self.consts, keep=False)[0]

    def state(self, step: int):
        """The layer's state right after position ``step``, in the model's cache layout, for the batch.

        Example::

            t.state(0)          # Mamba: [B, d_inner, d_state]; Mamba-2: [B, heads, head_dim, d_state]
            t.state(-1)         # RWKV: (att_shift, num, den, max), as state[1:5][:, :, layer]
        """
        step = self._index(step)
        window = None if self.hidden is None else self.hidden[:, : step + 1]
        return self.spec.present(self.recurrent(step + 1), window)

    def conv_state(self, step: int) -> torch.Tensor:
        """The conv buffer the cache keeps right after ``step``: [B, channels, conv_kernel] (Mamba families).

        Example::

            t.conv_state(-1)    # equals cache.layers[i].conv_states[0] after the same tokens
        """
        step = self._index(step)
        if self.hidden is None or not self.spec.has_conv:
            fail("conv_state", "a trace of a mixer module with a conv buffer (mamba, mamba2, gated_deltanet)",
                 f"a {self.spec.name} trace{' of bare tensors' if self.hidden is None else ''}",
                 "trace the mixer module with trace_mixer_call")
        width = self.consts["conv_width"]
        lo = max(0, step + 1 - width)
        mask = None if self.mask is None else self.mask[:, lo: step + 1]
        with torch.no_grad():
            return self.spec.conv_state(self.hidden[:, lo: step + 1], mask, self.consts, self.initial)

    def quantities(self, step: int) -> dict[str, torch.Tensor]:
        """Every per-step quantity of ``step``, keyed by :attr:`names` (for the whole batch).

        Example::

            q = t.quantities(4)
            q["delta"].shape, q["A_bar"].shape   # Mamba: [B, d_inner], [B, d_inner, d_state]
        """
        step = self._index(step)
        recent = self.derived.setdefault("quantities", OrderedDict())
        if step not in recent:
            inputs_t = {k: v[:, step: step + 1] for k, v in self.inputs.items()}
            with torch.no_grad():
                _, _, parts = self.spec.step(self.recurrent(step), inputs_t, self.consts)
            recent[step] = {n: parts[n] for n in self.names if parts.get(n) is not None}
            while len(recent) > RECENT_STEPS:
                recent.popitem(last=False)
        recent.move_to_end(step)
        return recent[step]

    def _folded(self):
        """Every segment at once, folded into the batch dim: inputs [B·n, K, ...], their starting
        checkpoints [B·n, ...] and the states after each step [B·n, K, ...]. A partial last segment is
        zero-padded at its end: later steps never change earlier states, and :meth:`_unfold` cuts them off."""
        Bt, T = self.batch_size, len(self)
        K = min(self.every, T)
        n = -(-T // K)  # segments, the last one maybe partial
        pad = n * K - T

        def fold(v):  # [B, T, ...] -> [B·n, K, ...]
            if pad:
                v = torch.nn.functional.pad(v, [0, 0] * (v.dim() - 2) + [0, pad])  # [B, n·K, ...]
            return v.reshape(Bt * n, K, *v.shape[2:])

        inputs = {k: fold(v) for k, v in self.inputs.items()}
        start = tuple(c[:n].transpose(0, 1).reshape(Bt * n, *c.shape[2:]) for c in self.checkpoints)  # [B·n, ...]
        with torch.no_grad():
            _, states = self.spec.run(start, inputs, self.consts, keep=True)
        return inputs, start, states

    def _unfold(self, v: torch.Tensor) -> torch.Tensor:
        return v.reshape(self.batch_size, -1, *v.shape[2:])[:, : len(self)]  # [B·n, K, ...] -> [B, T, ...]

    def states(self):
        """Every step's state, [B, T, ...] per component (budget-checked; prefer :meth:`state`).

        Example::

            t.states().shape     # Mamba: [B, T, d_inner, d_state]
        """
        if "states" not in self.derived:
            for c in self.checkpoints:
                check_budget("states()", (self.batch_size, len(self), *c.shape[2:]), c.dtype, "state(step)")
            rec = tuple(self._unfold(s) for s in self._folded()[2])
            self.derived["states"] = self.spec.present_all(rec, self.hidden)
        return self.derived["states"]

    def scan_output(self) -> torch.Tensor:
        """The scan's output for every step, before the module's output projection: [B, T, ...] (budget-checked).

        Example::

            t.scan_output()[:, 3]    # Mamba: (C h_3 + D x_3) ⊙ silu(z_3); RWKV: wkv_3
        """
        if "scan_output" not in self.derived:
            for c in self.checkpoints:  # every state is made on the way (then dropped)
                check_budget("scan_output()", (self.batch_size, len(self), *c.shape[2:]), c.dtype, "quantities(step)")
            inputs, start, states = self._folded()
            with torch.no_grad():
                self.derived["scan_output"] = self._unfold(self.spec.readout(start, states, inputs, self.consts))
        return self.derived["scan_output"]

    def replay(self) -> torch.Tensor:
        """The module's output recomputed from this trace (its checkpoints and inputs): equals :attr:`output`.

        Example::

            torch.testing.assert_close(t.replay(), out)   # out: what the MambaMixer returned
        """
        y = self.scan_output()
        if "out_w" not in self.consts:  # a trace of bare tensors: the scan output is the output
            return y
        with torch.no_grad():
            return self.spec.finish(y, self.inputs, self.consts)

    def attention_row(self, i: int, head: int | None = None, channel: int | None = None) -> torch.Tensor:
        """How much each token j ≤ i of this call contributes to output i, without a T × T matrix.

        Mamba-2: ``head=h`` -> [B, i+1], Σ_j w_j x_j = the SSM part of y_i for that head.
        Mamba and RWKV: per channel, [B, channels, i+1] (or ``channel=c`` -> [B, i+1]).

        Example::

            w = t.attention_row(7, head=2)        # Mamba-2
            y7 = (w[..., None] * t.inputs["x"][:, :8, 2]).sum(1)
        """
        i = self._index(i, "i")
        with torch.no_grad():
            return self.spec.attention_row(self, i, head if head is not None else channel)

    def effective_attention(self) -> EffectiveAttention:
        """This call as attention, row by row (never T × T): an :class:`EffectiveAttention` for ``show``.

        Example::

            ea = t.effective_attention()     # Mamba-2: batch axes (batch, head); Mamba / RWKV: (batch, channel)
            tr_widgets.show(ea)              # an AttentionStepper; ✓ compares each row with the scan's output
        """
        if "effective" not in self.derived:
            self.derived["effective"] = effective_attention(self)
        return self.derived["effective"]

    @property
    def state_bytes(self) -> int:
        """Bytes of the fixed-size state the model's cache keeps for this layer (whole batch, conv buffer included):
        the same after 10 tokens or 10 000, unlike a KV cache.

        Example::

            t.state_bytes     # Mamba, B=1, d_inner=1536, d_state=16, conv 4: 1536·16·4 + 1536·4·4 = 122880
        """
        if "state_bytes" not in self.derived:
            parts = self.state(0)
            parts = list(parts) if isinstance(parts, tuple) else [parts]
            if self.spec.has_conv and self.hidden is not None:
                parts.append(self.conv_state(0))
            self.derived["state_bytes"] = sum(p.numel() * p.element_size() for p in parts)
        return self.derived["state_bytes"]

    @property
    def kept_bytes(self) -> int:
        """Bytes this trace keeps alive of its own: the scan inputs and checkpoints (each storage once).
        Not counted: the mixer's input and output (the model's tensors) and what ``derived`` caches.

        Example::

            t.kept_bytes / 2**20     # MiB
        """
        seen = {}
        for tensor in (*self.inputs.values(), *self.checkpoints):
            storage = tensor.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
        return sum(seen.values())
