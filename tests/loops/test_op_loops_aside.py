"""loops/aside.py: a cell module (or nn.LSTM) called per step inside a watched forward runs with the op recorder
popped once its loop is known to give no trace of ops. Every trace is what it is with the recorder kept on
(compared against a capture with the aside switched off), outputs are bitwise unchanged, far fewer ops pay the
recorder, and torch's mode stack is left clean, also when the cell raises mid-loop."""
import pytest
import torch
from torch import nn

from tr_widgets.engine.capture import capture
from tr_widgets.engine.loops import LoopTrace, ops
from tr_widgets.engine.loops.aside import Aside

from .test_module_loops import RNN, GRUCell
from .test_module_loops_torch import TemporalReasoning


class LinearInLoop(nn.Module):
    """A loop of ops whose state is no submodule's output: nn.Linear's op stays one of the step's quantities."""

    def __init__(self, n=4):
        super().__init__()
        self.lin, self.W = nn.Linear(n, n), nn.Parameter(torch.randn(n, n) * 0.3)

    def forward(self, xs):
        h = torch.zeros(xs.shape[1], xs.shape[2])
        for x in xs:
            h = torch.tanh(self.lin(x) + h @ self.W)
        return h


def _run(model, x, monkeypatch, aside: bool):
    """(output, traces by name, number of ops the recorder attributed from inside submodule calls)."""
    walked = []
    walk = ops.OpRecorder._walk
    with monkeypatch.context() as m:
        m.setattr(ops.OpRecorder, "_walk", lambda self, *a: (walked.append(1), walk(self, *a))[1])
        if not aside:
            m.setattr(Aside, "_aside", lambda self, rec: False)
        with capture(model) as rec:
            out = model(x)
    if hasattr(model, "states"):
        model.states.clear()
    return out, {n: rec[n] for n in rec.names}, len(walked)


def _same(a, b):
    assert type(a) is type(b)
    if isinstance(a, LoopTrace):
        assert (a.form, a.names, a.state_names, len(a)) == (b.form, b.names, b.state_names, len(b))
        for t in range(len(a)):
            sa, sb = a.state(t), b.state(t)
            for u, v in zip(sa if isinstance(sa, tuple) else (sa,), sb if isinstance(sb, tuple) else (sb,)):
                assert torch.equal(u, v)
            qa, qb = a.quantities(t), b.quantities(t)
            assert list(qa) == list(qb) and all(torch.equal(qa[k], qb[k]) for k in qa)
    else:  # a RecurrentTrace
        assert a.seq_len == b.seq_len
        assert torch.equal(a.hidden(0), b.hidden(0)) and torch.equal(a.cell(0), b.cell(0))


def _cases():
    torch.manual_seed(0)
    return [(RNN(GRUCell), torch.randint(0, 11, (3, 12))),
            (TemporalReasoning(1, 6, 1), [float(i % 5) for i in range(12)])]


@pytest.mark.parametrize("case", [0, 1])
def test_cell_calls_run_aside_with_traces_unchanged(case, monkeypatch):
    model, x = _cases()[case]
    plain = model(x)  # with grad, as under capture (nn.LSTM's no-grad kernel differs in the last bits)
    if hasattr(model, "states"):
        model.states.clear()
    out_on, on, walked_on = _run(model, x, monkeypatch, aside=True)
    out_off, off, walked_off = _run(model, x, monkeypatch, aside=False)
    assert torch.equal(out_on, plain) and torch.equal(out_off, plain)
    assert list(on) == list(off) and len(on) == 1
    for name in on:
        _same(on[name], off[name])
    assert walked_on * 2 < walked_off  # the calls after the first steps paid no callback per op inside
    assert torch._C._len_torch_function_stack() == 0


