"""capture on CUDA (`pytest -m gpu`; skipped without CUDA): fused kernels (cuDNN, flash/efficient SDPA, the
encoder layer's fast path) keep running, outputs are unchanged, traces stay on the device."""
import copy
import warnings

import pytest
import torch
from torch import nn

import tr_widgets
from tr_widgets.engine.capture import capture

pytestmark = pytest.mark.gpu


def test_hf_gpt2_on_cuda_equals_eager(no_tf32):
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    cfg = transformers.GPT2Config(n_layer=2, n_head=4, n_embd=64, vocab_size=100, n_positions=128,
                                  bos_token_id=0, eos_token_id=0)
    torch.manual_seed(0)
    eager = transformers.GPT2LMHeadModel._from_config(copy.deepcopy(cfg), attn_implementation="eager").cuda().eval()
    sdpa = transformers.GPT2LMHeadModel(copy.deepcopy(cfg)).cuda().eval()
    sdpa.load_state_dict(eager.state_dict())
    ids = torch.randint(0, 100, (2, 50), device="cuda")
    with torch.no_grad():
        ref = eager(ids, output_attentions=True)
        plain = sdpa(ids)
        with capture(sdpa) as rec:
            out = sdpa(ids)
    assert torch.equal(out.logits, plain.logits)
    for (_, at), want in zip(rec.traces, ref.attentions):
        assert at.q.is_cuda
        torch.testing.assert_close(at.weights, want, atol=1e-5, rtol=1e-4)
        assert at.weights.is_cuda


def test_encoder_fast_path_on_cuda(no_tf32):
    torch.manual_seed(1)
    layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
    enc = nn.TransformerEncoder(layer, 2).cuda().eval()
    x = torch.randn(3, 10, 32, device="cuda")
    kpm = torch.zeros(3, 10, dtype=torch.bool, device="cuda")
    kpm[1, -3:] = True
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = enc(x, src_key_padding_mask=kpm)
        with capture(enc) as rec:
            out = enc(x, src_key_padding_mask=kpm)
        w = enc.layers[0].self_attn(x, x, x, key_padding_mask=kpm, average_attn_weights=False)[1]
    assert torch.equal(out, plain)
    at = rec["layers.0.self_attn"]
    real = (~kpm)[:, None].expand(3, 4, 10)
    torch.testing.assert_close(at.weights[real], w[real], atol=1e-5, rtol=1e-4)


def test_cudnn_lstm_inside_a_model_on_cuda(no_tf32):
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(3, 4), nn.LSTM(4, 8, num_layers=2, bidirectional=True)).cuda()
    x = torch.randn(12, 2, 3, device="cuda")
    with capture(model) as rec:
        model(x)
    tr = rec["1"]
    ref = tr_widgets.trace_recurrent(model[1], model[0](x).detach())
    assert tr.x.is_cuda and tr.gates(1, 1)["f"].is_cuda
    torch.testing.assert_close(tr.cell(1, 1), ref.cell(1, 1), atol=1e-5, rtol=1e-4)
