"""Fuzz trace_attention and the AttentionTrace accessors: a valid call, then 0-3 careless changes to it.

Accepted calls are checked against torch's own F.scaled_dot_product_attention on the same arguments (so
accepting what SDPA refuses fails here too), row by row as well.
"""
import math

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import tr_widgets
from tr_widgets.engine.errors import NonFiniteInputWarning

from .props import DTYPES, OTHER_KINDS, TEXTS, check_state, fuzz_settings, index_like, junk, outcome, quiet, \
    snapshot, to_other_kind

ARGS = {"q", "k", "v", "attn_mask", "is_causal", "scale", "enable_gqa", "tokens", "query_tokens", "name", "dropout_p"}
TOL = {torch.float64: 1e-9, torch.float32: 1e-5, torch.float16: 2e-2, torch.bfloat16: 1e-1}


@st.composite
def valid_call(draw):
    """q, k, v and options SDPA accepts."""
    rank = draw(st.integers(2, 5))
    batch = draw(st.lists(st.integers(1, 3), min_size=rank - 2, max_size=rank - 2))
    L, S, E, Ev = (draw(st.integers(1, 5)) for _ in range(4))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    rnd = lambda *shape: torch.randn(*shape, generator=gen, dtype=dtype)  # noqa: E731
    kbatch = list(batch)
    gqa = rank >= 3 and batch[-1] > 1 and draw(st.booleans())
    if gqa:
        kbatch[-1] = 1
    kw = dict(q=rnd(*batch, L, E), k=rnd(*kbatch, S, E), v=rnd(*kbatch, S, Ev), enable_gqa=gqa)
    if draw(st.booleans()):
        kw["is_causal"] = True
    elif draw(st.booleans()):
        lead = draw(st.sampled_from([(), tuple(1 for _ in batch), tuple(batch)]))
        shape = lead + (draw(st.sampled_from([1, L])), S)
        if draw(st.booleans()):
            kw["attn_mask"] = torch.rand(shape, generator=gen) > draw(st.sampled_from([0.3, 0.9, 1.0]))
        else:
            m = rnd(*shape)
            kw["attn_mask"] = m.masked_fill(m > 1.0, float("-inf")) if draw(st.booleans()) else m
    if draw(st.booleans()):
        kw["scale"] = draw(st.floats(-3, 3, allow_nan=False))
    if draw(st.booleans()):
        kw["tokens"] = draw(st.lists(TEXTS, min_size=S, max_size=S))
    if draw(st.booleans()):
        kw["query_tokens"] = draw(st.lists(TEXTS, min_size=L, max_size=L))
    return kw


def _mutate(draw, kw):
    what = draw(st.sampled_from(["kind", "dtype", "shape", "mask", "option", "labels", "nan", "device"]))
    arg = draw(st.sampled_from(["q", "k", "v"]))
    if not all(isinstance(kw[a], torch.Tensor) and kw[a].layout == torch.strided and kw[a].device.type == "cpu"
               for a in ("q", "k", "v")):
        what = draw(st.sampled_from(["option", "labels"]))  # the tensors are gone already
    if what == "kind":
        kw[arg] = to_other_kind(kw[arg], draw(st.sampled_from(OTHER_KINDS)))
    elif what == "dtype":
        kw[arg] = kw[arg].to(draw(st.sampled_from(DTYPES)))
    elif what == "device":
        kw[arg] = kw[arg].to("meta")
    elif what == "shape":
        t = kw[arg]
        dim = draw(st.integers(-t.dim(), t.dim() - 1))
        new = list(t.shape)
        new[dim] = draw(st.sampled_from([0, 1, new[dim] + 1, 2 * new[dim] + 3]))
        kw[arg] = torch.randn(new, dtype=t.dtype) if draw(st.booleans()) else t.reshape(-1)
    elif what == "mask":
        q, k = kw["q"], kw["k"]
        L, S = q.shape[-2], k.shape[-2]
        kw["attn_mask"] = draw(st.one_of(junk(), st.sampled_from([
            torch.ones(S, dtype=torch.bool), torch.ones(L, S + 1, dtype=torch.bool), torch.ones(L, S, dtype=torch.int64),
            torch.zeros(L, S, dtype=torch.float16 if q.dtype != torch.float16 else torch.float32),
            torch.ones(3, *[1] * max(0, q.dim() - 3), L, S, dtype=torch.bool), torch.ones(1, 1, 1, 1, L, S, dtype=torch.bool),
            torch.ones(L, S, dtype=torch.bool, device="meta"), torch.ones(L, S).to_sparse()])))
    elif what == "option":
        name = draw(st.sampled_from(["is_causal", "scale", "enable_gqa", "name", "dropout_p"]))
        kw[name] = draw(st.one_of(junk(), st.sampled_from([0.0, 0.1, 1, float("nan"), -math.inf, torch.tensor(0.5)])))
    elif what == "labels":
        name = draw(st.sampled_from(["tokens", "query_tokens"]))
        kw[name] = draw(st.one_of(junk(), st.lists(TEXTS, max_size=7), st.builds(lambda: iter(["a", "b"]))))
    elif what == "nan" and isinstance(kw[arg], torch.Tensor) and kw[arg].numel():
        kw[arg] = kw[arg].clone()
        kw[arg].view(-1)[draw(st.integers(0, kw[arg].numel() - 1))] = draw(st.sampled_from([math.nan, math.inf]))
    return kw


