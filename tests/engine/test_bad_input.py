"""Bad input gets one clear TraceInputError naming the argument, what was expected and what came."""
import warnings

import pytest
import torch
from torch import nn

import tr_widgets
from tr_widgets.engine.errors import NonFiniteInputWarning

TraceInputError = tr_widgets.TraceInputError


def raises(match, fn, *a, **kw):
    with pytest.raises(TraceInputError, match=match) as e:
        fn(*a, **kw)
    msg = str(e.value)
    assert "expected" in msg and "got" in msg and "Fix:" in msg
    assert e.value.__cause__ is None  # no chained torch traceback
    return msg


@pytest.mark.parametrize("x,what", [
    (torch.randn(5), "rank"), (torch.randn(2, 3, 4, 5), "rank"),
    (torch.randn(5, 1, 4), "last dimension 3"),
])
def test_recurrent_wrong_rank_or_size(x, what):
    raises(what, tr_widgets.trace_recurrent, nn.LSTM(3, 4), x)


@pytest.mark.parametrize("dtype", [torch.int64, torch.complex64])
def test_integer_or_complex_dtype(dtype):
    x = torch.ones(5, 1, 3, dtype=dtype)
    assert "floating" in raises("x", tr_widgets.trace_recurrent, nn.GRU(3, 4), x)
    q = torch.ones(2, 3, dtype=dtype)
    raises("q", tr_widgets.trace_attention, q, q, q)


def test_dtype_mismatch_names_the_fix():
    msg = raises("x: expected dtype torch.float32", tr_widgets.trace_recurrent, nn.RNN(3, 4), torch.randn(5, 1, 3).double())
    assert "x.to(torch.float32)" in msg


def test_not_a_tensor():
    raises("x: expected a torch.Tensor", tr_widgets.trace_recurrent, nn.RNN(3, 4), [[1.0, 2.0, 3.0]])


def test_hidden_state_shape():
    m = nn.LSTM(3, 4, num_layers=2)
    msg = raises(r"hx\[0\]", tr_widgets.trace_recurrent, m, torch.randn(5, 2, 3),
                 (torch.zeros(1, 2, 4), torch.zeros(2, 2, 4)))
    assert "(2, 2, 4)" in msg
    raises("hx: expected a tuple", tr_widgets.trace_recurrent, m, torch.randn(5, 2, 3), torch.zeros(2, 2, 4))


def test_empty_sequences():
    raises("non-empty", tr_widgets.trace_recurrent, nn.LSTM(3, 4), torch.randn(0, 1, 3))
    raises("at least one position", tr_widgets.trace_attention, torch.randn(0, 4), torch.randn(3, 4), torch.randn(3, 4))


def test_unsupported_module_lists_supported():
    msg = raises("module", tr_widgets.trace_recurrent, nn.Linear(3, 4), torch.randn(5, 1, 3))
    for name in ("nn.RNN", "nn.LSTM", "nn.GRU", "nn.LSTMCell", "nn.GRUCell", "nn.RNNCell"):
        assert name in msg


def test_training_dropout_cannot_be_replayed():
    m = nn.LSTM(3, 4, num_layers=2, dropout=0.5).train()
    raises("module.eval()", tr_widgets.trace_recurrent, m, torch.randn(5, 1, 3))


def test_attention_shapes_and_options():
    q, k, v = torch.randn(2, 5, 4), torch.randn(2, 6, 4), torch.randn(2, 6, 3)
    raises("k: expected last dimension 4", tr_widgets.trace_attention, q, torch.randn(2, 6, 5), v)
    raises("v: expected 6 positions", tr_widgets.trace_attention, q, k, torch.randn(2, 7, 3))
    raises("rank", tr_widgets.trace_attention, torch.randn(4), k, v)
    raises("k: expected batch dimensions", tr_widgets.trace_attention, q, torch.randn(3, 6, 4), torch.randn(3, 6, 3))
    raises("scale", tr_widgets.trace_attention, q, k, v, scale="big")
    raises("is_causal", tr_widgets.trace_attention, q, k, v, is_causal="yes")
    raises("enable_gqa", tr_widgets.trace_attention, torch.randn(1, 3, 5, 4), torch.randn(1, 2, 6, 4),
           torch.randn(1, 2, 6, 3), enable_gqa=True)


