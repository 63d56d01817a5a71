"""A module called once per step, found by data flow: the user's own cell in a forward (written in the style
of makemore's RNNCell / GRUCell) and a whole model called in the user's loop (PyTorch's char-RNN tutorial).
One LoopTrace of T steps; outputs bitwise unchanged; state(t) is the model's own state at every step; the
cell's intermediates appear under the code's names, equal to what the cell computes on that step."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tr_widgets.engine.capture import capture
from tr_widgets.engine.loops import LoopTrace


class RNNCell(nn.Module):
    """makemore's style: one step of a plain RNN from an nn.Linear over [x_t, h_{t-1}]."""

    def __init__(self, n_embd, n_embd2):
        super().__init__()
        self.xh_to_h = nn.Linear(n_embd + n_embd2, n_embd2)

    def forward(self, xt, hprev):
        xh = torch.cat([xt, hprev], dim=1)
        ht = F.tanh(self.xh_to_h(xh))
        return ht


class GRUCell(nn.Module):
    """makemore's style: a GRU step from three nn.Linear layers."""

    def __init__(self, n_embd, n_embd2):
        super().__init__()
        self.xh_to_z = nn.Linear(n_embd + n_embd2, n_embd2)
        self.xh_to_r = nn.Linear(n_embd + n_embd2, n_embd2)
        self.xh_to_hbar = nn.Linear(n_embd + n_embd2, n_embd2)

    def forward(self, xt, hprev):
        xh = torch.cat([xt, hprev], dim=1)
        r = F.sigmoid(self.xh_to_r(xh))
        hprev_reset = r * hprev
        xhr = torch.cat([xt, hprev_reset], dim=1)
        hbar = F.tanh(self.xh_to_hbar(xhr))
        z = F.sigmoid(self.xh_to_z(xh))
        ht = (1 - z) * hprev + z * hbar
        return ht


class RNN(nn.Module):
    """makemore's style: embed, a learned start state, the cell called once per position, a head."""

    def __init__(self, cell, vocab=11, n_embd=6, n_embd2=8):
        super().__init__()
        self.start = nn.Parameter(torch.randn(1, n_embd2) * 0.1)
        self.wte = nn.Embedding(vocab, n_embd)
        self.cell = cell(n_embd, n_embd2)
        self.lm_head = nn.Linear(n_embd2, vocab)
        self.hiddens = None  # kept for the test: the model's own states

    def forward(self, idx):
        b, t = idx.size()
        emb = self.wte(idx)
        hprev = self.start.expand((b, -1))
        hiddens = []
        for i in range(t):
            xt = emb[:, i, :]
            ht = self.cell(xt, hprev)
            hprev = ht
            hiddens.append(ht)
        self.hiddens = hiddens
        hidden = torch.stack(hiddens, 1)
        return self.lm_head(hidden)


@pytest.mark.parametrize("cell, names", [(RNNCell, ["xh", "ht"]),
                                         (GRUCell, ["xh", "r", "hprev_reset", "xhr", "hbar", "z", "ht"])])
def test_makemore_cell_is_one_trace_with_the_code_names(cell, names):
    torch.manual_seed(0)
    model = RNN(cell)
    idx = torch.randint(0, 11, (3, 7))
    plain = model(idx)
    with capture(model) as rec:
        out = model(idx)
    assert torch.equal(out, plain)  # bitwise unchanged
    assert rec.names == ["cell"]
    tr = rec["cell"]
    assert isinstance(tr, LoopTrace) and tr.form == "module" and len(tr) == 7
    assert tr.state_names == ("ht",) and tr.input_names == ("xt",)
    emb = model.wte(idx)
    for t in range(7):
        assert torch.equal(tr.state(t), model.hiddens[t])  # the model's own state, step by step
        assert torch.equal(tr.inputs(t), emb[:, t, :])
        assert torch.equal(tr.state_in(t), model.hiddens[t - 1] if t else model.start.expand(3, -1))
    q = tr.quantities(4, assigned_only=True)
    assert list(q) == names
    xt, hprev = emb[:, 4, :].detach(), model.hiddens[3].detach()
    assert torch.equal(q["xh"], torch.cat([xt, hprev], dim=1))
    assert torch.equal(q["ht"], model.hiddens[4])
    if cell is GRUCell:  # the gates the cell computed at step 4, recomputed here from its own layers
        with torch.no_grad():
            c = model.cell
            assert torch.equal(q["r"], torch.sigmoid(c.xh_to_r(q["xh"])))
            assert torch.equal(q["z"], torch.sigmoid(c.xh_to_z(q["xh"])))
    assert "linear" in tr.quantities(0)  # an op with no name of its own keeps the op's name
    assert tr.source.line(tr.line_of("ht")).strip().startswith("ht =")


