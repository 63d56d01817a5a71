"""Bad input gets one clear TraceInputError naming the argument, what was expected and what came."""
import os
import re
import traceback
import warnings

import numpy as np
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
    other = torch.randn(2, 3, device="meta")  # the one other device every machine has
    raises("k: expected a tensor that holds values", tr_widgets.trace_attention, q, other, q)
    raises("module: expected weights that hold values", tr_widgets.trace_recurrent, nn.RNN(3, 4).to("meta"),
           torch.randn(5, 1, 3))


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


# -- issue 16: the remaining holes, one test per case ---------------------------------------------
def one_line_error(match, fn, *a, **kw):
    """raises(), and the message is one line with no torch frame in its traceback."""
    with pytest.raises(TraceInputError, match=match) as e:
        fn(*a, **kw)
    msg = str(e.value)
    assert len(msg.splitlines()) == 1 and "expected" in msg and "got" in msg and "Fix:" in msg, msg
    assert e.value.__cause__ is None and (e.value.__context__ is None or e.value.__suppress_context__)
    torch_dir = os.path.dirname(torch.__file__)
    assert not [f for f in traceback.extract_tb(e.value.__traceback__) if f.filename.startswith(torch_dir)]
    return msg


def fix_code(msg: str) -> str:
    """The code after 'convert it with' / 'stack them into one tensor:' in a message's fix."""
    return re.search(r"(?:convert it with|one tensor:) (torch\.[^ ]+\))", msg).group(1)


def test_numpy_input_is_described_in_one_line_and_its_fix_works():
    x = np.random.default_rng(0).standard_normal((5, 1, 3))
    msg = one_line_error("x: expected a torch.Tensor, got a numpy.ndarray of shape \\(5, 1, 3\\), dtype float64",
                         tr_widgets.trace_recurrent, nn.LSTM(3, 4), x)
    assert "array(" not in msg and fix_code(msg) == "torch.from_numpy(x).float()"
    tr_widgets.trace_recurrent(nn.LSTM(3, 4), eval(fix_code(msg)))  # the fix works
    q = np.ones((2, 3))[:, ::-1]  # negative strides: from_numpy needs a copy
    msg = one_line_error("q: expected a torch.Tensor", tr_widgets.trace_attention, q, torch.ones(2, 3), torch.ones(2, 3))
    assert eval(fix_code(msg)).shape == (2, 3)


def test_packed_sequence_gets_a_fix_that_pads_it_for_a_cell():
    """nn.LSTM traces a PackedSequence (tests/loops/test_packed.py); a cell takes one step and says to pad."""
    cell = nn.LSTMCell(3, 4)
    x = nn.utils.rnn.pack_sequence([torch.randn(4, 3), torch.randn(2, 3)])
    msg = one_line_error("x: expected a torch.Tensor, got a PackedSequence \\(4 steps, batch 2",
                         tr_widgets.trace_recurrent, cell, x)
    assert "as_tensor" not in msg and "pad_packed_sequence(x" in msg
    x_padded, lengths = nn.utils.rnn.pad_packed_sequence(x)  # what the fix says
    assert tr_widgets.trace_recurrent(cell, x_padded).batch_size == 2
    assert tr_widgets.trace_recurrent(nn.LSTM(3, 4, batch_first=True), x).lengths == (4, 2)


@pytest.mark.parametrize("x, got, fix", [
    ([[1.0, 2.0, 3.0]], "list [[1.0, 2.0, 3.0]]", "torch.tensor(x, dtype=torch.float32)"),
    ([torch.ones(1, 3)] * 4, "a list of 4 items, the first a tensor of shape (1, 3)", "torch.stack(x)"),
    ((v for v in [1.0]), "a generator (an iterator", "torch.tensor(list(x), dtype=torch.float32)"),
    ("1 2 3", "str '1 2 3'", "not text"),
    (None, "got NoneType None", "pass a tensor as x"),
])
def test_other_non_tensors_get_a_fix_for_their_type(x, got, fix):
    msg = one_line_error("x: expected a torch.Tensor", tr_widgets.trace_recurrent, nn.GRU(3, 2), x)
    assert got in msg and fix in msg


@pytest.mark.parametrize("value", [
    np.zeros((40, 40)), torch.randn(50, 50), [torch.randn(20, 20)] * 30, list(range(10_000)), "line\nbreak" * 50,
    nn.Sequential(nn.LSTM(3, 4), nn.Linear(4, 2)), {"k": torch.randn(30, 30)}, object(), "\ud800\u202e",
    nn.utils.rnn.pack_sequence([torch.randn(30, 3)]), range(5), nn.LSTM,
])
def test_describe_is_always_one_short_line(value):
    from tr_widgets.engine.errors import describe, one_line
    d = describe(value)
    assert len(d.splitlines()) == 1 and len(d) < 200 and " at 0x" not in d, d
    assert one_line(d).encode("utf-8")


