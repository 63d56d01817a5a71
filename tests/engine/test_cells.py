"""The blocked linear scan equals the plain sequential recurrence h_t = a_t h_{t-1} + b_t (the LSTM cell state)."""
import pytest
import torch

from tr_widgets.engine.recurrent import linear_scan


def sequential(f, ig, c0, reverse):
    c, prev = torch.empty_like(f), c0
    for t in (range(f.shape[0] - 1, -1, -1) if reverse else range(f.shape[0])):
        prev = f[t] * prev + ig[t]
        c[t] = prev
    return c


@pytest.mark.parametrize("T", [1, 2, 3, 7, 16, 17, 130])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("block", [None, 1, 4])
def test_blocked_scan_equals_sequential(T, reverse, block):
    g = torch.Generator().manual_seed(T)
    f = torch.rand(T, 2, 3, dtype=torch.float64, generator=g)
    ig = torch.randn(T, 2, 3, dtype=torch.float64, generator=g)
    c0 = torch.randn(2, 3, dtype=torch.float64, generator=g)
    torch.testing.assert_close(linear_scan(f, ig, c0, reverse, block), sequential(f, ig, c0, reverse),
                               atol=1e-12, rtol=1e-12)
