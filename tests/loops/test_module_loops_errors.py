"""A module called once per step that cannot be traced is never silent: a state that is not a tensor, a state
that changes shape, dropout in training mode, a forward that reads more than its arguments, the memory
budget. Each gives one note naming the module, what was expected, what came and the Fix; outputs and the
user's random stream are unchanged."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import tr_widgets
from tr_widgets.engine.capture import CaptureWarning, capture
from tr_widgets.engine.capture.record import TraceNameError

from .test_module_loops import RNN, RNNCell


class ListCell(nn.Module):
    """Returns its state as a Python list, and gets that list back next step."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)

    def forward(self, x, h):
        return (self.lin(x) + torch.tensor(h)).tolist()


class GrowingCell(nn.Module):
    """Its state grows by one column each step."""

    def forward(self, x, h):
        return torch.cat([h, torch.tanh(x[:, :1] + h[:, -1:])], dim=1)


class DropCell(RNNCell):
    def __init__(self, *a):
        super().__init__(*a)
        self.drop = nn.Dropout(0.5)

    def forward(self, xt, hprev):
        return self.drop(super().forward(xt, hprev))


class NoisyCell(RNNCell):
    """Functional dropout: no module to see, so the re-derived step differs and is refused."""

    def forward(self, xt, hprev):
        return F.dropout(super().forward(xt, hprev), 0.5, training=True)


def _loop(cell, xs, h):
    for x in xs:
        h = cell(x, h)
    return h


def test_a_state_that_is_not_a_tensor():
    cell, xs = ListCell(), torch.randn(4, 1, 3)
    with pytest.warns(CaptureWarning, match="ListCell.*expected a tensor \\(or a tuple of tensors\\).*Fix: return"), \
            capture(cell) as rec:
        _loop(cell, xs, [[0.0, 0.0]])
    (name, why), = rec.skipped  # one note, not one per step
    assert len(rec) == 0 and name == "ListCell" and why.count("list [[") == 1


def test_a_state_that_changes_shape_mid_sequence():
    torch.manual_seed(0)
    cell, xs = GrowingCell(), torch.randn(4, 2, 3)
    plain = _loop(cell, xs, torch.zeros(2, 1))
    with pytest.warns(CaptureWarning, match="state h at step 1: expected shape \\(2, 1\\).*got shape \\(2, 2\\).*Fix"), \
            capture(cell) as rec:
        out = _loop(cell, xs, torch.zeros(2, 1))
    assert torch.equal(out, plain) and len(rec) == 0


def test_dropout_in_training_mode_is_refused_with_a_fix_and_eval_traces():
    torch.manual_seed(1)
    model, idx = RNN(DropCell), torch.randint(0, 11, (2, 5))
    with pytest.warns(CaptureWarning, match="'cell'.*dropout in training mode. Fix: call model.eval()"), \
            capture(model) as rec:
        model(idx)
    assert len(rec) == 0
    model.eval()
    with capture(model) as rec:
        model(idx)
    assert rec.names == ["cell"] and len(rec["cell"]) == 5


def test_a_step_that_differs_when_run_again_is_refused_and_the_random_stream_kept():
    torch.manual_seed(2)
    model, idx = RNN(NoisyCell), torch.randint(0, 11, (2, 5))
    with capture(model) as rec:
        model(idx)
    state = torch.random.get_rng_state()
    with pytest.raises(TraceNameError, match="cell.*step 0: expected the values the call returned.*Fix: call "
                                             "model.eval\\(\\)"):
        rec["cell"]
    assert torch.equal(torch.random.get_rng_state(), state)  # re-deriving left the user's stream alone


def test_over_the_memory_budget():
    torch.manual_seed(3)
    model, idx = RNN(RNNCell), torch.randint(0, 11, (2, 6))
    old = tr_widgets.set_memory_budget(600)
    try:
        with pytest.warns(CaptureWarning, match="MemoryBudgetError.*memory budget.*Fix: capture a shorter sequence"), \
                capture(model) as rec:
            out = model(idx)
    finally:
        tr_widgets.set_memory_budget(old)
    assert len(rec) == 0 and torch.equal(out, model(idx))
