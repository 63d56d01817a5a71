"""Steppers through their traits: every view follows the step and the selectors; show() and errors."""
import numpy as np
import pytest
import torch
from torch import nn

import tr_widgets
from tr_widgets import TraceInputError
from tr_widgets.views import dequantize
from tr_widgets.widgets import AttentionStepper, RecurrentStepper, register_stepper, show
from tr_widgets.widgets.registry import STEPPERS


@pytest.fixture(scope="module")
def rtrace():
    torch.manual_seed(0)
    return tr_widgets.trace_recurrent(nn.LSTM(3, 5, num_layers=2), torch.randn(9, 2, 3))


@pytest.fixture(scope="module")
def atrace():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 4, 12, 8, generator=g) for _ in range(3))
    return tr_widgets.trace_attention(q, k, v, is_causal=True, tokens=[f"w{i}" for i in range(12)])


def test_show_picks_the_stepper(rtrace, atrace):
    assert type(show(rtrace, progress=False)) is RecurrentStepper
    assert type(show(atrace, progress=False)) is AttentionStepper


def test_show_rejects_other_things_and_lists_the_supported_types():
    with pytest.raises(TraceInputError, match="RecurrentTrace, AttentionTrace.*got list") as e:
        show([1, 2])
    assert "Fix:" in str(e.value)


@pytest.mark.parametrize("options,match", [
    ({"colour": 1}, r"show|colour.*one of the options"), ({"progress": "no"}, r"progress=.*True or False"),
    ({"window": 4096}, r"window=.*\[8, 256\]"), ({"head": 9}, r"head=.*\[0, 3\]"), ({"step": 99}, r"step")])
def test_option_errors_name_the_option(atrace, options, match):
    with pytest.raises(TraceInputError, match=match):
        show(atrace, **{"progress": False, **options})


def test_register_stepper_adds_a_trace_type(atrace):
    class FakeTrace:
        pass

    class FakeStepper:
        def __init__(self, trace, **options):
            self.trace, self.options = trace, options
    register_stepper(FakeTrace, FakeStepper)
    try:
        s = show(FakeTrace(), step=2)
        assert isinstance(s, FakeStepper) and s.options == {"step": 2}
        with pytest.raises(TraceInputError, match="FakeTrace"):
            show(object())
    finally:
        STEPPERS.pop(FakeTrace)


def test_recurrent_step_change_updates_every_view(rtrace):
    s = show(rtrace, progress=False, units=3)
    s.step = 6
    st = rtrace.step(6)
    assert s.controller.step == s.controller.clock.step == 6
    assert s.heatmap.mark_col == 6 and s.heatmap.step == s.flow.step == 6
    assert np.allclose(s.flow.series()["h_t hidden state"], st["h_t"].numpy())
    assert np.allclose(s.flow.series()["f_t forget gate"], st["f"].numpy())
    assert "step t = 6" in s.equations.value and f"{float(st['c_t'][0]):.3f}" in s.equations.value
    assert ">h6<" in s.graph.value and ">h7<" not in s.graph.value  # the graph grows with the step
    s.next()
    assert ">h7<" in s.graph.value and s.heatmap.mark_col == 7


def test_recurrent_selectors_switch_layer_and_batch(rtrace):
    s = show(rtrace, progress=False, step=4)
    s.select(layer=1, batch=1)
    st = rtrace.step(4, layer=1, batch=1)
    assert np.allclose(s.flow.series()["x_t (input)"], st["x_t"].numpy())
    shown = dequantize(s.heatmap.window_codes(), s.heatmap.vmin, s.heatmap.vmax)
    h = rtrace.hidden(1)[:, 1].T.numpy()
    assert np.abs(shown - h).max() <= (s.heatmap.vmax - s.heatmap.vmin) / 253
    assert s.step == 4 and "layer 1" in s.equations.value


def test_attention_step_change_updates_every_view(atrace):
    s = show(atrace, progress=False)
    s.step = 7
    r = atrace.row(7, (0, 0))
    assert s.weights.mark_row == 7 and s.weights.step == s.stages.step == s.terms.step == 7
    series = s.stages.series()
    assert np.allclose(series["softmax weights w_ij"], r.weights.numpy(), atol=1e-6)
    assert np.allclose(series["raw scores q_i·k_j"], r.scores.numpy(), atol=1e-5)
    assert s.stages.blocked_series()["masked (hatched = masked out)"].tolist() == r.blocked.tolist()
    assert np.allclose(series["o_i = Σ_j w_ij v_j"], r.output.numpy(), atol=1e-6)
    assert "query 7 (0–11) “" in s.controller.caption.value and ">w7</span>”" in s.controller.caption.value
    assert "✓ Σ_j w_ij = 1.000000" in s.output.value and "✓ max |o_i − SDPA_i|" in s.output.value


