"""The seed articles' worked examples (../shared/seeds/), with expected values worked out here
independently, in plain Python floats (math.exp / math.tanh), never copied from the articles."""
import math

import torch
from torch import nn

import tr_widgets


def sigmoid(a):
    return 1 / (1 + math.exp(-a))


def test_000_rnn_update_over_four_steps():
    """000: h_t = σ(W_h·[h_{t-1}, x_t] + b_h), y_t = W_o·h_t + b_o over {x_1..x_4}.

    torch's nn.RNN computes W_hh h + W_ih x, which is W_h·[h, x] with W_h = [W_hh | W_ih]; its
    nonlinearity is tanh (the article's σ stands for "an activation").
    """
    W_h, b_h, W_o, b_o = [0.5, -1.0], 0.1, 2.0, -0.5  # scalar state, scalar input
    xs = [1.0, 0.5, -1.0, 2.0]
    rnn = nn.RNN(1, 1)
    with torch.no_grad():
        rnn.weight_hh_l0.fill_(W_h[0]), rnn.weight_ih_l0.fill_(W_h[1])
        rnn.bias_hh_l0.fill_(b_h), rnn.bias_ih_l0.fill_(0.0)
    tr = tr_widgets.trace_recurrent(rnn, torch.tensor(xs).view(4, 1, 1))
    h, expected_h = 0.0, []
    for x in xs:
        h = math.tanh(W_h[0] * h + W_h[1] * x + b_h)
        expected_h.append(h)
    got = tr.hidden()[:, 0, 0].tolist()
    assert all(math.isclose(g, e, abs_tol=1e-6) for g, e in zip(got, expected_h))
    out = nn.Linear(1, 1)  # y_t = W_o h_t + b_o, applied by torch to the traced hidden states
    with torch.no_grad():
        out.weight.fill_(W_o), out.bias.fill_(b_o)
        ys = out(tr.hidden()[:, 0]).squeeze(-1).tolist()
    assert all(math.isclose(y, W_o * e + b_o, abs_tol=1e-5) for y, e in zip(ys, expected_h))
    # The dependency the articles call temporal: step 3's pre-activation uses h_2.
    st = tr.step(2)
    assert math.isclose(st["a"].item(), W_h[0] * expected_h[1] + W_h[1] * xs[2] + b_h, abs_tol=1e-6)


def test_001_lstm_over_one_to_five():
    """001: an LSTM(1, 10) over the input [1, 2, 3, 4, 5]; every gate recomputed in pure Python."""
    torch.manual_seed(0)
    lstm = nn.LSTM(1, 10)
    tr = tr_widgets.trace_recurrent(lstm, torch.tensor([1.0, 2, 3, 4, 5]).view(5, 1, 1))
    W_ih, W_hh = lstm.weight_ih_l0.tolist(), lstm.weight_hh_l0.tolist()
    b = [a + c for a, c in zip(lstm.bias_ih_l0.tolist(), lstm.bias_hh_l0.tolist())]
    H = 10
    h, c = [0.0] * H, [0.0] * H
    for t, x in enumerate([1.0, 2, 3, 4, 5]):
        pre = [W_ih[r][0] * x + sum(W_hh[r][j] * h[j] for j in range(H)) + b[r] for r in range(4 * H)]
        i = [sigmoid(a) for a in pre[:H]]
        f = [sigmoid(a) for a in pre[H:2 * H]]
        g = [math.tanh(a) for a in pre[2 * H:3 * H]]
        o = [sigmoid(a) for a in pre[3 * H:]]
        c = [f[u] * c[u] + i[u] * g[u] for u in range(H)]
        h = [o[u] * math.tanh(c[u]) for u in range(H)]
        gates = tr.gates()
        for name, want in zip("ifgo", (i, f, g, o)):
            assert all(math.isclose(a, w, abs_tol=1e-6) for a, w in zip(gates[name][t, 0].tolist(), want))
        assert all(math.isclose(a, w, abs_tol=1e-6) for a, w in zip(tr.cell()[t, 0].tolist(), c))
        assert all(math.isclose(a, w, abs_tol=1e-6) for a, w in zip(tr.hidden()[t, 0].tolist(), h))


def test_002_softmax_of_qk_over_sqrt_dk():
    """002: softmax(QKᵀ/√d_k) with Q = [1, 2, 3], d_k = 3.

    With the single key K = [4, 5, 6] the only weight is 1 (the article prints [0.2, 0.4, 0.4]).
    With three keys whose raw scores are [4, 5, 6], the weights are softmax([4, 5, 6]/√3).
    """
    q = torch.tensor([[1.0, 2.0, 3.0]])
    one = tr_widgets.trace_attention(q, torch.tensor([[4.0, 5.0, 6.0]]), torch.tensor([[1.0]]))
    assert math.isclose(one.scores.item(), 1 * 4 + 2 * 5 + 3 * 6)
    assert math.isclose(one.scaled.item(), 32 / math.sqrt(3), rel_tol=1e-6)
    assert one.weights.item() == 1.0
    keys = torch.tensor([[4.0, 0, 0], [0, 2.5, 0], [0, 0, 2.0]])  # q·k_j = 4, 5, 6
    three = tr_widgets.trace_attention(q, keys, torch.eye(3))
    z = [math.exp(s / math.sqrt(3)) for s in (4, 5, 6)]
    expected = [e / sum(z) for e in z]
    assert three.scores[0].tolist() == [4.0, 5.0, 6.0]
    assert all(math.isclose(a, e, rel_tol=1e-6) for a, e in zip(three.weights[0].tolist(), expected))
    # Even without the 1/√d_k the article's [0.2, 0.4, 0.4] is not softmax([4, 5, 6]).
    plain = [math.exp(s) / sum(math.exp(u) for u in (4, 5, 6)) for s in (4, 5, 6)]
    assert not math.isclose(plain[0], 0.2, abs_tol=0.05)
    # Each output is the weighted sum of the values: with V = I it is the weight vector itself.
    torch.testing.assert_close(three.output[0], three.weights[0])
