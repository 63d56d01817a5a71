"""%tr_step reaches the CompareStepper (issue 24): an expression that makes a what-if or a comparison shows the
two runs it compared, not the capture view of what the recording around the expression saw run."""
import torch

from tr_widgets.widgets.steppers.compare import CompareStepper


def test_a_what_if_and_a_comparison_show_the_compare_stepper(ip):
    ip.run_cell("from tr_widgets.engine.whatif import Edit, what_if, compare\n"
                "torch.manual_seed(0)\nlstm = torch.nn.LSTM(2, 3)\nx = torch.randn(5, 1, 2)")
    w = ip.run_line_magic("tr_step", "what_if(lstm, lambda: lstm(x), Edit.state('LSTM', 2, 0.0))")
    assert type(w) is CompareStepper and w.trace.diverges_at == {"LSTM": 2}
    assert torch.equal(w.trace.after["LSTM"].hidden()[2], torch.zeros(1, 3))  # the state carried out of 2: zeroed
    w = ip.run_line_magic("tr_step", "compare(tr_widgets.trace_recurrent(lstm, x), tr_widgets.trace_recurrent(lstm, x + 1))")
    assert type(w) is CompareStepper and w.trace.diverges_at == {"lstm": 0}
