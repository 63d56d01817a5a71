"""torch's nn.RNN / nn.LSTM / nn.GRU called once per step with the state carried (seed 001's
TemporalReasoning): one RecurrentTrace over all steps under capture, equal to calling the module once on
the whole sequence; reuse in depth and broken chains stay separate traces, as before."""
import pytest
import torch
from torch import nn

import tr_widgets
from tr_widgets.engine.capture import capture

TOL = dict(atol=1e-6, rtol=1e-5)


class TemporalReasoning(nn.Module):
    """Written as seed 001 writes it: nn.LSTM called once per step, (h, c) carried by hand."""

    def __init__(self, input_size, hidden_size, num_layers):
        super().__init__()
        self.num_layers, self.hidden_size = num_layers, hidden_size
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers)
        self.states = []  # the model's own state after every step, kept for the test

    def forward(self, input_seq):
        h_t = torch.zeros(self.num_layers, 1, self.hidden_size)
        c_t = torch.zeros(self.num_layers, 1, self.hidden_size)
        for t in range(len(input_seq)):
            x_t = torch.tensor([input_seq[t]], dtype=torch.float32)
            x_t = x_t.unsqueeze(0).unsqueeze(0)  # [1, 1, 1]; the seed's one unsqueeze gives [1, 1], which
            # torch reads as an unbatched step and refuses beside the 3-D (h, c)
            output, (h_n, c_n) = self.lstm(x_t, (h_t, c_t))
            h_t = h_n
            c_t = c_n
            self.states.append((h_n.detach().clone(), c_n.detach().clone()))
        return output


def assert_same(got, want):
    assert (got.kind, got.seq_len, got.batch_size, got.num_layers) == (want.kind, want.seq_len, want.batch_size,
                                                                         want.num_layers)
    for layer in range(want.num_layers):
        torch.testing.assert_close(got.hidden(layer), want.hidden(layer), **TOL)
        for g, v in want.gates(layer).items():
            torch.testing.assert_close(got.gates(layer)[g], v, **TOL)
        if want.spec.has_cell:
            torch.testing.assert_close(got.cell(layer), want.cell(layer), **TOL)
    for t in (0, want.seq_len - 1):
        a, b = got.step(t, layer=want.num_layers - 1), want.step(t, layer=want.num_layers - 1)
        for k in b.tensors:
            torch.testing.assert_close(a[k], b[k], **TOL)


@pytest.mark.parametrize("layers", [1, 2])
def test_seed_001_is_one_trace_equal_to_the_whole_sequence(layers):
    torch.manual_seed(0)
    model = TemporalReasoning(1, 10, layers)
    seq = [1.0, 2.0, 3.0, 4.0, 5.0]
    plain = model(seq)
    model.states.clear()
    with capture(model) as rec:
        out = model(seq)
    assert torch.equal(out, plain)  # bitwise unchanged
    assert rec.names == ["lstm"]
    tr = rec["lstm"]
    assert len(model.states) == tr.seq_len == 5
    x = torch.tensor(seq).view(5, 1, 1)
    assert_same(tr, tr_widgets.trace_recurrent(model.lstm, x))
    whole, (h_n, c_n) = model.lstm(x)
    torch.testing.assert_close(tr.output, whole.detach(), **TOL)
    for t, (h, c) in enumerate(model.states):  # state(t) is the model's own state at every step
        for layer in range(layers):
            torch.testing.assert_close(tr.hidden(layer)[t], h[layer], **TOL)
            torch.testing.assert_close(tr.cell(layer)[t], c[layer], **TOL)
    torch.testing.assert_close(tr.h_n, model.states[-1][0], **TOL)


@pytest.mark.parametrize("make", [lambda: nn.GRU(3, 4, batch_first=True), lambda: nn.RNN(3, 4, num_layers=2),
                                  lambda: nn.LSTM(3, 5, proj_size=2), lambda: nn.GRU(3, 4)],
                         ids=["gru-batch-first", "rnn-2layer", "lstm-proj", "gru-unbatched"])
