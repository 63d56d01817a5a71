"""%tr_step / %%tr_step reach recurrences written by hand (issue 22): a model whose forward loops over tensor ops
(d2l's scratch style), a cell of the user's own called in the cell's loop (makemore's style), a model called in
the user's loop (PyTorch's char-RNN tutorial), and Keras 3 layers on the torch backend. Each returns the
stepper of one trace of T steps whose states are the ones the code computed (the cell keeps them to compare)."""
import os

import pytest
import torch

from tr_widgets.widgets import CaptureView, RecurrentStepper
from tr_widgets.widgets.steppers.loop import LoopStepper

SCRATCH = '''
class Scratch(torch.nn.Module):  # d2l's RNNScratch, as a learner types it in a notebook cell
    def __init__(self, num_inputs, num_hiddens):
        super().__init__()
        self.num_hiddens = num_hiddens
        self.W_xh = torch.nn.Parameter(torch.randn(num_inputs, num_hiddens) * 0.3)
        self.W_hh = torch.nn.Parameter(torch.randn(num_hiddens, num_hiddens) * 0.3)
        self.b_h = torch.nn.Parameter(torch.zeros(num_hiddens))

    def forward(self, inputs):
        state = torch.zeros((inputs.shape[1], self.num_hiddens))
        outputs = []
        for X in inputs:
            state = torch.tanh(torch.matmul(X, self.W_xh) + torch.matmul(state, self.W_hh) + self.b_h)
            outputs.append(state)
        return outputs, state
'''

CELL = '''
class GRUCell(torch.nn.Module):  # makemore's GRU cell, typed in a notebook cell
    def __init__(self, n_in, n_h):
        super().__init__()
        self.xh_to_z = torch.nn.Linear(n_in + n_h, n_h)
        self.xh_to_r = torch.nn.Linear(n_in + n_h, n_h)
        self.xh_to_hbar = torch.nn.Linear(n_in + n_h, n_h)

    def forward(self, xt, hprev):
        xh = torch.cat([xt, hprev], dim=1)
        r = torch.sigmoid(self.xh_to_r(xh))
        xhr = torch.cat([xt, r * hprev], dim=1)
        hbar = torch.tanh(self.xh_to_hbar(xhr))
        z = torch.sigmoid(self.xh_to_z(xh))
        ht = (1 - z) * hprev + z * hbar
        return ht
'''

CHAR_RNN = '''
class CharRNN(torch.nn.Module):  # PyTorch's char-RNN tutorial: i2h, h2o, softmax; the loop is the user's
    def __init__(self, n_in, n_h, n_out):
        super().__init__()
        self.i2h = torch.nn.Linear(n_in + n_h, n_h)
        self.h2o = torch.nn.Linear(n_in + n_h, n_out)

    def forward(self, x, hidden):
        combined = torch.cat((x, hidden), 1)
        hidden = self.i2h(combined)
        output = torch.log_softmax(self.h2o(combined), dim=1)
        return output, hidden
'''


def run(ip, code):
    r = ip.run_cell(code)
    return r.result, r.error_before_exec or r.error_in_exec


def states_equal(tr, kept) -> bool:
    return len(tr) == len(kept) and all(torch.equal(tr.state(t), h) for t, h in enumerate(kept))


def test_a_scratch_model_called_on_the_line(ip):
    _, err = run(ip, SCRATCH + "torch.manual_seed(0)\nmodel = Scratch(3, 4)\nX = torch.randn(6, 2, 3)")
    assert err is None
    w, err = run(ip, "%tr_step model(X)")
    assert err is None and type(w) is LoopStepper and len(w.trace) == 6
    outputs, _ = ip.user_ns["model"](ip.user_ns["X"])  # the model's own states, run again without capture
    assert states_equal(w.trace, outputs)
    assert "state = torch.tanh" in w.source.value


def test_a_cell_called_in_the_cells_own_loop(ip):
    _, err = run(ip, CELL + "torch.manual_seed(1)\ncell = GRUCell(3, 4)\nxs = torch.randn(5, 2, 3)")
    assert err is None
    w, err = run(ip, "%%tr_step\nh = torch.zeros(2, 4)\nkept = []\n"
                     "for x in xs:\n    h = cell(x, h)\n    kept.append(h)\n")
    assert err is None and type(w) is LoopStepper
    assert states_equal(w.trace, ip.user_ns["kept"])  # the cell's variables stay defined, as in any cell
    names = set(w.trace.quantities(0, assigned_only=True))
    assert {"r", "hbar", "z", "ht"} <= names