def test_meta_tensors_are_refused_before_any_kernel():
    meta = torch.randn(1, 2, 5, 4, device="meta")
    for args in ((meta, meta, meta), (torch.randn(1, 2, 5, 4), meta, meta)):
        msg = one_line_error("expected a tensor that holds values", tr_widgets.trace_attention, *args)
        assert "meta" in msg and ".to('meta')" not in msg  # moving the others to meta is no fix
    one_line_error("x: expected a tensor that holds values", tr_widgets.trace_recurrent, nn.LSTM(4, 3),
                   torch.randn(5, 1, 4, device="meta"))
    one_line_error("module: expected weights that hold values", tr_widgets.trace_recurrent,
                   nn.LSTM(4, 3).to("meta"), torch.randn(5, 1, 4, device="meta"))
    one_line_error("attn_mask: expected a tensor that holds values", tr_widgets.trace_attention,
                   torch.randn(5, 4), torch.randn(5, 4), torch.randn(5, 4),
                   attn_mask=torch.ones(5, 5, dtype=torch.bool, device="meta"))
    from tr_widgets.engine.errors import warn_nonfinite
    warn_nonfinite("x", meta, 0)  # the NaN check never reads a meta tensor (no .item() on meta)


def test_empty_feature_dimension_is_refused_not_divided_by():
    z = torch.randn(1, 2, 5, 0)
    one_line_error("q: expected a last dimension E ≥ 1", tr_widgets.trace_attention, z, z, z)
    one_line_error("v: expected a last dimension Ev ≥ 1", tr_widgets.trace_attention,
                   torch.randn(5, 4), torch.randn(5, 4), torch.randn(5, 0))


@pytest.mark.parametrize("shape, arg", [((0, 2, 5, 4), "q"), ((1, 0, 5, 4), "q")])
def test_empty_batch_is_refused(shape, arg):
    b0 = torch.randn(shape)
    one_line_error(f"{arg}: expected batch and head dimensions of at least 1", tr_widgets.trace_attention, b0, b0, b0)
    one_line_error("k: expected batch and head dimensions", tr_widgets.trace_attention, torch.randn(1, 2, 5, 4),
                   torch.randn(0, 2, 5, 4), torch.randn(1, 2, 5, 4))


def test_mask_with_a_larger_batch_than_q_is_refused_as_sdpa_refuses_it():
    q = torch.randn(1, 2, 5, 4)
    mask = torch.ones(3, 1, 5, 5, dtype=torch.bool)
    with pytest.raises(RuntimeError):
        torch.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=mask)  # SDPA refuses it
    msg = one_line_error("attn_mask: expected a shape that broadcasts to the scores' shape \\(1, 2, 5, 5\\)",
                         tr_widgets.trace_attention, q, q, q, attn_mask=mask)
    assert "got shape (3, 1, 5, 5)" in msg
    one_line_error("attn_mask", tr_widgets.trace_attention, q, q, q, attn_mask=torch.ones(5, dtype=torch.bool))
    at = tr_widgets.trace_attention(q, q, q, attn_mask=torch.ones(1, 5, dtype=torch.bool))  # (1, S) broadcasts
    torch.testing.assert_close(at.output, torch.nn.functional.scaled_dot_product_attention(
        q, q, q, attn_mask=torch.ones(1, 5, dtype=torch.bool)))


def test_generator_tokens_are_refused_with_a_list_fix():
    q = torch.randn(1, 2, 5, 4)
    msg = one_line_error("tokens: expected a list of 5 labels", tr_widgets.trace_attention, q, q, q,
                         tokens=(w for w in "abcde"))
    assert "generator" in msg and "list(" in msg and "0x" not in msg
    one_line_error("tokens", tr_widgets.trace_attention, q, q, q, tokens=torch.arange(5))


def test_row_refuses_bools_and_a_missing_index():
    at = tr_widgets.trace_attention(*torch.randn(3, 1, 2, 5, 4).unbind(0))
    one_line_error("i: expected a query index", at.row, True, (0, 0))
    one_line_error("index: expected a tuple of 2 ints", at.row, 0, index=None)
    one_line_error("index: expected a tuple of 2 ints", at.row, 0, index=(True, 0))
    one_line_error("index", at.row, 0, index=torch.zeros(2, 2))
    one_line_error("i: expected a query index", at.sdpa_row, 7, (0, 0))
    one_line_error("r0, r1", at.weights_rows, 3, 2, (0, 0))
    msg = one_line_error("i: expected", at.row, np.int64(1), (0, 0))
    assert "int(i)" in msg
    assert at.labelled(None).tokens is None  # no tokens is fine, as in trace_attention


def test_options_sdpa_takes_are_checked():
    q = torch.randn(1, 2, 5, 4)
    one_line_error("enable_gqa: expected a bool", tr_widgets.trace_attention, q, q, q, enable_gqa="yes")
    one_line_error("dropout_p: expected 0.0", tr_widgets.trace_attention, q, q, q, dropout_p=0.1)
    msg = one_line_error("is_causal: expected a bool", tr_widgets.trace_attention, q, q, q, None, 0.0)
    assert "dropout_p" in msg  # SDPA's positional order differs: the fix says so
    one_line_error("name: expected a str", tr_widgets.trace_attention, q, q, q, name=3)
    one_line_error("name: expected a str", tr_widgets.trace_recurrent, nn.GRU(4, 2), torch.randn(3, 4), name=None)


