"""MatrixCanvas's look (issue 13): axis labels thinned without overlap, elided, a colour bar centred at
zero for signed data, exact hover values, click and highlight traits, and the SVG/HTML snapshots."""
import xml.dom.minidom

import numpy as np
import pytest

from tr_widgets.views import quantize, value_range
from tr_widgets.views.matrix import (CHAR_PX, LABEL_CHARS, LABEL_PX, Window, axis_labels, colour_ticks, elide,
                                     label_ticks, range_note)
from tr_widgets.widgets import MatrixCanvas
from tr_widgets.widgets.panels.matrix import EXACT_CELLS

TOKENS = ["<s>", "the", "cat", "sat", "on", "the", "mat", "extraordinarily-long-token"]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 16, 63, 64, 100, 192, 1000])
@pytest.mark.parametrize("cell", [1, 2, 3, 5, 13, 14, 24])
@pytest.mark.parametrize("start", [0, 7, 864])
def test_label_ticks_never_overlap_and_keep_the_ends(n, cell, start):
    ticks = label_ticks(n, cell, LABEL_PX, start)
    assert ticks == sorted(set(ticks)) and ticks[0] == 0 and all(0 <= i < n for i in ticks)
    assert all((b - a) * cell >= LABEL_PX for a, b in zip(ticks, ticks[1:])), ticks  # centres ≥ one line apart
    if (n - 1) * cell >= LABEL_PX:
        assert ticks[-1] == n - 1  # the last cell is labelled whenever it fits
    if cell >= LABEL_PX:
        assert ticks == list(range(n))  # nothing thinned when every label fits
    assert len(ticks) >= min(n, (n * cell) // (10 * LABEL_PX))  # thinned, not emptied


def test_label_ticks_are_deterministic_round_numbers():
    assert label_ticks(64, 2, 14) == [0, 10, 20, 30, 40, 50, 63]
    assert label_ticks(192, 2, 14, start=864) == label_ticks(192, 2, 14, start=864)
    assert all((864 + i) % 10 == 0 for i in label_ticks(192, 2, 14, start=864)[1:-1])


def test_long_labels_are_elided_and_indices_stand_in_for_missing_tokens():
    assert elide("extraordinarily-long-token") == "extraordina…" and len(elide("x" * 40)) == LABEL_CHARS
    assert elide("cat") == "cat"
    a = axis_labels(TOKENS, 0, 8, 24, column=True)
    assert a.texts[:7] == TOKENS[:7] and a.texts[7] == "extraordina…" and a.rotate  # too wide to lie flat
    b = axis_labels(None, 40, 8, 24, column=True)
    assert b.texts == [str(i) for i in range(40, 48)] and not b.rotate  # short numbers lie flat
    assert all(len(s) * CHAR_PX + 6 <= 24 for s in b.texts)


def test_colour_bar_is_symmetric_for_signed_data():
    a = np.array([[-0.5, 2.0], [1.0, -3.0]], np.float32)
    lo, hi = value_range(a, signed=True)
    assert lo == -hi == -3.0
    ticks = colour_ticks(lo, hi)
    assert [t for _, t in ticks] == ["−3", "0", "3"] and ticks[1][0] == 0.5  # zero in the middle
    codes = quantize(np.array([lo, 0.0, hi]), lo, hi)
    assert codes.tolist() == [0, 126, 253]  # zero on the middle code: equal magnitudes, equal colour steps
    sym = quantize(np.array([-2.0, -0.7, 0.7, 2.0]), lo, hi)
    assert (sym + sym[::-1]).tolist() == [253] * 4
    assert [t for _, t in colour_ticks(0.0, 0.0769)] == ["0", "0.0769"]  # weights: sequential, no zero tick


def test_range_line_only_for_part_of_a_longer_axis():
    assert range_note("key", 0, 64, 4096) == "key 0–63 of 0–4095"
    assert range_note("key", 0, 8, 8) == ""


def _canvas(rows=4, cols=8, **kw):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(rows, cols)).astype(np.float32)
    lo, hi = value_range(a, signed=True)
    m = MatrixCanvas(title="terms", cmap="diverging", row_axis="query", col_axis="key", **kw)
    m.set_window(quantize(a, lo, hi), Window(0, rows, 0, cols), (rows, cols), lo, hi, TOKENS[:rows], TOKENS[:cols])
    return m, a


def test_hover_values_are_the_exact_float32_values():
    m, a = _canvas()
    assert np.array_equal(np.frombuffer(m.values, np.float32).reshape(a.shape), a)  # bit for bit
    assert not m.exact and np.array_equal(m.exact_values(), a)
    assert m.row_texts == TOKENS[:4] and m.col_texts[-1] == "extraordina…"
    assert m.col_labels[-1] == TOKENS[-1]  # the full text travels too (the label's title)


