"""%tr_step runs the clock backwards: `--backward` on the recurrent demos, and `%tr_step grad MODULE X` for the
user's own module. Each shows a GradientTrace equal to calling trace_gradients directly."""
import pytest
import torch
from IPython.core.interactiveshell import InteractiveShell

import tr_widgets
from tr_widgets.magic import demos

from .test_magic import assert_shell_works, run


@pytest.mark.parametrize("name", ["lstm", "gru", "rnn"])
def test_backward_flag_shows_the_gradients_of_the_demo_module(ip, name):
    value, err = run(ip, f'%tr_step {name} --input "1 2 3 4" --hidden 3 --seed 4 --backward')
    assert err is None, err
    g = value.trace
    assert isinstance(g, tr_widgets.GradientTrace) and g.kind.startswith(name) and len(g) == 4
    torch.manual_seed(4)  # the template's module, built again: the same numbers
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[name]
    module = cls(input_size=1, hidden_size=3, num_layers=1, bidirectional=False)
    x = torch.tensor([1.0, 2, 3, 4]).view(-1, 1, 1)
    ref = tr_widgets.trace_gradients(module, x, eval(demos.GRAD_LOSS))
    torch.testing.assert_close(g.hidden(), ref.hidden(), atol=0, rtol=0)
    assert "trace_gradients(module, x, loss_fn)" in demos.DEMOS[name].python(
        demos.DEMOS[name].parser(name).parse_args(["--backward"]))


def test_grad_form_runs_the_users_module_backwards(ip):
    ip.run_cell("torch.manual_seed(0); my_gru = torch.nn.GRU(2, 4, num_layers=2); seq = torch.randn(6, 1, 2)")
    before = set(ip.user_ns)
    value, err = run(ip, '%tr_step grad my_gru seq --loss "lambda out: out[1].sum()"')
    assert err is None, err
    ref = tr_widgets.trace_gradients(ip.user_ns["my_gru"], ip.user_ns["seq"], lambda out: out[1].sum())
    for layer in (0, 1):
        torch.testing.assert_close(value.trace.hidden(layer), ref.hidden(layer), atol=0, rtol=0)
    assert set(ip.user_ns) == before  # nothing added to the user's namespace
    assert "%tr_step grad MODULE X" in ip.find_line_magic("tr_step").__doc__


@pytest.mark.parametrize("line,arg", [("grad seq seq", "module"), ("grad my_gru seq --loss 3", "loss_fn"),
                                      ("grad my_gru", "x")])
def test_grad_form_errors_are_one_line_usage_errors(ip, line, arg):
    ip.run_cell("my_gru = torch.nn.GRU(2, 4); seq = torch.randn(6, 1, 2)")
    _, err = run(ip, f"%tr_step {line}")
    assert err is not None and type(err).__name__ == "UsageError", err
    assert arg in str(err) and "\n" not in str(err)
    assert_shell_works(ip)
