"""Loops of tensor ops inside a forward (issue 22): d2l-style scratch RNN / LSTM / GRU and the seed's σ-RNN
(000 §4.1) are recorded as one LoopTrace each; reuse in depth is not; bad loops are reported, never silent.

The models are our own, written in the style of d2l's RNNScratch / LSTMScratch / GRUScratch (parameters on
the module, a Python loop over ``X in inputs``). The oracle for every state is the model itself: running its
forward on the first t+1 steps returns the state after step t, computed by the same code.
"""
import warnings

import pytest
import torch
from torch import nn

from tr_widgets.engine.capture import capture
from tr_widgets.engine.capture.record import CaptureWarning
from tr_widgets.engine.loops import LoopTrace


def _p(*shape, sigma=0.3):
    return nn.Parameter(torch.randn(*shape) * sigma)


class RNNScratch(nn.Module):
    def __init__(self, num_inputs, num_hiddens):
        super().__init__()
        self.num_hiddens = num_hiddens
        self.W_xh, self.W_hh, self.b_h = _p(num_inputs, num_hiddens), _p(num_hiddens, num_hiddens), _p(num_hiddens)

    def forward(self, inputs, state=None):
        if state is None:
            state = torch.zeros((inputs.shape[1], self.num_hiddens))
        outputs = []
        for X in inputs:  # inputs: [T, B, I]
            state = torch.tanh(torch.matmul(X, self.W_xh) +
                               torch.matmul(state, self.W_hh) + self.b_h)
            outputs.append(state)
        return outputs, state


class LSTMScratch(nn.Module):
    def __init__(self, num_inputs, num_hiddens):
        super().__init__()
        self.num_hiddens = num_hiddens

        def triple():
            return _p(num_inputs, num_hiddens), _p(num_hiddens, num_hiddens), _p(num_hiddens)
        self.W_xi, self.W_hi, self.b_i = triple()  # input gate
        self.W_xf, self.W_hf, self.b_f = triple()  # forget gate
        self.W_xo, self.W_ho, self.b_o = triple()  # output gate
        self.W_xc, self.W_hc, self.b_c = triple()  # input node

    def forward(self, inputs, H_C=None):
        if H_C is None:
            H = torch.zeros((inputs.shape[1], self.num_hiddens))
            C = torch.zeros((inputs.shape[1], self.num_hiddens))
        else:
            H, C = H_C
        outputs = []
        for X in inputs:
            I = torch.sigmoid(torch.matmul(X, self.W_xi) +
                              torch.matmul(H, self.W_hi) + self.b_i)
            F = torch.sigmoid(torch.matmul(X, self.W_xf) +
                              torch.matmul(H, self.W_hf) + self.b_f)
            O = torch.sigmoid(torch.matmul(X, self.W_xo) +
                              torch.matmul(H, self.W_ho) + self.b_o)
            C_tilde = torch.tanh(torch.matmul(X, self.W_xc) +
                                 torch.matmul(H, self.W_hc) + self.b_c)
            C = F * C + I * C_tilde
            H = O * torch.tanh(C)
            outputs.append(H)
        return outputs, (H, C)


class GRUScratch(nn.Module):
    def __init__(self, num_inputs, num_hiddens):
        super().__init__()
        self.num_hiddens = num_hiddens

        def triple():
            return _p(num_inputs, num_hiddens), _p(num_hiddens, num_hiddens), _p(num_hiddens)
        self.W_xz, self.W_hz, self.b_z = triple()  # update gate
        self.W_xr, self.W_hr, self.b_r = triple()  # reset gate
        self.W_xh, self.W_hh, self.b_h = triple()  # candidate hidden state

    def forward(self, inputs, H=None):
        if H is None:
            H = torch.zeros((inputs.shape[1], self.num_hiddens))
        outputs = []
        for X in inputs:
            Z = torch.sigmoid(torch.matmul(X, self.W_xz) + torch.matmul(H, self.W_hz) + self.b_z)
            R = torch.sigmoid(torch.matmul(X, self.W_xr) + torch.matmul(H, self.W_hr) + self.b_r)
            H_tilde = torch.tanh(torch.matmul(X, self.W_xh) + torch.matmul(R * H, self.W_hh) + self.b_h)
            H = Z * H + (1 - Z) * H_tilde
            outputs.append(H)
        return outputs, H


class SigmaRNN(nn.Module):
    """Seed 000 §4.1: h_t = σ(W_h·[h_{t−1}, x_t] + b_h), y_t = W_o·h_t + b_o, written as a loop over t."""

    def __init__(self, n_in, n_h, n_out):
        super().__init__()
        self.n_h = n_h
        self.W_h, self.W_o = nn.Linear(n_h + n_in, n_h), nn.Linear(n_h, n_out)

    def forward(self, x):  # x: [B, T, I]
        h = x.new_zeros(x.shape[0], self.n_h)
        ys = []
        for t in range(x.shape[1]):
            h = torch.sigmoid(self.W_h(torch.cat([h, x[:, t]], dim=-1)))
            y = self.W_o(h)
            ys.append(y)
        return torch.stack(ys, dim=1), h


def _record(model, *args):
    with capture(model) as rec:
        out = model(*args)
    return rec, out


def _loops(rec):
    return [(n, tr) for n, tr in rec.traces if isinstance(tr, LoopTrace)]


