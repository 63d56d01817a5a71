"""Bad input to trace_gradients (and to its trace's accessors) gets one TraceInputError with a one-line
message naming the argument, what was expected, what came and the fix."""
import pytest
import torch
from torch import nn

import tr_widgets
from tr_widgets.engine.errors import MemoryBudgetError, TraceInputError
from tr_widgets.engine.gradients import trace_gradients

LOSS = lambda out: out[0].pow(2).sum()  # noqa: E731


def raises(arg, fn, *a, match=None, **kw):
    with pytest.raises(TraceInputError) as e:
        fn(*a, **kw)
    msg = str(e.value)
    assert msg.startswith(f"{arg}: expected "), msg
    assert ", got " in msg and ". Fix: " in msg and "\n" not in msg, msg
    assert e.value.__cause__ is None and e.value.__context__ is None  # no chained traceback
    if match is not None:
        assert match in msg, msg
    return msg


@pytest.mark.parametrize("module,what", [(nn.Linear(3, 4), "Linear"), (nn.LSTMCell(3, 4), "LSTMCell"),
                                         (lambda x: x, "function")])
def test_module_must_be_rnn_lstm_or_gru(module, what):
    raises("module", trace_gradients, module, torch.randn(5, 1, 3), LOSS, match=what)


def test_module_with_dropout_in_training_mode():
    m = nn.LSTM(3, 4, num_layers=2, dropout=0.5)  # training mode: dropout between layers is random
    raises("module", trace_gradients, m, torch.randn(5, 1, 3), LOSS, match="eval")


@pytest.mark.parametrize("x,match", [
    (torch.randn(5), "rank"), (torch.randn(2, 3, 4, 5), "rank"), (torch.randn(5, 1, 4), "last dimension 3"),
    (torch.ones(5, 1, 3, dtype=torch.long), "floating"), (torch.randn(5, 1, 3).double(), "dtype torch.float32"),
    (torch.randn(0, 1, 3), "non-empty"), ([[1.0, 2.0, 3.0]], "torch.Tensor"),
])
def test_bad_x(x, match):
    raises("x", trace_gradients, nn.GRU(3, 4), x, LOSS, match=match)


def test_bad_hx():
    m = nn.LSTM(3, 4, num_layers=2)
    raises("hx", trace_gradients, m, torch.randn(5, 2, 3), LOSS, torch.zeros(2, 2, 4), match="tuple")
    raises("hx[0] (h_0)", trace_gradients, m, torch.randn(5, 2, 3), LOSS, (torch.zeros(1, 2, 4), torch.zeros(2, 2, 4)),
           match="(2, 2, 4)")
    raises("hx", trace_gradients, nn.RNN(3, 4), torch.randn(5, 2, 3), LOSS, torch.zeros(1, 2, 4).double())


@pytest.mark.parametrize("loss_fn,match", [
    (None, "NoneType"), (3.0, "float"),
    (lambda out: out.sum(), "AttributeError"),  # out is a tuple, not a tensor
    (lambda out: out[0].mul_(2).sum(), "RuntimeError"),  # in-place on the output
    (lambda out: float(out[0].detach().sum()), "float"), (lambda out: [out[0].sum()], "list"),
    (lambda out: out[0], "shape (5, 2, 4)"), (lambda out: (out[0] > 0).sum(), "dtype torch.int64"),
    (lambda out: out[0].detach().sum(), "requires_grad=False"),
    (lambda out: torch.ones((), requires_grad=True) * 2, "does not depend"),
])
def test_bad_loss_fn_names_loss_fn_what_it_returned_and_the_fix(loss_fn, match):
    raises("loss_fn", trace_gradients, nn.GRU(3, 4), torch.randn(5, 2, 3), loss_fn, match=match)


def test_loss_fn_error_text_stays_on_one_line():
    def loss_fn(out):
        raise ValueError("first line\nsecond line")
    msg = raises("loss_fn", trace_gradients, nn.RNN(3, 4), torch.randn(5, 1, 3), loss_fn, match="ValueError")
    assert "first line second line" in msg


def test_loss_fn_sees_what_an_lstm_returns():
    seen = {}

    def loss_fn(out):
        seen["structure"] = (type(out), type(out[1]), len(out[1]))
        return out[1][1].sum()
    trace_gradients(nn.LSTM(3, 4), torch.randn(5, 1, 3), loss_fn)
    assert seen["structure"] == (tuple, tuple, 2)
    raises("loss_fn", trace_gradients, nn.LSTM(3, 4), torch.randn(5, 1, 3), lambda out: out[1].sum(),
           match="(output, (h_n, c_n))")


def test_memory_budget_is_checked_before_materialising():
    old = tr_widgets.set_memory_budget(64 * 1024)  # 64 KiB; the replay needs (10, 2000, 1, 8) floats
    try:
        with pytest.raises(MemoryBudgetError) as e:
            trace_gradients(nn.LSTM(3, 8), torch.randn(2000, 1, 3), LOSS)
        assert "trace_gradients" in str(e.value) and "Fix:" in str(e.value)
    finally:
        tr_widgets.set_memory_budget(old)


def test_accessors_name_their_argument():
    g = trace_gradients(nn.GRU(3, 4), torch.randn(5, 2, 3), LOSS)
    raises("cell()", g.cell, match="'gru'")
    raises("layer", g.hidden, 1)
    raises("layer", g.norms, "0")
    raises("direction", g.hidden, 0, 1)
    raises("t", g.step, 5)
    raises("batch", g.step, 0, batch=2)
    raises("path", g.factor_norms, path="c", match="'gru'")
    lstm = trace_gradients(nn.LSTM(3, 4, bidirectional=True), torch.randn(5, 2, 3), LOSS)
    raises("path", lstm.factor_norms, path="x")
    raises("direction", lstm.step, 0, direction=2)
