"""PackedSequence inputs to nn.RNN / nn.LSTM / nn.GRU: traced with each sequence at its own length, in
trace_recurrent and under capture. Every value equals that sequence traced alone; the output is the
module's own PackedSequence; positions past a sequence's end hold 0, and stepping there is refused."""
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

import tr_widgets
from tr_widgets.engine.capture import capture
from tr_widgets.engine.errors import TraceInputError

TOL = dict(atol=1e-6, rtol=1e-5)
MODULES = {
    "lstm-2layer-bi": lambda: nn.LSTM(3, 4, num_layers=2, bidirectional=True),
    "lstm-proj-bi": lambda: nn.LSTM(3, 5, proj_size=2, bidirectional=True),
    "gru-2layer-batch-first": lambda: nn.GRU(3, 4, num_layers=2, batch_first=True),
    "rnn-relu-bi": lambda: nn.RNN(3, 4, nonlinearity="relu", bidirectional=True),
}
LENGTHS = [3, 6, 1, 4]  # unsorted: the trace keeps the batch's own order


def _state(m, B, seed):
    g = torch.Generator().manual_seed(seed)
    D = 2 if m.bidirectional else 1
    h = torch.randn(m.num_layers * D, B, getattr(m, "proj_size", 0) or m.hidden_size, generator=g)
    return (h, torch.randn(m.num_layers * D, B, m.hidden_size, generator=g)) if isinstance(m, nn.LSTM) else h


def _one(hx, b):
    return tuple(s[:, b:b + 1] for s in hx) if isinstance(hx, tuple) else hx[:, b:b + 1]


def assert_each_sequence_alone(tr, m, padded, hx):
    """padded: [T, B, I] time-major. Every layer, direction, gate, state and step of sequence b equals the
    trace of sequence b alone (its own steps only); the padding holds zeros."""
    valid = tr.valid()
    for b, L in enumerate(tr.lengths):
        x_b = padded[:L, b:b + 1]  # [L, 1, I]
        alone = tr_widgets.trace_recurrent(m, x_b.transpose(0, 1) if m.batch_first else x_b, _one(hx, b))
        for layer in range(tr.num_layers):
            for d in range(tr.num_directions):
                torch.testing.assert_close(tr.hidden(layer, d)[:L, b], alone.hidden(layer, d)[:, 0], **TOL)
                for g, v in alone.gates(layer, d).items():
                    torch.testing.assert_close(tr.gates(layer, d)[g][:L, b], v[:, 0], **TOL)
                    assert not tr.gates(layer, d)[g][L:, b].any()
                if tr.spec.has_cell:
                    torch.testing.assert_close(tr.cell(layer, d)[:L, b], alone.cell(layer, d)[:, 0], **TOL)
                    assert not tr.cell(layer, d)[L:, b].any()
                for t in {0, L - 1}:
                    got, want = tr.step(t, layer, d, batch=b), alone.step(t, layer, d)
                    assert got.tensors.keys() == want.tensors.keys()
                    for k in want.tensors:
                        torch.testing.assert_close(got[k], want[k], **TOL)
        assert int(valid[:, b].sum()) == L
        own = tr.sequence(b)  # the same sequence as a trace of its own, from the packed trace's tensors
        assert (own.seq_len, own.batch_size, own.lengths) == (L, 1, None)
        assert torch.equal(own.h_n, tr.h_n[:, b:b + 1]) and torch.equal(own.hidden(), tr.hidden()[:L, b:b + 1])
        for layer in range(tr.num_layers):
            for d in range(tr.num_directions):
                torch.testing.assert_close(own.hidden(layer, d), alone.hidden(layer, d), **TOL)
                for g, v in alone.gates(layer, d).items():
                    torch.testing.assert_close(own.gates(layer, d)[g], v, **TOL)
                if tr.spec.has_cell:
                    torch.testing.assert_close(own.cell(layer, d), alone.cell(layer, d), **TOL)


