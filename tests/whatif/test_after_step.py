"""The step view of an edited run (issue 24): at a gate-edited step, ``step(t)`` (the numbers the stepper's
equations show) has the gates the run used and what it computed from them, equal to the trace's own c_t and
h_t; a plain replay of the step (RecurrentTrace.step) would show the gates the model would have computed."""
import pytest
import torch

import tr_widgets
from tr_widgets import Edit
from tr_widgets.engine.recurrent import RecurrentTrace


@pytest.mark.parametrize("cls, gate", [(torch.nn.LSTM, "f"), (torch.nn.GRU, "z")])
def test_a_gate_edited_step_shows_the_gates_and_results_of_the_edited_run(cls, gate):
    torch.manual_seed(0)
    m, x = cls(2, 4), torch.randn(6, 2, 2)
    wi = tr_widgets.what_if(m, lambda: m(x), Edit.gate(type(m).__name__, gate, [2], 1.0))
    after = wi.after[type(m).__name__]
    for b in range(2):
        st = after.step(2, batch=b)
        assert torch.equal(st[gate], torch.ones(4))
        assert torch.allclose(st["h_t"], after.top[2, b], atol=1e-6)
        if after.spec.has_cell:
            assert torch.allclose(st["c_t"], after.cell()[2, b], atol=1e-6)
        assert not torch.allclose(RecurrentTrace.step(after, 2, batch=b)["h_t"], after.top[2, b])  # a replay's
    assert torch.allclose(after.step(3)["h_prev"], after.top[2, 0])
    assert torch.equal(after.step(1)[gate], wi.before[type(m).__name__].step(1)[gate])  # unedited steps as before
