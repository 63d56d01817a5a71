"""The fast tail (issue 22's cost): once a loop's step is known, the op recorder leaves torch's stack and a line
tracer reads each later step's state and input from the forward's variables. The oracle is the same loop
recorded keeping every value (no steady state, no tail): every state and quantity must equal it bitwise, and
a step that is not what the first steps were is refused with a Fix, never shown."""
import sys
import warnings

import pytest
import torch
from torch import nn

from tr_widgets.engine.capture import capture
from tr_widgets.engine.capture.record import CaptureWarning
from tr_widgets.engine.loops import OpRecorder

from .test_op_loops import GRUScratch, LSTMScratch, _loops, _p
from .test_op_loops_steady import _full_trace, _same


def _tail(model, x):
    """The recording the capture's recorder makes of ``model``'s forward (its fast tail, or None)."""
    ops = OpRecorder(steady=True)
    r = ops.start(type(model).forward.__code__)
    out = model(x)
    ops.stop(r)
    return r.tail, out


class Indexed(nn.Module):
    """The step's input selected by its index and named (``X = inputs[:, t]``), batch first."""

    def __init__(self):
        super().__init__()
        self.W, self.U = _p(3, 4), _p(4, 4)

    def forward(self, inputs):  # inputs: [B, T, 3]
        H = torch.zeros(inputs.shape[0], 4)
        for t in range(inputs.shape[1]):
            X = inputs[:, t]
            H = torch.tanh(X @ self.W + H @ self.U)
        return [], H


@pytest.mark.parametrize("make", [lambda: (LSTMScratch(4, 5), torch.randn(100, 2, 4)),
                                  lambda: (GRUScratch(3, 4), torch.randn(100, 2, 3)),
                                  lambda: (Indexed(), torch.randn(2, 100, 3))])
def test_later_steps_read_from_the_variables_equal_the_full_recording(make):
    torch.manual_seed(1)
    model, x = make()
    tail, _ = _tail(model, x)
    assert tail is not None and tail.at is not None and len(tail.states) > 60  # the mode left early on
    depth = torch._C._len_torch_function_stack()
    full = _full_trace(model, x)
    plain = model(x)
    with capture(model) as rec:
        out = model(x)
    assert _same(plain, out) and sys.gettrace() is None and torch._C._len_torch_function_stack() == depth
    (_, tr), = _loops(rec)
    assert len(tr) == len(full) == 100 and tr.names == full.names and tr.state_names == full.state_names
    for t in range(len(tr)):
        assert _same(tr.state(t), full.state(t)) and torch.equal(tr.inputs(t), full.inputs(t)), t
        got, want = tr.quantities(t), full.quantities(t)
        assert all(torch.equal(got[n], want[n]) for n in want), t
    assert torch.equal(tr.state(99)[0] if isinstance(tr.state(99), tuple) else tr.state(99), out[1][0]
                       if isinstance(out[1], tuple) else out[1])


class Branchy(nn.Module):
    """A loop whose step 70 runs a line the others do not (with ops, or without)."""

    def __init__(self, ops_in_branch=True, leave=False):
        super().__init__()
        self.W, self.ops_in_branch, self.leave = _p(3, 3), ops_in_branch, leave

    def forward(self, inputs):
        h, n = torch.zeros(inputs.shape[1], 3), 0
        for X in inputs:
            h = torch.tanh(X + h @ self.W)
            n += 1
            if n == 70:
                if self.leave:
                    break
                h = h * 0.5 if self.ops_in_branch else h
            h = torch.sigmoid(h)
        return h


