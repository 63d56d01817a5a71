"""What crosses to the browser is bounded by the screen, not by T (sizes, not timings)."""
import pytest
import torch
from torch import nn

import tr_widgets
from tr_widgets.widgets import show
from tr_widgets.testing.commlog import record_comms

KiB, MiB = 1024, 1024 * 1024


def _attention(T, heads=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(1, heads, T, 64, generator=g) for _ in range(3))
    return tr_widgets.trace_attention(q, k, v, is_causal=True, tokens=[f"tok{i}" for i in range(T)])


@pytest.fixture(scope="module")
def attention_1024():
    with record_comms() as log:
        s = show(_attention(1024), progress=False)
    return s, log


def test_step_change_sends_at_most_64_kib(attention_1024):
    s, log = attention_1024
    sizes, moves = [], 0
    # Steps in order around two window moves (at 144 and 240), then long jumps both ways.
    for i in list(range(1, 12)) + list(range(138, 150)) + list(range(236, 244)) + [1023, 0, 512]:
        log.clear()
        s.step = i
        sizes.append(log.total())
        moves += log.keys().count("codes") == 2  # the weights window moved (besides the terms)
    assert moves >= 5  # the worst case (a moving window) is part of the sweep
    assert max(sizes) <= 64 * KiB, max(sizes)
    assert sorted(sizes)[len(sizes) // 2] <= 32 * KiB  # most steps move a marker, not the window


def test_a_step_inside_the_window_does_not_resend_it(attention_1024):
    s, log = attention_1024
    s.step = 300
    log.clear()
    s.step = 301
    assert log.keys().count("codes") == 1  # only the terms of the new row, not the weights window
    assert "ov_codes" not in log.keys()
    assert {"mark_row", "step"} <= set(log.keys())


def test_matrices_travel_as_binary_buffers(attention_1024):
    s, log = attention_1024
    log.clear()
    s.select(head=3)
    assert log.buffers() >= s.weights.rows * s.weights.cols + len(s.weights.ov_codes)
    assert log.total() - log.buffers() < 16 * KiB  # no JSON tables of numbers


@pytest.mark.parametrize("kind", ["attention", "recurrent"])
def test_a_4096_step_view_opens_with_at_most_1_mib(kind):
    if kind == "attention":
        trace = _attention(4096, heads=1)
    else:
        torch.manual_seed(0)
        trace = tr_widgets.trace_recurrent(nn.GRU(8, 256), torch.randn(4096, 1, 8))
    with record_comms() as log:
        s = show(trace, progress=False)
    assert log.total() <= 1 * MiB, log.total()
    log.clear()
    s.step = 4095
    assert log.total() <= 64 * KiB
