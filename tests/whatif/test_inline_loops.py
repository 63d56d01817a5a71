"""what_if inside a loop written in a forward (d2l's RNNScratch / LSTMScratch, issue 24): a state or a variable
the step assigns, changed at step t, equals the same loop written out BY HAND with that change; the after-trace
shows the values the run went on with, also at steps it re-derives (a long loop keeps only its first steps'
values); the model and the inputs are left as found; bad edits get one TraceInputError."""
import pytest
import torch
from torch import nn

import tr_widgets
from tests.loops.test_module_loops import RNN, GRUCell
from tests.loops.test_op_loops import LSTMScratch, RNNScratch
from tr_widgets import Edit, TraceInputError
from tr_widgets.engine.whatif.apply import footprint


def lstm_by_hand(m, x, gate_at=None, gate_value=1.0, state_at=None, new_state=(0.0, 0.0)):
    """d2l's LSTMScratch written out: F forced at ``gate_at``; (H, C) replaced after step ``state_at``."""
    H = torch.zeros(x.shape[1], m.num_hiddens)
    C = torch.zeros_like(H)
    outs = []
    for t, X in enumerate(x):
        I = torch.sigmoid(torch.matmul(X, m.W_xi) + torch.matmul(H, m.W_hi) + m.b_i)
        F = torch.sigmoid(torch.matmul(X, m.W_xf) + torch.matmul(H, m.W_hf) + m.b_f)
        if t == gate_at:
            F = torch.full_like(F, gate_value)
        O = torch.sigmoid(torch.matmul(X, m.W_xo) + torch.matmul(H, m.W_ho) + m.b_o)
        C_tilde = torch.tanh(torch.matmul(X, m.W_xc) + torch.matmul(H, m.W_hc) + m.b_c)
        C = F * C + I * C_tilde
        H = O * torch.tanh(C)
        if t == state_at:
            H = H if new_state[0] is None else torch.full_like(H, new_state[0])
            C = C if new_state[1] is None else torch.full_like(C, new_state[1])
        outs.append(H)
    return outs, (H, C)


def snapshot(model, x):
    return footprint(model), {k: v.clone() for k, v in model.state_dict().items()}, x.clone()


def assert_as_found(model, x, found):
    fp, weights, x0 = found
    assert footprint(model) == fp
    assert all(torch.equal(model.state_dict()[k], v) for k, v in weights.items())
    assert torch.equal(x, x0)


@pytest.mark.parametrize("T, t", [(8, 3), (300, 250)])  # 300: steps past the first are re-derived on reading
def test_a_forget_gate_forced_in_a_hand_written_loop_equals_the_loop_written_out(T, t):
    torch.manual_seed(0)
    m, x = LSTMScratch(3, 4), torch.randn(T, 2, 3)
    found = snapshot(m, x)
    wi = tr_widgets.what_if(m, lambda: m(x), Edit.gate("LSTMScratch", "F", [t], 1.0))
    ref, (H, C) = lstm_by_hand(m, x, gate_at=t)
    outs, (h, c) = wi.after_output
    assert all(torch.equal(a, b) for a, b in zip(outs, ref)) and torch.equal(h, H) and torch.equal(c, C)
    assert wi.diverges_at == {"LSTMScratch": t}
    after = wi.after["LSTMScratch"]
    q = after.quantities(t, assigned_only=True)
    assert torch.equal(q["F"], torch.ones(2, 4))  # the gate the step went on with
    assert torch.equal(q["C"], after.state(t)[1]) and torch.equal(after.state(t)[0], ref[t])
    assert torch.equal(after.quantities(t - 1)["F"], wi.before["LSTMScratch"].quantities(t - 1)["F"])
    assert_as_found(m, x, found)


def test_a_state_edit_in_a_hand_written_rnn_is_what_the_step_outputs_and_the_next_receives():
    torch.manual_seed(1)
    m, x = RNNScratch(3, 5), torch.randn(9, 2, 3)
    found = snapshot(m, x)
    wi = tr_widgets.what_if(m, lambda: m(x), Edit.state("RNNScratch", 4, lambda h: -h))
    outs, state = m(x)
    h = torch.zeros(2, 5)
    for t, X in enumerate(x):  # by hand
        h = torch.tanh(torch.matmul(X, m.W_xh) + torch.matmul(h, m.W_hh) + m.b_h)
        h = -h if t == 4 else h
        assert torch.equal(wi.after_output[0][t], h)
    assert torch.equal(wi.after_output[1], h)
    assert torch.equal(wi.after["RNNScratch"].state(4), -outs[4])
    assert wi.diverges_at == {"RNNScratch": 4}
    assert_as_found(m, x, found)


def test_one_part_of_an_lstm_state_edited_keeps_the_other():
    torch.manual_seed(2)
    m, x = LSTMScratch(3, 4), torch.randn(7, 1, 3)
    wi = tr_widgets.what_if(m, lambda: m(x), Edit.state("LSTMScratch", 2, (None, 0.0)))  # C zeroed, H kept
    ref, _ = lstm_by_hand(m, x, state_at=2, new_state=(None, 0.0))
    assert all(torch.equal(a, b) for a, b in zip(wi.after_output[0], ref))
    assert torch.equal(wi.after_output[0][2], wi.before_output[0][2])  # h_2 as computed; only c_2 changed
    assert wi.diverges_at == {"LSTMScratch": 2}  # the state carried out of step 2 (c_2) differs


