"""what_if on recurrent nets (issue 24): every edited run is checked against the same change made BY HAND
(torch's own modules run in two pieces from a patched state, a plain loop of torch's equations with the gate
replaced, a forward hook on the user's cell), and the model is left exactly as found (hook tables, instance
forwards, weights), errors included."""
import pytest
import torch
from torch import nn

import tr_widgets
from tests.loops.test_module_loops import RNN, GRUCell
from tr_widgets.engine.whatif.apply import footprint
from tr_widgets.engine.whatif.edits import Edit
from tr_widgets.engine.whatif.run import what_if

T, I, H, B = 9, 3, 5, 2


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_untouched(model, found, before_weights):
    assert footprint(model) == found
    assert all("forward" not in m.__dict__ for m in model.modules())
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before_weights.items())


def by_hand_state(module, x, t, make_new):
    """The module's own forward up to step t, the state patched, then its own forward from there."""
    out1, hn = module(x[:t + 1])
    new = make_new(hn)
    out2, hn2 = module(x[t + 1:], new) if t + 1 < len(x) else (out1[:0], new)
    out1 = out1.clone()
    out1[-1] = (new[0] if isinstance(new, tuple) else new)[0]  # h_t as carried on
    return torch.cat([out1, out2]), hn2


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
@pytest.mark.parametrize("t", [0, 4, T - 1])
def test_state_edit_equals_the_module_run_in_two_pieces(cls, t):
    torch.manual_seed(t)
    m, x = cls(I, H), torch.randn(T, B, I)
    found, w0 = footprint(m), weights(m)
    new_h = torch.randn(B, H)
    value = (new_h, 0.0) if cls is nn.LSTM else new_h
    wi = what_if(m, lambda: m(x), Edit.state(cls.__name__, t, value))
    patch = (lambda hn: (new_h[None], torch.zeros_like(hn[1]))) if cls is nn.LSTM else (lambda hn: new_h[None])
    ref, ref_hn = by_hand_state(m, x, t, patch)  # in the run's grad mode: torch picks its kernel by it
    out, hn = wi.after_output
    assert torch.equal(out, ref)  # bitwise: the same fused kernels on the same inputs
    assert torch.equal(hn[0] if cls is nn.LSTM else hn, ref_hn[0] if cls is nn.LSTM else ref_hn)
    assert torch.equal(out[:t], wi.before_output[0][:t])
    name = cls.__name__
    assert wi.diverges_at[name] == t
    assert torch.equal(wi.after[name].hidden()[t], new_h)  # step t+1 replays from the state it received
    if cls is nn.LSTM:  # the after trace's cell state is the one the run carried
        assert torch.equal(wi.after[name].cell()[t], torch.zeros(B, H))
    assert_untouched(m, found, w0)


def test_lstm_state_edit_keeping_c_restarts_from_the_recorded_cell_state():
    torch.manual_seed(5)
    m, x = nn.LSTM(I, H), torch.randn(T, B, I)
    wi = what_if(m, lambda: m(x)[0], Edit.state("LSTM", 4, (lambda h: -h, None)))  # h_4 negated, c_4 kept
    ref, _ = by_hand_state(m, x, 4, lambda hn: (-hn[0], hn[1]))
    torch.testing.assert_close(wi.after_output, ref, atol=1e-6, rtol=0)
    torch.testing.assert_close(wi.after["LSTM"].cell()[4], wi.before["LSTM"].cell()[4], atol=1e-6, rtol=0)
    assert wi.diverges_at["LSTM"] == 4


def lstm_by_hand(m, x, gate, steps, value, bf=False):
    """A plain loop of torch's LSTM equations on the module's weights, gate replaced at `steps`."""
    xs = x.transpose(0, 1) if bf else x
    h = torch.zeros(xs.shape[1], m.hidden_size)
    c, hs, cs = torch.zeros_like(h), [], []
    with torch.no_grad():
        for t in range(xs.shape[0]):
            a = xs[t] @ m.weight_ih_l0.T + m.bias_ih_l0 + h @ m.weight_hh_l0.T + m.bias_hh_l0
            i, f, g, o = a.chunk(4, -1)
            gates = {"i": i.sigmoid(), "f": f.sigmoid(), "g": g.tanh(), "o": o.sigmoid()}
            if t in steps:
                gates[gate] = value(gates[gate]) if callable(value) else torch.full_like(gates[gate], value)
            c = gates["f"] * c + gates["i"] * gates["g"]
            h = gates["o"] * c.tanh()
            hs.append(h), cs.append(c)
    return torch.stack(hs), torch.stack(cs)


