"""BarsCanvas look (issue 13): shared scales, units on the value axis, marks and highlights, the legend and
hover words, the arrow-with-its-group flow, and the SVG snapshot. The browser draws with what is tested here."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from tr_widgets.views import palette
from tr_widgets.widgets import BarsCanvas
from tr_widgets.widgets import esm
from tr_widgets.widgets.panels.bars import H, axis_text, drawn_up, per_series, scale_maxima


def _gates():
    x = np.array([0.5, -2.0], np.float32)
    i = np.array([0.2, 0.9, -0.1], np.float32)
    f = np.array([-0.4, 0.3, 0.35], np.float32)
    ms = np.array([111.2, 3.0, 4.5], np.float32)
    return x, i, f, ms


def test_old_call_form_still_works_and_each_series_has_its_own_scale():
    b = BarsCanvas(title="t")
    b.set_series([("a", np.array([1.0, -3.0]), None, 1, "note"), ("b", np.array([0.5]), None, -1, "")])
    assert b.scale_max == [3.0, 0.5] and b.axis == ["3", "0.5"]
    assert b.marks == [1, -1] and b.highlights == [-1, -1] and b.units == ["", ""] and b.scale_groups == ["", ""]
    assert b.groups == [[0], [1]]


def test_series_in_one_scale_group_share_the_axis_and_units_show_on_it():
    x, i, f, ms = _gates()
    b = BarsCanvas()
    b.set_series([("x_t", x, None, -1, ""), ("i", i, None, -1, ""), ("f", f, None, -1, ""),
                  ("ms per tick", ms, None, 0, "", 0)],
                 groups=[[0], [1, 2], [3]], scales={1: "gates", 2: "gates"}, units={3: "ms"})
    assert b.scale_max == pytest.approx([2.0, 0.9, 0.9, 111.2], rel=1e-6)
    assert b.axis == ["2", "0.9", "0.9", "111 ms"]  # "max |x| 111" for milliseconds is now "111 ms"
    assert b.scale_groups == ["", "gates", "gates", ""] and b.units == ["", "", "", "ms"]
    assert b.highlights == [-1, -1, -1, 0] and b.marks == [-1, -1, -1, 0]
    b.set_series([("i", i, None, -1, ""), ("f", f, None, -1, "")], scales=["g", "g"], units="B")
    assert b.scale_max == pytest.approx([0.9, 0.9]) and b.axis == ["0.9 B", "0.9 B"]


def test_scale_maxima_ignore_blocked_and_nonfinite_values():
    v = [np.array([1.0, np.nan, -5.0], np.float32), np.array([0.0, 0.0], np.float32), np.array([7.0], np.float32)]
    blocked = [np.array([False, False, True]), None, None]
    assert scale_maxima(v, blocked, ["", "", ""]) == [1.0, 0.0, 7.0]
    assert scale_maxima(v, blocked, ["g", "g", ""]) == [1.0, 1.0, 7.0]
    assert axis_text(0.0) == "0" and axis_text(0.001234, "s") == "0.00123 s" and axis_text(1.514) == "1.51"


def test_per_series_arguments_fail_with_what_was_expected():
    assert per_series(None, 2, "", "units") == ["", ""]
    assert per_series(["a", None], 2, "", "units") == ["a", ""]
    with pytest.raises(ValueError, match=r"expected one entry per series \(3\), got 2"):
        per_series(["a", "b"], 3, "", "scales")
    with pytest.raises(ValueError, match=r"expected series indices 0..1"):
        per_series({5: "ms"}, 2, "", "units")


def test_texts_say_what_the_colours_mean_once_per_panel():
    b = BarsCanvas()
    assert b.texts["signs"] == "red: positive · blue: negative"
    assert "{i}" in b.texts["hover"] and "{value}" in b.texts["hover"] and "(0–{last})" in b.texts["hover"]
    assert b.theme_light == palette.light_theme()


def test_snapshot_html_keeps_each_arrow_with_the_group_it_points_into():
    b = BarsCanvas(title="flow")
    b.set_series([("a", [1.0], None, -1, ""), ("b", [2.0], None, -1, ""), ("c", [3.0], None, -1, "")],
                 groups=[[0], [1, 2]])
    snap = b.snapshot_html()
    assert snap.count("→") == 1 and b.snapshot_svg()[0] in snap  # the saved picture, inline (issue 21)
    # the arrow sits just left of group 1's first chart (the Look places it with the group it points into)
    (ax, _), = b.look().arrows
    assert 0 < b.look().charts[1].x - ax <= 26


def test_snapshot_svg_is_well_formed_light_and_labelled():
    x, i, f, ms = _gates()
    b = BarsCanvas(title="gates <&>")
    b.set_series([("x_t", x, None, 1, ""), ("i", i, np.array([0, 0, 1]), -1, "", 1), ("ms", ms, None, -1, "")],
                 groups=[[0], [1], [2]], scales={0: "s", 1: "s"}, units={2: "ms"})
    svg, w, h = b.snapshot_svg()
    root = ET.fromstring(f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}'>{svg}</svg>")
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "gates <&>" in texts and "+2" in texts and "−2" in texts and "0" in texts
    assert "111 ms" in texts and "+111 ms" not in texts  # no negative value: an axis 0 … max, as bars.js draws
    assert "→" in texts and any("red: positive · blue: negative" in t for t in texts)
    assert any("scale shared by s" in t for t in texts)
    light = palette.light_theme()
    assert f"stroke='{light['mark']}'" in svg and f"stroke='{light['highlight']}'" in svg
    assert "var(" not in svg and 240 <= w <= 1200 and h > 64


def test_bars_js_paints_no_colour_of_its_own():
    js = esm.module("bars")  # bars.js with what it imports
    code = re.sub(r"//[^\n]*", "", js)
    assert not re.findall(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b|rgba?\(", code.replace('"#888"', "")), \
        "bars.js must take every colour from --tr-* or the palette it is sent"
    for hook in ("data-jp-theme-name", "data-jp-theme-light", "prefers-color-scheme", "getComputedStyle"):
        assert hook in js


def test_snapshot_svg_has_the_layout_bars_js_draws():
    js = esm.module("bars")  # bars.js with what it imports
    assert "layout.chart_h" in js and "const H =" not in js  # the chart height is the Look's, sent (issue 21)
    assert drawn_up([np.r_[1., 2], np.r_[-1.], np.r_[3.], np.r_[2.]], [None, None, None, np.r_[False]],
                    ["", "g", "g", ""]) == [True, False, False, True]
    assert drawn_up([np.r_[-1., 2]], [np.r_[True, False]], [""]) == [True]  # a blocked value does not count
    b = BarsCanvas(title="gates")
    gates = [(n, np.r_[0.2, -0.5, 0.9], None, -1, "") for n in "ifgo"]
    b.set_series(gates, groups=[[0, 1, 2, 3]], scales=["g"] * 4)
    lay = b.chart_layout  # what bars.js lays out by (issue 21)
    assert lay["chart_h"] == H and lay["columns"] == [2] and lay["axis_px"][1] == lay["axis_px"][3] == 0
    svg, w, h = b.snapshot_svg()
    root = ET.fromstring(f"<svg xmlns='http://www.w3.org/2000/svg'>{svg}</svg>")
    charts = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.get("height") == str(H + 1)]
    xs, ys = sorted({float(r.get("x")) for r in charts}), sorted({float(r.get("y")) for r in charts})
    assert len(charts) == 4 and len(xs) == 2 and len(ys) == 2  # two abreast, two rows
    axis = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")].count("+0.9")
    assert axis == 2  # the right chart of a pair on one scale repeats no axis
    assert h < 2 * (H + 40) + 40