def test_bad_edits_inside_a_loop_are_refused_and_leave_everything_as_found():
    torch.manual_seed(3)
    m, x = LSTMScratch(3, 4), torch.randn(6, 2, 3)
    found = snapshot(m, x)
    with pytest.raises(TraceInputError, match=r"^gate: expected a variable the loop of 'LSTMScratch' assigns .*'F'"):
        tr_widgets.what_if(m, lambda: m(x), Edit.gate("LSTMScratch", "Z", [1], 1.0))
    with pytest.raises(TraceInputError, match=r"^steps: expected a step in \[0, 5\]"):
        tr_widgets.what_if(m, lambda: m(x), Edit.gate("LSTMScratch", "F", [6], 1.0))
    with pytest.raises(TraceInputError, match=r"^value: expected a tensor of shape \[2, 4\]"):
        tr_widgets.what_if(m, lambda: m(x), Edit.gate("LSTMScratch", "F", [1], torch.ones(3)))
    assert_as_found(m, x, found)
    s, xs = Indexed(), torch.randn(5, 3)
    found = snapshot(s, xs)
    with pytest.raises(TraceInputError, match=r"^edits: expected a value the loop computed .*x at step 1"):
        tr_widgets.what_if(s, lambda: s(xs), Edit.gate("Indexed", "x", [1], 0.0))  # x is a view of the input
    assert_as_found(s, xs, found)  # the user's data is not written
    assert sys_trace_is_off()


class Indexed(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(3, 3))

    def forward(self, xs):
        h = torch.zeros(3)
        for t in range(len(xs)):
            x = xs[t]
            h = torch.tanh(self.w @ h + x)
        return h


def test_a_gate_inside_a_cell_called_once_per_step_is_refused_with_a_fix():
    torch.manual_seed(4)
    model, idx = RNN(GRUCell), torch.randint(0, 11, (3, 7))
    with pytest.raises(TraceInputError, match=r"^edits: expected state edits on a cell called once per step"):
        tr_widgets.what_if(model, lambda: model(idx), Edit.gate("cell", "z", [2], 1.0))


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(3, 3))

    def forward(self, xs):
        h = torch.zeros(3)
        for x in xs:
            h = torch.tanh(self.w @ h + x)
            if x.sum() > 1e9:  # never taken, but the loop may branch
                h = h * 0
        return h


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_loop_that_may_branch_is_refused():
    torch.manual_seed(5)
    m, xs = Branchy(), torch.randn(6, 3)
    with tr_widgets.capture(m) as rec:
        m(xs)
    if "Branchy" not in rec.names:
        pytest.skip("a loop that may branch is not recorded as one recurrence here")
    with pytest.raises(TraceInputError, match="^edits: expected a loop whose steps all run the same statements"):
        tr_widgets.what_if(m, lambda: m(xs), Edit.state("Branchy", 2, 0.0))
    assert "forward" not in m.__dict__ and sys_trace_is_off()


def sys_trace_is_off() -> bool:
    import sys
    return sys.gettrace() is None or "pydevd" in repr(sys.gettrace()) or "coverage" in repr(sys.gettrace())


@pytest.mark.parametrize("where", ["first_kept", "last"])
@pytest.mark.parametrize("kind", ["gate", "state"])
def test_edits_where_capture_reads_the_loop_by_its_fast_tracer_are_exact(where, kind):
    """Past its first steps, capture reads a settled loop with a line tracer (loops.fast) that shares the frame
    with the edit's; the trace is built checking its first such step and its last against the code's state."""
    from tr_widgets.engine.loops.table import DROPPED
    torch.manual_seed(6)
    m, x = LSTMScratch(3, 4), torch.randn(300, 2, 3)
    with tr_widgets.capture(m) as rec:
        m(x)
    first = next(t for t in range(300) if any(v is DROPPED for v in rec["LSTMScratch"].values[t]))
    t = first if where == "first_kept" else 299
    edit = Edit.gate("LSTMScratch", "F", [t], 1.0) if kind == "gate" else Edit.state("LSTMScratch", t, 0.0)
    wi = tr_widgets.what_if(m, lambda: m(x), edit)
    ref, (H, C) = lstm_by_hand(m, x, gate_at=t) if kind == "gate" else lstm_by_hand(m, x, state_at=t)
    assert all(torch.equal(a, b) for a, b in zip(wi.after_output[0], ref)) and torch.equal(wi.after_output[1][1], C)
    after = wi.after["LSTMScratch"]
    q = after.quantities(t, assigned_only=True)
    if kind == "gate":
        assert torch.equal(q["F"], torch.ones(2, 4))
    else:
        assert torch.equal(after.state(t)[1], torch.zeros(2, 4)) and torch.equal(q["H"], torch.zeros(2, 4))
    assert wi.diverges_at == {"LSTMScratch": t}