def test_large_windows_answer_a_hovered_row_exactly():
    rows = cols = 96
    assert rows * cols > EXACT_CELLS
    m, a = _canvas(rows, cols)
    assert m.values == b"" and m.exact  # no float32 window on every step: asked for on hover
    sent = []
    m.send = lambda content, buffers=None: sent.append((content, buffers))
    m._on_msg(m, {"exact_row": 5, "gen": 1}, [])
    content, (vals, codes) = sent[-1]
    assert content == {"exact_row": 5, "r0": 0, "c0": 0}
    assert np.array_equal(np.frombuffer(vals, np.float32), a[5]) and codes == m.window_codes()[5].tobytes()
    m.vmax += 1  # another window than any Python drew: it says so (the page then shows ≈)
    m._on_msg(m, {"exact_row": 5}, [])
    assert sent[-1][0] == {"exact_row": 5, "missing": True}


def test_explicit_values_and_plain_codes():
    m = MatrixCanvas()
    codes = np.zeros((2, 2), np.uint8)
    m.set_window(codes, Window(0, 2, 0, 2), (2, 2), 0, 1)
    assert m.values == b"" and not m.exact and m.exact_values() is None  # hover then says ≈
    v = np.array([[0.1, 0.2], [0.3, 0.4]], np.float32)
    m.set_window(codes, Window(0, 2, 0, 2), (2, 2), 0, 1, values=v)
    assert np.array_equal(m.exact_values(), v)
    assert quantize(v, 0, 1)[1:].exact is None  # a slice is plain codes: never paired with the wrong cells


def test_click_and_highlight_traits():
    m, _ = _canvas()
    assert (m.click_step, m.highlight_row, m.highlight_col) == ("", -1, -1)
    m.click_step, m.highlight_col, m.mark_row = "row", 3, 1
    with pytest.raises(Exception):
        m.click_step = "diagonal"
    svg, _, _ = m.snapshot_svg()
    assert "stroke-dasharray" in svg  # the highlight is dashed; the mark is not


def test_snapshot_svg_is_well_formed_with_labels_marks_and_colour_bar():
    m, _ = _canvas(units="ms")
    m.mark_row, m.highlight_col = 2, 5
    svg, width, height = m.snapshot_svg()
    doc = xml.dom.minidom.parseString(
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}'>{svg}</svg>")
    texts = [t.firstChild.data for t in doc.getElementsByTagName("text") if t.firstChild]
    for tok in ["<s>", "the", "cat", "sat", "extraordina…", "−", "0", "terms"]:
        assert any(tok in s for s in texts), tok
    assert sum(t in texts for t in ("0",)) == 1 and any("red +, blue −" in s for s in texts)
    assert any("ms" in s for s in texts)
    assert len(doc.getElementsByTagName("image")) == 2  # the cells and the colour bar
    assert "#" in svg and "var(" not in svg  # light theme as explicit hex
    assert width > 8 * 24 and height > 4 * 24


def test_snapshot_html_shows_labels_and_bar_deterministically():
    m, _ = _canvas()
    h = m.snapshot_html()
    assert h == _canvas()[0].snapshot_html()
    assert "&lt;s&gt;" in h and "<s>" not in h and ">cat<" in h
    assert "keys:" not in h and "colour range" not in h  # the old caption list and range text are gone
    assert m.snapshot_svg()[0] in h  # the picture save() draws (views.svg, issue 21), not a second layout


def test_empty_canvas_snapshots():
    m = MatrixCanvas(title="nothing")
    assert "(empty)" in m.snapshot_html() and "(empty)" in m.snapshot_svg()[0]


def test_a_categorical_matrix_has_no_colour_bar():
    """Categories (the KV cache: reused / appended / not yet computed) are named by the title, not a scale."""
    codes = np.array([[0, 127, 253], [0, 253, 255]], np.uint8)
    plain, categories = MatrixCanvas(title="weights"), MatrixCanvas(title="cache", colour_bar=False)
    for m in (plain, categories):
        m.set_window(codes, Window(0, 2, 0, 3), (2, 3), 0.0, 1.0)
    assert plain.bar_ticks and not categories.bar_ticks
    assert plain.snapshot_svg()[0].count("<image") == 2 and categories.snapshot_svg()[0].count("<image") == 1
    assert plain.texts["sequential"] in plain.caption() and plain.texts["sequential"] not in categories.caption()


def test_the_decode_cache_matrix_is_categorical():
    import tr_widgets

    model, tok = tr_widgets.load_tiny()
    s = tr_widgets.show(tr_widgets.decode(model, "The cat sat on the", 2, tokenizer=tok), progress=False)
    assert s.cache.colour_bar is False and s.cache.bar_ticks == [] and s.row.bar_ticks