@st.composite
def attention_call(draw):
    kw = draw(valid_call())
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 1, 2, 3]))):
        kw = _mutate(draw, kw)
    return kw


def _sdpa(kw):
    args = {k: kw[k] for k in ("attn_mask", "is_causal", "scale", "enable_gqa") if k in kw}
    return F.scaled_dot_product_attention(kw["q"], kw["k"], kw["v"], **args)


def _close(a, b, dtype):
    tol = TOL[dtype]
    return torch.allclose(a.double(), b.double(), atol=tol * 10, rtol=tol * 10, equal_nan=True)


@fuzz_settings(120)
@given(attention_call(), st.data())
def test_trace_attention(kw, data):
    before = snapshot(*kw.values())
    with quiet():
        at, err = outcome(tr_widgets.trace_attention, ARGS, **kw)
    check_state(before)
    if err is not None:
        return
    assert isinstance(at, tr_widgets.AttentionTrace)
    with torch.no_grad():
        ref = _sdpa(kw)  # raises if the trace accepted what SDPA refuses
    if not all(bool(kw[a].isfinite().all()) for a in "qkv"):
        return  # NaN/inf inputs warn (NonFiniteInputWarning); where they meet, the trace need not match SDPA's NaN
    if kw.get("is_causal") and kw.get("scale") is not None and kw["scale"] <= 0:
        return  # torch's SDPA (2.13, CPU) gives NaN for is_causal=True with scale <= 0; the trace gives softmax's value
    assert _close(at.output, ref, kw["q"].dtype), (at.output - ref).abs().max()
    index = tuple(data.draw(st.integers(0, n - 1)) for n in at.batch_shape)
    i = data.draw(st.integers(0, at.L - 1))
    r = at.row(i, index)
    assert _close(r.output, ref.expand(*at.batch_shape, at.L, at.Ev)[index][i], kw["q"].dtype)
    assert _close(at.sdpa_row(i, index), r.output, kw["q"].dtype)
    w = r.weights.sum()
    assert bool(w.isnan()) or abs(float(w) - 1) < 1e-3 or float(w) == 0.0


@st.composite
def accessor_call(draw):
    kw = draw(valid_call())
    with quiet():
        at = tr_widgets.trace_attention(**kw)
    method = draw(st.sampled_from(["row", "sdpa_row", "weights_rows", "labelled", "stage"]))
    b = at.batch_shape
    index = draw(st.one_of(st.tuples(*(index_like(n) for n in b)), junk(), index_like(b[0] if b else 1),
                           st.lists(st.integers(0, 1), max_size=4)))
    if method in ("row", "sdpa_row"):
        args = (draw(index_like(at.L)), index)
    elif method == "weights_rows":
        args = (draw(index_like(at.L)), draw(index_like(at.L + 1)), index)
    elif method == "labelled":
        args = (draw(st.one_of(st.lists(TEXTS, min_size=at.S, max_size=at.S), st.lists(TEXTS, max_size=6), junk())),
                draw(st.one_of(st.none(), st.lists(TEXTS, min_size=at.L, max_size=at.L), junk())))
    else:
        args = (draw(st.sampled_from(["scores", "scaled", "masked", "weights", "output", "mask", "blocked",
                                      "sdpa_output", "batch_shape", "has_mask"])),)
    return at, method, args


@fuzz_settings(80)
@given(accessor_call(), st.integers(1, 2**40))
def test_attention_trace_accessors(call, budget):
    at, method, args = call
    names = {"i", "index", "r0", "r1", "tokens", "query_tokens", "AttentionTrace"}
    before = snapshot(*args)
    old = tr_widgets.set_memory_budget(budget)  # small budgets: the stages must refuse, naming the way out
    try:
        with quiet():
            if method == "stage":
                _, err = outcome(getattr, names, at, args[0])
            else:
                _, err = outcome(getattr(at, method), names, *args)
    finally:
        tr_widgets.set_memory_budget(old)
    check_state(before)
    if err is not None and "memory budget" in err:
        assert "set_memory_budget" in err


@fuzz_settings(40)
@given(st.one_of(junk(), st.integers(-5, 2**62)))
def test_set_memory_budget(nbytes):
    before = snapshot(nbytes)
    old = tr_widgets.get_memory_budget()
    result, err = outcome(tr_widgets.set_memory_budget, {"nbytes"}, nbytes)
    if err is None:
        assert result == old and tr_widgets.get_memory_budget() == nbytes
        tr_widgets.set_memory_budget(old)
    check_state(before)


def test_nan_inputs_warn_and_still_trace():
    q = torch.randn(1, 4, 3)
    q[0, 2, 1] = math.nan
    import pytest
    with pytest.warns(NonFiniteInputWarning, match="first at query position 2"):
        at = tr_widgets.trace_attention(q, q, q)
    assert at.output[0, 2].isnan().all()
