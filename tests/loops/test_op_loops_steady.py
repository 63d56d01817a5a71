"""Long loops (issue 22): past a few hundred ops, capture keeps of each step only the state, the state read and
the fresh input, and re-derives the rest when a step is looked at. The oracle is the same loop recorded
keeping every value (no steady state): every quantity must equal it bitwise; a step that cannot be
re-derived is refused with a Fix."""
import pytest
import torch
from torch import nn

from tr_widgets.engine.errors import TraceInputError

from .test_op_loops import GRUScratch, LSTMScratch, SigmaRNN, _loops, _p, _record


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    return len(a) == len(b) and all(_same(p, q) for p, q in zip(a, b))


def _full_trace(model, *args):
    """The same loop recorded keeping every value of every step (no steady state): the code's own values."""
    from tr_widgets.engine.loops import OpRecorder
    from tr_widgets.engine.loops.detect import find
    from tr_widgets.engine.loops.watch import build_loop_trace, loop_source
    rec = OpRecorder(steady=False)
    r = rec.start(type(model).forward.__code__)
    out = model(*args)
    rec.stop(r)
    (f,) = find(r)
    f.source = loop_source(r.info, f.loop)
    return build_loop_trace(f, out)


@pytest.mark.parametrize("make", [lambda: (LSTMScratch(5, 6), torch.randn(90, 3, 5)),
                                  lambda: (GRUScratch(4, 5), torch.randn(120, 2, 4)),
                                  lambda: (SigmaRNN(3, 4, 2), torch.randn(2, 150, 3))])
def test_long_loops_keep_less_and_re_derive_every_value_exactly(make):
    torch.manual_seed(4)
    model, x = make()
    full = _full_trace(model, x)
    plain = model(x)
    rec, out = _record(model, x)
    assert _same(plain, out)  # bitwise unchanged under capture
    (_, tr), = _loops(rec)
    assert tr.derive is not None  # later steps kept only state and input; the rest is re-derived on access
    assert len(tr) == len(full) and tr.names == full.names
    for t in range(len(tr)):
        got, want = tr.quantities(t), full.quantities(t)
        assert all(torch.equal(got[n], want[n]) for n in want), t
        s, w = tr.state(t), full.state(t)
        assert all(torch.equal(a, b) for a, b in zip(s if isinstance(s, tuple) else (s,), w if isinstance(w, tuple) else (w,)))


class PerStepBias(nn.Module):
    """A parameter selected by the step index (no input, but each step's own): kept, so replays take it."""

    def __init__(self, T):
        super().__init__()
        self.W, self.bias = _p(3, 3), _p(T, 3)

    def forward(self, x):
        h = torch.zeros(x.shape[1], 3)
        for t in range(x.shape[0]):
            h = torch.tanh(x[t] + h @ self.W + self.bias[t])
        return h


def test_a_per_step_parameter_slice_is_replayed_with_each_steps_own():
    torch.manual_seed(5)
    m, x = PerStepBias(200), torch.randn(200, 2, 3)
    full = _full_trace(m, x)
    rec, h = _record(m, x)
    (_, tr), = _loops(rec)
    assert tr.derive is not None and torch.equal(tr.state(199), h)
    for t in (0, 150, 199):
        got, want = tr.quantities(t), full.quantities(t)
        assert all(torch.equal(got[n], want[n]) for n in want)


class PythonScales(nn.Module):
    """Each step multiplies the state by a Python number of its own: not an input a replay can take."""

    def __init__(self, T):
        super().__init__()
        self.W, self.scales = _p(3, 3), [1.0 + 0.01 * t for t in range(T)]

    def forward(self, x):
        h = torch.zeros(x.shape[1], 3)
        for t in range(x.shape[0]):
            h = torch.tanh(x[t] + h @ self.W) * self.scales[t]
        return h


def test_a_step_that_cannot_be_re_derived_is_refused_not_shown_approximately():
    m, x = PythonScales(200), torch.randn(200, 2, 3)
    rec, h = _record(m, x)
    (_, tr), = _loops(rec)
    assert torch.equal(tr.state(199), h)  # the states are the code's own, kept
    tr.quantities(0)  # the first steps keep every value
    with pytest.raises(TraceInputError, match="step 150.*Fix:"):
        tr.quantities(150)
