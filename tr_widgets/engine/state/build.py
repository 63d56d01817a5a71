"""Builders of :class:`StateTrace`: from a hooked mixer call (what the capture calls) or from bare tensors.

One build pass reads the mixer's input, recomputes the scan's inputs from the module's own weights
(the module's torch path up to its scan), and runs the scan once to keep the state every ≈ √T steps.
When the call had a cache, the trace's final state is checked against the cache's, so a call that
continued from a state nobody snapshotted fails loudly instead of tracing the wrong recurrence.
"""
from __future__ import annotations

import math

import torch

from tr_widgets.engine.errors import check_tensor, describe, fail

from .families import StateKind, kind_of
from .trace import StateTrace


def default_every(T: int) -> int:
    """The checkpoint spacing: ⌈√T⌉ steps, so kept states and per-query recomputation are both O(√T).

    Example::

        default_every(1024)    # 32
    """
    return math.isqrt(T - 1) + 1 if T > 1 else 1


def make_checkpoints(kind: StateKind, inputs: dict, consts: dict, every: int, start: tuple) -> tuple:
    """The state after 0, every, 2·every, … steps: per component, [T // every + 1, B, ...].

    Example::

        kind = kind_of("mamba")
        inputs, consts = kind.standalone(dict(x=torch.randn(1, 6, 4), delta=torch.rand(1, 6, 4), A=-torch.ones(4, 2),
                                              B=torch.randn(1, 6, 2), C=torch.randn(1, 6, 2)))
        (h,) = make_checkpoints(kind, inputs, consts, 2, kind.zero(inputs, consts))
        h.shape == (4, 1, 4, 2)      # the state after 0, 2, 4 and 6 steps: [T // every + 1, B, D, N]
        h[0].abs().sum().item() == 0     # before any token
    """
    if kind.checkpoints is not None:
        return tuple(kind.checkpoints(inputs, consts, every, start))
    T = next(iter(inputs.values())).shape[1]
    states, h = [start], start
    for s in range(T // every):
        segment = {k: v[:, s * every: (s + 1) * every] for k, v in inputs.items()}
        h, _ = kind.run(h, segment, consts, keep=False)
        states.append(h)
    # the start may be float32 zeros where the scan runs wider (float64 inputs): keep one dtype per component
    return tuple(torch.stack([p.to(parts[-1].dtype) for p in parts]) for parts in zip(*states))  # [S+1, B, ...]


def _check_every(every, T):
    if every is None:
        return default_every(T)
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        fail("every", "a positive int (steps between kept states)", repr(every), "leave it out for ⌈√T⌉")
    return every


def trace_mixer_call(module, args, kwargs, output, name: str = "", initial: dict | None = None,
                     every: int | None = None) -> StateTrace:
    """Trace one call of a mixer module from a forward hook (``register_forward_hook(..., with_kwargs=True)``).

    Accepts every mixer a spec finds by structure (``kind_of``; ``supported()`` lists them: Mamba and its
    variants, Mamba-2/SSD, RWKV-4, Gated DeltaNet...); anything else raises TraceInputError naming them.
    ``trace.output`` is the mixer's output tensor (RWKV's ``(output, state)`` gives its first element). The trace
    is checked against that output on its first ⌈√T⌉ steps: a module that computes something else than its
    spec (a look-alike found by structure) raises TraceInputError naming it. ``initial``: the layer's cache state before the call,
    from :func:`state_before` in a forward pre-hook; needed only when the call continues a cache that
    already holds a state (a decode step or chunked prefill); without it such a call fails loudly.

    Example::

        from transformers import MambaConfig
        from transformers.models.mamba.modeling_mamba import MambaMixer
        mixer, traces = MambaMixer(MambaConfig(hidden_size=8, state_size=4, expand=2), layer_idx=0), []
        hook = lambda m, a, k, out: traces.append(trace_mixer_call(m, a, k, out))
        mixer.register_forward_hook(hook, with_kwargs=True)
        y = mixer(torch.randn(1, 5, 8))
        (len(traces[0]), traces[0].state(-1).shape) == (5, (1, 16, 4))    # [B, d_inner = 2·8, d_state] after token 4
    """
    kind = kind_of(module)
    args, kwargs = tuple(args), dict(kwargs or {})
    with torch.no_grad():
        hidden, mask, consts = kind.read(module, args, kwargs)
        Bt, T = hidden.shape[:2]
        if mask is not None and tuple(mask.shape) != (Bt, T):
            fail("attention_mask", f"a [batch, seq] mask of shape {(Bt, T)} (the call's own positions)",
                 describe(mask), "pass attention_mask[:, -seq_len:] for a call that continues a cache")
        inputs = {k: v.contiguous() for k, v in kind.prepare(hidden, mask, consts, initial).items()}
        every = _check_every(every, T)
        start = kind.recurrent_initial(initial, T) or kind.zero(inputs, consts)
        output = output[0] if isinstance(output, (tuple, list)) else output  # RWKV returns (output, state)
        trace = StateTrace(kind, output, inputs, consts, make_checkpoints(kind, inputs, consts, every, start),
                           every, hidden, mask, initial, name)
        if not _agrees(trace):
            _refuse(trace, module, initial is None and kind.from_cache(module, args, kwargs) is not None)
    return trace


def _agrees(trace: StateTrace) -> bool:
    """Whether the first segment's outputs, replayed from the trace's start, are the module's. A state or conv
    buffer the call continued from without a snapshot changes them at once (its effect on the last state may
    have decayed away, so the first steps are the place to look); so does a module that is not its spec."""
    n = min(trace.every, len(trace))
    inputs = {k: v[:, :n] for k, v in trace.inputs.items()}
    start = tuple(c[0] for c in trace.checkpoints)
    _, states = trace.spec.run(start, inputs, trace.consts, keep=True)
    ours = trace.spec.finish(trace.spec.readout(start, states, inputs, trace.consts), inputs, trace.consts)
    theirs = trace.output[:, :n].to(ours.dtype) if isinstance(trace.output, torch.Tensor) else None
    if theirs is None or theirs.shape != ours.shape:
        return False
    tol = 1e-4 if trace.output.dtype in (torch.float32, torch.float64) else 3e-2  # half precision: rounding
    return float((ours - theirs).abs().max()) <= tol * (1e-6 + float(theirs.abs().max()))


def _refuse(trace: StateTrace, module, cached: bool) -> None:
    """The output check failed: a call with a cache and no snapshot may have continued a cached state (the
    usual cause); otherwise the module is a look-alike of its spec."""
    if cached:
        fail("initial", "the layer's cache state from before this call (the call continued a cached state), or a "
             f"mixer that computes the {trace.spec.title} its structure suggests",
             f"no snapshot, and {type(module).__name__}'s output differs from the {trace.kind} spec's",
             "register a forward pre-hook that keeps state_before(module, args, kwargs) and pass it as "
             "trace_mixer_call(..., initial=snapshot); if you did, this module is not traced: trace its recurrence "
             "with trace_state or add a spec for it")
    fail("module", f"a mixer that computes the {trace.spec.title} its structure suggests (the trace must equal "
         "its output)", f"{type(module).__name__}, whose output differs from the {trace.kind} spec's",
         "its layer is not traced; trace its recurrence on its own tensors with trace_state, or add a spec "
         "for it (a StateKind subclass in engine/state, one line in families.SPEC_MODULES)")


def state_before(module, args, kwargs) -> dict | None:
    """A copy of the layer's cache state before a call (None if the cache holds none): call it from a
    forward pre-hook (``with_kwargs=True``) and pass the result to :func:`trace_mixer_call` as ``initial``.

    Example::

        from transformers import MambaConfig
        from transformers.models.mamba.modeling_mamba import MambaMixer
        mixer, snaps = MambaMixer(MambaConfig(hidden_size=8, state_size=4), layer_idx=0), {}
        mixer.register_forward_pre_hook(lambda m, a, k: snaps.update(s=state_before(m, a, k)), with_kwargs=True)
        y = mixer(torch.randn(1, 5, 8))
        assert snaps["s"] is None      # no cache passed: the call starts from zeros, nothing to snapshot
    """
    snap = kind_of(module).from_cache(module, tuple(args), dict(kwargs or {}))
    if snap is None:
        return None
    return {k: tuple(t.clone() for t in v) if isinstance(v, tuple) else v.clone() for k, v in snap.items()}


def _check_shapes(kind: StateKind, tensors: dict) -> None:
    sizes: dict[str, tuple[int, str]] = {}
    for arg, dims in kind.shapes.items():
        t = tensors.get(arg)
        if t is None:
            if arg in kind.optional:
                continue
            fail(arg, f"a tensor of dims [{', '.join(dims)}] for a {kind.name} scan", "nothing",
                 f"pass {arg}=... (required: {', '.join(a for a in kind.shapes if a not in kind.optional)})")
        check_tensor(arg, t, ranks=(len(dims),))
        for letter, n in zip(dims, t.shape):
            seen = sizes.setdefault(letter, (n, arg))
            if seen[0] != n:
                fail(arg, f"size {seen[0]} for dim {letter} (as in {seen[1]})", f"shape {tuple(t.shape)}",
                     f"make {arg}'s dims [{', '.join(dims)}] agree with {seen[1]}")
    unknown = set(tensors) - set(kind.shapes)
    if unknown:
        fail(sorted(unknown)[0], f"one of {sorted(kind.shapes)} for a {kind.name} scan", "an unknown name",
             "drop it or check the spelling")


def trace_state(kind_or_module, *args, every: int | None = None, initial: dict | None = None, **tensors) -> StateTrace:
    """Trace a reference recurrence on bare tensors, or run a mixer module on its input and trace it.

    Bare tensors, by kind (time on dim 1, ``delta``/``dt`` after softplus):
    ``"mamba"``: x, delta [B, T, D], A [D, N], B, C [B, T, N], optional D [D], gate [B, T, D];
    ``"mamba2"``: x [B, T, H, P], dt [B, T, H], A [H], B, C [B, T, G, N], optional D [H];
    ``"rwkv"``: k, v [B, T, A], time_decay, time_first [A], optional r [B, T, A] (after sigmoid);
    ``"gated_deltanet"``: q, k [B, T, Hk, dk] (L2-normalised; q also / √dk), v [B, T, Hv, dv], g, beta [B, T, Hv].
    ``initial`` (bare tensors): ``{"state": h0}`` (RWKV: ``(shift, num, den, max)``).
    A module: ``trace_state(mixer, hidden_states, attention_mask=None)``.

    Example::

        x, delta = torch.randn(1, 6, 4), F.softplus(torch.randn(1, 6, 4))
        t = trace_state("mamba", x=x, delta=delta, A=-torch.ones(4, 2), B=torch.randn(1, 6, 2), C=torch.randn(1, 6, 2))
        t.output.shape == x.shape                   # y [B, T, D], the scan's output
        t.quantities(0)["A_bar"][0, :, 0].tolist() == torch.exp(-delta[0, 0]).tolist()    # exp(Δ_0 A) with A = -1
    """
    if isinstance(kind_or_module, torch.nn.Module):
        if not args:
            fail("hidden_states", "the mixer's input [B, T, hidden] as the second argument", "nothing",
                 "call trace_state(mixer, hidden_states)")
        mask = tensors.pop("attention_mask", None)
        kw = {} if mask is None else {"attention_mask": mask}
        with torch.no_grad():
            out = kind_or_module(*args, **kw)
        return trace_mixer_call(kind_or_module, args, kw, out, initial=initial, every=every)
    kind = kind_of(kind_or_module)
    _check_shapes(kind, tensors)
    with torch.no_grad():
        inputs, consts = kind.standalone(tensors)
        T = next(iter(inputs.values())).shape[1]
        every = _check_every(every, T)
        start = kind.recurrent_of(initial) if initial is not None else kind.zero(inputs, consts)
        bare = StateTrace(kind, None, inputs, consts, make_checkpoints(kind, inputs, consts, every, start), every)
        return StateTrace(kind, bare.scan_output(), inputs, consts, bare.checkpoints, every, name=kind.name)


def state_bytes(trace: StateTrace) -> int:
    """Bytes of the fixed state one layer keeps in the model's cache (whole batch; conv buffer included),
    to set beside a KV cache that grows with every token.

    Example::

        t = trace_state("mamba", x=torch.randn(2, 6, 4), delta=torch.rand(2, 6, 4), A=-torch.ones(4, 3),
                        B=torch.randn(2, 6, 3), C=torch.randn(2, 6, 3))
        state_bytes(t) == 2 * 4 * 3 * 4    # B · d_inner · d_state float32 values (no conv buffer on bare tensors)
    """
    return trace.state_bytes