class CharRNN(nn.Module):
    """PyTorch's char-RNN tutorial's model: the loop over letters is the user's, around the model."""

    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(input_size + hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, input, hidden):
        combined = torch.cat((input, hidden), 1)
        hidden = self.i2h(combined)
        output = self.i2o(combined)
        output = self.softmax(output)
        return output, hidden

    def initHidden(self):
        return torch.zeros(1, self.hidden_size)


def _letters(word, n=26):
    line = torch.zeros(len(word), 1, n)  # [T, 1, n_letters], one-hot
    for i, ch in enumerate(word):
        line[i, 0, ord(ch) - ord("a")] = 1
    return line


def test_char_rnn_loop_around_the_model():
    torch.manual_seed(1)
    rnn = CharRNN(26, 12, 5)
    line_tensor = _letters("albert")

    def run():
        hidden, hiddens = rnn.initHidden(), []
        for i in range(line_tensor.size()[0]):
            output, hidden = rnn(line_tensor[i], hidden)
            hiddens.append(hidden)
        return output, hiddens

    plain, _ = run()
    with capture(rnn) as rec:
        output, hiddens = run()
    assert torch.equal(output, plain)
    assert rec.names == ["CharRNN"]
    tr = rec["CharRNN"]
    assert len(tr) == 6 and tr.state_names == ("hidden",) and tr.input_names == ("input",)
    for t in range(6):
        assert torch.equal(tr.state(t), hiddens[t]) and torch.equal(tr.inputs(t), line_tensor[t])
    q = tr.quantities(5, assigned_only=True)
    assert list(q) == ["combined", "hidden", "output", "output_2"]
    assert torch.equal(q["output_2"], output)
    assert torch.equal(q["combined"], torch.cat((line_tensor[5], hiddens[4]), 1))
    assert torch.equal(tr.output[0], output)  # what the last call returned


class Block(nn.Module):
    """A residual block reused in depth (ALBERT's shared layer, a universal transformer's block)."""

    def __init__(self, d=8):
        super().__init__()
        self.ff = nn.Linear(d, d)
        self.step = nn.Parameter(torch.randn(4, d))

    def forward(self, x, mask=None, t=None):
        h = x + torch.tanh(self.ff(x))
        if t is not None:
            h = h + self.step[t]
        return h if mask is None else h * mask


class Shared(nn.Module):
    def __init__(self, how):
        super().__init__()
        self.layer, self.how = Block(), how
        self.blocks = nn.ModuleList([Block() for _ in range(3)])

    def forward(self, x, mask):
        if self.how == "albert":  # one shared layer, the same mask each time: no fresh input
            for _ in range(4):
                x = self.layer(x, mask)
        elif self.how == "universal":  # a step embedding: a parameter, not data
            for t in range(4):
                x = self.layer(x, None, t)
        else:  # for block in blocks
            for block in self.blocks:
                x = block(x, mask)
        return x


@pytest.mark.parametrize("how", ["albert", "universal", "blocks"])
def test_reuse_in_depth_gives_no_time_trace(how):
    torch.manual_seed(2)
    model = Shared(how)
    x, mask = torch.randn(2, 8), torch.ones(2, 8)
    plain = model(x, mask)
    with pytest.warns(UserWarning, match="nothing was recorded"), capture(model) as rec:
        out = model(x, mask)
    assert torch.equal(out, plain)
    assert len(rec) == 0 and not rec.skipped  # as before: nothing of a clock here


def test_merge_cells_false_and_a_single_call_give_nothing():
    torch.manual_seed(3)
    model = RNN(RNNCell)
    idx = torch.randint(0, 11, (2, 5))
    with pytest.warns(UserWarning, match="nothing was recorded"), capture(model, merge_cells=False) as rec:
        model(idx)
    assert len(rec) == 0
    with pytest.warns(UserWarning, match="nothing was recorded"), capture(model) as rec:
        model(idx[:, :1])
    assert len(rec) == 0


@pytest.mark.parametrize("kw, name", [({"via": "mode"}, "cell"), ({"model": None}, "GRUCell")])
def test_global_hooks_find_the_same_loop(kw, name):
    """via='mode' and capture() without a model watch every module through global hooks: the same trace."""
    torch.manual_seed(4)
    model = RNN(GRUCell)
    idx = torch.randint(0, 11, (2, 5))
    with capture(kw.get("model", model), **{k: v for k, v in kw.items() if k != "model"}) as rec:
        out = model(idx)
    assert torch.equal(out, model(idx)) and rec.names == [name]
    tr = rec[name]
    assert len(tr) == 5 and all(torch.equal(tr.state(t), model.hiddens[t]) for t in range(5))