@pytest.mark.parametrize("gate, value", [("f", 1.0), ("i", 0.0), ("o", lambda old: old * 0.5)])
def test_lstm_gate_edit_equals_a_plain_loop(gate, value):
    torch.manual_seed(1)
    m, x = nn.LSTM(I, H), torch.randn(T, B, I)
    found, w0 = footprint(m), weights(m)
    wi = what_if(m, lambda: m(x)[0], Edit.gate("LSTM", gate, [3, 5], value))
    ref_h, ref_c = lstm_by_hand(m, x, gate, (3, 5), value)
    torch.testing.assert_close(wi.after_output, ref_h, atol=1e-6, rtol=0)
    torch.testing.assert_close(wi.after["LSTM"].cell(), ref_c, atol=1e-6, rtol=0)
    assert torch.equal(wi.after_output[:3], wi.before_output[:3])  # reused, bitwise
    assert wi.diverges_at["LSTM"] == 3
    assert_untouched(m, found, w0)
    shown, would = wi.after["LSTM"].gates()[gate], wi.before["LSTM"].gates()[gate]
    if callable(value):  # step 3 sees the recorded h_2: half the gate the model computed there
        torch.testing.assert_close(shown[3], value(would[3]), atol=1e-6, rtol=0)
    else:  # the after trace shows the gate the run used, not the one the model would compute
        assert all(torch.equal(shown[t], torch.full_like(shown[t], value)) for t in (3, 5))
    ref = wi.after["LSTM"].cell()  # and c_t = f_t c_{t-1} + i_t g_t holds with the gates shown
    g = wi.after["LSTM"].gates()
    torch.testing.assert_close(ref[3], g["f"][3] * ref[2] + g["i"][3] * g["g"][3], atol=1e-6, rtol=0)


def test_gru_gate_edit_batch_first_equals_a_plain_loop():
    torch.manual_seed(2)
    m, x = nn.GRU(I, H, batch_first=True), torch.randn(B, T, I)
    wi = what_if(m, lambda: m(x)[0], Edit.gate("GRU", "z", 4, 1.0))  # z = 1: the state passes step 4 unchanged
    out = wi.after_output
    assert torch.equal(out[:, 4], out[:, 3])
    assert torch.equal(wi.after["GRU"].gates()["z"][4], torch.ones(B, H))  # the z the run used, shown
    ref = m(x[:, 5:], out[:, 4][None].contiguous())[0]  # from step 5 on: its own forward from the state given
    torch.testing.assert_close(out[:, 5:], ref, atol=1e-6, rtol=0)
    assert wi.diverges_at["GRU"] == 4


def test_cell_loop_state_and_gate_edits_equal_a_hooked_loop():
    torch.manual_seed(3)
    cell, x = nn.LSTMCell(I, H), torch.randn(T, B, I)

    def run():
        h = c = torch.zeros(B, H)
        hs = []
        for t in range(T):
            h, c = cell(x[t], (h, c))
            hs.append(h)
        return torch.stack(hs)
    wi = what_if(cell, run, Edit.state("LSTMCell", 2, (0.0, None)))
    handle = cell.register_forward_hook(lambda mod, inp, out: (torch.zeros_like(out[0]), out[1])
                                        if inp[0] is x[2] else None)
    try:
        x = x.clone()  # fresh step tensors so `is` picks out step 2 only
        xs = [x[t] for t in range(T)]
        handle.remove()
        handle = cell.register_forward_hook(lambda mod, inp, out: (torch.zeros_like(out[0]), out[1])
                                            if inp[0] is xs[2] else None)
        h = c = torch.zeros(B, H)
        hs = []
        for t in range(T):
            h, c = cell(xs[t], (h, c))
            hs.append(h)
    finally:
        handle.remove()
    assert torch.equal(wi.after_output, torch.stack(hs))
    assert wi.diverges_at["LSTMCell"] == 2
    wi = what_if(cell, run, Edit.gate("LSTMCell", "f", 3, 0.0))
    ref_h, _ = lstm_by_hand(cell_as_lstm(cell), x, "f", (3,), 0.0)
    torch.testing.assert_close(wi.after_output, ref_h, atol=1e-6, rtol=0)


def cell_as_lstm(cell):
    m = nn.LSTM(I, H)
    with torch.no_grad():
        for a, b in (("weight_ih", "weight_ih_l0"), ("weight_hh", "weight_hh_l0"), ("bias_ih", "bias_ih_l0"),
                     ("bias_hh", "bias_hh_l0")):
            getattr(m, b).copy_(getattr(cell, a))
    return m


def test_hand_written_recurrence_state_edit_equals_a_forward_hook():
    torch.manual_seed(4)
    model, idx = RNN(GRUCell), torch.randint(0, 11, (3, 7))
    found, w0 = footprint(model), weights(model)
    wi = what_if(model, lambda: model(idx), Edit.state("cell", 3, 0.0))
    calls = []

    def hook(mod, inp, out):
        calls.append(1)
        return torch.zeros_like(out) if len(calls) == 4 else None
    handle = model.cell.register_forward_hook(hook)
    try:
        ref = model(idx)
    finally:
        handle.remove()
    assert torch.equal(wi.after_output, ref)
    assert wi.diverges_at["cell"] == 3
    assert torch.equal(wi.after["cell"].state(3), torch.zeros(3, 8))
    assert torch.equal(wi.after_output[:, :3], wi.before_output[:, :3])
    assert_untouched(model, found, w0)


def test_the_model_is_left_as_found_when_the_run_raises():
    m, x = nn.GRU(I, H), torch.randn(T, B, I)
    found, w0 = footprint(m), weights(m)
    runs = []

    def run():
        runs.append(1)
        out = m(x)
        if len(runs) == 2:
            raise RuntimeError("boom in the edited run")
        return out
    with pytest.raises(RuntimeError, match="boom"):
        what_if(m, run, Edit.state("GRU", 2, 0.0))
    assert_untouched(m, found, w0)
    assert torch._C._len_torch_function_stack() == 0


def test_public_names():
    assert tr_widgets.Edit is Edit and tr_widgets.what_if is what_if
