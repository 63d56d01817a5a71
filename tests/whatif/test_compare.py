"""compare(a, b) and Comparison (issue 24): two runs side by side, step by step. Every per-step output is checked
against what torch's own modules (nn.RNN, nn.LSTM, the hand-written loop itself, F.scaled_dot_product_attention)
return for the two runs; where the runs part is checked against where the inputs were changed."""
import pytest
import torch
import torch.nn.functional as F

import tr_widgets
from tests.loops.test_op_loops import LSTMScratch
from tr_widgets.engine.errors import TraceInputError
from tr_widgets.engine.state import trace_state
from tr_widgets.engine.whatif.compare import Comparison, compare

T, I, H = 7, 3, 5


def changed_at(x: torch.Tensor, t: int, dim: int = 0) -> torch.Tensor:
    y = x.clone()
    y.select(dim, t).add_(1.0)
    return y


@pytest.mark.parametrize("make", [lambda: torch.nn.RNN(I, H), lambda: torch.nn.LSTM(I, H, num_layers=2),
                                  lambda: torch.nn.GRU(I, H, bidirectional=True)])
def test_recurrent_outputs_are_the_modules_own_and_part_where_the_input_changed(make):
    torch.manual_seed(0)
    model, x = make(), torch.randn(T, 2, I)
    x2 = changed_at(x, 4)
    cmp = compare(tr_widgets.trace_recurrent(model, x), tr_widgets.trace_recurrent(model, x2))
    with torch.no_grad():
        want_b, want_a = model(x)[0], model(x2)[0]  # [T, B, D*H]
    b, a = cmp.outputs()
    torch.testing.assert_close(b, want_b.reshape(T, -1))
    torch.testing.assert_close(cmp.delta(), (want_a - want_b).reshape(T, -1))
    torch.testing.assert_close(cmp.delta_norm(), (want_a - want_b).reshape(T, -1).norm(dim=1))
    # a bidirectional GRU's reverse half reads the change at step 4 from the end back: it parts at 0
    first = 0 if model.bidirectional else 4
    assert cmp.diverges_at == {cmp.names[0]: first} and cmp.first_difference() == first
    assert bool((cmp.delta_norm()[:first] == 0).all()) and cmp.delta_norm()[first] > 0
    assert cmp.before_output is None and cmp.edits == () and cmp.tokens() is None


def test_two_models_on_one_sequence_and_equal_runs():
    torch.manual_seed(1)
    x = torch.randn(T, 1, I)
    rnn, lstm = torch.nn.RNN(I, H), torch.nn.LSTM(I, H)
    cmp = compare(tr_widgets.trace_recurrent(rnn, x), tr_widgets.trace_recurrent(lstm, x))
    with torch.no_grad():
        torch.testing.assert_close(cmp.delta(), (lstm(x)[0] - rnn(x)[0]).reshape(T, -1))
    assert cmp.diverges_at == {cmp.names[0]: 0}
    same = compare(tr_widgets.trace_recurrent(rnn, x), tr_widgets.trace_recurrent(rnn, x))
    assert same.diverges_at == {same.names[0]: None} and float(same.delta_norm().max()) == 0.0


def test_a_hand_written_loop_compares_its_carried_state():
    torch.manual_seed(2)
    model, x = LSTMScratch(I, H), torch.randn(T, 2, I)
    x2 = changed_at(x, 3)
    with tr_widgets.capture(model) as r1:
        out1 = model(x)
    with tr_widgets.capture(model) as r2:
        out2 = model(x2)
    cmp = compare(r1, r2)
    assert cmp.names == r1.names and cmp.diverges_at == {r1.names[0]: 3}
    (H1, C1), (H2, C2) = out1[1], out2[1]  # the state after the last step, as the model returned it
    last = torch.cat([H2.reshape(-1), C2.reshape(-1)]) - torch.cat([H1.reshape(-1), C1.reshape(-1)])
    torch.testing.assert_close(cmp.delta()[-1], last)


def test_attention_of_a_capture_parts_at_the_changed_token_causally():
    model, tok = tr_widgets.load_tiny()
    ids = torch.tensor([tok.encode("The cat sat on the mat")])
    ids2 = ids.clone()
    ids2[0, 2] = ids[0, 4]
    with tr_widgets.capture(model) as r1:
        model(ids)
    with tr_widgets.capture(model) as r2:
        model(ids2)
    cmp = compare(r1, r2)
    assert set(cmp.diverges_at.values()) == {2}  # causal: queries before the changed token are untouched
    for name in cmp.names:
        a, b = r1[name], r2[name]
        want = [F.scaled_dot_product_attention(t.q, t.k, t.v, is_causal=t.is_causal, attn_mask=t.attn_mask,
                                               scale=t.scale) for t in (a, b)]  # [B, H, L, E]
        diff = (want[1] - want[0]).movedim(-2, 0).reshape(ids.shape[1], -1)
        torch.testing.assert_close(cmp.delta(name), diff, atol=1e-6, rtol=1e-5)
    assert cmp.word() == "i"


