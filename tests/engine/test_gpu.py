"""The same oracle tests on CUDA (`pytest -m gpu`; skipped without CUDA). TF32 is disabled for the
comparison (cuDNN and cuBLAS use TF32 by default on Ampere and later), so fp32 tolerances hold."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import tr_widgets
from tests.engine.test_recurrent_oracle import check

pytestmark = pytest.mark.gpu

CONFIGS = [
    dict(kind=k, I=5, H=6, L=L, bi=bi, batch_first=bf, bias=True, proj=p, T=9, B=3, unbatched=False,
         with_hx=True, seed=s)
    for s, (k, L, bi, bf, p) in enumerate([
        ("lstm", 1, False, False, 0), ("lstm", 2, True, True, 0), ("lstm", 2, True, False, 3),
        ("gru", 3, True, True, 0), ("rnn_tanh", 2, False, False, 0), ("rnn_relu", 1, True, True, 0)])
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c['kind']}-L{c['L']}-bi{int(c['bi'])}-p{c['proj']}")
def test_recurrent_oracle_on_cuda(cfg, no_tf32):
    check(cfg, device="cuda", atol=1e-5)


def test_traces_stay_on_the_device(no_tf32):
    m = nn.LSTM(4, 8, num_layers=2).cuda()
    tr = tr_widgets.trace_recurrent(m, torch.randn(10, 2, 4, device="cuda"))
    assert tr.gates(1)["f"].is_cuda and tr.cell(0).is_cuda and tr.step(3)["c_t"].is_cuda


@pytest.mark.parametrize("causal", [False, True])
def test_attention_oracle_on_cuda(causal, no_tf32):
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 4, 33, 16, device="cuda") for _ in range(3))
    at = tr_widgets.trace_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(at.output, F.scaled_dot_product_attention(q, k, v, is_causal=causal),
                               atol=1e-5, rtol=1e-5)
    r = at.row(20, (1, 2))
    assert r.weights.is_cuda
    torch.testing.assert_close(r.output, at.sdpa_output[1, 2, 20], atol=1e-5, rtol=1e-5)


def test_fully_masked_rows_on_cuda_match_sdpa(no_tf32):
    q, k, v = (torch.randn(1, 2, 4, 8, device="cuda") for _ in range(3))
    mask = torch.ones(4, 4, dtype=torch.bool, device="cuda")
    mask[2] = False
    at = tr_widgets.trace_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(at.output, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
