"""CompareStepper through its traits and views (issue 24): two runs on one clock. Every number shown is checked
against torch's own modules run on the two inputs (nn.LSTM's outputs, their difference and its norm), the map
against after − before, the marks against the step where the inputs were changed, and the decode's tokens against
the two DecodeTraces."""
import html

import numpy as np
import pytest
import torch

import tr_widgets
from tests.i18n.test_zh_steppers import english_left
from tr_widgets.views import dequantize
from tr_widgets.views.compare import delta_matrix, norm_chart, step_view, token_rows
from tr_widgets.views.looks_text import LineChartLook
from tr_widgets.engine.whatif.compare import compare
from tr_widgets.widgets.steppers.compare import CompareStepper

T, I, H, PART = 7, 3, 5, 3


@pytest.fixture(scope="module")
def runs():
    torch.manual_seed(0)
    lstm, x = torch.nn.LSTM(I, H), torch.randn(T, 1, I)
    x2 = x.clone()
    x2[PART] += 1.0
    with torch.no_grad():
        hb, ha = lstm(x)[0][:, 0], lstm(x2)[0][:, 0]  # [T, H]: torch's own h_t of each run
    return compare(tr_widgets.trace_recurrent(lstm, x), tr_widgets.trace_recurrent(lstm, x2)), hb, ha


@pytest.fixture(scope="module")
def decodes():
    model, tok = tr_widgets.load_tiny()
    return compare(tr_widgets.decode(model, "The cat", 5, tokenizer=tok), tr_widgets.decode(model, "The dog", 5, tokenizer=tok))


def test_show_reaches_it_through_the_table_with_a_deterministic_repr(runs):
    cmp = runs[0]
    s = tr_widgets.show(cmp, step=2)
    assert type(s) is CompareStepper and repr(s) == repr(tr_widgets.show(cmp, step=2))
    assert repr(s).startswith(f"CompareStepper({cmp!r}, t=2 (0–{T - 1})")


def test_the_map_is_after_minus_before_and_marks_where_the_runs_part(runs):
    cmp, hb, ha = runs
    s = tr_widgets.show(cmp)
    exact = (ha - hb).numpy().T  # [H, T]
    np.testing.assert_allclose(delta_matrix(cmp), exact, rtol=1e-6, atol=1e-7)
    shown = dequantize(s.heatmap.window_codes(), s.heatmap.vmin, s.heatmap.vmax)
    assert np.abs(shown - exact).max() <= (s.heatmap.vmax - s.heatmap.vmin) / 253 + 1e-6
    assert s.heatmap.cmap == "diverging" and s.heatmap.vmin == -s.heatmap.vmax and s.heatmap.bar_ticks
    for t in (0, 5):
        s.step = t
        assert s.heatmap.mark_col == t and s.heatmap.highlight_col == PART
    assert f"t = {PART}" in s.summary.value


def test_the_bars_are_both_runs_and_their_difference(runs):
    cmp, hb, ha = runs
    s = tr_widgets.show(cmp, step=5)
    got = list(s.bars.series().values())
    np.testing.assert_allclose(got[0], hb[5].numpy(), rtol=1e-6)
    np.testing.assert_allclose(got[1], ha[5].numpy(), rtol=1e-6)
    np.testing.assert_allclose(got[2], (ha[5] - hb[5]).numpy(), rtol=1e-5, atol=1e-7)
    maxima = s.bars.scale_max
    assert maxima[0] == maxima[1] == pytest.approx(float(torch.cat([hb[5], ha[5]]).abs().max()), rel=1e-6)


def test_the_norm_chart_is_the_norm_of_the_difference_per_step(runs, tmp_path):
    cmp, hb, ha = runs
    s = tr_widgets.show(cmp, step=4)
    s.save(str(tmp_path / "norms.svg"))  # save() draws the step again: the panel holds the Looks shown
    look = next(lk for lk in s.norms.looks if isinstance(lk, LineChartLook))
    points = {int(i): float(v) for line in look.lines for i, v in zip(line.slots, line.values)}
    want = (ha - hb).norm(dim=1)
    assert sorted(points) == list(range(T))
    np.testing.assert_allclose([points[i] for i in range(T)], want.numpy(), rtol=1e-5, atol=1e-7)
    assert look.current == 4 and all(points[i] == 0 for i in range(PART)) and points[PART] > 0
    assert norm_chart(np.zeros(3, np.float32), 0, None).lines[0].dash  # never part: one muted line
    sv = step_view(cmp, None, 4)
    assert sv.norm == pytest.approx(float(want[4]), rel=1e-5) and sv.parts == PART


