"""Fuzz trace_recurrent and the RecurrentTrace accessors: a valid module and input, then careless changes.

Accepted calls are checked against the module's own output, and every replayed step against the trace's
hidden states (step(t)["h_t"] is recomputed from the weights, hidden() comes from the fused run).
"""
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import tr_widgets

from .props import DTYPES, OTHER_KINDS, check_state, fuzz_settings, index_like, junk, outcome, quiet, snapshot, \
    to_other_kind

ARGS = {"module", "x", "hx", "name"}
KINDS = ["RNN", "RNN_relu", "LSTM", "LSTM_proj", "GRU", "RNNCell", "LSTMCell", "GRUCell"]


@st.composite
def valid_call(draw):
    kind = draw(st.sampled_from(KINDS))
    I, H = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    torch.manual_seed(draw(st.integers(0, 2**16)))
    cell = kind.endswith("Cell")
    if cell:
        module = getattr(nn, kind)(I, H, bias=draw(st.booleans()))
    else:
        cls = {"RNN": nn.RNN, "RNN_relu": nn.RNN, "LSTM": nn.LSTM, "LSTM_proj": nn.LSTM, "GRU": nn.GRU}[kind]
        extra = {"nonlinearity": "relu"} if kind == "RNN_relu" else {}
        if kind == "LSTM_proj" and H > 1:
            extra["proj_size"] = draw(st.integers(1, H - 1))
        module = cls(I, H, num_layers=draw(st.integers(1, 2)), bias=draw(st.booleans()),
                     batch_first=draw(st.booleans()), bidirectional=draw(st.booleans()), **extra)
    module = module.to(dtype)
    T, B = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    if cell:  # a sequence [T, B, I] (stepped as a user's loop), one batched step [B, I], or one step [I]
        shape = draw(st.sampled_from([(T, B, I), (B, I), (I,)]))
    else:  # batched, or unbatched [T, I]
        shape = draw(st.sampled_from([(B, T, I) if module.batch_first else (T, B, I), (T, I)]))
    x = torch.randn(shape, dtype=dtype)
    hx = None
    if draw(st.booleans()):
        if cell:
            sshape = (x.shape[-2], H) if x.dim() >= 2 else (H,)
            hx = (torch.randn(sshape, dtype=dtype), torch.randn(sshape, dtype=dtype)) if kind == "LSTMCell" else \
                torch.randn(sshape, dtype=dtype)
        else:
            D = 2 if module.bidirectional else 1
            lead = (module.num_layers * D,) + ((B,) if x.dim() == 3 else ())
            Hout = getattr(module, "proj_size", 0) or H
            hx = (torch.randn(*lead, Hout, dtype=dtype), torch.randn(*lead, H, dtype=dtype)) \
                if isinstance(module, nn.LSTM) else torch.randn(*lead, H, dtype=dtype)
    return {"module": module, "x": x, "hx": hx}


def _mutate(draw, kw):
    what = draw(st.sampled_from(["x_kind", "x_dtype", "x_shape", "x_meta", "module", "module_meta", "module_dtype",
                                 "train", "hx", "name", "nan"]))
    x, m = kw["x"], kw["module"]
    if not (isinstance(x, torch.Tensor) and x.layout == torch.strided and x.device.type == "cpu"
            and isinstance(m, nn.RNNBase | nn.RNNCellBase) and all(p.device.type == "cpu" for p in m.parameters())):
        what = draw(st.sampled_from(["module", "hx", "name"]))
    if what == "x_kind":
        kw["x"] = to_other_kind(x, draw(st.sampled_from(OTHER_KINDS)))
    elif what == "x_dtype":
        kw["x"] = x.to(draw(st.sampled_from(DTYPES)))
    elif what == "x_shape":
        dim = draw(st.integers(-x.dim(), x.dim() - 1))
        new = list(x.shape)
        new[dim] = draw(st.sampled_from([0, new[dim] + 1]))
        kw["x"] = draw(st.sampled_from([torch.randn(new, dtype=x.dtype), x.reshape(-1), x[None, None]]))
    elif what == "x_meta":
        kw["x"] = x.to("meta")
    elif what == "module":
        kw["module"] = draw(st.one_of(junk(), st.sampled_from([nn.Linear(2, 2), nn.Sequential(nn.LSTM(2, 2)),
                                                               nn.MultiheadAttention(2, 1)])))
    elif what == "module_meta":
        kw["module"] = m.to("meta")
    elif what == "module_dtype":
        kw["module"] = m.to(draw(st.sampled_from([torch.float16, torch.bfloat16, torch.float64, torch.float32])))
    elif what == "train" and hasattr(m, "dropout"):
        m.dropout = draw(st.sampled_from([0.0, 0.5]))
        m.train()
    elif what == "hx":
        h = kw["hx"][0] if isinstance(kw["hx"], tuple) else kw["hx"]
        options = [junk(), st.just((torch.zeros(1, 1), torch.zeros(1, 1))), st.just(torch.zeros(3, 1, 7)),
                   st.just([torch.zeros(1)])]
        if isinstance(h, torch.Tensor):
            options += [st.just(h.to("meta")), st.just(h.long()), st.just((h, h)), st.just(h[None]),
                        st.just(to_other_kind(h, "numpy"))]
        kw["hx"] = draw(st.one_of(*options))
    elif what == "name":
        kw["name"] = draw(junk())
    elif what == "nan" and x.numel():
        kw["x"] = x.clone()
        kw["x"].view(-1)[draw(st.integers(0, x.numel() - 1))] = draw(st.sampled_from([math.nan, -math.inf]))
    return kw