def test_a_loop_of_ops_around_a_submodule_keeps_its_ops(monkeypatch):
    torch.manual_seed(1)
    model, xs = LinearInLoop(), torch.randn(9, 2, 4)
    out_on, on, walked_on = _run(model, xs, monkeypatch, aside=True)
    out_off, off, walked_off = _run(model, xs, monkeypatch, aside=False)
    assert torch.equal(out_on, model(xs)) and torch.equal(out_off, out_on)
    assert list(on) == list(off) == ["LinearInLoop"]
    _same(on["LinearInLoop"], off["LinearInLoop"])
    assert "linear" in on["LinearInLoop"].quantities(8)  # the submodule's op, recorded at every step
    assert walked_on == walked_off


class CellThenOps(nn.Module):
    """Two loops in one forward: a cell module per step (aside once known), then a loop of ops (traced)."""

    def __init__(self, n=4):
        super().__init__()
        self.cell, self.W = GRUCell(n, n), nn.Parameter(torch.randn(n, n) * 0.3)

    def forward(self, xs):
        h = torch.zeros(xs.shape[1], xs.shape[2])
        for x in xs:
            h = self.cell(x, h)
        g = h
        for x in xs:
            g = torch.tanh(x + g @ self.W)
        return g


def test_a_second_loop_of_ops_is_still_traced(monkeypatch):
    torch.manual_seed(3)
    model, xs = CellThenOps(), torch.randn(8, 2, 4)
    out_on, on, walked_on = _run(model, xs, monkeypatch, aside=True)
    out_off, off, walked_off = _run(model, xs, monkeypatch, aside=False)
    assert torch.equal(out_on, model(xs)) and torch.equal(out_off, out_on)
    assert list(on) == list(off) and "CellThenOps" in on and len(on["CellThenOps"]) == 8
    for name in on:
        _same(on[name], off[name])
    assert walked_on < walked_off


class OpsLoop(nn.Module):
    """A loop of ops in its own forward (watched for loops itself)."""

    def __init__(self, n=4):
        super().__init__()
        self.W = nn.Parameter(torch.randn(n, n) * 0.3)

    def forward(self, xs, h):
        for x in xs:
            h = torch.tanh(x + h @ self.W)
        return h


class CellThenModule(nn.Module):
    """One loop over a cell (settled: the recorder leaves torch's stack), then a watched module's own loop."""

    def __init__(self, n=4):
        super().__init__()
        self.cell, self.ops = GRUCell(n, n), OpsLoop(n)

    def forward(self, xs):
        h = torch.zeros(xs.shape[1], xs.shape[2])
        for x in xs:
            h = self.cell(x, h)
        return self.ops(xs, h)


def test_a_watched_module_after_a_settled_loop_is_still_traced(monkeypatch):
    torch.manual_seed(4)
    model, xs = CellThenModule(), torch.randn(8, 2, 4)
    out_on, on, _ = _run(model, xs, monkeypatch, aside=True)
    out_off, off, _ = _run(model, xs, monkeypatch, aside=False)
    assert torch.equal(out_on, model(xs)) and torch.equal(out_off, out_on)
    assert list(on) == list(off) and "ops" in on and len(on["ops"]) == 8
    for name in on:
        _same(on[name], off[name])
    assert torch._C._len_torch_function_stack() == 0


class Failing(GRUCell):
    """Raises at its sixth call: after the aside has begun."""

    calls = 0

    def forward(self, xt, hprev):
        Failing.calls += 1
        if Failing.calls == 6:
            raise ValueError("the user's own error")
        return super().forward(xt, hprev)


def test_a_cell_raising_mid_loop_leaves_the_mode_stack_clean():
    torch.manual_seed(2)
    model = RNN(Failing)
    Failing.calls = 0
    with pytest.raises(ValueError, match="the user's own error"):
        with capture(model):
            model(torch.randint(0, 11, (2, 10)))
    assert torch._C._len_torch_function_stack() == 0
    Failing.calls = 100  # no more raising: a capture after it works as before
    with capture(model) as rec:
        model(torch.randint(0, 11, (2, 10)))
    assert rec.names == ["cell"] and torch._C._len_torch_function_stack() == 0
