"""The LoopTrace of a module called once per step (``module_loops`` found the calls): every step re-derived.

Capture keeps each call's arguments and output, by reference, and nothing of what ran inside (the forward
runs at full speed). When the trace is first built, the module's forward runs again once per step on that
step's own arguments, under ``torch.no_grad()``, with the random number generators saved and restored and
``engine.loops.OpRecorder`` watching the forward's code, so every intermediate gets the name the code gave
it (``xh``, ``r``, ``hbar``, ``z``, ``ht``; otherwise the op's name). What the run returns is compared with
what the call returned, bitwise: equal, the intermediates are the ones the call computed; different (a
random op, dropout in training mode, a forward that reads something besides its arguments), the trace is
refused with a Fix rather than shown with values the call never had. The state and inputs kept are the
call's own tensors.
"""
from __future__ import annotations

import torch

from ..errors import MemoryBudgetError, fail, get_memory_budget
from ..loops import LoopTraceBuilder, OpRecorder, Source, code_info, quantity_names


def flat_in(args, kwargs) -> list:
    """``[(key, tensor), ...]`` of a call's tensor arguments, through one level of tuples and lists.

    Example::

        h, c = torch.zeros(1, 4), torch.zeros(1, 4)
        [key for key, _ in flat_in((x, (h, c)), {"mask": None})] == [(0,), (1, 0), (1, 1)]
    """
    out = []
    for key, a in [((i,), a) for i, a in enumerate(args)] + [((k,), v) for k, v in kwargs.items()]:
        if isinstance(a, torch.Tensor):
            out.append((key, a))
        elif type(a) in (tuple, list):
            out += [(key + (j,), t) for j, t in enumerate(a) if isinstance(t, torch.Tensor)]
    return out


def flat_out(output) -> list:
    """``[(key, tensor), ...]`` of what a call returned: a tensor, or a tuple (of tuples) of tensors.

    Example::

        [key for key, _ in flat_out(lstm(x))] == [(0,), (1, 0), (1, 1)]  # (output, (h, c))
        flat_out([1.0]) == []
    """
    if isinstance(output, torch.Tensor):
        return [((), output)]
    out = []
    if type(output) in (tuple, list):
        for j, o in enumerate(output):
            if isinstance(o, torch.Tensor):
                out.append(((j,), o))
            elif type(o) in (tuple, list):
                out += [((j, k), t) for k, t in enumerate(o) if isinstance(t, torch.Tensor)]
    return out


def forward_code(module):
    """The code object of ``type(module).forward`` (None if it has none).

    Example: ``forward_code(nn.RNNCell(3, 4)) is nn.RNNCell.forward.__code__; forward_code(object()) == None``
    """
    return getattr(getattr(type(module), "forward", None), "__code__", None)


def arg_name(code, key) -> str:
    """The forward's own name for an argument key ``(i,)``, ``(i, j)`` or ``(kwarg,)``.

    Example::

        code = nn.LSTMCell.forward.__code__  # forward(self, input, hx=None)
        (arg_name(code, (1,)), arg_name(code, (1, 0)), arg_name(code, ("mask",))) == ("hx", "hx[0]", "mask")
    """
    head = key[0]
    if isinstance(head, int):
        params = code.co_varnames[1:code.co_argcount] if code is not None else ()
        head = params[head] if head < len(params) else f"arg{head}"
    return head + "".join(f"[{j}]" for j in key[1:])


def _quantities(ops) -> list:
    """``[(name, line, tensor, assigned), ...]`` in the order the step computed them; a tuple result is split."""
    out = []
    for op, (name, assigned) in zip(ops, quantity_names(ops)):
        if isinstance(op.out, torch.Tensor):
            out.append((name, op.line, op.out, assigned))
            continue
        parts = op.name if isinstance(op.name, tuple) and len(op.name) == len(op.out) else None
        out += [(parts[j] if parts else f"{name}[{j}]", op.line, t, bool(parts))
                for j, t in enumerate(op.out) if isinstance(t, torch.Tensor)]
    seen = {}  # a tuple's parts may repeat a name given elsewhere (`I, F = x.chunk(2)`, then `I = sigmoid(I)`)
    for i, (n, line, t, assigned) in enumerate(out):
        seen[n] = seen.get(n, 0) + 1
        if seen[n] > 1:
            out[i] = (f"{n}_{seen[n]}", line, t, assigned)
    return out


