"""%tr_step / %%tr_step in a real IPython shell: every form, every documented error, the shell still working."""

import pytest
import torch
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import tr_widgets
from tr_widgets import magic
from tr_widgets.engine.capture.patch import SDPA
from tr_widgets.widgets import AttentionStepper, CaptureView, RecurrentStepper


def run(ip, code):
    """Run a cell; return (value or None, the exception it raised or None)."""
    r = ip.run_cell(code)
    return r.result, r.error_before_exec or r.error_in_exec


def assert_shell_works(ip):
    value, err = run(ip, "21 * 2")
    assert err is None and value == 42


def test_load_ext_tr_widgets():
    if not hasattr(tr_widgets, "load_ipython_extension"):
        pytest.skip("tr_widgets/__init__.py does not export load_ipython_extension yet (the lead adds it)")
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "tr_widgets")
    assert "tr_step" in shell.magics_manager.magics["line"] and "tr_step" in shell.magics_manager.magics["cell"]


def test_lstm_demo_returns_the_widget(ip):
    _, err = run(ip, 'w = %tr_step lstm --input "1 2 3 4 5" --hidden 10 --seed 0')
    assert err is None
    w = ip.user_ns["w"]
    assert isinstance(w, RecurrentStepper)
    tr = w.trace
    assert (tr.kind, tr.seq_len, tr.hidden_size, tr.batch_size) == ("lstm", 5, 10, 1)
    torch.testing.assert_close(tr.inputs()[:, 0, 0], torch.tensor([1., 2, 3, 4, 5]))


@pytest.mark.parametrize("line, kind, layers, dirs, H", [
    ("gru --input 0.5,-1,2 --hidden 4", "gru", 1, 1, 4),
    ("rnn --hidden 3 --layers 2 --nonlinearity relu", "rnn_relu", 2, 1, 3),
    ("rnn --bidirectional", "rnn_tanh", 1, 2, 10),
])
def test_recurrent_demos_and_options(ip, line, kind, layers, dirs, H):
    value, err = run(ip, f"%tr_step {line}")
    assert err is None and isinstance(value, RecurrentStepper)
    tr = value.trace
    assert (tr.kind, tr.num_layers, tr.num_directions, tr.hidden_size) == (kind, layers, dirs, H)


def test_attention_demo(ip):
    value, err = run(ip, '%tr_step attention --tokens "a b c d" --dim 4 --heads 2 --causal --seed 1')
    assert err is None and isinstance(value, AttentionStepper)
    at = value.trace
    assert at.is_causal and at.batch_shape == (1, 2) and (at.L, at.E) == (4, 4) and at.tokens == ["a", "b", "c", "d"]


@pytest.mark.parametrize("name", ["lstm", "gru", "rnn", "attention"])
def test_each_demo_is_the_python_it_documents(ip, name):
    """The code in %tr_step? builds the same trace as the magic."""
    demo = magic.DEMOS[name]
    args = demo.parser(name).parse_args(["--seed", "7"])
    shown = []
    ns = {"torch": torch, "tr_widgets": tr_widgets}
    real_show = tr_widgets.show
    tr_widgets.show = lambda trace, **o: shown.append(trace)
    try:
        exec(demo.python(args), ns)
    finally:
        tr_widgets.show = real_show
    value, err = run(ip, f"%tr_step {name} --seed 7")
    assert err is None
    documented, made = shown[0], value.trace
    if name == "attention":
        torch.testing.assert_close(documented.weights, made.weights)
        assert documented.tokens == made.tokens
    else:
        torch.testing.assert_close(documented.hidden(), made.hidden())
        for gate, t in made.gates().items():
            torch.testing.assert_close(documented.gates()[gate], t)


def test_expression_under_capture_one_module(ip):
    _, err = run(ip, "torch.manual_seed(0)\ngru = torch.nn.GRU(2, 3)\nx = torch.randn(6, 1, 2)")
    assert err is None
    value, err = run(ip, "v = %tr_step gru(x)")
    assert err is None
    v = ip.user_ns["v"]
    assert isinstance(v, RecurrentStepper) and v.trace.name == "gru" and v.trace.seq_len == 6
    torch.testing.assert_close(v.trace.gates()["z"], tr_widgets.trace_recurrent(ip.user_ns["gru"],
                                                                                  ip.user_ns["x"]).gates()["z"])


def test_expression_recording_several_modules_offers_a_choice(ip):
    code = ("torch.manual_seed(1)\n"
            "enc = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), 2,\n"
            "                                  enable_nested_tensor=False)\n"
            "src = torch.randn(5, 1, 8)")
    assert run(ip, code)[1] is None
    value, err = run(ip, "%tr_step enc(src)")
    assert err is None and isinstance(value, CaptureView)
    assert list(value.chooser.options) == ["enc.layers.0.self_attn", "enc.layers.1.self_attn"]
    first = value.stepper
    assert isinstance(first, AttentionStepper) and first.trace.name == "enc.layers.0.self_attn"
    value.chooser.value = "enc.layers.1.self_attn"  # what the dropdown does in the browser
    assert value.stepper.trace.name == "enc.layers.1.self_attn" and value.children[1] is value.stepper
    value.choose("enc.layers.0.self_attn")
    assert value.stepper is first  # built once, kept
    with pytest.raises(tr_widgets.TraceInputError, match="enc.layers.0.self_attn"):
        value.choose("enc.layers.2.self_attn")
    assert repr(value).startswith("CaptureView(2 traces, showing 'enc.layers.0.self_attn': AttentionStepper(")


