"""Oracle tests: the engine's traces equal torch's own modules over randomised configurations."""
import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import tr_widgets
from tests.engine.reference import reference_run

KINDS = {"rnn_tanh": nn.RNN, "rnn_relu": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
GATES = {"rnn_tanh": [], "rnn_relu": [], "lstm": ["i", "f", "g", "o"], "gru": ["r", "z", "n"]}


@st.composite
def configs(draw):
    kind = draw(st.sampled_from(sorted(KINDS)))
    H = draw(st.integers(1, 5))
    return dict(
        kind=kind, I=draw(st.integers(1, 4)), H=H, L=draw(st.integers(1, 3)), bi=draw(st.booleans()),
        batch_first=draw(st.booleans()), bias=draw(st.booleans()),
        proj=draw(st.integers(0, H - 1)) if kind == "lstm" and H > 1 else 0,
        T=draw(st.integers(1, 6)), B=draw(st.integers(1, 3)), unbatched=draw(st.booleans()),
        with_hx=draw(st.booleans()), seed=draw(st.integers(0, 2**16)),
    )


def build(cfg, device="cpu"):
    torch.manual_seed(cfg["seed"])
    kw = dict(num_layers=cfg["L"], bidirectional=cfg["bi"], batch_first=cfg["batch_first"], bias=cfg["bias"])
    if cfg["kind"].startswith("rnn"):
        kw["nonlinearity"] = cfg["kind"][4:]
    if cfg["proj"]:
        kw["proj_size"] = cfg["proj"]
    m = KINDS[cfg["kind"]](cfg["I"], cfg["H"], **kw).to(device).eval()
    T, B, I = cfg["T"], cfg["B"], cfg["I"]
    if cfg["unbatched"]:
        x = torch.randn(T, I, device=device)
    else:
        x = torch.randn(B, T, I, device=device) if cfg["batch_first"] else torch.randn(T, B, I, device=device)
    D, Hout = 2 if cfg["bi"] else 1, cfg["proj"] or cfg["H"]
    lead = (cfg["L"] * D,) if cfg["unbatched"] else (cfg["L"] * D, B)
    hx = None
    if cfg["with_hx"]:
        h0 = torch.randn(*lead, Hout, device=device)
        hx = (h0, torch.randn(*lead, cfg["H"], device=device)) if cfg["kind"] == "lstm" else h0
    return m, x, hx


def check(cfg, device="cpu", atol=1e-5):
    m, x, hx = build(cfg, device)
    tr = tr_widgets.trace_recurrent(m, x, hx)
    with torch.no_grad():
        out, hid = m(x, hx)
    h_n, c_n = hid if cfg["kind"] == "lstm" else (hid, None)
    assert tr.kind == cfg["kind"]
    torch.testing.assert_close(tr.output, out, atol=atol, rtol=0)
    torch.testing.assert_close(tr.h_n, h_n, atol=atol, rtol=0)
    assert (tr.c_n is None) == (c_n is None)
    # The independent step-by-step reference reproduces the module, so its gates are an oracle.
    xs = tr.x.cpu().double()
    ref_m = m.to("cpu").double()
    ref, top = reference_run(ref_m, cfg["kind"], xs, tr.h0.cpu().double(), None if tr.c0 is None else tr.c0.cpu().double())
    torch.testing.assert_close(top.float(), tr.layer_output(cfg["L"] - 1).cpu(), atol=atol, rtol=0)
    D = 2 if cfg["bi"] else 1
    for layer in range(cfg["L"]):
        for d in range(D):
            r = ref[layer, d]
            torch.testing.assert_close(tr.hidden(layer, d).cpu().double(), r["h"], atol=atol, rtol=0)
            gates = tr.gates(layer, d)
            assert sorted(gates) == sorted(GATES[cfg["kind"]])
            for name, g in gates.items():
                assert g.shape == (cfg["T"], tr.batch_size, cfg["H"])
                assert g.device == x.device
                torch.testing.assert_close(g.cpu().double(), r[name], atol=atol, rtol=0)
            if cfg["kind"] == "lstm":
                torch.testing.assert_close(tr.cell(layer, d).cpu().double(), r["c"], atol=atol, rtol=0)
    # h_n / c_n of every layer-direction agree with the trace's last step in that direction.
    for layer in range(cfg["L"]):
        for d in range(D):
            last = 0 if d else -1
            h_last = tr.hidden(layer, d)[last]
            torch.testing.assert_close(h_last, tr.h_n[layer * D + d].reshape(h_last.shape), atol=atol, rtol=0)
            if cfg["kind"] == "lstm":
                c_last = tr.cell(layer, d)[last]
                torch.testing.assert_close(c_last, tr.c_n[layer * D + d].reshape(c_last.shape), atol=atol, rtol=0)


@settings(max_examples=60, deadline=None)
@given(configs())
def test_recurrent_trace_equals_module(cfg):
    check(cfg)


@pytest.mark.parametrize("cls,kind", [(nn.RNNCell, "rnn_tanh"), (nn.LSTMCell, "lstm"), (nn.GRUCell, "gru")])
@pytest.mark.parametrize("bias", [True, False])
def test_cells_over_a_sequence_equal_a_loop_of_the_cell(cls, kind, bias):
    torch.manual_seed(0)
    cell = cls(3, 4, bias=bias)
    x = torch.randn(6, 2, 3)
    tr = tr_widgets.trace_recurrent(cell, x)
    state, hs = None, []
    with torch.no_grad():
        for t in range(6):
            state = cell(x[t], state)
            hs.append(state[0] if kind == "lstm" else state)
    torch.testing.assert_close(tr.output, torch.stack(hs))
    ref, _ = reference_run(cell, kind, x, torch.zeros(1, 2, 4), torch.zeros(1, 2, 4) if kind == "lstm" else None, cell=True)
    for name, g in tr.gates().items():
        torch.testing.assert_close(g.double(), ref[0, 0][name].double(), atol=1e-6, rtol=0)
    if kind == "lstm":
        torch.testing.assert_close(tr.c_n, state[1])


@pytest.mark.parametrize("shape", [(3,), (2, 3)])
def test_cell_single_step_returns_what_the_cell_returns(shape):
    torch.manual_seed(1)
    cell = nn.LSTMCell(3, 4)
    x = torch.randn(*shape)
    h, c = cell(x)
    tr = tr_widgets.trace_recurrent(cell, x)
    torch.testing.assert_close(tr.output, h)
    torch.testing.assert_close(tr.c_n, c)
    assert tr.seq_len == 1
    st_ = tr.step(0)
    torch.testing.assert_close(st_["h_t"], h.reshape(-1, 4)[0])


def test_rnn_relu_cell_kind():
    assert tr_widgets.trace_recurrent(nn.RNNCell(2, 3, nonlinearity="relu"), torch.randn(4, 1, 2)).kind == "rnn_relu"


def test_step_record_matches_full_trace_and_equations():
    torch.manual_seed(2)
    m = nn.GRU(3, 4, bidirectional=True, num_layers=2).eval()
    tr = tr_widgets.trace_recurrent(m, torch.randn(5, 2, 3))
    for d in (0, 1):
        s = tr.step(2, layer=1, direction=d, batch=1)
        for name in "rzn":
            torch.testing.assert_close(s[name], tr.gates(1, d)[name][2, 1])
        torch.testing.assert_close(s["h_t"], tr.hidden(1, d)[2, 1], atol=1e-6, rtol=0)
        prev = 3 if d else 1
        torch.testing.assert_close(s["h_prev"], tr.hidden(1, d)[prev, 1])
        # n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn)): r multiplies the hidden part.
        assert r"r_t \odot (W_{hn} h_{t-1} + b_{hn})" in s.equations[2]
        torch.testing.assert_close(torch.tanh(s["a_n"]), s["n"])
    lstm = tr_widgets.trace_recurrent(nn.LSTM(2, 3), torch.randn(4, 1, 2))
    s = lstm.step(3)
    torch.testing.assert_close(s["c_prev"], lstm.cell()[2, 0])
    torch.testing.assert_close(s["c_t"], s["f"] * s["c_prev"] + s["i"] * s["g"])
    assert any("c_t = f_t" in e for e in s.equations)
    proj = tr_widgets.trace_recurrent(nn.LSTM(2, 3, proj_size=2), torch.randn(4, 1, 2))
    assert "W_{hr}" in proj.step(0).equations[-1]


def test_traces_are_lazy_and_cached():
    m = nn.LSTM(3, 4, num_layers=2)
    tr = tr_widgets.trace_recurrent(m, torch.randn(5, 2, 3))
    assert not any(isinstance(k, tuple) and k[0] == "parts" for k in tr.derived)
    g1 = tr.gates(0)
    assert tr.gates(0)["f"] is g1["f"]
    assert ("parts", 1, 0) not in tr.derived


def test_a_trace_is_a_snapshot_training_afterwards_changes_nothing():
    torch.manual_seed(3)
    m = nn.LSTM(3, 4, num_layers=3, bidirectional=True).eval()
    x = torch.randn(6, 2, 3)
    tr = tr_widgets.trace_recurrent(m, x)
    expected = reference_run(copy.deepcopy(m).double(), "lstm", x.double(), torch.zeros(6, 2, 4).double(), torch.zeros(6, 2, 4).double())[0]
    with torch.no_grad():
        for p in m.parameters():
            p.add_(1.0)  # "training" after tracing
    for layer in range(3):
        torch.testing.assert_close(tr.hidden(layer, 1).double(), expected[layer, 1]["h"], atol=1e-5, rtol=0)
        torch.testing.assert_close(tr.gates(layer)["f"].double(), expected[layer, 0]["f"], atol=1e-5, rtol=0)