@pytest.mark.parametrize("cls", [RNNScratch, LSTMScratch, GRUScratch])
def test_scratch_models_one_trace_states_are_the_models_own(cls):
    torch.manual_seed(0)
    model, x = cls(5, 6), torch.randn(7, 3, 5)
    plain = model(x)
    rec, out = _record(model, x)
    assert all(torch.equal(a, b) for a, b in zip(plain[0], out[0]))  # bitwise unchanged under capture
    loops = _loops(rec)
    assert len(loops) == 1
    name, tr = loops[0]
    assert name == rec.names[0] and len(tr) == 7 and tr.form == "ops"
    for t in range(7):
        _, state = model(x[: t + 1])  # the model's own state after step t
        got = tr.state(t)
        if isinstance(state, tuple):
            assert isinstance(got, tuple) and len(got) == len(state)
            assert all(torch.equal(a, b) for a, b in zip(got, state))
        else:
            assert torch.equal(got, state)
        assert torch.equal(tr.inputs(t), x[t])
    assert torch.equal(tr.state_in(0) if not isinstance(tr.state_in(0), tuple) else tr.state_in(0)[0],
                       torch.zeros(3, 6))


def test_lstm_quantities_under_the_codes_names():
    torch.manual_seed(1)
    m, x = LSTMScratch(4, 5), torch.randn(6, 2, 4)
    rec, _ = _record(m, x)
    (_, tr), = _loops(rec)
    assert tr.state_names == ("H", "C") and tr.input_names == ("X",)
    assert list(tr.quantities(0, assigned_only=True)) == ["I", "F", "O", "C_tilde", "C", "H"]
    with torch.no_grad():
        for t in range(len(tr)):
            H, C = tr.state_in(t)
            q = tr.quantities(t)
            F = torch.sigmoid(x[t] @ m.W_xf + H @ m.W_hf + m.b_f)
            torch.testing.assert_close(q["F"], F)
            torch.testing.assert_close(q["C"], q["F"] * C + q["I"] * q["C_tilde"])
            assert torch.equal(q["H"], tr.state(t)[0]) and torch.equal(q["C"], tr.state(t)[1])
    # each quantity points at its line of the loop's source
    assert "I = torch.sigmoid" in tr.source.line(tr.line_of("I"))
    assert "C_tilde" in tr.source.line(tr.line_of("C_tilde"))
    assert tr.source.lines[0].strip() == "for X in inputs:"


def test_gru_names_and_reset_gate():
    torch.manual_seed(2)
    m, x = GRUScratch(3, 4), torch.randn(5, 2, 3)
    rec, (_, H) = _record(m, x)
    (_, tr), = _loops(rec)
    assert list(tr.quantities(2, assigned_only=True)) == ["Z", "R", "H_tilde", "H"]
    assert torch.equal(tr.state(4), H) and tr.state_names == ("H",) and not tr.state_is_tuple
    with torch.no_grad():
        R = torch.sigmoid(x[2] @ m.W_xr + tr.state(1) @ m.W_hr + m.b_r)
    torch.testing.assert_close(tr.quantities(2)["R"], R)


def test_sigma_rnn_of_the_seed_by_hand():
    torch.manual_seed(3)
    m, x = SigmaRNN(3, 4, 2), torch.randn(2, 6, 3)
    plain = m(x)
    rec, out = _record(m, x)
    assert torch.equal(plain[0], out[0]) and torch.equal(plain[1], out[1])
    (name, tr), = _loops(rec)
    assert len(tr) == 6 and tr.state_names == ("h",) and tr.input_names == ("getitem",)
    h = torch.zeros(2, 4)
    with torch.no_grad():
        for t in range(6):  # h_t = σ(W_h·[h_{t−1}, x_t] + b_h), y_t = W_o·h_t + b_o
            h = torch.sigmoid(torch.cat([h, x[:, t]], -1) @ m.W_h.weight.T + m.W_h.bias)
            torch.testing.assert_close(tr.state(t), h)
            torch.testing.assert_close(tr.quantities(t)["y"], h @ m.W_o.weight.T + m.W_o.bias)
            assert torch.equal(tr.inputs(t), x[:, t])
    assert repr(tr) == f"LoopTrace(name={name!r}, form='ops', T=6, state=[h(2, 4)], quantities={len(tr.names)})"


class DepthParams(nn.Module):
    """The same computation reused in depth: for W in self.Ws: x = f(x @ W) (parameters are no input)."""

    def __init__(self, n, depth):
        super().__init__()
        self.Ws = nn.ParameterList([_p(n, n) for _ in range(depth)])

    def forward(self, x):
        for W in self.Ws:
            x = torch.tanh(x @ W)
        return x


class SharedLayer(nn.Module):
    """ALBERT-like: one layer applied n times."""

    def __init__(self, n, times):
        super().__init__()
        self.layer, self.times, self.W = nn.Linear(n, n), times, _p(n, n)

    def forward(self, x):
        for _ in range(self.times):
            x = torch.tanh(self.layer(x) + x @ self.W)
        return x


@pytest.mark.parametrize("model", [DepthParams(4, 5), SharedLayer(4, 5)])
def test_reuse_in_depth_gives_no_time_trace(model):
    x = torch.randn(3, 4)
    plain = model(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)  # "nothing was recorded" is the right message here
        rec, out = _record(model, x)
    assert torch.equal(plain, out)
    assert _loops(rec) == [] and rec.skipped == []


def test_function_mode_stack_is_clean_after_capture_and_after_a_raise():
    m = LSTMScratch(2, 3)
    _record(m, torch.randn(3, 1, 2))
    assert torch._C._len_torch_function_stack() == 0
    with pytest.raises(RuntimeError):
        with capture(m):
            m(torch.randn(3, 1, 5))  # wrong input width: the forward raises inside the loop
    assert torch._C._len_torch_function_stack() == 0

