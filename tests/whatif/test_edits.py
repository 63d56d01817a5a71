"""Edit and bad edits (issue 24): each bad edit gets one TraceInputError naming the argument, what was expected,
what came and the Fix, raised before the edited run, and the model is left exactly as found."""
import pytest
import torch
from torch import nn

from tests.loops.test_op_loops import LSTMScratch
from tr_widgets.engine.errors import TraceInputError
from tr_widgets.engine.whatif.apply import Interventions, footprint
from tr_widgets.engine.whatif.edits import Edit, new_state, new_value
from tr_widgets.engine.whatif.run import what_if


def test_edits_are_data_with_a_deterministic_repr():
    e = Edit.gate("lstm", "f", range(2, 4), 1.0)
    assert (e.kind, e.name, e.gate_name, e.steps, e.first_step) == ("gate", "lstm", "f", (2, 3), 2)
    assert repr(e) == "Edit.gate('lstm', 'f', steps=[2, 3], value=1.0)"
    assert repr(Edit.state("gru", 5, torch.zeros(1, 4))) == "Edit.state('gru', step=5, value=tensor[1, 4])"

    def halve(old):
        return old / 2
    assert repr(Edit.head("h.0.attn", 1, halve)) == "Edit.head('h.0.attn', head=1, value=halve, steps=None)"


def test_values_become_tensors_of_the_old_shape():
    old = torch.arange(6.).view(2, 3)
    assert torch.equal(new_value(2.0, old, "value"), torch.full((2, 3), 2.0))
    assert torch.equal(new_value(torch.tensor([1., 2., 3.]), old, "value"), torch.tensor([[1., 2., 3.]] * 2))
    assert torch.equal(new_value(lambda o: -o, old, "value"), -old)
    h, c = new_state((None, 0.0), (old, old), "value")
    assert torch.equal(h, old) and torch.equal(c, torch.zeros(2, 3))
    h, c = new_state(lambda s: (s[1], s[0]), (old, -old), "value")
    assert torch.equal(h, -old) and torch.equal(c, old)


@pytest.mark.parametrize("make, arg", [
    (lambda: Edit.state("", 2, 0.0), "name"),
    (lambda: Edit.state("lstm", 2.5, 0.0), "step"),
    (lambda: Edit.gate("lstm", "", 2, 0.0), "gate"),
    (lambda: Edit.gate("lstm", "f", [], 0.0), "steps"),
    (lambda: Edit.head("a", -1), "head"),
    (lambda: Edit.state("lstm", 2, "zero"), "value"),
])
def test_malformed_edits_are_refused_when_made(make, arg):
    with pytest.raises(TraceInputError) as err:
        make()
    assert str(err.value).startswith(f"{arg}: expected") and "Fix:" in str(err.value)


def lstm_run():
    torch.manual_seed(0)
    m, x = nn.LSTM(3, 4), torch.randn(6, 2, 3)
    return m, lambda: m(x)


BAD = [
    ("a name not recorded", lambda: Edit.state("lstm", 2, 0.0), "name", "LSTM"),
    ("a step out of range", lambda: Edit.state("LSTM", 6, 0.0), "step", "[0, 5]"),
    ("a gate the kind does not have", lambda: Edit.gate("LSTM", "z", 2, 1.0), "gate", "['i', 'f', 'g', 'o']"),
    ("a value of the wrong shape", lambda: Edit.gate("LSTM", "f", 2, torch.ones(3, 4)), "value", "[2, 4]"),
    ("a function returning the wrong shape", lambda: Edit.gate("LSTM", "f", 2, lambda o: o[0]), "value", "[2, 4]"),
    ("a state function returning one tensor", lambda: Edit.state("LSTM", 2, lambda s: s[0]), "value", "tuple of 2"),
    ("a state pair of the wrong length", lambda: Edit.state("LSTM", 2, (0.0, 0.0, 0.0)), "value", "tuple of 2"),
    ("an edit the kind cannot take", lambda: Edit.head("LSTM", 0), "edits", "state/gate"),
]


