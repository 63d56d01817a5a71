"""LoopTrace and its builder: checks with one clear message each (a state that changes shape, a non-tensor
state, other code at some step, the memory budget), and capture reporting the loops it cannot trace."""
import warnings

import pytest
import torch
from torch import nn

from tr_widgets.engine.capture import capture
from tr_widgets.engine.capture.record import CaptureWarning
from tr_widgets.engine.errors import MemoryBudgetError, TraceInputError, set_memory_budget
from tr_widgets.engine.loops import LoopTrace, LoopTraceBuilder, Source

from .test_op_loops import LSTMScratch

SRC = Source("cell.py", 10, ("for x in xs:", "    h = torch.tanh(x @ W + h @ U)"))


def _builder(**kw):
    return LoopTraceBuilder("rnn", "module", SRC, state_names=("h",), input_names=("x",), **kw)


def test_builder_makes_a_trace_with_its_accessors():
    b, h = _builder(), torch.zeros(2, 3)
    xs, hs = torch.randn(4, 2, 3), []
    for x in xs:
        h_new = torch.tanh(x + h)
        b.add_step(x, h, h_new, [("add", 11, x + h, False), ("h", 11, h_new, True)])
        hs.append(h_new)
        h = h_new
    tr = b.build(output=h)
    assert len(tr) == tr.seq_len == 4 and tr.form == "module" and tr.name == "rnn"
    assert torch.equal(tr.state(2), hs[2]) and torch.equal(tr.state_in(3), hs[2]) and torch.equal(tr.inputs(1), xs[1])
    assert list(tr.quantities(1)) == ["add", "h"] and list(tr.quantities(1, assigned_only=True)) == ["h"]
    assert tr.line_of("h") == 11 and "torch.tanh" in tr.source.line(11)
    assert tr.nbytes > 0
    assert repr(tr) == "LoopTrace(name='rnn', form='module', T=4, state=[h(2, 3)], quantities=2)"
    with pytest.raises(TraceInputError, match="t: expected an int in \\[0, 3\\].*Fix:"):
        tr.state(4)
    with pytest.raises(TraceInputError, match="name: .*got 'z'.*Fix:"):
        tr.line_of("z")


def test_a_state_that_changes_shape_mid_sequence_is_one_clear_error():
    b, h = _builder(), torch.zeros(3, 4)
    for t in range(3):
        b.add_step(torch.randn(3, 4), h, torch.ones(3, 4), [])
        h = torch.ones(3, 4)
    with pytest.raises(TraceInputError) as e:
        b.add_step(torch.randn(2, 4), h, torch.ones(2, 4), [])
    msg = str(e.value)
    assert "state h at step 3" in msg and "(3, 4)" in msg and "(2, 4)" in msg and "Fix:" in msg
    assert "\n" not in msg


def test_a_non_tensor_state_or_other_quantities_are_refused():
    with pytest.raises(TraceInputError, match="state at step 0.*got float 1.5.*Fix:"):
        _builder().add_step(torch.ones(1), torch.zeros(1), 1.5, [])
    b = _builder()
    b.add_step(torch.ones(1), torch.zeros(1), torch.ones(1), [("h", 11, torch.ones(1), True)])
    with pytest.raises(TraceInputError, match="quantities at step 1.*Fix:"):
        b.add_step(torch.ones(1), torch.ones(1), torch.ones(1), [("z", 11, torch.ones(1), True)])


def test_the_builder_counts_what_it_keeps_against_the_budget():
    b = _builder(budget=10_000)
    h = torch.zeros(10, 10)  # 400 bytes per state
    with pytest.raises(MemoryBudgetError, match="memory budget.*Fix: .*set_memory_budget"):
        for _ in range(100):
            h2 = torch.rand(10, 10)
            b.add_step(torch.rand(10, 10), h, h2, [("h", 11, h2, True)])
            h = h2


class Shrinking(nn.Module):
    """A loop whose batch shrinks at step 3 (sequences ending), slicing the state to the new batch."""

    def __init__(self):
        super().__init__()
        self.W, self.U = nn.Parameter(torch.randn(2, 4)), nn.Parameter(torch.randn(4, 4))

    def forward(self, xs):
        h = torch.zeros(xs[0].shape[0], 4)
        for x in xs:
            h = torch.tanh(x @ self.W + h[: x.shape[0]] @ self.U)
        return h


def test_capture_reports_a_loop_whose_state_changes_shape():
    m = Shrinking()
    xs = [torch.randn(3, 2) for _ in range(3)] + [torch.randn(2, 2) for _ in range(3)]
    plain = m(xs)
    with pytest.warns(CaptureWarning) as w:
        with capture(m) as rec:
            out = m(xs)
    assert torch.equal(plain, out)
    assert not any(isinstance(tr, LoopTrace) for _, tr in rec.traces)
    (name, why), = rec.skipped
    assert "state h at step 3" in why and "(3, 4)" in why and "(2, 4)" in why and "Fix:" in why
    assert any("state h at step 3" in str(x.message) for x in w)


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.W = nn.Parameter(torch.randn(3, 3))

    def forward(self, x):
        h = torch.zeros(x.shape[1], 3)
        for t in range(x.shape[0]):
            h = torch.tanh(x[t] + h @ self.W)
            if t == 2:
                h = h * 0.5  # a step that runs other code
        return h


def test_capture_reports_a_loop_whose_steps_run_other_code():
    m, x = Branchy(), torch.randn(5, 2, 3)
    with pytest.warns(CaptureWarning, match="step 2 ran different code"):
        with capture(m) as rec:
            m(x)
    assert rec.skipped and "Fix:" in rec.skipped[0][1]


@pytest.mark.parametrize("budget", [3_000, 12_000])  # over while every op is recorded; over in the fast tail
def test_capture_over_the_memory_budget_says_so_and_leaves_the_output_alone(budget):
    torch.manual_seed(0)
    m, x = LSTMScratch(4, 8), torch.randn(50, 2, 4)
    plain = m(x)
    old = set_memory_budget(budget)
    try:
        with pytest.warns(CaptureWarning, match="MemoryBudgetError"):
            with capture(m) as rec:
                out = m(x)
    finally:
        set_memory_budget(old)
    assert torch.equal(plain[1][0], out[1][0]) and torch.equal(plain[1][1], out[1][1])
    (_, why), = rec.skipped
    assert "memory budget" in why and "Fix:" in why and "set_memory_budget" in why


class CellLoop(nn.Module):
    """nn.LSTMCell called once per step in the forward: the cell's recurrence, not a loop of ops."""

    def __init__(self):
        super().__init__()
        self.cell = nn.LSTMCell(3, 4)

    def forward(self, x):
        h = c = torch.zeros(x.shape[1], 4)
        for t in range(x.shape[0]):
            h, c = self.cell(x[t], (h, c))
        return h


def test_a_state_made_inside_a_submodule_is_not_a_loop_of_ops():
    m, x = CellLoop(), torch.randn(5, 2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        with capture(m) as rec:
            m(x)
    assert not any(isinstance(tr, LoopTrace) and tr.form == "ops" for _, tr in rec.traces)
