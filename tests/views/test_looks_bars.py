"""A bar panel's Look makes every decision (issue 21): scales and units, axis texts, which axes show, the
legend items this data needs, where each chart sits. Painters only paint it (tests/widgets/test_svg_bars.py)."""
from __future__ import annotations

import numpy as np

from tr_widgets.views.image import text_px
from tr_widgets.views.looks import CHART_H, bars_look

TEXTS = {"signs": "red: positive · blue: negative", "mark": "red outline", "highlight": "orange dashed",
         "blocked": "grey hatched", "nonfinite": "NaN or inf", "shared": "scale shared by {group}"}


def _gates(rng):
    return [(name, rng.uniform(-1, 1, 6).astype(np.float32), None, 2, "") for name in "ifgo"]


def test_one_scale_group_shares_its_maximum_and_units_are_on_the_axis():
    rng = np.random.default_rng(0)
    gates = _gates(rng)
    ms = ("ms", np.array([3.0, 111.2], np.float32), None, 1, "", 1)
    look = bars_look("gates", gates + [ms], [[0, 1, 2, 3], [4]], ["g"] * 4 + [""], [""] * 4 + ["ms"], TEXTS)
    top = max(float(np.abs(v).max()) for _, v, *_ in gates)
    assert all(abs(c.scale_max - top) < 1e-6 for c in look.charts[:4])
    assert look.charts[4].axis == ("111 ms", "", "0") and look.charts[4].up  # no negative value: 0 … max
    assert [c.note for c in look.charts[:4]] == ["scale shared by g", "", "", ""]  # said once


def test_two_abreast_on_one_scale_the_right_axis_is_not_shown_and_charts_do_not_overlap():
    look = bars_look("", _gates(np.random.default_rng(1)), [[0, 1, 2, 3]], ["g"] * 4, [""] * 4, TEXTS)
    assert look.columns == (2,) and [c.axis_px > 0 for c in look.charts] == [True, False, True, False]
    boxes = [(c.x, c.y, c.x + c.box[0], c.y + c.box[1]) for c in look.charts]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert min(a[2], b[2]) <= max(a[0], b[0]) or min(a[3], b[3]) <= max(a[1], b[1]), (a, b)
    assert len({c.x for c in look.charts}) == 2 and len({c.y for c in look.charts}) == 2
    assert look.height < 2 * (CHART_H + 40) + 40  # about one screen: two rows, not four


def test_the_legend_holds_only_what_the_data_shows():
    pos = ("w", np.array([0.1, 0.7, 0.2], np.float32), None, -1, "")
    look = bars_look("", [pos], [[0]], [""], [""], TEXTS)
    assert look.legend == ()  # all positive, no mark: no "red: positive · blue: negative"
    signed = ("x", np.array([0.1, -0.7, np.inf], np.float32), np.array([1, 0, 0]), 1, "", 0)
    look = bars_look("", [pos, signed], [[0], [1]], ["", ""], ["", ""], TEXTS)
    assert [i.words for i in look.legend] == [TEXTS[k] for k in ("signs", "mark", "highlight", "blocked", "nonfinite")]
    assert look.legend[0].colours == ("positive", "negative") and look.legend[1].colours == ("mark",)
    out_of_range = ("x", np.array([0.1], np.float32), None, 5, "", 7)
    assert bars_look("", [out_of_range], [[0]], [""], [""], TEXTS).legend == ()  # a mark not shown is not explained


def test_the_flow_wraps_with_each_arrow_beside_the_group_it_points_into():
    series = [(f"s{i}", np.ones(20, np.float32), None, -1, "") for i in range(6)]
    look = bars_look("t", series, [[i] for i in range(6)], [""] * 6, [""] * 6, TEXTS, max_width=500)
    ys = sorted({c.y for c in look.charts})
    assert len(ys) > 1 and len(look.arrows) == 5 and look.width <= 500 + 2
    for (ax, ay), c in zip(look.arrows, look.charts[1:]):
        assert 0 < c.x - ax <= 16 + 10 and c.y <= ay <= c.y + c.box[1]  # just left of its chart, in its row
    assert all(c.x + c.box[0] <= look.width for c in look.charts)
    assert look.width >= text_px("t", 12)


def test_an_all_zero_series_is_flat_with_only_a_zero_label():
    c = bars_look("", [("h0", np.zeros(3, np.float32), None, -1, "")], [[0]], [""], [""], TEXTS).charts[0]
    assert c.scale_max == 0 and not c.up and c.axis == ("", "0", "")
