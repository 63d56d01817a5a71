"""Effective attention of recorded mixers: one row, never T × T, reproduces the scan's output for that step."""
import pytest
import torch
import torch.nn.functional as F

from tests.state import VOCAB, build, record

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()


def traced(family):
    ids = torch.randint(0, VOCAB, (2, 13), generator=torch.Generator().manual_seed(2))
    return record(build(family), ids)[0][1]  # layer 1: its input is a real residual stream, not embeddings


def test_mamba2_row_times_x_is_the_ssm_part_of_the_output():
    t = traced("mamba2")
    y = t.scan_output()  # [B, T, H, P], before the gated norm
    x, D = t.inputs["x"].float(), t.consts["D"].float()
    for i in (0, 6, 12):
        for h in (0, 5):
            row = t.attention_row(i, head=h)  # [B, i+1]
            assert row.shape == (2, i + 1)
            ssm = (row[..., None] * x[:, : i + 1, h]).sum(1)  # [B, P]
            torch.testing.assert_close(ssm + D[h] * x[:, i, h], y[:, i, h], rtol=1e-5, atol=1e-5)


def test_mamba_row_per_channel_reproduces_the_gated_output():
    t = traced("mamba")
    y, x, z = t.scan_output(), t.inputs["x"], t.inputs["gate"]
    for i in (0, 7, 12):
        w = t.attention_row(i)  # [B, d_inner, i+1]
        ssm = (w * x[:, : i + 1].transpose(1, 2)).sum(-1)  # [B, d_inner]
        torch.testing.assert_close((ssm + t.consts["D"] * x[:, i]) * F.silu(z[:, i]), y[:, i], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(t.attention_row(i, channel=3), w[:, 3])


def test_rwkv_row_is_a_softmax_over_past_tokens():
    t = traced("rwkv")
    y = t.scan_output()  # wkv [B, T, A]
    for i in (0, 5, 12):
        w = t.attention_row(i)  # [B, A, i+1]
        torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:2]))
        torch.testing.assert_close((w * t.inputs["v"][:, : i + 1].transpose(1, 2)).sum(-1), y[:, i], rtol=1e-5,
                                   atol=1e-6)


def test_gated_deltanet_row_times_v_is_the_output():
    t = traced("gated_deltanet")
    o = t.scan_output()  # [B, T, Hv, dv], before the gated norm
    for i in (0, 6, 12):
        for h in (0, 3):
            w = t.attention_row(i, head=h)  # [B, i+1]
            torch.testing.assert_close((w[..., None] * t.inputs["v"][:, : i + 1, h]).sum(1), o[:, i, h], rtol=1e-5,
                                       atol=1e-6)
