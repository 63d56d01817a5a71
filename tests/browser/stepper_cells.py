"""Notebook cells that show one stepper of each kind, shared by the browser tests that look at every kind
(layout, theme). Each cell needs ``import torch, tr_widgets`` and ``torch.manual_seed(0)`` run first.

Example::

    write_notebook(path, ["import torch, tr_widgets\\ntorch.manual_seed(0)", ATTENTION, DECODE])
"""

ATTENTION = """\
tokens = ["<s>", "the", "cat", "sat", "on", "the", "mat", "and", "purred", "."]
q, k, v = torch.randn(3, 1, 2, len(tokens), 8).unbind(0)  # each [B=1, heads=2, T=10, E=8]
tr_widgets.show(tr_widgets.trace_attention(q, k, v, is_causal=True, tokens=tokens))"""

DECODE = """\
model, tok = tr_widgets.load_tiny()  # the shipped tiny GPT: no download
tr_widgets.show(tr_widgets.decode(model, "The cat sat on the", 8, tokenizer=tok))"""

STATE = """\
import transformers
from transformers.models.mamba.modeling_mamba import MambaMixer
from tr_widgets.engine.state import trace_state
transformers.logging.set_verbosity_error()
cfg = transformers.MambaConfig(hidden_size=16, state_size=8, expand=2, conv_kernel=4, time_step_rank=4)
tr_widgets.show(trace_state(MambaMixer(cfg, layer_idx=0).eval(), torch.randn(1, 10, 16)))"""


def lstm(hidden: int, steps: int) -> str:
    """The cell of an LSTM stepper (input size 4)."""
    return (f"lstm = torch.nn.LSTM(input_size=4, hidden_size={hidden})\n"
            f"tr_widgets.show(tr_widgets.trace_recurrent(lstm, torch.randn({steps}, 1, 4)))  # T={steps}, hidden {hidden}")


def gradients(hidden: int) -> str:
    """The cell of a gradient stepper (an LSTM run backwards over 12 steps)."""
    return (f"g = tr_widgets.trace_gradients(torch.nn.LSTM(3, {hidden}), torch.randn(12, 1, 3), "
            "lambda out: out[0][-1].pow(2).sum())\ntr_widgets.show(g)")


LOOP = """\
class RNNScratch(torch.nn.Module):  # d2l's RNNScratch: a loop of tensor ops in forward, no cell module
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


scratch = RNNScratch(4, 6)
with tr_widgets.capture(scratch) as rec:
    scratch(torch.randn(8, 2, 4))  # T=8, batch 2
loop = tr_widgets.show(rec.traces[0][1])
loop"""


COMPARE = """\
from tr_widgets.engine.whatif.compare import compare
lstm = torch.nn.LSTM(4, 6)
x = torch.randn(8, 1, 4)  # T=8
x2 = x.clone(); x2[3] += 1.0  # the input changed at step 3: the runs part there
cmp = tr_widgets.show(compare(tr_widgets.trace_recurrent(lstm, x), tr_widgets.trace_recurrent(lstm, x2)))
cmp"""
