"""LoopStepper through its traits and views (issue 22): a recurrence the user wrote, shown as their own code with
each step's values beside each line. Every number is checked against the trace's own tensors (which the loop
tests check against the model itself); the heatmap against the states; the bars' shared scales against the
largest |value| of the quantities that share them."""
import re

import numpy as np
import pytest
import torch

import tr_widgets
from tests.i18n.test_zh_steppers import english_left, words_of
from tests.loops.test_module_loops import RNN, GRUCell
from tests.loops.test_op_loops import LSTMScratch
from tr_widgets.engine.loops import LoopTraceBuilder, Source
from tr_widgets.views import dequantize
from tr_widgets.views.loop import abbreviated, loop_axes, quantity_bars, state_matrix, step_values, step_view
from tr_widgets.views.recurrent import fmt
from tr_widgets.widgets.steppers.loop import LoopStepper

T, B, I, H = 6, 3, 4, 5


@pytest.fixture(scope="module")
def lstm():
    torch.manual_seed(0)
    model, x = LSTMScratch(I, H), torch.randn(T, B, I)
    with tr_widgets.capture(model) as rec:
        model(x)
    return rec, rec.traces[0][1]


@pytest.fixture(scope="module")
def gru_cell():
    torch.manual_seed(1)
    model = RNN(GRUCell)
    with tr_widgets.capture(model) as rec:
        model(torch.randint(0, 11, (2, 7)))
    return rec.traces[0][1]


def heatmap(s) -> np.ndarray:
    return dequantize(s.heatmap.window_codes(), s.heatmap.vmin, s.heatmap.vmax)


def test_show_gives_a_loop_stepper_with_a_deterministic_repr(lstm):
    rec, tr = lstm
    s = tr_widgets.show(tr, step=2)
    assert type(s) is LoopStepper and isinstance(tr, tr_widgets.LoopTrace)
    assert repr(s) == repr(tr_widgets.show(tr, step=2))  # nbval compares text/plain
    assert repr(s).startswith(f"LoopStepper({tr!r}, t=2 (0–{T - 1})")
    assert [name for name, _ in loop_axes(tr)] == ["batch", "state"]
    view = tr_widgets.show(rec)  # a capture holding a LoopTrace: the chooser lists it, its stepper is ours
    assert type(view.stepper) is LoopStepper and list(view.chooser.options) == [n for n, _ in rec.traces]


def test_values_beside_each_line_are_the_traces_own(lstm):
    _, tr = lstm
    t, b = 3, 1
    vals = step_values(tr, t, b)
    for name, q in tr.quantities(t).items():
        assert np.array_equal(vals[name], q[b].numpy().reshape(-1)), name
    H_in, C_in = tr.state_in(t)
    assert np.array_equal(vals["H[t-1]"], H_in[b].numpy()) and np.array_equal(vals["C[t-1]"], C_in[b].numpy())
    assert np.array_equal(vals["X"], tr.inputs(t)[b].numpy())
    sv = step_view(tr, t, b, units=3)
    rows = {r.number: r for r in sv.rows}
    for name in ("I", "F", "O", "C_tilde", "C", "H"):  # every name the code assigned, on its own line
        shown = dict(rows[tr.line_of(name)].shown)
        v = tr.quantities(t)[name][b]
        assert shown[name] == "[" + ", ".join(fmt(x) for x in v[:3]) + f", … {H}]"
        assert name in rows[tr.line_of(name)].code
    assert [n for n, _ in sv.rows[0].shown] == ["X", "H[t-1]", "C[t-1]"]  # the `for` line: what the step reads
    assert len(sv.rows) == len(tr.source.lines)


def test_the_source_panel_follows_the_step(lstm):
    _, tr = lstm
    s = tr_widgets.show(tr, units=2)
    for t, b in ((0, 0), (4, 2)):
        s.select(batch=b)
        s.step = t
        F = tr.quantities(t)["F"][b]
        assert f"F = [{fmt(F[0])}, {fmt(F[1])}, … {H}]" in s.source.value
        assert s.source.looks and any(f"F = [{fmt(F[0])}" in c.text for r in s.source.looks[1].rows for c in r)
        assert f"t = {t} (0–{T - 1})" in s.controller.caption.value


def test_bars_share_scales_and_equal_the_quantities(lstm):
    _, tr = lstm
    s = tr_widgets.show(tr, step=4)
    s.select(batch=2)
    bars = {b.name: b for b in quantity_bars(tr, 4, 2)}
    assert list(bars)[:3] == ["X", "H[t-1]", "C[t-1]"] and set(bars) >= {"I", "F", "O", "C_tilde", "C", "H"}
    got = s.bars.series()
    for name, bar in bars.items():
        assert np.array_equal(got[name], bar.values)
    q = tr.quantities(4)
    gates = max(float(q[g][2].abs().max()) for g in ("I", "F", "O"))  # sigmoid outputs: the 0…1 scale
    maxima = dict(zip(s.bars.names, s.bars.scale_max))
    assert maxima["I"] == maxima["F"] == maxima["O"] == pytest.approx(gates, rel=1e-6)
    rest = max(float(v.abs().max()) for v in (q["C_tilde"][2], q["C"][2], q["H"][2], *(x[2] for x in tr.state_in(4))))
    assert maxima["C"] == maxima["H"] == pytest.approx(rest, rel=1e-6)
    assert maxima["X"] == pytest.approx(float(tr.inputs(4)[2].abs().max()), rel=1e-6)  # an input: its own


