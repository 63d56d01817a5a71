"""Cells of the user's own written from nn.Linear layers and called once per step: a tuple state (H, C) in the
code's order, and a GRU whose gates, under the code's names, equal torch's nn.GRU / nn.LSTMCell with the
same weights (the engine's replay of torch's module is the oracle)."""
import torch
from torch import nn

import tr_widgets
from tr_widgets.engine.capture import capture


class LSTMCellFromLinear(nn.Module):
    """A user's LSTM step: the state a tuple (H, C), given and returned in the code's order."""

    def __init__(self, n_in, n_h):
        super().__init__()
        self.W_x, self.W_h = nn.Linear(n_in, 4 * n_h), nn.Linear(n_h, 4 * n_h)

    def forward(self, X, state):
        H, C = state
        I, F, C_tilde, O = (self.W_x(X) + self.W_h(H)).chunk(4, dim=-1)
        I, F, O = torch.sigmoid(I), torch.sigmoid(F), torch.sigmoid(O)
        C_tilde = torch.tanh(C_tilde)
        C = F * C + I * C_tilde
        H = O * torch.tanh(C)
        return H, C


def test_a_tuple_state_in_the_code_order_equals_torchs_lstm_cell():
    torch.manual_seed(5)
    cell, ref = LSTMCellFromLinear(3, 4), nn.LSTMCell(3, 4)
    with torch.no_grad():  # torch's gate order is i, f, g, o: the same chunks
        ref.weight_ih.copy_(cell.W_x.weight), ref.bias_ih.copy_(cell.W_x.bias)
        ref.weight_hh.copy_(cell.W_h.weight), ref.bias_hh.copy_(cell.W_h.bias)
    xs = torch.randn(5, 2, 3)
    with capture(cell) as rec:
        state, states = (torch.zeros(2, 4), torch.zeros(2, 4)), []
        for X in xs:
            state = cell(X, state)
            states.append(state)
    tr = rec["LSTMCellFromLinear"]
    assert len(tr) == 5 and tr.state_names == ("H", "C") and tr.state_is_tuple
    h = c = torch.zeros(2, 4)
    for t, X in enumerate(xs):
        H, C = tr.state(t)
        assert H is not None and torch.equal(H, states[t][0]) and torch.equal(C, states[t][1])
        with torch.no_grad():
            h, c = ref(X, (h, c))
        torch.testing.assert_close(H, h, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(C, c, atol=1e-6, rtol=1e-5)
    q = tr.quantities(2, assigned_only=True)
    assert {"I", "F", "O", "C_tilde", "C", "H"} <= set(q) and len(set(tr.names)) == len(tr.names)
    # the first I, F, C_tilde are the chunks (pre-activations); the step's C from them, as the code computes it
    C = torch.sigmoid(q["F"]) * states[1][1] + torch.sigmoid(q["I"]) * torch.tanh(q["C_tilde"])
    assert torch.equal(q["C"], C) and torch.equal(q["H"], states[2][0])


class TorchGRUCell(nn.Module):
    """torch's GRU equations written from nn.Linear layers (r multiplies W_hn h + b_hn, as nn.GRU does)."""

    def __init__(self, n_in, n_h):
        super().__init__()
        self.x2h, self.h2h = nn.Linear(n_in, 3 * n_h), nn.Linear(n_h, 3 * n_h)

    def forward(self, x, h):
        xr, xz, xn = self.x2h(x).chunk(3, dim=-1)
        hr, hz, hn = self.h2h(h).chunk(3, dim=-1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        h = (1 - z) * n + z * h
        return h


def test_gates_under_the_code_names_equal_nn_grus_with_copied_weights():
    torch.manual_seed(6)
    cell, gru = TorchGRUCell(3, 5), nn.GRU(3, 5)
    with torch.no_grad():
        gru.weight_ih_l0.copy_(cell.x2h.weight), gru.bias_ih_l0.copy_(cell.x2h.bias)
        gru.weight_hh_l0.copy_(cell.h2h.weight), gru.bias_hh_l0.copy_(cell.h2h.bias)
    xs = torch.randn(6, 2, 3)
    with capture(cell) as rec:
        h = torch.zeros(2, 5)
        for x in xs:
            h = cell(x, h)
    tr = rec["TorchGRUCell"]
    ref = tr_widgets.trace_recurrent(gru, xs)  # torch's module, every gate replayed
    for t in range(6):
        q = tr.quantities(t)
        for g in ("r", "z", "n"):
            torch.testing.assert_close(q[g], ref.gates()[g][t], atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(tr.state(t), ref.hidden()[t], atol=1e-6, rtol=1e-5)