def test_a_decode_shows_both_runs_tokens_side_by_side(decodes):
    cmp = decodes
    before, after = cmp.before, cmp.after
    s = tr_widgets.show(cmp, step=1)
    assert s.tokens in s.panels
    rows = token_rows(cmp, None, 1)
    chosen = before.ticks[1].query_position + 1
    head = [c.text for c in rows[0]]
    col = head.index(f"▸ {chosen}")
    assert rows[1][col].text.endswith(before.tokens[chosen]) and rows[2][col].text.endswith(after.tokens[chosen])
    assert rows[2][col].text.startswith("≠ ") == (before.tokens[chosen] != after.tokens[chosen])
    assert "dog" in s.tokens.value and "cat" in s.tokens.value
    lookup = [c.text for r in s.tokens.looks[1].rows for c in r]
    assert "≠ dog" in lookup  # the table's Look (what save() paints) holds what the HTML shows


def test_a_capture_chooses_its_name_and_short_names_hold_their_last_step():
    model, tok = tr_widgets.load_tiny()
    ids = torch.tensor([tok.encode("The cat sat on the mat")])
    ids2 = ids.clone()
    ids2[0, 2] = ids[0, 4]
    with tr_widgets.capture(model) as r1:
        model(ids)
    with tr_widgets.capture(model) as r2:
        model(ids2)
    cmp = compare(r1, r2)
    s = tr_widgets.show(cmp, name=1)
    assert cmp.names[1] in s.heatmap.title and s.controller.selection["name"] == 1
    s.select(name=0)
    assert cmp.names[0] in s.heatmap.title and s.heatmap.highlight_col == 2
    assert step_view(cmp, None, 99).t == ids.shape[1] - 1


def test_chinese_and_save(runs, tmp_path):
    model, tok = tr_widgets.load_tiny("zh")
    zh = compare(tr_widgets.decode(model, "猫坐在", 3, tokenizer=tok), tr_widgets.decode(model, "狗坐在", 3, tokenizer=tok))
    for cmp in (runs[0], zh):
        s = tr_widgets.show(cmp, lang="zh")
        s.step = 1
        left = english_left(s, {n.lower() for n in cmp.names})
        assert left == [], left
        assert "之后 − 之前" in s.bars.names and "之后 − 之前" in s.heatmap.title
        assert tr_widgets.show(cmp, lang="en").bars.names == ["before", "after", "after − before"]
    s = tr_widgets.show(runs[0], step=PART)
    s.save(str(tmp_path / "compare.svg"))
    svg = (tmp_path / "compare.svg").read_text(encoding="utf-8")
    assert "after − before" in svg and "<polyline" in svg
    html = s.export_html()
    assert "data-tr-frames='1'" in html  # small: every frame travels, the page steps without a kernel


def test_a_what_if_shows_its_edits_and_parts_where_they_begin():
    torch.manual_seed(3)
    gru, x = torch.nn.GRU(I, H), torch.randn(T, 1, I)
    edit = tr_widgets.Edit.state("GRU", PART, 0.0)
    wi = tr_widgets.what_if(gru, lambda: gru(x), edit)
    s = tr_widgets.show(wi, step=PART)
    assert type(s) is CompareStepper and repr(edit) in html.unescape(s.summary.value)
    assert s.heatmap.highlight_col == wi.diverges_at["GRU"] == PART
    np.testing.assert_allclose(s.bars.series()["after"], np.zeros(H))  # the state carried out of PART: zeroed


def test_a_long_run_is_charted_in_bins_that_keep_its_peaks():
    norms = np.zeros(1000, np.float32)
    norms[777] = 5.0  # one step's peak among zeros
    look = norm_chart(norms, 900, 600)
    values = [v for line in look.lines for v in line.values]
    assert look.frame.n <= 256 and look.last == 999 and max(values) == 5.0
    assert look.current == 900 // -(-1000 // 256)  # the current step's bin