@st.composite
def recurrent_call(draw):
    kw = draw(valid_call())
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 1, 2]))):
        kw = _mutate(draw, kw)
    return kw


def _reference(kw):
    """The module's own result, run as a user would (a cell over a sequence: the user's loop)."""
    m, x, hx = kw["module"], kw["x"], kw["hx"]
    with torch.no_grad():
        if isinstance(m, nn.RNNCellBase) and x.dim() == 3:
            hs, state = [], hx
            for t in range(x.shape[0]):
                state = m(x[t], state)
                hs.append(state[0] if isinstance(state, tuple) else state)
            return torch.stack(hs)
        out = m(x, hx)
        return out[0] if isinstance(m, nn.RNNBase) or isinstance(out, tuple) else out


@fuzz_settings(100)
@given(recurrent_call(), st.data())
def test_trace_recurrent(kw, data):
    before = snapshot(*kw.values())
    with quiet():
        tr, err = outcome(tr_widgets.trace_recurrent, ARGS, **kw)
    check_state(before)
    if err is not None:
        return
    with quiet():
        ref = _reference(kw)
    top = tr.top if isinstance(kw["module"], nn.RNNCellBase) else tr.output
    if isinstance(top, nn.utils.rnn.PackedSequence):  # traced at each sequence's own length
        top, ref = top.data, ref.data
    assert torch.allclose(top.reshape(ref.shape), ref, equal_nan=True)
    layer = data.draw(st.integers(0, tr.num_layers - 1))
    direction = data.draw(st.integers(0, tr.num_directions - 1))
    t, b = data.draw(st.integers(0, tr.seq_len - 1)), data.draw(st.integers(0, tr.batch_size - 1))
    t = t if tr.lengths is None else min(t, tr.lengths[b] - 1)  # a PackedSequence: sequence b's own steps
    with quiet():
        st_ = tr.step(t, layer, direction, b)
        h = tr.hidden(layer, direction)[t, b]
    tol = 1e-4 if tr.x.dtype == torch.float32 else 1e-9
    assert torch.allclose(st_["h_t"], h, atol=tol, rtol=tol, equal_nan=True), (st_["h_t"], h)
    check_state(before)


@st.composite
def accessor_call(draw):
    kw = draw(valid_call())
    with quiet():
        tr = tr_widgets.trace_recurrent(**kw)
    method = draw(st.sampled_from(["gates", "hidden", "cell", "inputs", "step"]))
    L, D = index_like(tr.num_layers), index_like(tr.num_directions)
    if method == "step":
        args = (draw(index_like(tr.seq_len)), draw(L), draw(D), draw(index_like(tr.batch_size)))
    elif method == "inputs":
        args = (draw(L),)
    else:
        args = (draw(L), draw(D))
    return tr, method, args[:draw(st.integers(1 if method == "step" else 0, len(args)))]


@fuzz_settings(80)
@given(accessor_call(), st.integers(1, 2**40))
def test_recurrent_trace_accessors(call, budget):
    tr, method, args = call
    before = snapshot(*args)
    old = tr_widgets.set_memory_budget(budget)
    try:
        with quiet():
            _, err = outcome(getattr(tr, method), {"t", "layer", "direction", "batch", "cell", "gates", "step"}, *args)
    finally:
        tr_widgets.set_memory_budget(old)
    check_state(before)
    if err is not None and "memory budget" in err:
        assert "set_memory_budget" in err


@pytest.mark.parametrize("layer", [None, "0", 1.5])
def test_layer_output_checks_its_layer(layer):
    tr = tr_widgets.trace_recurrent(nn.LSTM(2, 3, num_layers=2), torch.randn(4, 1, 2))
    _, err = outcome(tr.layer_output, {"layer"}, layer)
    assert err is not None