@pytest.mark.parametrize("kw", [{}, {"leave": True}])
def test_a_step_that_runs_other_ops_is_refused_with_a_fix(kw):
    torch.manual_seed(2)
    m, x = Branchy(**kw), torch.randn(100, 2, 3)
    plain = m(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        with capture(m) as rec:
            out = m(x)
    assert torch.equal(plain, out) and sys.gettrace() is None
    assert not _loops(rec)
    (_, msg), = rec.skipped
    assert "step 69" in msg and "Fix:" in msg


def test_a_loop_that_may_branch_keeps_the_recorder_on_and_a_branch_without_ops_is_traced():
    """The line tracer would refuse a step whose lines differ; a loop with an ``if`` is recorded op by op, as
    before the fast tail, so a branch that runs no op leaves one exact recurrence."""
    torch.manual_seed(2)
    m, x = Branchy(ops_in_branch=False), torch.randn(100, 2, 3)
    plain = m(x)
    with capture(m) as rec:
        out = m(x)
    assert torch.equal(plain, out) and sys.gettrace() is None
    (_, tr), = _loops(rec)
    assert len(tr) == 100 and torch.equal(tr.state(99), out)


class TwoLoops(nn.Module):
    """Two recurrences one after the other in one forward: the second is recorded after the first's tail."""

    def __init__(self):
        super().__init__()
        self.W, self.U = _p(3, 3), _p(3, 3)

    def forward(self, inputs):
        h = torch.zeros(inputs.shape[1], 3)
        for X in inputs:
            h = torch.tanh(X + h @ self.W)
        g = h
        for Y in inputs.flip(0):
            g = torch.sigmoid(Y + g @ self.U)
        return h, g


def test_a_second_loop_after_the_tail_is_still_recorded_exactly():
    torch.manual_seed(3)
    m, x = TwoLoops(), torch.randn(120, 2, 3)
    plain = m(x)
    with capture(m) as rec:
        h, g = m(x)
    assert torch.equal(plain[0], h) and torch.equal(plain[1], g)
    (_, a), (_, b) = _loops(rec)
    assert len(a) == len(b) == 120 and torch.equal(a.state(119), h) and torch.equal(b.state(119), g)
    assert torch.equal(b.state_in(0), h) and torch.equal(b.inputs(5), x[114])


def test_a_tracer_already_set_keeps_the_recorder_on_and_is_left_in_place():
    torch.manual_seed(4)
    m, x = LSTMScratch(3, 4), torch.randn(100, 2, 3)
    calls = []

    def tracer(frame, event, arg):  # as a debugger or coverage would be
        calls.append(event)
        return None
    sys.settrace(tracer)
    try:
        tail, out = _tail(m, x)
        with capture(m) as rec:
            m(x)
    finally:
        assert sys.gettrace() is tracer
        sys.settrace(None)
    assert tail is None and calls
    (_, tr), = _loops(rec)
    assert len(tr) == 100 and torch.equal(tr.state(99)[0], out[1][0])


class Raises(nn.Module):
    def __init__(self):
        super().__init__()
        self.W = _p(3, 3)

    def forward(self, inputs):
        h = torch.zeros(inputs.shape[1], 3)
        for X in inputs:
            h = torch.tanh(X + h @ self.W)
            if not torch.isfinite(h).all() or h.abs().max() > 1.5:
                raise ValueError("diverged")  # never on these inputs ...
            if X[0, 0].item() == 123.0:
                raise ValueError("the user's own error")  # ... this one on step 80
        return h


def test_an_error_raised_in_the_tail_reaches_the_user_and_leaves_no_tracer():
    m, x = Raises(), torch.randn(100, 2, 3)
    x[80, 0, 0] = 123.0
    depth = torch._C._len_torch_function_stack()
    with pytest.raises(ValueError, match="the user's own error"):
        with capture(m):
            m(x)
    assert sys.gettrace() is None and torch._C._len_torch_function_stack() == depth


class Shrinks(nn.Module):
    """The same ops every step, but the batch of the inputs (a list) shrinks at step 90, and the state with it."""

    def __init__(self):
        super().__init__()
        self.W = _p(3, 3)

    def forward(self, inputs):
        h = torch.zeros(inputs[0].shape[0], 3)
        for X in inputs:
            h = torch.tanh(X + h[:X.shape[0]] @ self.W)
        return h


def test_a_state_that_changes_shape_in_the_tail_is_refused_naming_the_step():
    torch.manual_seed(5)
    m, xs = Shrinks(), [torch.randn(2, 3) for _ in range(90)] + [torch.randn(1, 3) for _ in range(10)]
    tail, _ = _tail(m, xs)
    assert tail is not None and tail.at is not None  # the shapes changed after the recorder left
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        with capture(m) as rec:
            m(xs)
    assert not _loops(rec)
    (_, msg), = rec.skipped
    assert "step 90" in msg and "shape" in msg and "Fix:" in msg


def test_over_the_memory_budget_in_the_tail_drops_what_it_kept():
    from tr_widgets.engine.loops.ops import Recording
    torch.manual_seed(6)
    m, x = LSTMScratch(4, 8), torch.randn(400, 2, 4)
    ops = OpRecorder(steady=True, budget=40_000)
    r = ops.start(LSTMScratch.forward.__code__)
    m(x)
    ops.stop(r)
    assert isinstance(r, Recording) and r.tail.at is not None and r.over and not r.tail.states and not r.raw
    with pytest.raises(Exception, match="memory budget.*Fix:"):
        r.check_budget("LSTMScratch.forward")


def test_a_cells_loop_under_the_magic_reads_its_global_names():
    from tr_widgets.engine.loops import fast
    from tr_widgets.magic.cell_loops import run_watched
    torch.manual_seed(7)
    cell = "h = torch.zeros(2)\nfor x in xs:\n    a = W @ h + x\n    h = torch.tanh(a)\n"
    ns = {"torch": torch, "W": torch.randn(2, 2) * 0.5, "xs": torch.randn(150, 2)}
    tails, arm = [], fast.Tail.arm.__func__

    def spy(cls, *args):
        tails.append(arm(cls, *args))
        return tails[-1]
    fast.Tail.arm = classmethod(spy)
    try:
        (name, tr), = run_watched(cell, compile(cell, "<cell>", "exec"), ns, ns)[0]
    finally:
        fast.Tail.arm = classmethod(arm)
    assert tails[0].names == (("h", True),) and len(tails[0].states) > 80  # the wrapper's names are global
    h = torch.zeros(2)
    for t in range(150):
        a = ns["W"] @ h + ns["xs"][t]
        h = torch.tanh(a)
        assert torch.equal(tr.state(t), h) and torch.equal(tr.quantities(t)["a"], a), t
    assert torch.equal(ns["h"], h) and sys.gettrace() is None
