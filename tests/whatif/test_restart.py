"""A recurrent what-if restarts from the recorded state (issue 24, "Cheap"): the edited module's own kernel runs
only over the steps after the edit, the result equals the whole run made again by hand (bitwise where the
restart state is the recorded one; to 1e-6 where an LSTM's c_t had to be replayed, the fused kernel returning
only the last c), and finishing the after trace replays nothing until it is read."""
import warnings

import pytest
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

import tr_widgets
from tr_widgets.engine.whatif.edits import Edit
from tr_widgets.engine.whatif.run import run_edited, what_if

T, I, H, B = 24, 3, 5, 2
KERNELS = ("lstm", "gru", "rnn_tanh")


class Kernels(TorchFunctionMode):
    """The steps each call of a fused recurrent kernel ran over."""

    def __init__(self):
        super().__init__()
        self.steps = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in KERNELS:
            self.steps.append(args[0].shape[0])  # time-major input [T', B, I]
        return func(*args, **(kwargs or {}))


def by_hand(m, x, t, patch):
    """The whole run again: the module's own forward to step t, the state patched, its own forward on."""
    out1, hn = m(x[:t + 1])
    new = patch(hn)
    out2, _ = m(x[t + 1:], new)
    out1 = out1.clone()
    out1[-1] = (new[0] if isinstance(new, tuple) else new)[0]  # h_t as carried on
    return torch.cat([out1, out2])


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
@pytest.mark.parametrize("t", [T // 4, T // 2, 3 * T // 4])
def test_a_state_edit_reruns_only_the_steps_after_it_and_equals_the_whole_run_bitwise(cls, t):
    torch.manual_seed(t)
    m, x = cls(I, H), torch.randn(T, B, I)
    new_h = torch.randn(B, H)
    value = (new_h, torch.randn(B, H)) if cls is nn.LSTM else new_h
    with tr_widgets.capture(m) as before:
        m(x)
    with Kernels() as seen:
        after, out = run_edited(m, lambda: m(x)[0], before, [Edit.state(cls.__name__, t, value)])
    assert seen.steps == [T - t - 1]  # steps 0..t are the recorded ones: never run again
    patch = (lambda hn: tuple(v[None] for v in value)) if cls is nn.LSTM else (lambda hn: new_h[None])
    assert torch.equal(out, by_hand(m, x, t, patch))  # the same kernel from the same state: bitwise
    assert torch.equal(after[cls.__name__].top, out)


@pytest.mark.parametrize("t", [T // 4, 3 * T // 4])
def test_an_lstm_edit_keeping_c_restarts_from_the_replayed_c_t(t):
    torch.manual_seed(t)
    m, x = nn.LSTM(I, H), torch.randn(T, B, I)
    with Kernels() as seen:
        wi = what_if(m, lambda: m(x)[0], Edit.state("LSTM", t, (0.0, None)))  # h_t zeroed, c_t kept
    assert seen.steps == [T, T - t - 1]  # the baseline, then the restart alone
    ref = by_hand(m, x, t, lambda hn: (torch.zeros_like(hn[0]), hn[1]))  # c_t from the fused kernel itself
    # c_t is replayed from the gates (the kernel returns only the last c): equal to float rounding, not bitwise
    torch.testing.assert_close(wi.after_output, ref, atol=1e-6, rtol=0)
    assert torch.equal(wi.after_output[:t], wi.before_output[:t])


def test_a_restart_reads_the_cell_states_the_trace_has_derived_already():
    torch.manual_seed(3)
    m, x, t = nn.LSTM(I, H), torch.randn(T, B, I), T // 2
    with tr_widgets.capture(m) as before:
        m(x)
    c = before["LSTM"].cell()  # derived (a stepper showed it, say): the restart takes c_t from here
    new_h = torch.randn(B, H)
    _, out = run_edited(m, lambda: m(x)[0], before, [Edit.state("LSTM", t, (new_h, None))])
    rest, _ = m(x[t + 1:], (new_h[None], c[t][None]))
    assert torch.equal(out[t + 1:], rest)


@pytest.mark.parametrize("edit", [Edit.state("LSTM", 9, (None, 0.0)), Edit.gate("LSTM", "f", [9, 15], 1.0)])
def test_the_after_trace_replays_nothing_until_read_and_then_shows_what_the_run_carried(edit):
    torch.manual_seed(4)
    m, x = nn.LSTM(I, H), torch.randn(T, B, I)
    wi = what_if(m, lambda: m(x)[0], edit)
    tr = wi.after["LSTM"]
    assert tr.derived == {} and tr.cell_states is None  # finishing put in what the run carried, derived nothing
    assert wi.diverges_at["LSTM"] in (9, 10) and tr.derived == {}  # comparing reads h only
    h, c = tr.hidden(), tr.cell()
    g = tr.gates()
    for s in range(10, T):  # every step the run made from the edit on: c_t = f_t c_{t-1} + i_t g_t, h_t = o_t tanh(c_t)
        torch.testing.assert_close(c[s], g["f"][s] * c[s - 1] + g["i"][s] * g["g"][s], atol=1e-6, rtol=0)
        torch.testing.assert_close(h[s], g["o"][s] * c[s].tanh(), atol=1e-6, rtol=0)
    if edit.gate_name is None:
        assert float(c[9].abs().sum()) == 0.0
    else:
        assert all(bool((g["f"][s] == 1).all()) for s in (9, 15))


def test_a_saved_after_trace_keeps_the_cell_states_and_says_what_a_file_cannot_keep(tmp_path):
    torch.manual_seed(5)
    m, x = nn.LSTM(I, H), torch.randn(T, B, I)
    wi = what_if(m, lambda: m(x)[0], Edit.state("LSTM", 7, (None, 0.0)))
    back = tr_widgets.load(wi.after["LSTM"].save(tmp_path / "after.trace"))
    assert torch.equal(back.cell(), wi.after["LSTM"].cell()) and float(back.cell()[7].abs().sum()) == 0.0
    assert repr(back) == repr(wi.after["LSTM"])
    gated = what_if(m, lambda: m(x)[0], Edit.gate("LSTM", "f", 7, 1.0))
    with pytest.warns(UserWarning, match=r"forced at steps \[7\]"):
        back = tr_widgets.load(gated.after["LSTM"].save(tmp_path / "gated.trace"))
    torch.testing.assert_close(back.cell(), gated.after["LSTM"].cell(), atol=0, rtol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tr_widgets.load(wi.after["LSTM"].save(tmp_path / "again.trace"))  # no forced gate: nothing to say
