"""Hugging Face models built from a config (no download), with their default sdpa attention: capture
records every attention call and its weights equal output_attentions=True under eager attention."""
import copy

import pytest
import torch

from tr_widgets.engine.capture import capture

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()


def _pair(cls, cfg):
    """The same weights twice: one model with eager attention (the oracle), one with the default (sdpa)."""
    torch.manual_seed(0)
    eager = cls._from_config(copy.deepcopy(cfg), attn_implementation="eager").eval()
    sdpa = cls(copy.deepcopy(cfg)).eval()
    sdpa.load_state_dict(eager.state_dict())
    assert eager.config._attn_implementation == "eager" and sdpa.config._attn_implementation == "sdpa"
    return eager, sdpa


@pytest.fixture(scope="module")
def gpt2():
    return _pair(transformers.GPT2LMHeadModel,
                 transformers.GPT2Config(n_layer=2, n_head=2, n_embd=32, vocab_size=100, n_positions=64,
                                         bos_token_id=0, eos_token_id=0))


def test_gpt2_weights_equal_eager_output_attentions(gpt2):
    eager, sdpa = gpt2
    ids = torch.randint(0, 100, (2, 11), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = eager(ids, output_attentions=True)
        plain = sdpa(ids)
        with capture(sdpa) as rec:
            out = sdpa(ids)
    assert torch.equal(out.logits, plain.logits)  # capture changes nothing...
    assert sdpa.config._attn_implementation == "sdpa"  # ...and leaves the attention implementation alone
    from transformers.integrations.sdpa_attention import sdpa_attention_forward
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
    assert ALL_ATTENTION_FUNCTIONS["sdpa"] is sdpa_attention_forward  # the naming wrapper is gone again
    assert rec.names == ["transformer.h.0.attn", "transformer.h.1.attn"]
    assert len(ref.attentions) == len(rec)
    for (name, at), want in zip(rec.traces, ref.attentions):
        assert at.batch_names == ("batch", "head") and at.batch_shape == (2, 2) and at.is_causal
        torch.testing.assert_close(at.weights, want, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(at.output, at.sdpa_output, atol=1e-6, rtol=1e-5)


def test_gpt2_padding_mask_recorded(gpt2):
    eager, sdpa = gpt2
    ids = torch.randint(0, 100, (2, 8), generator=torch.Generator().manual_seed(2))
    am = torch.ones(2, 8, dtype=torch.long)
    am[1, :3] = 0  # left padding
    with torch.no_grad():
        ref = eager(ids, attention_mask=am, output_attentions=True)
        plain = sdpa(ids, attention_mask=am)
        with capture(sdpa) as rec:
            out = sdpa(ids, attention_mask=am)
    assert torch.equal(out.logits, plain.logits)
    at = rec["transformer.h.1.attn"]
    assert at.attn_mask is not None and at.blocked[1, 0, 5, :3].all()
    real = am.bool()[:, None, :, None].expand(2, 2, 8, 8)  # rows of real (not padding) queries
    torch.testing.assert_close(at.weights[real], ref.attentions[1][real], atol=1e-6, rtol=1e-5)


def test_gpt2_named_the_same_without_the_hugging_face_shortcut(gpt2, monkeypatch):
    """Calls are named through AttentionInterface's sdpa entry; the frame walk gives the same names."""
    from tr_widgets.engine.capture import patch as capture_sdpa

    _, sdpa = gpt2
    ids = torch.randint(0, 100, (1, 6), generator=torch.Generator().manual_seed(5))
    monkeypatch.setattr(capture_sdpa, "hf_mapping", lambda: None)
    with torch.no_grad(), capture(sdpa) as walked:
        sdpa(ids)
    with torch.no_grad(), capture(sdpa, via="mode") as mode:
        sdpa(ids)
    assert walked.names == mode.names == ["transformer.h.0.attn", "transformer.h.1.attn"]


def test_gpt2_generation_names_repeated_calls(gpt2):
    _, sdpa = gpt2
    ids = torch.randint(0, 100, (1, 5), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        plain = sdpa.generate(ids, max_new_tokens=3, do_sample=False, pad_token_id=0)
        with capture(sdpa) as rec:
            out = sdpa.generate(ids, max_new_tokens=3, do_sample=False, pad_token_id=0)
    assert torch.equal(out, plain)
    assert rec.names == ["transformer.h.0.attn", "transformer.h.1.attn", "transformer.h.0.attn#2",
                         "transformer.h.1.attn#2", "transformer.h.0.attn#3", "transformer.h.1.attn#3"]
    step = rec["transformer.h.0.attn#3"]  # one new token against the cache: L=1, S=7
    assert (step.L, step.S) == (1, 7)


def test_bert_weights_equal_eager_output_attentions():
    eager, sdpa = _pair(transformers.BertModel, transformers.BertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, vocab_size=100,
        max_position_embeddings=64))
    ids = torch.randint(0, 100, (2, 9), generator=torch.Generator().manual_seed(4))
    am = torch.ones(2, 9, dtype=torch.long)
    am[1, 6:] = 0
    with torch.no_grad():
        ref = eager(ids, attention_mask=am, output_attentions=True)
        plain = sdpa(ids, attention_mask=am)
        with capture(sdpa) as rec:
            out = sdpa(ids, attention_mask=am)
    assert torch.equal(out.last_hidden_state, plain.last_hidden_state)
    assert rec.names == ["encoder.layer.0.attention.self", "encoder.layer.1.attention.self"]
    for (_, at), want in zip(rec.traces, ref.attentions):
        assert not at.is_causal and at.blocked[1, :, :, 6:].all()
        torch.testing.assert_close(at.weights, want, atol=1e-6, rtol=1e-5)