def test_heatmap_is_the_state_over_time(lstm):
    _, tr = lstm
    s = tr_widgets.show(tr, step=5)
    for b, part in ((0, 0), (2, 1)):
        s.select(batch=b, state=part)
        exact = torch.stack([tr.state(t)[part][b] for t in range(T)]).numpy().T  # [H, T]
        assert np.array_equal(state_matrix(tr, part, b), exact)
        assert np.abs(heatmap(s) - exact).max() <= (s.heatmap.vmax - s.heatmap.vmin) / 253 + 1e-7
        assert s.heatmap.mark_col == 5
    assert "C" in s.heatmap.title


def test_a_cell_module_shows_its_forward_under_its_own_names(gru_cell):
    tr = gru_cell
    s = tr_widgets.show(tr, step=3)
    assert [name for name, _ in loop_axes(tr)] == ["batch"]  # one carried tensor: no state selector
    for name in ("r", "hbar", "z", "ht"):
        v = tr.quantities(3)[name][0]
        assert f"{name} = {abbreviated(v.numpy(), 4)}" in s.source.value
    assert "def forward(self, xt, hprev):" in s.source.value.replace("&#x27;", "'")


def long_trace(n: int):
    """A loop of ``n`` steps built as capture builds one (h_t = tanh(x_t + 0.5 h_{t-1}), one unit, unbatched)."""
    src = Source("loop.py", 1, ("for x in xs:", "    h = torch.tanh(x + 0.5 * h)"))
    b = LoopTraceBuilder("long", "ops", src, state_names=("h",), input_names=("x",))
    h, xs = torch.zeros(3), torch.randn(n, 3)
    for x in xs:
        new = torch.tanh(x + 0.5 * h)
        b.add_step(x, h, new, [("h", 2, new, True)])
        h = new
    return b.build(output=h), xs


def test_a_loop_of_100k_steps_is_windowed_with_an_overview():
    tr, _ = long_trace(100_000)
    s = tr_widgets.show(tr, step=99_999, progress=False)
    assert loop_axes(tr) == [] and s.heatmap.full_cols == 100_000
    assert s.heatmap.window_codes().shape[1] <= s.options["window"] and s.heatmap.overview_codes() is not None
    assert np.array_equal(state_matrix(tr)[:, -1], tr.state(99_999).numpy())


def test_zh_words_and_save(lstm, tmp_path):
    _, tr = lstm
    s = tr_widgets.show(tr, lang="zh", step=1)
    code = {w.lower() for line in tr.source.lines for w in words_of(line, set())}
    code |= {n.lower() for n in (*tr.names, tr.name)}  # the user's own names and code are shown as they are
    assert not english_left(s, code)
    assert "你的代码" in s.source.value
    svg = s.save(tmp_path / "loop.svg").read_text(encoding="utf-8")
    assert "C_tilde" in svg and re.search(r"t = 1 \(0–5\)", svg)


def test_ops_option_shows_every_op_and_options_are_checked(lstm):
    _, tr = lstm
    s = tr_widgets.show(tr, ops=True, step=1)
    assert s.bars.names[3:] == list(tr.names)  # after the input and the state carried in: every op, in order
    assert np.array_equal(s.bars.series()["matmul_2"], tr.quantities(1)["matmul_2"][0].numpy())
    with pytest.raises(tr_widgets.TraceInputError, match=r"ops=\.\.\.\).*Fix"):
        tr_widgets.show(tr, ops="yes")
    with pytest.raises(tr_widgets.TraceInputError, match=r"state=\.\.\.\)"):
        tr_widgets.show(tr, state=2)  # two carried tensors: state 0 or 1


def test_a_long_loops_re_derived_steps_show_the_states_the_loop_carried():
    """A long loop keeps only what its trace reads once its steps settle; the view's values of a late step are
    re-derived, and must equal the states the loop itself carried (kept, never re-derived)."""
    torch.manual_seed(4)
    model, x = LSTMScratch(I, H), torch.randn(64, 2, I)
    with tr_widgets.capture(model) as rec:
        model(x)
    tr = rec.traces[0][1]
    for t in (40, 63):
        vals = step_values(tr, t, 1)
        H_t, C_t = tr.state(t)
        assert np.array_equal(vals["H"], H_t[1].numpy()) and np.array_equal(vals["C"], C_t[1].numpy())
    s = tr_widgets.show(tr, step=63, progress=False)
    assert f"H = {abbreviated(tr.state(63)[0][0].numpy(), 4)}" in s.source.value
