"""Keras 3 recurrent layers on the torch backend under capture: outputs unchanged, traces equal to Keras's own
outputs (fp32, 1e-6), Keras's gate names, and gates equal to torch's own modules given the same weights."""
import pytest
import torch
from torch import nn

import tr_widgets
from tr_widgets import trace_recurrent

keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # keras was imported before tests/keras/conftest.py set the backend
    pytest.skip("keras runs on another backend in this process", allow_module_level=True)

L = keras.layers
ATOL = 1e-6


def _t(v):
    return v.value.detach().clone()  # a Keras variable's torch parameter


def _close(a, b):
    torch.testing.assert_close(a.detach().float(), b.detach().float(), atol=ATOL, rtol=0)


def _captured(model, x):
    ref = model(x)
    with tr_widgets.capture(model) as rec:
        out = model(x)
    assert torch.equal(out, ref)  # bitwise unchanged
    return rec, out


def _seed000(units=50):
    """Seed 000's model (tensorflow.keras -> keras): Embedding, LSTM(tanh), Dense(sigmoid)."""
    keras.utils.set_random_seed(0)
    return keras.Sequential([L.Input((None,)), L.Embedding(input_dim=5, output_dim=10),
                             L.LSTM(units=units, activation="tanh"), L.Dense(units=1, activation="sigmoid")])


def _seed004(vocab=40, emb=16, hidden=12, layers=2):
    """Seed 004's model, small: Embedding, two LSTMs returning sequences, TimeDistributed softmax head."""
    keras.utils.set_random_seed(1)
    stack = [L.Input((None,)), L.Embedding(vocab, emb)]
    stack += [L.LSTM(hidden, return_sequences=True) for _ in range(layers)]
    return keras.Sequential(stack + [L.TimeDistributed(L.Dense(vocab, activation="softmax"))])


def _torch_lstm(cell) -> nn.LSTM:
    """torch's LSTM with a Keras LSTMCell's weights: Keras i, f, c, o is torch's i, f, g, o (x W vs W x)."""
    K, R, b = _t(cell.kernel), _t(cell.recurrent_kernel), _t(cell.bias)
    m = nn.LSTM(K.shape[0], R.shape[0], batch_first=True)
    with torch.no_grad():
        m.weight_ih_l0.copy_(K.T), m.weight_hh_l0.copy_(R.T), m.bias_ih_l0.copy_(b), m.bias_hh_l0.zero_()
    return m


def test_seed000_lstm_equals_keras_and_torch():
    model = _seed000()
    x = torch.tensor([[0, 1, 2, 3], [3, 2, 1, 0]])
    rec, _ = _captured(model, x)
    lstm = model.layers[1]
    assert rec.names == [lstm.name]  # Keras's own layer name
    tr = rec[rec.names[0]]
    assert tr.kind == "keras_lstm" and tr.spec.gates == ("i", "f", "c", "o")  # Keras's own names and order
    emb = model.layers[0](x)
    _close(tr.h_n, lstm(emb))  # the layer returns its last state only
    full = L.LSTM(50, return_sequences=True, return_state=True)
    full(emb)  # built, then given the weights
    full.set_weights(lstm.get_weights())
    seq, h, c = full(emb)
    _close(tr.hidden().transpose(0, 1), seq)  # every step, against Keras
    _close(tr.cell()[-1], c)
    ref = trace_recurrent(_torch_lstm(lstm.cell), emb.detach())  # an independent oracle: torch's nn.LSTM
    for mine, theirs in zip("ifco", "ifgo"):
        _close(tr.gates()[mine], ref.gates()[theirs])
    _close(tr.cell(), ref.cell())
    st = tr.step(2, batch=1)
    _close(st["c_t"], st["f"] * st["c_prev"] + st["i"] * st["c"])
    _close(st["h_t"], seq[1, 2])


def test_seed004_stacked_lstms_each_equal_keras():
    model = _seed004()
    x = torch.randint(0, 40, (3, 9))
    rec, _ = _captured(model, x)
    assert rec.names == [layer.name for layer in model.layers[1:3]]
    h = model.layers[0](x)
    for name, layer in zip(rec.names, model.layers[1:3]):
        tr = rec[name]
        _close(tr.inputs().transpose(0, 1), h)  # the layer below's own output is this one's input
        h = layer(h)
        _close(tr.hidden().transpose(0, 1), h)
        assert tuple(tr.gates()) == ("i", "f", "c", "o")


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_both_conventions(reset_after):
    keras.utils.set_random_seed(2)
    layer = L.GRU(6, return_sequences=True, reset_after=reset_after)
    x = torch.randn(2, 7, 5)
    model = keras.Sequential([L.Input((7, 5)), layer])
    rec, out = _captured(model, x)
    tr = rec[rec.names[0]]
    assert tr.spec.gates == ("z", "r", "h")
    _close(tr.hidden().transpose(0, 1), out)
    st = tr.step(4)
    _close(st["h_t"], st["z"] * st["h_prev"] + (1 - st["z"]) * st["h"])  # Keras's h_t = z h + (1 - z) hh
    if reset_after:  # the same GRU as torch's, gates reordered (Keras z, r, h = torch z, r, n)
        cell = layer.cell
        K, R, b = _t(cell.kernel), _t(cell.recurrent_kernel), _t(cell.bias)
        order = lambda t: torch.cat([t[..., 6:12], t[..., :6], t[..., 12:]], dim=-1)  # noqa: E731 z,r,h -> r,z,n
        g = nn.GRU(5, 6, batch_first=True)
        with torch.no_grad():
            g.weight_ih_l0.copy_(order(K).T), g.weight_hh_l0.copy_(order(R).T)
            g.bias_ih_l0.copy_(order(b[0])), g.bias_hh_l0.copy_(order(b[1]))
        ref = trace_recurrent(g, x)
        for mine, theirs in (("z", "z"), ("r", "r"), ("h", "n")):
            _close(tr.gates()[mine], ref.gates()[theirs])


