"""Windows, pooling and codes: bounded sizes at T=4096, hot cells survive, codes round-trip."""
import numpy as np
import pytest

from tr_widgets.views import BLOCKED, NONFINITE, dequantize, make_overview, maxabs_pool, quantize, window_around
from tr_widgets.views.image import colorize, png_bytes
from tr_widgets.views.matrix import all_pool, pool_factors, value_range


@pytest.mark.parametrize("n,size", [(4096, 192), (300, 192), (50, 192), (1000, 7), (1000, 1), (1000, 2)])
def test_window_contains_the_step_and_is_bounded(n, size):
    for c in range(n):
        win = window_around((n, n), c, c, size, size)
        assert win.r0 <= c < win.r1 and win.c0 <= c < win.c1
        assert win.shape == (min(n, size), min(n, size))
        assert 0 <= win.r0 and win.r1 <= n


def test_window_moves_rarely():
    wins = [window_around((4096, 4096), i, i, 192, 192) for i in range(4096)]
    moves = sum(a != b for a, b in zip(wins, wins[1:]))
    assert moves <= 4096 // 96 + 1  # once per half window of steps


def test_window_keeps_a_margin_around_the_step():
    for c in range(48, 4096 - 48):
        win = window_around((4096, 4096), c, None, 192, 192)
        assert win.r0 + 48 <= c < win.r1 - 48 or win.r0 == 0 or win.r1 == 4096
        assert (win.c0, win.c1) == (0, 192)  # None keeps the axis at its start


def test_pool_factors_bound_the_overview():
    for shape in [(4096, 4096), (4097, 3), (256, 256), (257, 1000), (1, 1)]:
        fr, fc = pool_factors(shape, 256)
        assert -(-shape[0] // fr) <= 256 and -(-shape[1] // fc) <= 256


def test_maxabs_pool_keeps_a_single_hot_cell_and_its_sign():
    rng = np.random.default_rng(0)
    a = rng.uniform(-0.1, 0.1, (4096, 4096)).astype(np.float32)
    a[1234, 3001] = -7.0
    p = maxabs_pool(a, (16, 16))
    assert p.shape == (256, 256)
    assert p[1234 // 16, 3001 // 16] == -7.0
    assert np.abs(np.delete(p.ravel(), (1234 // 16) * 256 + 3001 // 16)).max() <= 0.1


def test_maxabs_pool_matches_a_loop_and_handles_ragged_edges():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(37, 23)).astype(np.float32)
    p = maxabs_pool(a, (5, 4))
    assert p.shape == (8, 6)
    for i in range(8):
        for j in range(6):
            block = a[i * 5:(i + 1) * 5, j * 4:(j + 1) * 4]
            assert p[i, j] == block.ravel()[np.abs(block).argmax()]


def test_nonfinite_cells_stay_visible_after_pooling():
    a = np.zeros((64, 64), np.float32)
    a[10, 10] = np.nan
    p = maxabs_pool(a, (8, 8))
    assert np.isnan(p[1, 1]) and np.isfinite(np.delete(p.ravel(), 9)).all()
    assert quantize(p, 0, 1)[1, 1] == NONFINITE


def test_all_pool_blocks_only_fully_blocked_blocks():
    m = np.zeros((8, 8), bool)
    m[:4, :4] = True
    m[4, 4] = True
    p = all_pool(m, (4, 4))
    assert p.tolist() == [[True, False], [False, False]]


def test_quantize_round_trip_and_reserved_codes():
    x = np.linspace(-2, 3, 101).astype(np.float32)
    codes = quantize(x, -2, 3)
    assert codes.min() == 0 and codes.max() == 253
    assert np.abs(dequantize(codes, -2, 3) - x).max() <= 5 / 253 / 2 + 1e-6
    blocked = np.zeros(101, bool)
    blocked[5] = True
    assert quantize(x, -2, 3, blocked)[5] == BLOCKED
    assert np.isnan(dequantize(np.array([BLOCKED, NONFINITE], np.uint8), 0, 1)).all()


def test_value_range_signed_and_unsigned():
    a = np.array([-3.0, 1.0, np.inf], np.float32)
    assert value_range(a, signed=True) == (-3.0, 3.0)
    assert value_range(a, signed=False) == (0.0, 1.0)
    assert value_range(np.zeros(3), signed=False) == (0.0, 1.0)


def test_make_overview_streams_blocks_and_writes_a_notice():
    rng = np.random.default_rng(2)
    a = rng.random((4096, 4096), dtype=np.float32) * 0.01
    a[4000, 17] = 1.0
    blocked = np.zeros_like(a, bool)
    blocked[:, 2048:] = True
    blocks = [(r0, a[r0:r0 + 512], blocked[r0:r0 + 512]) for r0 in range(0, 4096, 512)]
    ov = make_overview(blocks, a.shape, signed=False)
    assert ov.codes.shape == (256, 256) and ov.codes.dtype == np.uint8
    assert ov.codes[4000 // 16, 17 // 16] == 253  # the hot cell is the brightest
    assert (ov.codes[:, 128:] == BLOCKED).all() and not (ov.codes[:, :128] == BLOCKED).any()
    assert "4096×4096 reduced to 256×256" in ov.notice and "16×16" in ov.notice


def test_png_is_deterministic_and_valid():
    codes = np.array([[0, 100, 253], [254, 255, 10]], np.uint8)
    rgb = colorize(codes, "sequential", scale=4)
    assert rgb.shape == (8, 12, 3)
    a, b = png_bytes(rgb), png_bytes(rgb.copy())
    assert a == b and a.startswith(b"\x89PNG\r\n\x1a\n") and a.endswith(b"IEND\xaeB`\x82")
    assert png_bytes(colorize(codes, "diverging", 4)) != a


def test_robust_range_keeps_one_hot_cell_from_darkening_the_rest():
    w = np.full((64, 64), 1 / 4096, np.float32)
    w[3, 5] = 0.9
    lo, hi = value_range(w, signed=False, robust=True)
    assert lo == 0 and hi < 0.01  # the 99th percentile, not the hot cell
    codes = quantize(w, lo, hi)
    assert codes[3, 5] == 253 and codes[0, 0] > 100  # hot cell at the top colour, the rest visible
    assert value_range(w[:8, :8], signed=False, robust=True)[1] == w[:8, :8].max()  # few cells: the max
