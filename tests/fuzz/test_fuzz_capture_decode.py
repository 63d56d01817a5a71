"""Fuzz capture() and decode(): random small models, options and prompts.

capture: the forward's output is bitwise the same with and without it, every trace it built can be stepped,
``rec[name]`` for a wrong name names the recorded ones, and nothing of it is left afterwards.
decode: greedy decoding equals a plain argmax loop over the model, the accessors refuse bad indices
clearly, and the model comes back as it was (training flag, weights).

Inputs that hit holes owned by the capture/decode work (issue 16 items 2 and 5) are in separate tests
marked xfail(strict=False); remove the mark once that work lands.
"""
import functools

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import tr_widgets
from tr_widgets.models import TinyGPT, TinyGPTConfig

from .props import TEXTS, check_state, fuzz_settings, index_like, junk, outcome, quiet, snapshot


class SelfAttention(nn.Module):
    """A user's own attention calling F.scaled_dot_product_attention."""

    def __init__(self, e=4, heads=2):
        super().__init__()
        self.qkv, self.heads = nn.Linear(e, 3 * e), heads

    def forward(self, x):  # [B, T, E]
        B, T, E = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, E // self.heads).permute(2, 0, 3, 1, 4)  # 3 x [B, h, T, e]
        return F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, E)


class CellLoop(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.LSTMCell(3, 4)

    def forward(self, x):  # [T, B, 3]
        h = c = x.new_zeros(x.shape[1], 4)
        for x_t in x:
            h, c = self.cell(x_t, (h, c))
        return h


def make_model(kind: str, train: bool):
    torch.manual_seed(0)
    model, x = {
        "lstm": lambda: (nn.LSTM(3, 4, num_layers=2), torch.randn(5, 2, 3)),
        "gru_batch_first": lambda: (nn.GRU(3, 4, batch_first=True, bidirectional=True), torch.randn(2, 5, 3)),
        "cell_loop": lambda: (CellLoop(), torch.randn(4, 2, 3)),
        "mha": lambda: (nn.MultiheadAttention(4, 2), torch.randn(5, 2, 4)),
        "encoder": lambda: (nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), torch.randn(5, 2, 8)),
        "sdpa": lambda: (SelfAttention(), torch.randn(2, 5, 4)),
        "tiny": lambda: (TinyGPT(TinyGPTConfig(vocab_size=11, n_layer=1, n_head=2, n_embd=8, block_size=16)),
                         torch.randint(0, 11, (1, 6))),
        "sequential": lambda: (nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.GRU(3, 2))), torch.randn(4, 1, 3)),
    }[kind]()
    return model.train(train), x


def run(model, x):
    if isinstance(model, nn.MultiheadAttention):
        return model(x, x, x)[0]
    out = model(x)
    out = out.logits if hasattr(out, "logits") else out
    return out[0] if isinstance(out, tuple) else out


CAPTURE_ARGS = {"model", "scope", "merge_cells", "via", "capture", "name"}


@st.composite
def capture_call(draw):
    kind = draw(st.sampled_from(["lstm", "gru_batch_first", "cell_loop", "mha", "encoder", "sdpa", "tiny",
                                 "sequential"]))
    model, x = make_model(kind, train=draw(st.booleans()))
    opts = {}
    target = draw(st.sampled_from(["model", "none", "junk", "submodule"]))
    opts["model"] = {"model": model, "none": None, "submodule": next(iter(model.children()), model)}.get(
        target, draw(junk()))
    if draw(st.booleans()):
        opts["via"] = draw(st.sampled_from(["patch", "mode", None, 3, "Mode", b"patch", ("patch",), object()]))
    if draw(st.booleans()):
        opts["merge_cells"] = draw(st.booleans())
    if draw(st.booleans()):
        opts["scope"] = draw(st.sampled_from([{}, {"net": model}, {"net": model, "_hidden": model, "x": 3}]))
    grad = draw(st.booleans())
    return model, x, opts, grad


@fuzz_settings(40)
@given(capture_call(), st.lists(st.one_of(TEXTS, st.integers(), st.none()), max_size=2))
def test_capture(call, wrong_names):
    model, x, opts, grad = call
    with torch.set_grad_enabled(grad):
        torch.manual_seed(1)
        expected = run(model, x)
    before = snapshot(model, x, rng=False)
    target = opts.pop("model")
    with quiet():
        rec, err = outcome(tr_widgets.capture, CAPTURE_ARGS, target, **opts)
        if err is None:
            with torch.set_grad_enabled(grad), rec:
                torch.manual_seed(1)
                got = run(model, x)
            assert torch.equal(got, expected), "capture changed the forward's output"
    check_state(before)
    if err is not None:
        return
    with quiet():
        for name, trace in rec.traces:
            if isinstance(trace, tr_widgets.AttentionTrace):
                idx = tuple(0 for _ in trace.batch_shape)
                assert torch.allclose(trace.row(trace.L - 1, idx).output, trace.sdpa_row(trace.L - 1, idx), atol=1e-5)
            elif isinstance(trace, tr_widgets.RecurrentTrace):
                trace.step(trace.seq_len - 1)
        for wrong in wrong_names:
            if isinstance(wrong, str) and wrong in rec.names:
                continue
            _, err = outcome(rec.__getitem__, {"name"}, wrong)
            assert err is not None
    check_state(before)


