"""trace_recurrent: check the input once, run the module once (fused), keep what replay needs."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from ..errors import check_name, check_same_device, check_tensor, describe, fail, warn_nonfinite
from .cells import CELLS, FULL, SUPPORTED, CellParams, kind_of
from .trace import RecurrentTrace


def module_params(module, layer: int, direction: int) -> CellParams:
    """A snapshot (detached copies) of one layer-direction's weights, so later training changes nothing.

    Example: ``module_params(nn.LSTM(3, 4, num_layers=2), 1, 0).w_hh.shape  # [16, 4]``
    """
    sfx = "" if isinstance(module, CELLS) else f"_l{layer}" + ("_reverse" if direction else "")

    def get(n):
        p = getattr(module, n + sfx, None)
        return None if p is None else p.detach().clone()
    return CellParams(get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"),
                      get("weight_hr") if getattr(module, "proj_size", 0) else None)


def all_params(module) -> list[list[CellParams]]:
    """``[layer][direction]`` snapshots of every weight of a recurrent module or cell.

    Example::

        p = all_params(nn.LSTM(3, 4, num_layers=2, bidirectional=True))
        (len(p), len(p[0])) == (2, 2)  # [layer][direction]
        p[1][0].w_ih.shape == (16, 8)  # 4 gates x 4 units; layer 1 reads both directions' 4 units
    """
    D = 2 if getattr(module, "bidirectional", False) else 1
    return [[module_params(module, l, d) for d in range(D)] for l in range(getattr(module, "num_layers", 1))]


def check_module(module) -> None:
    """A recurrent module that can be replayed exactly, or one clear TraceInputError.

    Example::

        check_module(lstm)  # fine: returns None
        try:
            check_module(nn.Linear(3, 4)); raised = None
        except TraceInputError as err:
            raised = err
        assert raised is not None and "module" in str(raised)  # names the argument to fix
    """
    if not isinstance(module, FULL + CELLS):
        fail("module", f"one of {SUPPORTED}", describe(module),
             "trace the recurrent submodule itself, or use tr_widgets.capture(model) to find them")
    meta = next((n for n, p in module.named_parameters() if p.device.type == "meta"), None)
    if meta is not None:
        fail("module", "weights that hold values (on cpu or an accelerator)",
             f"{meta} on the meta device (shapes only)", "call module.to_empty(device='cpu') and load its weights")
    if isinstance(module, FULL) and module.training and module.dropout > 0 and module.num_layers > 1:
        fail("module", "eval mode, or dropout=0 (dropout between layers is random, so it cannot be replayed)",
             f"training mode with dropout={module.dropout}", "call module.eval() before tracing")


def _check_state(arg: str, h, shape: tuple, x: torch.Tensor) -> None:
    check_tensor(arg, h)
    if tuple(h.shape) != shape:
        fail(arg, f"shape {shape}", f"shape {tuple(h.shape)}",
             f"pass {arg} of shape {shape} (layers*directions, batch, size), or None for zeros")
    check_same_device([("x", x.device), (arg, h.device)])
    if h.dtype != x.dtype:
        fail(arg, f"dtype {x.dtype} (the dtype of x)", f"dtype {h.dtype}", f"convert it with {arg}.to({x.dtype})")


def trace_recurrent(module: nn.Module, x: torch.Tensor, hx=None, *, name: str = "") -> RecurrentTrace:
    """Trace every gate, cell state and hidden state of a recurrent module over ``x``.

    ``module`` is nn.RNN / nn.LSTM / nn.GRU (any layers, bidirectional, batch_first, bias, proj_size)
    or nn.RNNCell / nn.LSTMCell / nn.GRUCell. ``x`` and ``hx`` are what the module takes; a cell
    also accepts a time-major sequence ``[T, B, I]`` and is stepped over it as a user's loop would.
    A PackedSequence ``x`` (nn.RNN / nn.LSTM / nn.GRU) is traced with each sequence at its own length:
    the trace is over the padded batch ``[T, B, I]`` in the batch's own order, ``trace.lengths[b]`` is
    sequence b's length, values past it are 0 and ``trace.output`` is the module's own PackedSequence.

    Example::

        lstm = nn.LSTM(input_size=1, hidden_size=10)
        tr = tr_widgets.trace_recurrent(lstm, torch.tensor([1., 2, 3, 4, 5]).view(5, 1, 1))
        tr.gates()["f"].shape    # torch.Size([5, 1, 10])
        tr.step(2).equations     # torch's LSTM equations, as LaTeX
    """
    check_module(module)
    check_name(name)
    is_cell = isinstance(module, CELLS)
    given = x
    if isinstance(x, PackedSequence) and not is_cell:  # checked on its data [N, I], every step of every sequence
        check_tensor("x.data (the PackedSequence's steps)", x.data, ranks=(2,))
        x = x.data
    check_tensor("x", x, ranks=(1, 2, 3) if is_cell else (2, 3), batch_first=getattr(module, "batch_first", False))
    params = list(module.parameters())
    check_same_device([("module", params[0].device), ("x", x.device)])
    if x.dtype != params[0].dtype:
        fail("x", f"dtype {params[0].dtype} (the module's dtype)", f"dtype {x.dtype}",
             f"convert x with x.to({params[0].dtype}) or the module with module.to({x.dtype})")
    if x.shape[-1] != module.input_size:
        fail("x", f"last dimension {module.input_size} (module.input_size)", f"shape {tuple(x.shape)}",
             "pass features along the last dimension")
    if x.numel() == 0:
        fail("x", "a non-empty sequence (at least one step and one batch item)", f"shape {tuple(x.shape)}",
             "pass at least one time step")
    return trace_recurrent_call(module, given, hx, None, name=name)


def trace_recurrent_call(module: nn.Module, x: torch.Tensor, hx, result, *, name: str = "",
                         params=None) -> RecurrentTrace:
    """Build the trace of a call: ``result`` is what ``module(x, hx)`` returned (None: run it now).

    Used by ``capture`` (a forward hook has the module's own output, so nothing runs twice). For a
    cell, ``x`` may be a time-major sequence ``[T, B, I]`` with ``result = (h [T, B, H], c or None)``,
    the states of the cell stepped over it. ``params`` (``[layer][direction]`` CellParams) replaces
    the snapshot of the module's weights, so repeated calls can share one.

    Example::

        out = lstm(x); tr = trace_recurrent_call(lstm, x, None, out)    # == trace_recurrent(lstm, x)
    """
    check_module(module)
    build = _trace_cell if isinstance(module, CELLS) else _trace_full
    return build(module, x, hx, name, result, params or all_params(module))


def _time_major(module, x):
    """``(x [T, B, I], lengths)``: a PackedSequence padded (its lengths, in the batch's own order), or x."""
    if isinstance(x, PackedSequence):
        xs, lengths = pad_packed_sequence(x)  # [T, B, I]
        return xs, tuple(lengths.tolist())
    return (x.unsqueeze(1) if x.dim() == 2 else (x.transpose(0, 1) if module.batch_first else x)), None


def _trace_full(module, x, hx, name: str, result, params) -> RecurrentTrace:
    kind = kind_of(module)
    L, D, H = module.num_layers, 2 if module.bidirectional else 1, module.hidden_size
    Hout = getattr(module, "proj_size", 0) or H
    xs, lengths = _time_major(module, x)  # [T, B, I]
    unbatched = lengths is None and x.dim() == 2
    B = xs.shape[1]
    warn_nonfinite("x", xs, 0)
    lead = (L * D,) if unbatched else (L * D, B)
    h0 = c0 = None
    if kind.has_cell and hx is not None:
        if not (isinstance(hx, tuple) and len(hx) == 2):
            fail("hx", "a tuple (h_0, c_0) for an LSTM", describe(hx), "pass (h_0, c_0) or None for zeros")
        h0, c0 = hx
        _check_state("hx[0] (h_0)", h0, lead + (Hout,), xs)
        _check_state("hx[1] (c_0)", c0, lead + (H,), xs)
    elif hx is not None:
        if isinstance(hx, (tuple, list)):
            fail("hx", f"one tensor h_0 for {type(module).__name__} (only an LSTM takes (h_0, c_0))", describe(hx),
                 "pass h_0 alone, or None for zeros")
        h0 = hx
        _check_state("hx", h0, lead + (H,), xs)
    with torch.no_grad():
        output, hidden = module(x, hx) if result is None else result
    h_n, c_n = hidden if kind.has_cell else (hidden, None)
    new = lambda size: xs.new_zeros(L * D, B, size)  # noqa: E731
    h0 = new(Hout) if h0 is None else (h0.unsqueeze(1) if unbatched else h0).detach()  # [L*D, B, Hout]
    if kind.has_cell:
        c0 = new(H) if c0 is None else (c0.unsqueeze(1) if unbatched else c0).detach()  # [L*D, B, H]
    if lengths is not None:  # the module's own PackedSequence output, padded with zeros past each length
        top = pad_packed_sequence(output, total_length=xs.shape[0])[0]  # [T, B, D*Hout]
    else:
        top = output.unsqueeze(1) if unbatched else (output.transpose(0, 1) if module.batch_first else output)
    return RecurrentTrace(kind=kind.name, output=output, h_n=h_n, c_n=c_n, num_layers=L, num_directions=D,
                          hidden_size=H, proj_size=getattr(module, "proj_size", 0), x=xs.detach(), h0=h0, c0=c0,
                          params=params, top=top.detach(), name=name, replay_layer=_layer_replayer(module, lengths),
                          lengths=lengths)


def _layer_replayer(module, lengths=None):
    """A function (layer, inputs [T, B, I_l], hx, params) -> [T, B, D*Hout] running one layer fused
    (packed again with ``lengths``, a PackedSequence's, so each sequence runs its own steps).

    It keeps the module's configuration, not the module: the weights come from the trace's own
    snapshot (``params``), so training the model after tracing cannot change a replayed layer.
    """
    cls, D = type(module), 2 if module.bidirectional else 1
    config = dict(hidden_size=module.hidden_size, num_layers=1, bias=module.bias, bidirectional=module.bidirectional,
                  **({"proj_size": module.proj_size} if isinstance(module, nn.LSTM) else {}),
                  **({"nonlinearity": module.nonlinearity} if isinstance(module, nn.RNN) else {}))

    def replay(layer: int, inputs: torch.Tensor, hx, params: list[CellParams]) -> torch.Tensor:
        # built on meta, then given storage: no weight initialisation, so the user's random stream is untouched
        one = cls(inputs.shape[-1], device="meta", dtype=inputs.dtype, **config).to_empty(device=inputs.device)
        with torch.no_grad():
            for d in range(D):
                sfx, p = "_l0" + ("_reverse" if d else ""), params[d]
                for name, value in (("weight_ih", p.w_ih), ("weight_hh", p.w_hh), ("bias_ih", p.b_ih),
                                    ("bias_hh", p.b_hh), ("weight_hr", p.w_hr)):
                    if value is not None:
                        getattr(one, name + sfx).copy_(value)
            if lengths is None:
                return one(inputs, hx)[0]
            packed = pack_padded_sequence(inputs, list(lengths), enforce_sorted=False)
            return pad_packed_sequence(one(packed, hx)[0], total_length=inputs.shape[0])[0]  # [T, B, D*Hout]
    return replay


def _check_cell_state(kind, hx, state_shape, x) -> None:
    if kind.has_cell and not (isinstance(hx, tuple) and len(hx) == 2):
        fail("hx", "a tuple (h_0, c_0) for an LSTMCell", describe(hx), "pass (h_0, c_0) or None for zeros")
    if not kind.has_cell and isinstance(hx, (tuple, list)):
        fail("hx", "one tensor h_0 for this cell (only an LSTMCell takes (h_0, c_0))", describe(hx),
             "pass h_0 alone, or None for zeros")
    for i, h in enumerate(hx if kind.has_cell else (hx,)):
        _check_state(f"hx[{i}]" if kind.has_cell else "hx", h, state_shape, x)


def _run_cell(module, kind, x, xs, hx, result, seq: bool):
    """The hidden (and cell) states of every step, ``[T, B, H]``, and what the call returned."""
    B, H = xs.shape[1], module.hidden_size
    if seq and result is not None:  # the states of a loop that already ran (capture)
        hs, cs = result
        return hs, cs, hs
    if not seq:
        out = module(x, hx) if result is None else result
        hs, cs = (out[0], out[1]) if kind.has_cell else (out, None)
        return hs.reshape(1, B, H), None if cs is None else cs.reshape(1, B, H), out
    state, h_list, c_list = hx, [], []
    for t in range(xs.shape[0]):  # a user's loop over time, as the cell is meant to be used
        state = module(xs[t], state)
        h_list.append(state[0] if kind.has_cell else state)
        c_list.append(state[1] if kind.has_cell else None)
    hs = torch.stack(h_list)  # [T, B, H]
    return hs, torch.stack(c_list) if kind.has_cell else None, hs


def _trace_cell(module, x, hx, name: str, result, params) -> RecurrentTrace:
    """A cell computes one step; over a sequence ``[T, B, I]`` it is stepped like a user's loop."""
    kind, H, seq = kind_of(module), module.hidden_size, x.dim() == 3
    xs = x if seq else x.reshape(1, -1, x.shape[-1])  # [T, B, I]
    B = xs.shape[1]
    warn_nonfinite("x", xs, 0)
    if hx is not None:
        _check_cell_state(kind, hx, (B, H) if x.dim() >= 2 else (H,), x)
    with torch.no_grad():
        hs, cs, out = _run_cell(module, kind, x, xs, hx, result, seq)
    output = out[0] if kind.has_cell and not seq else out
    h_n, c_n = (out if kind.has_cell else (out, None)) if not seq else (hs[-1], None if cs is None else cs[-1])
    zeros = xs.new_zeros(1, B, H)
    as_state = lambda h: zeros if h is None else h.detach().reshape(1, B, H)  # noqa: E731  [1, B, H]
    h0 = as_state(hx[0] if kind.has_cell and hx is not None else hx)
    c0 = as_state(hx[1] if hx is not None else None) if kind.has_cell else None
    return RecurrentTrace(kind=kind.name, output=output, h_n=h_n, c_n=c_n, num_layers=1, num_directions=1,
                          hidden_size=H, proj_size=0, x=xs.detach(), h0=h0, c0=c0, params=params, top=hs.detach(),
                          name=name, cell_states=None if cs is None else cs.detach())
