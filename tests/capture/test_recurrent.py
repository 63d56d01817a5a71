"""Recurrent modules inside a model, under capture: each call's trace equals trace_recurrent on the same
input and state, built from the module's own output (nothing runs twice); loops over a cell become one trace."""
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import tr_widgets
from tr_widgets.engine.capture import capture


def assert_same_trace(got, want):
    assert (got.kind, got.num_layers, got.num_directions, got.seq_len, got.batch_size) == \
           (want.kind, want.num_layers, want.num_directions, want.seq_len, want.batch_size)
    for layer in range(want.num_layers):
        for d in range(want.num_directions):
            torch.testing.assert_close(got.hidden(layer, d), want.hidden(layer, d), atol=1e-6, rtol=1e-5)
            for g, t in want.gates(layer, d).items():
                torch.testing.assert_close(got.gates(layer, d)[g], t, atol=1e-6, rtol=1e-5)
            if want.kind == "lstm":
                torch.testing.assert_close(got.cell(layer, d), want.cell(layer, d), atol=1e-6, rtol=1e-5)
    a, b = got.step(got.seq_len - 1), want.step(want.seq_len - 1)
    assert a.tensors.keys() == b.tensors.keys()
    for k in a.tensors:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=1e-5)


class Tagger(nn.Module):
    """Embedding -> a recurrent encoder -> linear: a model that holds the recurrent module inside."""

    def __init__(self, rnn: nn.Module):
        super().__init__()
        self.embed = nn.Embedding(20, rnn.input_size)
        self.encoder = rnn
        self.head = nn.Linear((getattr(rnn, "proj_size", 0) or rnn.hidden_size) * (2 if rnn.bidirectional else 1), 3)

    def forward(self, ids, hx=None):
        out, _ = self.encoder(self.embed(ids), hx)
        return self.head(out)


MODULES = {
    "lstm-2layer-bi": lambda: nn.LSTM(4, 5, num_layers=2, bidirectional=True, batch_first=True),
    "lstm-proj": lambda: nn.LSTM(4, 6, proj_size=3, batch_first=True),
    "gru-3layer": lambda: nn.GRU(4, 5, num_layers=3, batch_first=True),
    "rnn-relu-bi": lambda: nn.RNN(4, 5, nonlinearity="relu", bidirectional=True, batch_first=True),
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_recurrent_inside_a_model_equals_trace_recurrent(name):
    torch.manual_seed(0)
    model = Tagger(MODULES[name]()).eval()
    ids = torch.randint(0, 20, (2, 7))
    plain = model(ids)
    with capture(model) as rec:
        out = model(ids)
    assert torch.equal(out, plain)
    assert rec.names == ["encoder"]
    assert_same_trace(rec["encoder"], tr_widgets.trace_recurrent(model.encoder, model.embed(ids).detach()))


def test_initial_state_and_repeated_calls():
    torch.manual_seed(1)
    lstm = nn.LSTM(3, 4, num_layers=2)
    x1, x2 = torch.randn(5, 2, 3), torch.randn(3, 2, 3)
    hx = (torch.randn(2, 2, 4), torch.randn(2, 2, 4))
    with capture(lstm) as rec:
        _, state = lstm(x1, hx)
        lstm(x2, state)
    assert rec.names == ["LSTM", "LSTM#2"]
    assert_same_trace(rec["LSTM"], tr_widgets.trace_recurrent(lstm, x1, hx))
    assert_same_trace(rec["LSTM#2"], tr_widgets.trace_recurrent(lstm, x2, tuple(s.detach() for s in state)))


@pytest.mark.parametrize("cls", [nn.LSTMCell, nn.GRUCell, nn.RNNCell])
@pytest.mark.parametrize("batched", [True, False])
def test_a_loop_over_a_cell_is_one_trace(cls, batched):
    torch.manual_seed(2)
    cell = cls(3, 4)
    xs = torch.randn(6, 2, 3) if batched else torch.randn(6, 3)
    lstm = cls is nn.LSTMCell
    with capture(cell) as rec:
        state = None
        for x_t in xs:  # the user's own loop, feeding the state back in
            state = cell(x_t, state)
    (name, tr), = rec.traces
    assert name == cls.__name__ and tr.seq_len == 6
    seq = xs if batched else xs[:, None]  # [T, B, I]
    assert_same_trace(tr, tr_widgets.trace_recurrent(cell, seq))
    final = state[0] if lstm else state
    torch.testing.assert_close(tr.h_n.reshape(final.shape), final.detach())


def test_a_broken_chain_starts_a_new_trace_and_merge_cells_false_keeps_calls():
    torch.manual_seed(3)
    cell = nn.GRUCell(2, 3)
    xs = torch.randn(4, 1, 2)
    for merge, want in ((True, ["GRUCell", "GRUCell#2"]), (False, [f"GRUCell{s}" for s in ("", "#2", "#3", "#4")])):
        with capture(cell, merge_cells=merge) as rec:
            h = cell(xs[0])
            h = cell(xs[1], h)
            start = h * 0.5  # not the state the cell returned: a new loop starts here
            cell(xs[3], cell(xs[2], start))
        assert rec.names == want
        if merge:
            assert_same_trace(rec["GRUCell#2"], tr_widgets.trace_recurrent(cell, xs[2:4], start.detach()))
        else:
            assert rec["GRUCell#3"].seq_len == 1


def test_packed_sequences_are_traced_at_their_own_lengths():
    """(tests/loops/test_packed.py checks the values against each sequence traced alone.)"""
    lstm = nn.LSTM(2, 3)
    packed = pack_padded_sequence(torch.randn(4, 2, 2), [4, 2])
    with capture(lstm) as rec:
        lstm(packed)
    assert rec.names == ["LSTM"] and rec["LSTM"].lengths == (4, 2) and not rec.skipped


def test_weights_are_a_snapshot():
    torch.manual_seed(4)
    rnn = nn.RNN(2, 3)
    x = torch.randn(5, 1, 2)
    with capture(rnn) as rec:
        out, _ = rnn(x)
    with torch.no_grad():
        rnn.weight_hh_l0.mul_(2.0)  # trained afterwards
    tr = rec["RNN"]
    torch.testing.assert_close(tr.hidden()[:, 0], out[:, 0].detach())
    torch.testing.assert_close(tr.step(4)["h_t"], out[4, 0].detach(), atol=1e-6, rtol=1e-5)