def test_expression_that_is_a_trace_or_a_capture(ip):
    code = ("torch.manual_seed(2)\nq = torch.randn(1, 1, 4, 3)\n"
            "at = tr_widgets.trace_attention(q, q, q)\n"
            "from tr_widgets.engine.capture import capture\n"
            "with capture() as rec:\n    torch.nn.functional.scaled_dot_product_attention(q, q, q)")
    assert run(ip, code)[1] is None
    value, err = run(ip, "%tr_step at")
    assert err is None and value.trace is ip.user_ns["at"]
    value, err = run(ip, "%tr_step rec")
    assert err is None and value.trace is ip.user_ns["rec"].traces[0][1]


def test_cell_magic_keeps_variables_and_shows_the_steppers(ip):
    cell = ("torch.manual_seed(3)\n"
            "cell = torch.nn.LSTMCell(2, 4)\n"
            "h = c = torch.zeros(1, 4)\n"
            "for x_t in torch.randn(5, 1, 2):\n"
            "    h, c = cell(x_t, (h, c))\n"
            "mha = torch.nn.MultiheadAttention(4, 2)\n"
            "y = torch.randn(3, 1, 4)\n"
            "att_out, _ = mha(y, y, y)\n")
    value, err = run(ip, "%%tr_step\n" + cell)
    assert err is None and isinstance(value, CaptureView)
    assert list(value.chooser.options) == ["cell", "mha"]
    assert value.stepper.trace.seq_len == 5  # the loop over the cell is one trace of 5 steps
    assert ip.user_ns["att_out"].shape == (3, 1, 4) and ip.user_ns["h"].shape == (1, 4)


def test_cell_magic_may_contain_ipython_syntax(ip):
    value, err = run(ip, "%%tr_step\ng2 = torch.nn.GRU(1, 2)\nn_cells = %time len(g2(torch.ones(3, 1, 1)))")
    assert err is None and isinstance(value, RecurrentStepper) and value.trace.name == "g2"
    assert ip.user_ns["n_cells"] == 2


# -- bad input: one-line UsageError, or the user's own error; the shell keeps working ----------
@pytest.mark.parametrize("line, words", [
    ("lstmm --hidden 3", ["unknown demo 'lstmm'", "attention, decode, gru, lstm, rnn"]),
    ("not_defined_anywhere", ["unknown demo 'not_defined_anywhere'", "attention, decode, gru, lstm, rnn"]),
    ("lstm --hidden abc", ["--hidden", "expected an integer", "'abc'"]),
    ("lstm --hidden 0", ["--hidden", "[1, 256]", "got 0"]),
    ('lstm --input "1 two 3"', ["--input", "numbers", "'two'"]),
    ("attention --heads 2.5", ["--heads", "'2.5'"]),
    ("lstm --colour red", ["unrecognized arguments: --colour red"]),
    ("torch.zeros(3) + 1", ["nothing recorded", "nn.LSTM", "nn.MultiheadAttention", "scaled_dot_product_attention"]),
    ("", ["expected a demo", "attention, decode, gru, lstm, rnn"]),
    ("1 +", ["neither a demo", "Python expression"]),
])
def test_bad_input_is_a_one_line_usage_error(ip, line, words):
    value, err = run(ip, f"%tr_step {line}")
    assert isinstance(err, UsageError), err
    msg = str(err)
    assert "\n" not in msg and all(w in msg for w in words), msg
    assert_shell_works(ip)


def test_nothing_recorded_in_a_cell(ip):
    value, err = run(ip, "%%tr_step\nz = torch.ones(2) * 3")
    assert isinstance(err, UsageError) and "nothing recorded" in str(err) and "nn.GRU" in str(err)
    assert ip.user_ns["z"].sum() == 6  # the cell still ran
    assert_shell_works(ip)


def test_name_error_inside_expr_is_the_name_error(ip):
    value, err = run(ip, "%tr_step gru(undefined_input)")
    assert type(err) is NameError and "undefined_input" in str(err)
    value, err = run(ip, "%%tr_step\nout = gru(also_undefined)")
    assert type(err) is NameError and "also_undefined" in str(err)
    assert_shell_works(ip)
    # nothing of the capture is left behind
    assert torch.nn.functional.scaled_dot_product_attention is SDPA


def test_help_lists_every_form_with_its_python(ip, capsys):
    doc = ip.find_line_magic("tr_step").__doc__
    for form in ("%tr_step lstm", "%tr_step gru", "%tr_step rnn", "%tr_step attention", "%tr_step EXPR",
                 "%%tr_step", "w = %tr_step", "--hidden", "--input", "--tokens", "--causal"):
        assert form in doc, form
    assert doc.count("stands for") >= 4 and "torch.nn.LSTM(input_size=1, hidden_size=10" in doc
    assert "with tr_widgets.capture(scope=globals()) as rec:" in doc
    ip.run_cell("%tr_step?")
    out = capsys.readouterr().out
    assert "%tr_step EXPR" in out
    run(ip, "%tr_step lstm --help")
    out = capsys.readouterr().out
    assert "--hidden HIDDEN" in out and "Stands for:" in out


def test_register_demo_adds_a_form():
    magic.register_demo("ones", magic.Demo("uniform attention over n tokens",
                                           [(("--n",), dict(type=int, default=3, help="tokens"))],
                                           lambda a: f"tr_widgets.trace_attention(*torch.ones(3, 1, 1, {a.n}, 2).unbind(0))"))
    try:
        shell = InteractiveShell.instance()
        value, err = run(shell, "%tr_step ones --n 4")
        assert err is None and value.trace.L == 4
        assert "%tr_step ones" in shell.find_line_magic("tr_step").__doc__
        with pytest.raises(ValueError):
            magic.register_demo("not a name", magic.DEMOS["lstm"])
    finally:
        del magic.DEMOS["ones"]