def test_a_gru_given_an_lstm_state_tuple():
    h = torch.zeros(1, 1, 2)
    one_line_error("hx: expected one tensor h_0", tr_widgets.trace_recurrent, nn.GRU(4, 2), torch.randn(3, 1, 4), (h, h))
    one_line_error("hx: expected one tensor h_0", tr_widgets.trace_recurrent, nn.GRUCell(4, 2), torch.randn(1, 4),
                   (h[0], h[0]))


def test_one_layer_lstm_with_dropout_in_training_mode_is_traced():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: dropout does nothing on a single layer
        m = nn.LSTM(3, 4, dropout=0.5).train()
    x = torch.randn(5, 1, 3)
    torch.testing.assert_close(tr_widgets.trace_recurrent(m, x).output, m(x)[0].detach())


def test_tracing_leaves_the_random_state_alone():
    tr = tr_widgets.trace_recurrent(nn.LSTM(3, 4, num_layers=3), torch.randn(5, 1, 3))
    state = torch.get_rng_state()
    tr.gates(layer=0), tr.hidden(layer=1)  # replaying lower layers builds a one-layer module
    tr_widgets.load_tiny()
    assert torch.equal(state, torch.get_rng_state())


# -- item 6: load_tiny(path) ------------------------------------------------------------------------
def _shipped_bytes():
    from tr_widgets.models.tiny_gpt import WEIGHTS_PATH
    return WEIGHTS_PATH.read_bytes()


@pytest.mark.parametrize("content, why", [
    (b"PK\x03\x04 this is a zip, not safetensors", "no safetensors header"),
    (b"", "0 bytes"),
    (b"\x80\x04\x95 a pickle", "no safetensors header"),
    ("truncated", "not a float tensor inside the file"),
])
def test_load_tiny_on_a_file_that_is_not_safetensors_names_path(tmp_path, content, why):
    p = tmp_path / "model.safetensors"
    p.write_bytes(_shipped_bytes()[:5000] if content == "truncated" else content)
    msg = one_line_error("path: expected a tiny-model safetensors file", tr_widgets.load_tiny, path=p)
    assert str(p) in msg and why in msg


def test_load_tiny_path_and_device_checks(tmp_path):
    one_line_error("path: expected an existing tiny_gpt.safetensors file, got .*which is a directory",
                   tr_widgets.load_tiny, path=tmp_path)
    one_line_error("path: expected an existing", tr_widgets.load_tiny, path=tmp_path / "missing.safetensors")
    one_line_error("path: expected a str or os.PathLike", tr_widgets.load_tiny, path=3)
    one_line_error("device: expected 'cpu' or an available accelerator", tr_widgets.load_tiny, device="gpu")
    one_line_error("device", tr_widgets.load_tiny, device="meta")


def test_docs_errors_examples(tmp_path, monkeypatch):
    """docs/errors.md: each ```python block followed by a ```text block "Class: message" raises (or warns)
    exactly that."""
    import pathlib

    doc = (pathlib.Path(__file__).resolve().parents[2] / "docs/errors.md").read_text(encoding="utf-8")
    examples = re.findall(r"```python\n(.*?)```\n```text\n(\w+): (.*?)\n```", doc, flags=re.S)
    assert len(examples) >= 9
    monkeypatch.chdir(tmp_path)
    for code, cls, message in examples:
        ns = {"torch": torch, "nn": nn, "np": np, "tr_widgets": tr_widgets, "pathlib": pathlib}
        old = tr_widgets.get_memory_budget()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    exec(code, ns)
                    got = next((f"{w.category.__name__}: {w.message}" for w in caught), "nothing")
                except Exception as e:  # noqa: BLE001
                    got = f"{type(e).__name__}: {e}"
        finally:
            tr_widgets.set_memory_budget(old)
        assert got == f"{cls}: {message}", code


@pytest.mark.gpu
def test_cuda_and_cpu_mixed_name_the_move():
    q = torch.randn(1, 2, 5, 4, device="cuda")
    one_line_error(r"k: expected a tensor on cuda:0 \(the device of q\).*k.to\('cuda:0'\)", tr_widgets.trace_attention,
                   q, q.cpu(), q)
    one_line_error("x: expected a tensor on cuda:0", tr_widgets.trace_recurrent, nn.LSTM(4, 3).cuda(),
                   torch.randn(5, 1, 4))
    tr = tr_widgets.trace_recurrent(nn.LSTM(4, 3, num_layers=2).cuda(), torch.randn(5, 1, 4, device="cuda"))
    state = torch.cuda.get_rng_state()
    tr.gates(layer=0)  # the replayed layer is built on meta: no initialisation, no random numbers
    assert torch.equal(state, torch.cuda.get_rng_state())
    model, _ = tr_widgets.load_tiny("cuda")
    assert next(model.parameters()).is_cuda
