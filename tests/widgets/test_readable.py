"""Readable at a glance, at default options: the one cell-sizing rule (widgets.layout.cell_size) and each
stepper's main matrix sized by it, with the main view leading the stepper."""
import pytest
import torch
from torch import nn

import tr_widgets
from tr_widgets.widgets import show
from tr_widgets.widgets.layout import MAX_CELL, MIN_CELL, MIN_SIDE, SMALL, cell_size, matrix_width


@pytest.mark.parametrize("rows", [1, 2, 5, 6, 10, 31, 32, 33, 40, 64, 65, 128, 256])
@pytest.mark.parametrize("cols", [1, 6, 32, 64])
def test_the_sizing_rule(rows, cols):
    n, px = max(rows, cols), cell_size(rows, cols)
    assert 1 <= px <= MAX_CELL
    if n <= SMALL:
        assert px >= MIN_CELL  # up to 32 x 32 cells: at least 12 px a cell
    if n <= 64:
        assert n * px >= min(MIN_SIDE, n * MAX_CELL)  # at least 240 px on the long side (unless capped)
    assert n * px <= max(MIN_SIDE + n, SMALL * MIN_CELL)  # and no bigger than it needs to be
    assert matrix_width(rows, cols) > cols * px


def _main_in_first_panel(s, widget) -> bool:
    first = s.panels[0]
    return first is widget or widget in getattr(first, "children", ())


def _readable(canvas, rows: int, cols: int) -> None:
    px = min(canvas.cell_w, canvas.cell_h)  # what the browser paints (cell_px is the stepper's request)
    assert max(rows, cols) * px >= MIN_SIDE and (px >= MIN_CELL or max(rows, cols) > SMALL), (px, rows, cols)


def test_attention_at_six_tokens_leads_with_a_readable_weights_matrix():
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 2, 6, 8) for _ in range(3))
    s = show(tr_widgets.trace_attention(q, k, v, is_causal=True), progress=False)
    _readable(s.weights, 6, 6)
    assert _main_in_first_panel(s, s.weights)


def test_decode_at_five_tokens_shows_a_readable_heads_by_positions_matrix():
    model, tok = tr_widgets.load_tiny()
    s = show(tr_widgets.decode(model, "The cat sat on the", 2, tokenizer=tok), progress=False)
    first = (s.row.cell_w, s.row.cell_h)
    s.step = len(s.trace) - 1  # the widest tick; every tick keeps one cell size (the matrix grows by a column)
    assert (s.row.cell_w, s.row.cell_h) == first and s.row.cols >= 5
    _readable(s.row, s.row.rows, s.row.cols)


@pytest.mark.parametrize("module", [nn.LSTM(3, 10), nn.GRU(3, 40)], ids=["lstm", "gru"])
def test_recurrent_and_gradient_steppers_lead_with_a_readable_heatmap(module):
    torch.manual_seed(0)
    x = torch.randn(6, 1, 3)
    rec = show(tr_widgets.trace_recurrent(module, x), progress=False)
    grad = show(tr_widgets.trace_gradients(module, x, lambda out: out[0][-1].sum()), progress=False)
    for s in (rec, grad):
        _readable(s.heatmap, s.heatmap.rows, s.heatmap.cols)
    assert _main_in_first_panel(rec, rec.heatmap) and _main_in_first_panel(grad, grad.flow)