def _replay(module, code, call, label: str):
    """Run the forward again on the call's arguments, recording its ops; returns (recording, output)."""
    devices = sorted({t.device.index or 0 for t in call.ins.values() if t.device.type == "cuda"})
    ops = OpRecorder()
    with torch.no_grad(), torch.random.fork_rng(devices=devices):  # the user's random streams stay untouched
        recording = ops.start(code)
        try:
            out = module(*call.args, **call.kwargs)
        finally:
            ops.stop(recording)
    if getattr(recording, "over", False):  # the op recorder dropped what it kept: over the memory budget
        raise MemoryBudgetError(f"{label}: expected the intermediates of one step within the memory budget of "
                                f"{get_memory_budget() / 2**20:.1f} MiB, got more. Fix: capture a smaller batch, or "
                                "raise the budget with tr_widgets.set_memory_budget(nbytes).")
    got, want = flat_out(out), call.outs
    if [k for k, _ in got] != [k for k, _ in want] or not all(
            a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b) for (_, a), (_, b) in zip(got, want)):
        fail(label, "the values the call returned when its forward runs again on the same arguments (the trace "
             "re-derives each step's intermediates)", "other values (a random op such as dropout in training mode, "
             "or a forward that reads something besides its arguments)",
             "call model.eval() before the capture, or make the step depend on its arguments only")
    return recording, out


def _state_names(code, recording, out, loop) -> tuple:
    """What the code calls each carried tensor: the variable it returned, else the argument it comes back as."""
    parts = dict(flat_out(out))
    names = []
    for ok, ik in loop.links:
        op = next((o for o in reversed(recording.ops) if o.out is parts[ok] and isinstance(o.name, str)), None)
        names.append(op.name if op is not None else arg_name(code, ik))
    return tuple(names)


def module_loop_trace(module, loop, *, name: str = ""):
    """The LoopTrace (``form="module"``) of a ``module_loops.Loop``: one step per call, re-derived and checked.

    Example::

        from tr_widgets.engine.capture.module_calls import Call, Loop
        cell, h, calls = nn.RNNCell(3, 4), torch.zeros(1, 4), []
        for x_t in x:  # six calls, each taking back the h the last one returned
            out = cell(x_t, h); calls.append(Call((x_t, h), {}, out, flat_out(out)).settle()); h = out
        loop = Loop(calls[0]); loop.calls, loop.links, loop.fresh = calls, [((), (1,))], [(0,)]  # out -> hx
        one = module_loop_trace(cell, loop, name="cell")  # each step re-derived, checked bitwise
        (len(one), torch.equal(one.state(5), h)) == (6, True)
    """
    code = forward_code(module)
    label = f"{name or type(module).__name__} (a module called once per step)"
    if code is None:
        fail(label, "a module whose forward is Python code", f"{type(module).__name__}.forward without source",
             "define forward in Python")
    info = code_info(code)
    source = Source(info.file, info.first_line, info.lines) if info is not None else \
        Source(code.co_filename, code.co_firstlineno, ())
    one = len(loop.links) == 1
    builder = None
    for t, call in enumerate(loop.calls):
        recording, out = _replay(module, code, call, f"{label}, step {t}")
        if builder is None:
            builder = LoopTraceBuilder(name, "module", source, state_names=_state_names(code, recording, out, loop),
                                       input_names=tuple(arg_name(code, ik) for ik in loop.fresh))
        outs = dict(call.outs)
        s_in = tuple(call.ins[ik] for _, ik in loop.links)
        s_out = tuple(outs[ok] for ok, _ in loop.links)
        builder.add_step(tuple(call.ins[ik] for ik in loop.fresh), s_in[0] if one else s_in,
                         s_out[0] if one else s_out, _quantities(recording.ops))
    return builder.build(output=loop.calls[-1].output)
