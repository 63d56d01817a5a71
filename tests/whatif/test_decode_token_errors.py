"""Bad token edits (issue 24): one TraceInputError each, naming the argument, what was expected, what came and the
Fix, raised before the edited run (the model is called by the baseline only), and the model left as found."""
import pytest
import torch
from torch import nn

import tr_widgets
from tr_widgets.engine.errors import TraceInputError
from tr_widgets.engine.whatif import Edit, what_if
from tr_widgets.engine.whatif.apply import footprint

N = 4


def tiny_run(tokenizer=True, decodes=1):
    model, tok = tr_widgets.load_tiny()
    prompt = "The cat sat on the" if tokenizer else torch.tensor(tok.encode("The cat sat on the"))
    kw = {"tokenizer": tok} if tokenizer else {}
    return model, lambda: [tr_widgets.decode(model, prompt, N, **kw) for _ in range(decodes)][-1]


def lstm_run():
    torch.manual_seed(0)
    m, x = nn.LSTM(3, 4), torch.randn(6, 1, 3)
    return m, lambda: m(x)


BAD = [
    ("tick 0 (fed the prompt)", tiny_run, lambda: Edit.token(0, "dog"), "tick", "[1, 3]"),
    ("a tick past the decode", tiny_run, lambda: Edit.token(N, "dog"), "tick", "max_new_tokens=4"),
    ("a string of two tokens", tiny_run, lambda: Edit.token(2, "dog cat"), "token", "exactly one id"),
    ("an id outside the vocabulary", tiny_run, lambda: Edit.token(2, 10 ** 6), "token", "vocabulary"),
    ("a string without a tokenizer", lambda: tiny_run(tokenizer=False), lambda: Edit.token(2, "dog"), "token",
     "no tokenizer"),
    ("two edits at one tick", tiny_run, lambda: [Edit.token(2, 5), Edit.token(2, 6)], "edits", "one Edit.token per"),
    ("a run of two decodes", lambda: tiny_run(decodes=2), lambda: Edit.token(2, 5), "edits", "2 decodes"),
    ("a run without a decode", lstm_run, lambda: Edit.token(2, 5), "edits", "no decode"),
]


@pytest.mark.parametrize("why, make_run, make_edit, arg, said", BAD, ids=[b[0] for b in BAD])
def test_bad_token_edits_raise_one_clear_error_and_leave_the_model_untouched(why, make_run, make_edit, arg, said):
    model, run = make_run()
    edits = make_edit()
    edits = edits if isinstance(edits, list) else [edits]
    found = footprint(model)
    w0 = {k: v.clone() for k, v in model.state_dict().items()}
    with tr_widgets.capture(model):
        run()  # how many forward calls one run makes
    calls = []
    handle = model.register_forward_pre_hook(lambda m, a: calls.append(1))
    try:
        with tr_widgets.capture(model):
            run()
        one_run, calls[:] = len(calls), []
        with pytest.raises(TraceInputError) as err:
            what_if(model, run, *edits)
    finally:
        handle.remove()
    msg = str(err.value)
    assert msg.startswith(f"{arg}: expected") and said in msg and "Fix:" in msg and "\n" not in msg, msg
    assert len(calls) == one_run  # the baseline ran; the edited run never started
    assert footprint(model) == found
    assert all(torch.equal(model.state_dict()[k], v) for k, v in w0.items())


@pytest.mark.parametrize("make, arg", [(lambda: Edit.token(1.5, 3), "tick"), (lambda: Edit.token(2, -1), "token"),
                                       (lambda: Edit.token(2, ""), "token"), (lambda: Edit.token(2, True), "token")])
def test_malformed_token_edits_are_refused_when_made(make, arg):
    with pytest.raises(TraceInputError) as err:
        make()
    assert str(err.value).startswith(f"{arg}: expected") and "Fix:" in str(err.value)


def test_a_model_keeping_state_on_its_modules_decodes_again_from_tick_0():
    model, tok = tr_widgets.load_tiny()
    model.h[0].attn.kept = torch.zeros(1)  # a state the cache copy would not hold (RecurrentGemma keeps one so)
    run = lambda: tr_widgets.decode(model, "The cat sat on the", N, tokenizer=tok)  # noqa: E731
    calls = []
    handle = model.register_forward_pre_hook(lambda m, a: calls.append(1))
    try:
        wi = what_if(model, run, Edit.token(2, "dog"))
    finally:
        handle.remove()
    assert len(calls) == 2 * N and wi.after_output.new_ids[1] == tok.encode("dog")[0]
    assert repr(Edit.token(2, "dog")) == "Edit.token(2, 'dog')"


def test_cache_deltas_name_what_they_need():
    model, tok = tr_widgets.load_tiny()
    d1, d2 = (tr_widgets.decode(model, p, 3, tokenizer=tok) for p in ("The cat", "The dog"))
    lstm, _ = lstm_run()
    cmp = tr_widgets.compare(d1, d2)
    for call, arg in ((lambda: cmp.cache_delta_norm("state"), "kind"), (lambda: cmp.cache_delta_norm("v"), "kind"),
                      (lambda: cmp.kv_delta_by_position(3), "tick"),
                      (lambda: tr_widgets.compare(tr_widgets.trace_recurrent(lstm, torch.randn(6, 1, 3)),
                                                  tr_widgets.trace_recurrent(lstm, torch.randn(6, 1, 3))
                                                  ).cache_delta_norm(), "name")):
        with pytest.raises(TraceInputError) as err:
            call()
        assert str(err.value).startswith(f"{arg}: expected") and "Fix:" in str(err.value)