def test_simple_rnn_equals_torch_rnn():
    keras.utils.set_random_seed(3)
    layer = L.SimpleRNN(4, return_sequences=True)
    x = torch.randn(3, 6, 2)
    rec, out = _captured(keras.Sequential([L.Input((6, 2)), layer]), x)
    tr = rec[rec.names[0]]
    _close(tr.hidden().transpose(0, 1), out)
    m = nn.RNN(2, 4)  # time-major, as the trace
    with torch.no_grad():
        m.weight_ih_l0.copy_(_t(layer.cell.kernel).T), m.weight_hh_l0.copy_(_t(layer.cell.recurrent_kernel).T)
        m.bias_ih_l0.copy_(_t(layer.cell.bias)), m.bias_hh_l0.zero_()
    _close(tr.hidden(), trace_recurrent(m, x.transpose(0, 1)).hidden())


def test_bidirectional_and_stacked_cells():
    keras.utils.set_random_seed(4)
    bi = L.Bidirectional(L.LSTM(5, return_sequences=True), merge_mode=None)
    x = torch.randn(2, 6, 3)
    inp = keras.Input((6, 3))
    fwd, bwd = bi(inp)
    stacked = L.RNN([L.SimpleRNNCell(4), L.GRUCell(3)], return_sequences=True)
    model = keras.Model(inp, [fwd, bwd, stacked(fwd)])
    ref = model(x)
    with tr_widgets.capture(model) as rec:
        out = model(x)
    assert all(torch.equal(a, b) for a, b in zip(out, ref))
    names = rec.names
    sub = f"{stacked.name}.{stacked.cell.name}."  # Keras's paths, dotted
    assert names == [f"{bi.name}.{bi.forward_layer.name}", f"{bi.name}.{bi.backward_layer.name}",
                     *(sub + c.name for c in stacked.cell.cells)]
    _close(rec[names[0]].hidden().transpose(0, 1), out[0])
    # the backward layer is traced in the order it ran; Bidirectional flips its outputs back to input order
    _close(rec[names[1]].hidden().flip(0).transpose(0, 1), out[1])
    _close(rec[names[1]].inputs(), x.transpose(0, 1).flip(0))
    low, high = rec[names[2]], rec[names[3]]
    assert (low.kind, high.kind) == ("keras_simple_rnn", "keras_gru")
    _close(high.inputs(), low.hidden())  # the upper cell steps over the lower one's states
    _close(high.hidden().transpose(0, 1), out[2])


def test_rnn_over_lstm_cell_with_initial_state():
    keras.utils.set_random_seed(5)
    layer = L.RNN(L.LSTMCell(4), return_sequences=True)
    x, h0, c0 = torch.randn(2, 5, 3), torch.randn(2, 4), torch.randn(2, 4)
    ref = layer(x, initial_state=[h0, c0])
    with tr_widgets.capture(layer) as rec:
        out = layer(x, initial_state=[h0, c0])
    assert torch.equal(out, ref)
    tr = rec[rec.names[0]]
    _close(tr.h0[0], h0), _close(tr.c0[0], c0)
    _close(tr.hidden().transpose(0, 1), out)
    ref_tr = trace_recurrent(_torch_lstm(layer.cell), x, (h0[None], c0[None]))
    _close(tr.cell(), ref_tr.cell())


def test_seed000_predict_under_capture():
    """Seed 000 predicts with model.predict (numpy in, numpy out): recorded all the same."""
    import numpy as np
    model = _seed000(units=8)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    x = np.array([[0, 1, 2, 3]])
    ref = model.predict(x, verbose=0)
    with tr_widgets.capture(model) as rec:
        out = model.predict(x, verbose=0)
    assert np.array_equal(out, ref) and rec.names == [model.layers[1].name]
    emb = model.layers[0](torch.as_tensor(x))
    _close(rec[rec.names[0]].h_n, model.layers[1](emb))



def test_the_recurrent_stepper_steps_a_keras_trace():
    model = _seed004(vocab=10, emb=4, hidden=3, layers=1)
    rec, _ = _captured(model, torch.randint(0, 10, (1, 5)))
    s = tr_widgets.show(rec[rec.names[0]], progress=False)
    s.step = 4
    assert "keras_lstm" in repr(s) and "t=4" in repr(s)