@pytest.mark.parametrize("name", sorted(MODULES))
@pytest.mark.parametrize("with_state", [False, True])
def test_trace_recurrent_of_a_packed_batch_equals_each_sequence_alone(name, with_state):
    torch.manual_seed(0)
    m = MODULES[name]()
    padded = torch.randn(max(LENGTHS), len(LENGTHS), 3)  # [T, B, I]
    packed = pack_padded_sequence(padded, LENGTHS, enforce_sorted=False)
    hx = _state(m, len(LENGTHS), 1) if with_state else None
    tr = tr_widgets.trace_recurrent(m, packed, hx)
    assert tr.lengths == tuple(LENGTHS) and tr.seq_len == max(LENGTHS) and tr.batch_size == len(LENGTHS)
    assert "lengths=[3, 6, 1, 4]" in repr(tr)
    out, hidden = m(packed, hx)
    assert isinstance(tr.output, PackedSequence) and torch.equal(tr.output.data, out.data)  # the module's own
    h_n = hidden[0] if isinstance(m, nn.LSTM) else hidden
    assert torch.equal(tr.h_n, h_n)
    torch.testing.assert_close(tr.hidden(m.num_layers - 1, 0), pad_packed_sequence(out)[0][..., :tr.out_size])
    if hx is None:
        hx = tuple(torch.zeros_like(s) for s in _state(m, len(LENGTHS), 1)) if isinstance(m, nn.LSTM) else \
            torch.zeros_like(_state(m, len(LENGTHS), 1))
    assert_each_sequence_alone(tr, m, padded, hx)


def test_a_sorted_pack_and_a_step_past_the_end():
    torch.manual_seed(2)
    gru = nn.GRU(2, 3)
    seqs = [torch.randn(5, 2), torch.randn(2, 2)]
    tr = tr_widgets.trace_recurrent(gru, nn.utils.rnn.pack_sequence(seqs))
    assert tr.lengths == (5, 2)
    tr.step(1, batch=1)
    with pytest.raises(TraceInputError, match=r"t: expected a step of sequence 1, which ran 2 steps.*Fix: pick t < 2, "
                                              r"or step that sequence alone: trace.sequence\(1\)"):
        tr.step(3, batch=1)
    assert tr.sequence(1).step(1).t == 1
    with pytest.raises(TraceInputError, match=r"sequence\(\): expected a trace of a PackedSequence input"):
        tr_widgets.trace_recurrent(gru, torch.randn(3, 1, 2)).sequence(0)
    tr.step(4, batch=0)


class PackedTagger(nn.Module):
    """Real code's variable-length batch: embed, pack, run the encoder, pad back, classify."""

    def __init__(self, rnn):
        super().__init__()
        self.embed = nn.Embedding(10, 3)
        self.encoder = rnn
        self.head = nn.Linear(rnn.hidden_size * (2 if rnn.bidirectional else 1), 2)

    def forward(self, ids, lengths):
        packed = pack_padded_sequence(self.embed(ids), lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.encoder(packed)
        out, _ = pad_packed_sequence(out, batch_first=True)
        return self.head(out)


@pytest.mark.parametrize("make", [lambda: nn.LSTM(3, 4, batch_first=True, bidirectional=True),
                                  lambda: nn.GRU(3, 4, num_layers=2, batch_first=True)], ids=["lstm-bi", "gru-2"])
def test_under_capture_outputs_unchanged_and_each_sequence_at_its_length(make):
    torch.manual_seed(3)
    model = PackedTagger(make()).eval()
    ids, lengths = torch.randint(0, 10, (4, 6)), [2, 6, 4, 5]
    plain = model(ids, lengths)
    with capture(model) as rec:
        out = model(ids, lengths)
    assert torch.equal(out, plain)
    assert rec.names == ["encoder"] and not rec.skipped
    tr = rec["encoder"]
    assert tr.lengths == tuple(lengths)
    padded = model.embed(ids).detach().transpose(0, 1)  # [T, B, I]
    zeros = torch.zeros(tr.num_layers * tr.num_directions, 4, 4)
    assert_each_sequence_alone(tr, model.encoder, padded, (zeros, zeros) if tr.spec.has_cell else zeros)