@pytest.mark.parametrize("why, make, arg, said", BAD, ids=[b[0] for b in BAD])
def test_bad_edits_raise_one_clear_error_and_leave_the_model_untouched(why, make, arg, said):
    m, run = lstm_run()
    found = footprint(m)
    w0 = {k: v.clone() for k, v in m.state_dict().items()}
    with pytest.raises(TraceInputError) as err:
        what_if(m, run, make())
    msg = str(err.value)
    assert msg.startswith(f"{arg}: expected") and said in msg and "Fix:" in msg and "\n" not in msg, msg
    assert footprint(m) == found
    assert all(torch.equal(m.state_dict()[k], v) for k, v in w0.items())


def test_kinds_that_cannot_take_an_edit_say_so():
    torch.manual_seed(0)
    two = nn.GRU(3, 4, num_layers=2)
    x = torch.randn(5, 1, 3)
    with pytest.raises(TraceInputError, match="^name: expected a one-layer, one-direction"):
        what_if(two, lambda: two(x), Edit.state("GRU", 1, 0.0))
    rnn = nn.RNN(3, 4)
    with pytest.raises(TraceInputError, match=r"^gate: expected one of the gates .* \[\].*edit its state instead"):
        what_if(rnn, lambda: rnn(x), Edit.gate("RNN", "a", 1, 0.0))
    scratch = LSTMScratch(3, 4)  # a loop of tensor operations inside one forward: H and C, not h
    xs = torch.randn(5, 2, 3)
    with pytest.raises(TraceInputError, match="^gate: expected a variable the loop of 'LSTMScratch' assigns"):
        what_if(scratch, lambda: scratch(xs), Edit.gate(type(scratch).__name__, "h", 2, 0.0))


@pytest.mark.filterwarnings("ignore:capture. nothing was recorded")
def test_a_run_that_does_not_reach_the_edit_is_refused():
    m, x = nn.GRU(3, 4), torch.randn(5, 1, 3)
    runs = []

    def run():
        runs.append(1)
        return m(x) if len(runs) == 1 else None  # the second run does not call the model
    with pytest.raises(TraceInputError, match="^edits: expected edits on calls the run makes again"):
        what_if(m, run, Edit.state("GRU", 1, 0.0))
    assert "forward" not in m.__dict__


def test_interventions_undo_in_reverse_order_even_on_errors():
    m = nn.Linear(2, 2)
    found = footprint(m)
    with pytest.raises(ZeroDivisionError):
        with Interventions(m) as iv:
            iv.override(m, lambda x: x)
            iv.hook(m.register_forward_pre_hook(lambda *a: None))
            1 / 0
    assert footprint(m) == found and "forward" not in m.__dict__


def test_a_state_space_mixer_takes_a_state_edit_between_calls_only():
    pytest.importorskip("transformers")
    from tests.state import build

    model = build("mamba")
    ids = torch.randint(0, 64, (1, 6))
    found = footprint(model)
    with pytest.raises(TraceInputError) as err:  # mid-sequence of one multi-token call: no seam to write it into
        what_if(model, lambda: model(ids), Edit.state("layers.0.mixer", 2, 0.0))
    msg = str(err.value)
    assert msg.startswith("step: expected the last step of 'layers.0.mixer'") and "tr_widgets.decode" in msg
    with pytest.raises(TraceInputError, match=r"^edits: expected an edit its trace takes .*it takes state edits"):
        what_if(model, lambda: model(ids), Edit.head("layers.0.mixer", 0))
    with pytest.raises(TraceInputError, match="^edits: expected edits on calls the run makes again"):
        what_if(model, lambda: model(ids), Edit.state("layers.0.mixer", 5, 0.0))  # no later call to carry it
    assert footprint(model) == found


def test_a_run_that_changes_the_model_is_not_hidden():
    m, x = nn.GRU(3, 4), torch.randn(5, 1, 3)
    runs = []

    def run():
        runs.append(1)
        if len(runs) == 2:
            with torch.no_grad():
                m.weight_hh_l0.mul_(1.0)  # a write: its version counter moves
        return m(x)
    with pytest.raises(RuntimeError, match="run.. itself changed it"):
        what_if(m, run, Edit.state("GRU", 1, 0.0))
    assert "forward" not in m.__dict__ and not m._forward_pre_hooks and not m._forward_hooks