def test_a_model_called_in_the_users_loop_char_rnn_style(ip):
    _, err = run(ip, CHAR_RNN + "torch.manual_seed(2)\nrnn = CharRNN(5, 6, 4)\n"
                                "line = torch.eye(5)[[0, 3, 1, 4]].unsqueeze(1)")
    assert err is None
    code = ("%%tr_step\nhidden = torch.zeros(1, 6)\nkept = []\nfor i in range(line.size(0)):\n"
            "    output, hidden = rnn(line[i], hidden)\n    kept.append(hidden)\n")
    w, err = run(ip, code)
    assert err is None and type(w) is LoopStepper and len(w.trace) == 4
    assert states_equal(w.trace, ip.user_ns["kept"])
    w.step = 3
    assert w.heatmap.mark_col == 3 and "t = 3 (0–3)" in w.controller.caption.value


def test_a_capture_holding_a_loop_trace(ip):
    _, err = run(ip, SCRATCH + "m2 = Scratch(2, 3)\nwith tr_widgets.capture(m2) as rec:\n    m2(torch.randn(4, 1, 2))")
    assert err is None
    w, err = run(ip, "%tr_step rec")
    assert err is None and type(w) is LoopStepper and len(w.trace) == 4


def test_keras_layers_on_the_torch_backend(ip):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("Keras was imported on another backend in this process")
    ip.user_ns["keras"] = keras
    code = ("keras.utils.set_random_seed(0)\nlstm = keras.layers.LSTM(4, return_sequences=True)\n"
            "xk = torch.randn(2, 5, 3)")
    _, err = run(ip, code)
    assert err is None
    w, err = run(ip, "%tr_step lstm(xk)")
    assert err is None and type(w) is RecurrentStepper and w.trace.seq_len == 5
    keras_out = ip.user_ns["lstm"](ip.user_ns["xk"]).detach()  # [B, T, H]: Keras's own output
    assert torch.allclose(w.trace.hidden().transpose(0, 1), keras_out, atol=1e-6)  # [T, B, H] -> [B, T, H]
    model = ("kmodel = keras.Sequential([keras.Input((5, 3)), keras.layers.GRU(4, return_sequences=True), "
             "keras.layers.SimpleRNN(2)])")
    _, err = run(ip, model)
    assert err is None
    w, err = run(ip, "%tr_step kmodel(xk)")
    assert err is None and type(w) is CaptureView and len(w.traces) == 2


SIGMA = """%%tr_step
h = torch.zeros(H)
kept = []
for t in range(T):
    h = torch.sigmoid(W_h @ torch.cat([h, x[t, 0]]) + b_h)
    kept.append(h)
"""


def test_a_loop_written_in_the_cell_itself_the_seeds_sigma_rnn(ip):
    _, err = run(ip, "torch.manual_seed(3)\nH, T = 2, 4\nW_h = torch.randn(H, H + 1)\nb_h = torch.randn(H)\n"
                     "x = torch.randn(T, 1, 1)")
    assert err is None
    w, err = run(ip, SIGMA)
    assert err is None and type(w) is LoopStepper and len(w.trace) == 4
    kept = ip.user_ns["kept"]
    assert states_equal(w.trace, kept) and torch.equal(ip.user_ns["h"], kept[-1]) and ip.user_ns["t"] == 3
    cell = SIGMA.splitlines()[1:]  # the cell's own lines, numbered from 1 as the notebook numbers them
    line = next(i + 1 for i, s in enumerate(cell) if s.lstrip().startswith("h = torch.sigmoid"))
    assert w.trace.line_of("h") == line and w.trace.source.line(line) == cell[line - 1]
    assert "h = torch.sigmoid" in w.source.value


def test_a_cell_loop_reads_and_updates_the_notebooks_names(ip):
    _, err = run(ip, "h2 = torch.ones(3)\nxs2 = torch.randn(5, 3)")
    assert err is None
    before = ip.user_ns["h2"].clone()
    w, err = run(ip, "%%tr_step\nfor x2 in xs2:\n    h2 = torch.tanh(0.5 * h2 + x2)\n")
    assert err is None and type(w) is LoopStepper
    assert torch.equal(w.trace.state_in(0), before) and torch.equal(ip.user_ns["h2"], w.trace.state(4))


def test_reuse_in_depth_in_a_cell_records_nothing_and_says_so(ip):
    # layers' weights are parameters (a list of plain tensors, one a step, is a sequence of inputs by data flow)
    _, err = run(ip, "Ws = [torch.nn.Parameter(torch.randn(3, 3)) for _ in range(4)]\nh3 = torch.ones(1, 3)")
    assert err is None
    _, err = run(ip, "%%tr_step\nfor W in Ws:\n    h3 = torch.tanh(h3 @ W)\n")
    assert err is not None and "nothing" in str(err) and "Fix:" in str(err)
    assert ip.user_ns["h3"].shape == (1, 3)  # the cell ran all the same