def test_attention_head_selector_changes_the_views(atrace):
    s = show(atrace, progress=False, step=5)
    before = s.weights.window_codes().copy()
    s.select(head=2)
    r = atrace.row(5, (0, 2))
    assert np.allclose(s.stages.series()["softmax weights w_ij"], r.weights.numpy(), atol=1e-6)
    assert not np.array_equal(before, s.weights.window_codes())
    shown = dequantize(s.weights.window_codes(), s.weights.vmin, s.weights.vmax)
    ok = ~atrace.blocked[0, 2].numpy()
    assert np.abs(shown[ok] - atrace.weights[0, 2].numpy()[ok]).max() <= s.weights.vmax / 253
    assert s.selection == {"batch": 0, "head": 2} and s.step == 5


def test_long_attention_is_windowed_with_an_overview():
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(1, 1000, 8, generator=g) for _ in range(3))
    s = show(tr_widgets.trace_attention(q, k, v, is_causal=True), progress=False, window=64, step=500)
    assert (s.weights.rows, s.weights.cols) == (64, 64) and s.weights.r0 <= 500 < s.weights.r0 + 64
    assert s.weights.overview_codes().shape == (250, 250) and "max-pooling 4×4" in s.weights.notice
    assert len(s.stages.series()["softmax weights w_ij"]) == 64


def test_progress_bar_can_be_turned_off(capsys):
    g = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(1, 1024, 4, generator=g) for _ in range(3))
    at = tr_widgets.trace_attention(q, k, v)
    show(at, progress=False)
    assert "attention overview" not in capsys.readouterr().err
    show(at, progress=True)
    assert "attention overview" in capsys.readouterr().err
    rec = tr_widgets.trace_recurrent(nn.RNN(2, 3), _r(1024, 1, 2))
    show(rec, progress=False)
    assert "recurrent view" not in capsys.readouterr().err
    show(rec)  # progress is on by default for long work
    assert "recurrent view" in capsys.readouterr().err


def _r(*shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape)))


KINDS = {
    "float mask": lambda: tr_widgets.trace_attention(
        _r(2, 5, 8), _r(2, 5, 8), _r(2, 5, 8),
        attn_mask=torch.zeros(5, 5).masked_fill(torch.eye(5, dtype=torch.bool).roll(1, 1), float("-inf"))),
    "cross attention": lambda: tr_widgets.trace_attention(_r(1, 3, 4, 8), _r(1, 3, 9, 8), _r(1, 3, 9, 6),
                                                          tokens=list("abcdefghi"), query_tokens=list("wxyz")),
    "gqa": lambda: tr_widgets.trace_attention(_r(1, 4, 6, 8), _r(1, 2, 6, 8), _r(1, 2, 6, 8), enable_gqa=True,
                                              is_causal=True),
    "no batch dims": lambda: tr_widgets.trace_attention(_r(6, 8), _r(6, 8), _r(6, 8)),
    "bfloat16": lambda: tr_widgets.trace_attention(*(_r(1, 2, 6, 8).bfloat16() for _ in range(3)), is_causal=True),
    "bidirectional gru": lambda: tr_widgets.trace_recurrent(nn.GRU(3, 4, num_layers=2, bidirectional=True),
                                                            _r(5, 2, 3)),
    "lstm cell": lambda: tr_widgets.trace_recurrent(nn.LSTMCell(3, 4), _r(2, 3)),
    "relu rnn": lambda: tr_widgets.trace_recurrent(nn.RNN(3, 4, nonlinearity="relu"), _r(5, 2, 3)),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_of_trace_steps_through_with_passing_checks(kind):
    s = show(KINDS[kind](), progress=False)
    last = {name: len(dd.options) - 1 for name, dd in s.controller.selectors.items()}
    s.select(**last)
    for i in range(s.controller.n_steps):
        s.step = i
        html = s._repr_mimebundle_()["text/html"]
        assert "✗" not in html, f"a cross-check failed at step {i}"
    assert s.selection == last


def test_attention_stepper_says_when_dropout_was_not_replayed():
    torch.manual_seed(0)
    x = torch.randn(1, 4, 8)
    mha = nn.MultiheadAttention(8, 2, dropout=0.25, batch_first=True).train()
    with tr_widgets.capture(mha) as rec:
        mha(x, x, x)
    s = show(rec.traces[0][1], progress=False)
    html = s._repr_mimebundle_()["text/html"]
    assert "dropout (p=0.25) is not replayed" in html and "tr-notes" in html
    mha.eval()
    with tr_widgets.capture(mha) as quiet:
        mha(x, x, x)
    assert "tr-notes" not in show(quiet.traces[0][1], progress=False)._repr_mimebundle_()["text/html"]
