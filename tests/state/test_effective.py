"""Effective attention of a state trace: its rows are attention_row's, its terms sum to the scan's own output,
it never holds T × T, and the AttentionStepper shows it with the ✓ cross-check against the recurrence."""
import numpy as np
import pytest
import torch

import tr_widgets
from tests.engine.reference import check_overview
from tests.state import VOCAB, build, record
from tr_widgets.engine.state import EffectiveAttention, trace_state
from tr_widgets.views import row_view
from tr_widgets.widgets.steppers.attention import AttentionStepper

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()


@pytest.fixture(scope="module")
def traces():
    ids = torch.randint(0, VOCAB, (2, 11), generator=torch.Generator().manual_seed(4))
    return {f: record(build(f), ids)[0][1] for f in ("mamba2", "mamba", "gated_deltanet", "rwkv")}


def test_rows_are_attention_row_and_the_axes_follow_the_family(traces):
    axes = {"mamba2": "head", "mamba": "channel", "gated_deltanet": "head", "rwkv": "channel"}
    for family, st in traces.items():
        ea = st.effective_attention()
        assert isinstance(ea, EffectiveAttention) and ea is st.effective_attention()  # cached, built once
        assert ea.batch_names == ("batch", axes[family]) and ea.is_causal and ea.L == ea.S == len(st)
        assert ea.normalized is (family == "rwkv")
        for i in (0, 5, 10):
            r = ea.row(i, (1, 2))
            ref = st.attention_row(i, **{axes[family]: 2})[1]
            torch.testing.assert_close(r.weights[: i + 1], ref.float())
            assert (r.weights[i + 1:] == 0).all() and r.blocked.tolist() == [j > i for j in range(ea.S)]
            for stage in (r.scores, r.scaled, r.masked):
                assert torch.equal(stage, r.weights)  # no softmax: every stage is the weight
            w, blocked = ea.weights_rows(i, min(i + 3, ea.L), (1, 2))
            torch.testing.assert_close(w[0], r.weights)
            assert torch.equal(blocked[0], r.blocked)
        check_overview(ea, (1, 2), 3, 2)  # the overview pools the effective weights (not a softmax of them)


def test_mamba2_terms_sum_to_the_ssm_part_of_the_output(traces):
    st = traces["mamba2"]
    ea = st.effective_attention()
    y, x, D = st.scan_output(), st.inputs["x"].float(), st.consts["D"].float()  # y [B, T, H, P], before the norm
    assert "no softmax" in " ".join(ea.notes)
    for i in (0, 4, 10):
        for h in (0, 7):
            r = ea.row(i, (0, h))
            ssm = y[0, i, h] - D[h] * x[0, i, h]  # the module's scan output minus the D·x skip
            torch.testing.assert_close(r.terms.sum(0), ssm, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(ea.sdpa_row(i, (0, h)), ssm, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", ["mamba", "gated_deltanet", "rwkv"])
def test_other_families_terms_equal_the_recurrence(traces, family):
    ea = traces[family].effective_attention()
    for i in (0, 6, 10):
        for index in ((0, 0), (1, 3)):
            torch.testing.assert_close(ea.row(i, index).output, ea.sdpa_row(i, index), rtol=1e-5, atol=1e-5)


def test_long_trace_never_holds_t_by_t():
    T, H, P, G, N = 2048, 2, 4, 1, 8
    g = torch.Generator().manual_seed(0)
    st = trace_state("mamba2", x=torch.randn(1, T, H, P, generator=g),
                     dt=torch.rand(1, T, H, generator=g) * 0.1, A=-torch.rand(H, generator=g),
                     B=torch.randn(1, T, G, N, generator=g), C=torch.randn(1, T, G, N, generator=g),
                     D=torch.ones(H))
    ea = st.effective_attention()
    old = tr_widgets.set_memory_budget(T * T)  # a T × T float32 matrix (4·T² bytes) would be refused
    try:
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
            r = ea.row(T - 1, (0, 1))
            w, _ = ea.weights_rows(T - 64, T, (0, 1))
            rv = row_view(ea, T - 1, (0, 1), (T - 256, T))
        with pytest.raises(tr_widgets.MemoryBudgetError):
            ea.weights  # the whole matrix goes through the budget
    finally:
        tr_widgets.set_memory_budget(old)
    assert w.shape == (64, T) and rv.output_ok and rv.sum_ok
    for n in (0, 63):  # the SSD block (one formula over 64 rows) is attention_row's rows
        i = T - 64 + n
        torch.testing.assert_close(w[n, : i + 1], st.attention_row(i, head=1)[0], rtol=1e-4, atol=1e-5)
        assert (w[n, i + 1:] == 0).all()
    torch.testing.assert_close(r.output, ea.sdpa_row(T - 1, (0, 1)), rtol=1e-4, atol=1e-4)
    biggest = max((e.cpu_memory_usage for e in prof.events()), default=0)
    assert 0 < biggest < 4 * T * T // 8, biggest  # far below one T × T matrix
    for d in (ea.derived, st.derived):
        sizes = [v.numel() for v in d.values() if isinstance(v, torch.Tensor)]
        assert all(n < T * T // 8 for n in sizes), sizes


def test_stepper_shows_it_with_the_recurrence_cross_check(traces):
    st = traces["mamba2"]
    ea = st.effective_attention()
    s = tr_widgets.show(ea, progress=False)
    assert type(s) is AttentionStepper
    s.step = 6
    s.select(head=3)
    r = ea.row(6, (0, 3))
    assert np.allclose(s.stages.series()["effective weights w_ij (no softmax)"], r.weights.numpy(), atol=1e-6)
    assert "✓ max |o_i − SDPA_i|" in s.output.value and "no softmax" in s.panels[0].value
    rv = row_view(ea, 6, (0, 3), (0, ea.S))
    assert rv.output_ok and rv.sum_ok and not rv.normalized and abs(rv.row_sum - 1) > 1e-3
    s.step = 10  # steps on
    assert "✓ max |o_i − SDPA_i|" in s.output.value


def test_bare_tensor_trace_rows_sum_to_its_output_without_the_skip():
    g = torch.Generator().manual_seed(1)
    x, D = torch.randn(2, 5, 3, 2, generator=g), torch.rand(3, generator=g)
    st = trace_state("mamba2", x=x, dt=torch.rand(2, 5, 3, generator=g), A=-torch.ones(3),
                     B=torch.randn(2, 5, 1, 4, generator=g), C=torch.randn(2, 5, 1, 4, generator=g), D=D)
    ea = st.effective_attention()
    assert ea.batch_shape == (2, 3) and "EffectiveAttention(kind='mamba2'" in repr(ea)
    torch.testing.assert_close(ea.row(4, (1, 2)).output, st.output[1, 4, 2] - D[2] * x[1, 4, 2], rtol=1e-5,
                               atol=1e-5)