def test_token_labels_must_match_the_positions():
    q, k, v = torch.randn(5, 4), torch.randn(6, 4), torch.randn(6, 3)
    raises("tokens: expected a list of 6 labels", tr_widgets.trace_attention, q, k, v, tokens=["a", "b"])
    raises("query_tokens: expected a list of 5", tr_widgets.trace_attention, q, k, v, query_tokens="abcde")
    at = tr_widgets.trace_attention(q, k, v, tokens=list("abcdef"), query_tokens=list("vwxyz"))
    assert at.tokens[5] == "f" and at.query_tokens[0] == "v"


def test_masks_that_do_not_broadcast():
    q, k, v = torch.randn(2, 5, 4), torch.randn(2, 6, 4), torch.randn(2, 6, 3)
    msg = raises("attn_mask", tr_widgets.trace_attention, q, k, v, attn_mask=torch.ones(5, 5, dtype=torch.bool))
    assert "(5, 5)" in msg and "S=6" in msg
    raises("attn_mask", tr_widgets.trace_attention, q, k, v, attn_mask=torch.ones(3, 5, 6, dtype=torch.bool))
    raises("attn_mask: expected dtype torch.bool", tr_widgets.trace_attention, q, k, v,
           attn_mask=torch.ones(5, 6, dtype=torch.int64))
    raises("not both", tr_widgets.trace_attention, q, k, v, attn_mask=torch.ones(5, 6, dtype=torch.bool), is_causal=True)


def test_devices_must_match():
    q = torch.randn(2, 3)
    meta = torch.randn(2, 3, device="meta")
    raises("k: expected a tensor on cpu", tr_widgets.trace_attention, q, meta, q)
    raises("x: expected a tensor on meta", tr_widgets.trace_recurrent, nn.RNN(3, 4).to("meta"), torch.randn(5, 1, 3))


def test_bad_indices():
    tr = tr_widgets.trace_recurrent(nn.LSTM(3, 4), torch.randn(5, 2, 3))
    raises("layer", tr.gates, 1)
    raises("direction", tr.hidden, 0, 1)
    raises("t: expected a step index", tr.step, 5)
    raises("batch", tr.step, 0, batch=2)
    raises("cell", tr_widgets.trace_recurrent(nn.GRU(3, 4), torch.randn(5, 1, 3)).cell)
    at = tr_widgets.trace_attention(torch.randn(2, 3, 4), torch.randn(2, 3, 4), torch.randn(2, 3, 4))
    raises("index", at.row, 0, (5,))
    raises("i: expected a query index", at.row, 3, (0,))


def test_nan_is_a_warning_naming_the_first_step():
    x = torch.randn(6, 1, 3)
    x[4, 0, 1] = float("nan")
    with pytest.warns(NonFiniteInputWarning, match="first at step 4"):
        tr = tr_widgets.trace_recurrent(nn.GRU(3, 2), x)
    assert torch.isnan(tr.hidden()[4:]).all() and not torch.isnan(tr.hidden()[:4]).any()
    q = torch.randn(5, 4)
    q[2, 0] = float("inf")
    with pytest.warns(NonFiniteInputWarning, match="first at query position 2"):
        tr_widgets.trace_attention(q, torch.randn(5, 4), torch.randn(5, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tr_widgets.trace_recurrent(nn.GRU(3, 2), torch.randn(6, 1, 3))  # finite input: no warning


def test_memory_budget_refuses_with_size_and_alternative():
    q = torch.randn(1, 64, 8)
    old = tr_widgets.set_memory_budget(1024)
    try:
        at = tr_widgets.trace_attention(q, q, q)
        with pytest.raises(tr_widgets.MemoryBudgetError, match=r"\(1, 64, 64\).*16.0 KiB.*row\(i, index\)"):
            at.weights
        assert at.row(5, (0,)).weights.shape == (64,)  # the per-row path still works
        tr = tr_widgets.trace_recurrent(nn.LSTM(3, 16), torch.randn(50, 1, 3))
        with pytest.raises(tr_widgets.MemoryBudgetError, match=r"step\(t"):
            tr.gates()
    finally:
        tr_widgets.set_memory_budget(old)
    raises("nbytes", tr_widgets.set_memory_budget, -1)
