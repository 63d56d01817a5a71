"""The SVG painter paints a bar panel's Look exactly (issue 21), the way treescope tests its text rendering.

Each expected string is written here from the Look's own fields (positions, scale, bar width, axis texts,
legend items) and the palette, never copied from the painter's output; so a painter that decides anything
the Look did not say (another height, its own scale, a legend item of its own) fails.
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np

from tr_widgets.views import palette
from tr_widgets.views.image import MONO, SANS
from tr_widgets.views.looks import AXIS_GAP, CHART_H, NAME_H, bars_look
from tr_widgets.views.svg import bars_svg, chart_svg, colour, plot_svg

TEXTS = {"signs": "red: positive · blue: negative", "mark": "red outline: current step", "shared": "one scale: {group}",
         "highlight": "orange dashed: largest", "blocked": "grey hatched: masked", "nonfinite": "NaN or inf"}
LIGHT = palette.light_theme()
HEX = {k: "#%02x%02x%02x" % v for k, v in palette.COLOURS.items()}


def _js_round(x: float) -> int:
    return math.floor(x + 0.5)


def test_colours_are_palette_names_theme_first():
    assert colour("mark") == LIGHT["mark"] and colour("hatch") == LIGHT["hatch"]  # in both tables: the theme's
    assert colour("positive") == HEX["positive"] and colour("blocked") == HEX["blocked"]


def test_a_signed_chart_paints_its_bars_about_the_middle_with_its_own_scale():
    v = np.array([1.5, -0.75, 0.0, np.nan], np.float32)
    look = bars_look("", [("a", v, None, 1, "")], [[0]], [""], [""], TEXTS)
    c = look.charts[0]
    assert not c.up and c.scale_max == 1.5 and c.bar_px == palette.bar_px(4)
    mid, room, bw = CHART_H // 2, CHART_H // 2 - 2, c.bar_px
    expected = [f"<rect x='0' y='0' width='{c.plot_w}' height='{CHART_H}' fill='{LIGHT['bg']}'/>"]
    for i, x in enumerate(v[:3]):
        h = max(1, _js_round(abs(float(x)) / c.scale_max * room))
        expected.append(f"<rect x='{i * bw}' y='{mid - h if x >= 0 else mid}' width='{bw - 1}' height='{h}' "
                        f"fill='{HEX['positive' if x >= 0 else 'negative']}'/>")
    expected.append(f"<rect x='{3 * bw}' y='0' width='{bw}' height='{CHART_H}' fill='{HEX['nonfinite']}'/>")
    expected.append(f"<rect x='0' y='{mid}' width='{c.plot_w}' height='1' fill='{LIGHT['fg-muted']}'/>")
    expected.append(f"<rect x='{c.mark * bw + 1}' y='1' width='{bw - 2}' height='{CHART_H - 2}' fill='none' "
                    f"stroke='{LIGHT['mark']}' stroke-width='2'/>")
    assert plot_svg(c) == "".join(expected)


def test_a_non_negative_chart_grows_from_the_bottom_and_its_highlight_is_dashed():
    v = np.array([2.0, 0.5, 1.0], np.float32)
    look = bars_look("", [("ms", v, None, -1, "", 0)], [[0]], [""], ["ms"], TEXTS)
    c = look.charts[0]
    assert c.up and c.axis == (f"{c.scale_max:.3g} ms", "", "0")
    bw, base, room = c.bar_px, CHART_H - 1, CHART_H - 3
    bars = "".join(f"<rect x='{i * bw}' y='{base - max(1, _js_round(float(x) / c.scale_max * room))}' width='{bw - 1}' "
                   f"height='{max(1, _js_round(float(x) / c.scale_max * room))}' fill='{HEX['positive']}'/>"
                   for i, x in enumerate(v))
    assert plot_svg(c) == (f"<rect x='0' y='0' width='{c.plot_w}' height='{CHART_H}' fill='{LIGHT['bg']}'/>{bars}"
                           f"<rect x='0' y='{base}' width='{c.plot_w}' height='1' fill='{LIGHT['fg-muted']}'/>"
                           f"<rect x='1' y='1' width='{bw - 2}' height='{CHART_H - 2}' fill='none' "
                           f"stroke='{LIGHT['highlight']}' stroke-width='2' stroke-dasharray='3 2'/>")


def test_a_blocked_bar_is_grey_with_its_hatch_cut_at_the_bottom():
    v, blk = np.array([1.0, -1.0], np.float32), np.array([False, True])
    c = bars_look("", [("b", v, blk, -1, "")], [[0]], [""], [""], TEXTS).charts[0]
    bw = c.bar_px
    strokes = []
    for y in range(0, CHART_H, bw):
        cut = max(0, y + bw - CHART_H)
        strokes.append(f"M{bw + cut},{y + bw - cut}l{bw - cut},{cut - bw}")
    assert c.up  # the only negative value is masked
    assert (f"<rect x='{bw}' y='0' width='{bw}' height='{CHART_H}' fill='{HEX['blocked']}'/>"
            f"<path d='{''.join(strokes)}' stroke='{LIGHT['hatch']}' stroke-width='1'/>") in plot_svg(c)


def test_a_chart_is_its_name_axis_bordered_plot_and_note_at_the_looks_place():
    v = np.array([0.5, -0.25], np.float32)
    look = bars_look("", [("i <t>", v, None, -1, "gate")], [[0]], ["g"], [""], TEXTS)
    c = look.charts[0]
    px, py = c.x + c.axis_px + AXIS_GAP + 1, c.y + NAME_H + 1
    assert c.note == "gate · one scale: g" and c.axis == ("+0.5", "0", "−0.5")
    labels = "".join(f"<text x='{px - 1 - AXIS_GAP:g}' y='{y:g}' text-anchor='end' font-size='10' "
                     f"fill='{LIGHT['fg-muted']}'>{t}</text>"
                     for t, y in zip(c.axis, (py + 8, py + CHART_H / 2 + 4, py + CHART_H)))
    assert chart_svg(c) == (
        f"<text x='{c.x:g}' y='{c.y + 10:g}' font-size='11' fill='{LIGHT['fg']}'>i &lt;t&gt;</text>"
        f"<rect x='{px - .5:g}' y='{py - .5:g}' width='{c.plot_w + 1}' height='{CHART_H + 1}' fill='none' "
        f"stroke='{LIGHT['border']}'/>{labels}<g transform='translate({px:g},{py:g})'>{plot_svg(c)}</g>"
        f"<text x='{c.x:g}' y='{py + CHART_H + 12:g}' font-size='11' fill='{LIGHT['fg-muted']}'>{c.note}</text>")


def test_a_panel_is_its_title_arrows_charts_and_legend():
    a, b = np.array([1.0, -2.0], np.float32), np.array([3.0], np.float32)
    look = bars_look("flow", [("a", a, None, 0, ""), ("b", b, None, -1, "")], [[0], [1]], ["", ""], ["", ""], TEXTS)
    svg, w, h = bars_svg(look)
    assert (w, h) == (look.width, look.height)
    assert [i.words for i in look.legend] == [TEXTS["signs"], TEXTS["mark"]]  # no highlight, nothing masked
    muted = LIGHT["fg-muted"]
    legend = "".join("".join(f"<rect x='{i.x + 12 * k:g}' y='{i.y + 4:g}' width='9' height='9' fill='{colour(n)}'/>"
                             for k, n in enumerate(i.colours))
                     + f"<text x='{i.x + 12 * len(i.colours):g}' y='{i.y + 13:g}' font-family='{SANS}' font-size='11' "
                       f"fill='{muted}'>{i.words}</text>" for i in look.legend)
    (ax, ay), = look.arrows
    assert svg == (f"<g font-family='{MONO}'><text x='0' y='13' font-family='{SANS}' font-size='12' font-weight='600' "
                   f"fill='{LIGHT['fg']}'>flow</text><text x='{ax:g}' y='{ay:g}' font-family='{SANS}' font-size='16' "
                   f"fill='{muted}'>→</text>{chart_svg(look.charts[0])}{chart_svg(look.charts[1])}{legend}</g>")
    ET.fromstring(f"<svg xmlns='http://www.w3.org/2000/svg'>{svg}</svg>")