@pytest.mark.parametrize("scope", ["model", 5, [("m", 1)]])
def test_capture_refuses_a_scope_that_is_no_namespace(scope):
    model, x = make_model("lstm", False)
    with quiet():
        rec, err = outcome(tr_widgets.capture, CAPTURE_ARGS, model, scope=scope)
        if err is None:
            with rec:
                run(model, x)
            rec.names
    assert err is not None


@pytest.mark.parametrize("wrong", ["numpy", "packed"])
def test_wrong_names_of_any_type_are_refused_in_one_line(wrong):
    model, x = make_model("lstm", False)
    with quiet(), tr_widgets.capture(model) as rec:
        run(model, x)
    name = __import__("numpy").zeros(3) if wrong == "numpy" else torch.nn.utils.rnn.pack_sequence([torch.ones(2, 1)])
    _, err = outcome(rec.__getitem__, {"name"}, name)
    assert err is not None


@fuzz_settings(10)
@given(st.sampled_from([("patch", "mode"), ("mode", "patch"), ("mode", "mode")]))
def test_nested_captures_with_mixed_via_record_each_call_once(vias):
    model, x = make_model("sdpa", False)
    before = snapshot(model, rng=False)
    with tr_widgets.capture(via=vias[0]) as outer, tr_widgets.capture(via=vias[1]) as inner:
        run(model, x)
    check_state(before)
    assert len(inner.traces) == 1 and len(outer.traces) == 1, (outer.names, inner.names)


# -- decode ----------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def tiny():
    return tr_widgets.load_tiny()


DECODE_ARGS = {"model", "prompt", "max_new_tokens", "use_cache", "tokenizer", "sample", "seed", "temperature",
               "top_k"}


@st.composite
def decode_call(draw):
    model, tok = tiny()
    V, words = model.config.vocab_size, tok.vocab[1:40]
    prompt = draw(st.one_of(
        st.lists(st.sampled_from(words), min_size=1, max_size=6).map(" ".join),
        TEXTS,
        st.lists(st.integers(0, V - 1), min_size=1, max_size=6).map(torch.tensor),
        st.lists(st.integers(0, V - 1), min_size=1, max_size=6).map(lambda ids: torch.tensor([ids])),
        st.sampled_from([torch.zeros(0, dtype=torch.long), torch.ones(2, 3, dtype=torch.long),
                         torch.ones(1, 1, 2, dtype=torch.long), torch.tensor([1.5, 2.0]), torch.tensor([True])]),
        junk()))
    kw = {"prompt": prompt, "max_new_tokens": draw(st.one_of(st.integers(1, 3), st.sampled_from([0, -1, 80]), junk()))}
    if draw(st.booleans()) or isinstance(prompt, str):
        kw["tokenizer"] = tok if draw(st.integers(0, 5)) else draw(st.sampled_from([None, object(), tok.vocab]))
    for name, values in (("use_cache", st.booleans()), ("sample", st.one_of(st.booleans(), junk())),
                         ("seed", st.one_of(st.integers(0, 2**31), junk())),
                         ("temperature", st.one_of(st.floats(0.1, 3), junk())),
                         ("top_k", st.one_of(st.integers(1, 200), junk()))):
        if draw(st.integers(0, 3)) == 0:
            kw[name] = draw(values)
    return kw


def greedy(model, ids, n):
    ids = ids.clone()
    with torch.no_grad():
        for _ in range(n):
            ids = torch.cat([ids, model(ids).logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return ids[0].tolist()


@fuzz_settings(25)
@given(decode_call(), st.data())
def test_decode(kw, data):
    model, tok = tiny()
    unseeded = kw.get("sample") is True and kw.get("seed") is None
    before = snapshot(model, *kw.values(), rng=not unseeded)
    with quiet():
        tr, err = outcome(tr_widgets.decode, DECODE_ARGS, model, **kw)
    check_state(before)
    if err is not None:
        return
    if not kw.get("sample"):
        assert tr.prompt_ids + tr.new_ids == greedy(model, torch.tensor([tr.prompt_ids]), kw["max_new_tokens"])
    tick, layer = data.draw(index_like(len(tr.ticks))), data.draw(index_like(tr.num_layers))
    head, batch = data.draw(index_like(tr.num_heads)), data.draw(index_like(1))
    with quiet():
        _, err = outcome(tr.weights, {"tick", "layer", "head", "batch"}, tick, layer, head, batch)
    if err is None:
        w = tr.weights(tick, layer, head, batch)
        assert abs(float(w.sum()) - 1) < 1e-4
    check_state(before)


class PlainTensorLM(nn.Module):
    """forward returns logits as a plain tensor (no .logits)."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(11, 11)

    def forward(self, input_ids, past_key_values=None, use_cache=False):
        return self.emb(input_ids)


@pytest.mark.parametrize("case", ["use_cache_str", "plain_tensor_model", "gpt2_without_head"])
def test_decode_known_holes(case):
    model, tok = tiny()
    kw = dict(prompt="The cat", max_new_tokens=2, tokenizer=tok)
    if case == "use_cache_str":
        kw["use_cache"] = "no"
    elif case == "plain_tensor_model":
        model, kw["prompt"], kw["tokenizer"] = PlainTensorLM(), torch.tensor([[1, 2]]), None
    else:
        transformers = pytest.importorskip("transformers")
        model = transformers.GPT2Model(transformers.GPT2Config(n_layer=1, n_head=2, n_embd=8, vocab_size=11))
        kw["prompt"], kw["tokenizer"] = torch.tensor([[1, 2]]), None
    with quiet():
        _, err = outcome(tr_widgets.decode, DECODE_ARGS, model, **kw)
    assert err is not None
