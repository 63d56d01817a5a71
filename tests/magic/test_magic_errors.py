"""Issue 16, the magic: every engine error a demo meets is a one-line UsageError with the engine's own message,
every option error says what was expected, what came and the fix, and `%tr_step model` hints at the call."""
import warnings

import pytest
import torch
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import tr_widgets
from tr_widgets.engine.capture import CaptureWarning


def usage_error(ip, line) -> str:
    r = ip.run_cell(line, store_history=False)
    err = r.error_before_exec or r.error_in_exec
    assert isinstance(err, UsageError), err
    msg = str(err)
    assert len(msg.splitlines()) == 1 and "expected" in msg and "got" in msg and "Fix" in msg, msg
    assert ip.run_cell("21 * 2", store_history=False).result == 42  # the shell keeps working
    return msg


def engine_message(*args, **kwargs) -> str:
    model, tok = tr_widgets.load_tiny()
    with pytest.raises(tr_widgets.TraceInputError) as e:
        tr_widgets.decode(model, *args, tokenizer=tok, **kwargs)
    return str(e.value)


def test_decode_with_an_empty_prompt_is_a_usage_error_with_the_engines_message(ip):
    assert usage_error(ip, '%tr_step decode --prompt ""') == engine_message("", 5)


def test_decode_beyond_the_models_positions_is_a_usage_error_with_the_engines_message(ip):
    words = ("the cat sat on the mat . " * 7).split()[:40]  # 40 words of the tiny model's vocabulary
    msg = usage_error(ip, f'%tr_step decode --new-tokens 32 --prompt "{" ".join(words)}"')
    assert msg == engine_message(" ".join(words), 32) and msg.startswith("max_new_tokens:")


def test_every_demo_turns_engine_errors_into_usage_errors(ip):
    from tr_widgets import magic
    magic.register_demo("broken", magic.Demo("always refused", [],
                                             lambda a: "tr_widgets.trace_attention(torch.ones(2, 0), torch.ones(2, 0), "
                                                       "torch.ones(2, 0))"))
    try:
        assert usage_error(ip, "%tr_step broken").startswith("q: expected a last dimension E ≥ 1")
    finally:
        del magic.DEMOS["broken"]


def test_a_module_named_but_not_called_gets_the_hint(ip):
    ip.run_cell("model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.LSTM(3, 4))\n"
                "def forward(x):\n    return model(x)")
    msg = usage_error(ip, "%tr_step model")
    assert "did you mean `%tr_step model(x)`?" in msg and "model[1] (nn.LSTM)" in msg
    assert "did you mean `%tr_step forward(...)`?" in usage_error(ip, "%tr_step forward")


@pytest.mark.parametrize("line, words", [
    ("lstm --hidden abc", ["%tr_step lstm: --hidden: expected an integer in [1, 256], got 'abc'", "Fix: pass e.g. --hidden 10"]),
    ("rnn --nonlinearity sigmoid", ["--nonlinearity: expected one of 'tanh', 'relu', got 'sigmoid'"]),
    ("lstm --hidden", ["--hidden: expected one value after --hidden, got none"]),
    ("lstm --colour red", ["options: expected only --help, --input", "got unrecognized arguments: --colour red"]),
    ('lstm --input "1 2', ["options: expected shell-style options", "No closing quotation"]),
    ("lstmm", ["demo: expected one of the demos", "got unknown demo 'lstmm'", "did you mean %tr_step lstm?"]),
    ("", ["line: expected a demo", "got nothing"]),
    ("1 +", ["line: expected a demo", "neither a demo nor a Python expression"]),
    ("torch.zeros(3) + 1", ["expected code that runs one of the supported modules", "got nothing recorded"]),
    ("attention --tokens \"\"", ["--tokens: expected 1 to 64 words, got 0"]),
    ("lstm --input \"1 x\u202e\"", ["--input", "\\u202e"]),
])
def test_option_errors_say_expected_got_fix(ip, line, words):
    msg = usage_error(ip, f"%tr_step {line}")
    assert all(w in msg for w in words), msg


def test_cell_magic_with_options(ip):
    msg = usage_error(ip, "%%tr_step --hidden 3\nx = 1")
    assert msg.startswith("%%tr_step: options: expected none")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf 1 2"])
def test_non_finite_inputs_make_valid_demo_code(ip, value):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tr_widgets.engine.errors.NonFiniteInputWarning)
        r = ip.run_cell(f'%tr_step lstm --input "{value}"', store_history=False)
    assert r.error_in_exec is None and r.result.trace.seq_len == len(value.split())


def test_demos_leave_the_users_random_state_alone(ip):
    state = torch.get_rng_state()
    assert ip.run_cell("%tr_step gru --seed 3", store_history=False).error_in_exec is None
    assert torch.equal(state, torch.get_rng_state())


def test_showing_an_earlier_trace_warns_nothing(ip):
    ip.run_cell("q = torch.randn(1, 1, 3, 2)\nat = tr_widgets.trace_attention(q, q, q)")
    with warnings.catch_warnings():
        warnings.simplefilter("error", CaptureWarning)
        r = ip.run_cell("%tr_step at", store_history=False)
    assert r.error_in_exec is None and r.result.trace is ip.user_ns["at"]


def test_docs_errors_magic_examples(ip):
    """The %tr_step examples of docs/errors.md are the messages the magic gives."""
    import pathlib
    import re

    doc = (pathlib.Path(__file__).resolve().parents[2] / "docs/errors.md").read_text(encoding="utf-8")
    pairs = re.findall(r"^(%tr_step .*)\nUsageError: (.*)$", doc, flags=re.M)
    assert len(pairs) >= 4
    ip.run_cell("model = torch.nn.Sequential(torch.nn.LSTM(3, 4))")
    for line, message in pairs:
        assert usage_error(ip, line) == message