def test_other_modules_and_layouts_called_per_step(make):
    torch.manual_seed(1)
    m = make()
    unbatched = isinstance(m, nn.GRU) and not m.batch_first
    xs = torch.randn(6, 3) if unbatched else torch.randn(6, 2, 3)  # [T, (B,) I]
    state, outs = None, []
    with capture(m) as rec:
        for t in range(6):
            x_t = xs[t:t + 1]  # one step: [1, (B,) I]
            if m.batch_first:
                x_t = x_t.transpose(0, 1)  # [B, 1, I]
            out, state = m(x_t, state)
            outs.append(out)
    assert len(rec) == 1 and rec.traces[0][1].seq_len == 6
    seq = xs.transpose(0, 1) if m.batch_first else xs
    assert_same(rec.traces[0][1], tr_widgets.trace_recurrent(m, seq))
    torch.testing.assert_close(rec.traces[0][1].output, torch.cat(outs, dim=1 if m.batch_first else 0).detach())


def test_a_detached_state_still_links_but_a_changed_one_does_not():
    torch.manual_seed(2)
    gru = nn.GRU(2, 3)
    xs = torch.randn(4, 1, 1, 2)
    with capture(gru) as rec:
        _, h = gru(xs[0])
        _, h = gru(xs[1], h.detach())  # truncated backprop's detach: the same memory, the same state
        h = h * 0.5  # a new state: a new loop starts here
        gru(xs[2], h)
    assert rec.names == ["GRU", "GRU#2"] and rec["GRU"].seq_len == 2 and rec["GRU#2"].seq_len == 1
    with capture(gru) as rec:
        _, h = gru(xs[0])
        h.mul_(2.0)  # written in place after it was returned: not the state the call left
        gru(xs[1], h)
    assert rec.names == ["GRU", "GRU#2"]


def test_reuse_in_depth_gives_no_time_trace():
    """``for _ in range(n): out, h = gru(out, h)``: the input is the previous output, not a fresh one."""
    torch.manual_seed(3)
    gru = nn.GRU(4, 4)
    x = torch.randn(1, 2, 4)
    with capture(gru) as rec:
        out, h = x, None
        for _ in range(3):
            out, h = gru(out, h)
    assert rec.names == ["GRU", "GRU#2", "GRU#3"]
    assert all(tr.seq_len == 1 for _, tr in rec.traces)


def test_chunks_bidirectional_and_merge_cells_false_stay_calls_of_their_own():
    torch.manual_seed(4)
    lstm = nn.LSTM(2, 3)
    with capture(lstm) as rec:  # calls over several steps already show their steps
        _, s = lstm(torch.randn(3, 1, 2))
        lstm(torch.randn(2, 1, 2), s)
    assert [tr.seq_len for _, tr in rec.traces] == [3, 2]
    bi = nn.GRU(2, 3, bidirectional=True)
    with capture(bi) as rec:
        _, h = bi(torch.randn(1, 1, 2))
        bi(torch.randn(1, 1, 2), h)
    assert rec.names == ["GRU", "GRU#2"]
    with capture(lstm, merge_cells=False) as rec:
        _, s = lstm(torch.randn(1, 1, 2))
        lstm(torch.randn(1, 1, 2), s)
    assert rec.names == ["LSTM", "LSTM#2"]


def test_drained_records_start_a_new_chain():
    """decode drains the record after each tick: a chain whose entry was drained is not grown invisibly."""
    torch.manual_seed(5)
    rnn = nn.RNN(2, 3)
    with capture(rnn) as cap:
        _, h = rnn(torch.randn(1, 1, 2))
        first = cap.drain()
        _, h = rnn(torch.randn(1, 1, 2), h)
        second = cap.drain()
    assert [tr.seq_len for _, tr in first] == [1] and [tr.seq_len for _, tr in second] == [1]