def test_state_space_scans_and_decodes():
    torch.manual_seed(3)
    kw = dict(delta=torch.rand(1, 6, 4), A=-torch.ones(4, 2), B=torch.randn(1, 6, 2), C=torch.randn(1, 6, 2))
    x = torch.randn(1, 6, 4)
    t1, t2 = trace_state("mamba", x=x, **kw), trace_state("mamba", x=changed_at(x, 2, dim=1), **kw)
    cmp = compare(t1, t2)
    assert cmp.diverges_at == {"mamba": 2}
    torch.testing.assert_close(cmp.delta(), (t2.scan_output() - t1.scan_output()).movedim(1, 0).reshape(6, -1))
    model, tok = tr_widgets.load_tiny()
    d1 = tr_widgets.decode(model, "The cat", 4, tokenizer=tok)
    d2 = tr_widgets.decode(model, "The dog", 4, tokenizer=tok)
    dc = compare(d1, d2)
    assert dc.word() == "tick" and dc.steps() == 4 and dc.tokens() == (d1.tokens, d2.tokens)
    parts = [i for i, (p, q) in enumerate(zip(d1.new_ids, d2.new_ids)) if p != q]
    assert dc.tokens_part_at() == (parts[0] if parts else None)
    o = d1.attention(3, 1).output.reshape(-1)  # the last layer's o of tick 3's query, in the tick's outputs
    assert torch.equal(dc.outputs()[0][3][-o.numel():], o)
    assert dc.diverges_at == {dc.names[0]: 0}  # the prompt differs: tick 0 already


def test_atol_and_nan():
    torch.manual_seed(4)
    lstm, x = torch.nn.LSTM(I, H), torch.randn(T, 1, I)
    a, b = tr_widgets.trace_recurrent(lstm, x), tr_widgets.trace_recurrent(lstm, x + 1e-7)
    assert compare(a, b, atol=1e-3).diverges_at == {"lstm": None}
    assert compare(a, b).first_difference() is not None  # exact by default
    xn = x.clone()
    xn[5] = float("nan")
    with pytest.warns(UserWarning):
        n1, n2 = tr_widgets.trace_recurrent(lstm, xn), tr_widgets.trace_recurrent(lstm, xn)
    assert compare(n1, n2).diverges_at == {"lstm": None}  # NaN in both runs at one place: equal


def test_what_cannot_be_compared_gets_one_clear_error():
    torch.manual_seed(5)
    lstm = torch.nn.LSTM(I, H)
    a = tr_widgets.trace_recurrent(lstm, torch.randn(T, 1, I))
    bad = {
        "steps": lambda: compare(a, tr_widgets.trace_recurrent(lstm, torch.randn(T + 1, 1, I))),
        "width": lambda: compare(a, tr_widgets.trace_recurrent(torch.nn.LSTM(I, H + 1), torch.randn(T, 1, I))),
        "type": lambda: compare(a, trace_state("mamba", x=torch.randn(1, 6, 4), delta=torch.rand(1, 6, 4),
                                               A=-torch.ones(4, 2), B=torch.randn(1, 6, 2), C=torch.randn(1, 6, 2))),
        "what": lambda: compare(torch.zeros(3), torch.zeros(3)),
        "capture": lambda: compare(tr_widgets.capture(lstm), a),
        "atol": lambda: compare(a, a, atol=-1.0),
        "name": lambda: compare(a, a).delta("nope"),
    }
    for why, call in bad.items():
        with pytest.raises(TraceInputError) as err:
            call()
        text = str(err.value)
        assert "\n" not in text and "expected" in text and ". Fix: " in text, (why, text)
    with tr_widgets.capture(lstm) as r1:
        lstm(torch.randn(T, 1, I))
    with tr_widgets.capture(lstm) as r2:
        lstm(torch.randn(T, 1, I))
        lstm(torch.randn(T, 1, I))
    with pytest.raises(TraceInputError, match="as many recorded calls"):
        compare(r1, r2)


def test_two_models_captured_pair_in_call_order():
    torch.manual_seed(6)
    x = torch.randn(T, 1, I)
    rnn, lstm = torch.nn.RNN(I, H), torch.nn.LSTM(I, H)
    with tr_widgets.capture(rnn) as r1:
        a = rnn(x)[0]
    with tr_widgets.capture(lstm) as r2:
        b = lstm(x)[0]
    cmp = compare(r1, r2)
    assert cmp.names == [f"{r1.names[0]} | {r2.names[0]}"] and cmp.diverges_at == {cmp.names[0]: 0}
    torch.testing.assert_close(cmp.delta(), (b - a).detach().reshape(T, -1))


def test_repr_is_deterministic_and_edits_are_kept():
    lstm, x = torch.nn.LSTM(I, H), torch.randn(T, 1, I)
    a = tr_widgets.trace_recurrent(lstm, x)
    cmp = Comparison(a, a, before_output=1, after_output=2, edits=["e"])
    assert repr(cmp) == "Comparison(RecurrentTrace: lstm; 1 edit)" == repr(Comparison(a, a, edits=["f"]))
    assert (cmp.before, cmp.after, cmp.before_output, cmp.after_output, cmp.edits) == (a, a, 1, 2, ("e",))
