"""A sweep of Hugging Face architectures built tiny from configs (no download): under capture the outputs
are bitwise unchanged and every attention layer is recorded with weights equal to eager
``output_attentions=True`` (real query rows, a padded batch), or the capture warns naming what it missed."""
import copy
import warnings

import pytest
import torch

from tests.engine.reference import check_overview
from tr_widgets.engine.capture import CaptureWarning, capture

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()

V, T, B = 64, 8, 2
BASE = dict(vocab_size=V, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
            max_position_embeddings=64, pad_token_id=0, bos_token_id=1, eos_token_id=2)
GQA = dict(BASE, num_key_value_heads=2, head_dim=8)
# name -> (config class, model class, config kwargs, padding side or None for no mask, eager only)
DECODERS = {
    "gpt2": ("GPT2Config", "GPT2LMHeadModel", dict(n_layer=2, n_head=4, n_embd=32, vocab_size=V, n_positions=64), "left", False),
    "llama": ("LlamaConfig", "LlamaForCausalLM", GQA, "left", False),
    "mistral": ("MistralConfig", "MistralForCausalLM", dict(GQA, sliding_window=4), "left", False),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", GQA, "left", False),
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM", GQA, "left", False),
    "gemma": ("GemmaConfig", "GemmaForCausalLM", GQA, "left", False),
    "gemma2": ("Gemma2Config", "Gemma2ForCausalLM", dict(GQA, sliding_window=4, attn_logit_softcapping=5.0,
                                                         final_logit_softcapping=3.0), "left", True),
    "gemma3": ("Gemma3TextConfig", "Gemma3ForCausalLM", dict(GQA, sliding_window=4), "left", False),
    "phi": ("PhiConfig", "PhiForCausalLM", BASE, "left", False),
    "phi3": ("Phi3Config", "Phi3ForCausalLM", GQA, "left", False),
    "opt": ("OPTConfig", "OPTForCausalLM", dict(vocab_size=V, hidden_size=32, num_hidden_layers=2, ffn_dim=48,
                                                num_attention_heads=4, word_embed_proj_dim=32, max_position_embeddings=64,
                                                pad_token_id=0), "left", False),
    "falcon": ("FalconConfig", "FalconForCausalLM", dict(vocab_size=V, hidden_size=32, num_hidden_layers=2,
                                                         num_attention_heads=4, new_decoder_architecture=True,
                                                         num_kv_heads=2), "left", False),
    "gptj": ("GPTJConfig", "GPTJForCausalLM", dict(vocab_size=V, n_embd=32, n_layer=2, n_head=4, rotary_dim=4,
                                                   n_positions=64), "left", False),
    "gpt_bigcode": ("GPTBigCodeConfig", "GPTBigCodeForCausalLM", dict(vocab_size=V, n_embd=32, n_layer=2, n_head=4,
                                                                     multi_query=True, n_positions=64), "left", False),
    "gpt_neo": ("GPTNeoConfig", "GPTNeoForCausalLM", dict(vocab_size=V, hidden_size=32, num_layers=2, num_heads=4,
                                                          attention_types=[[["global", "local"], 1]], window_size=4,
                                                          max_position_embeddings=64), "left", True),
    "gpt_neox": ("GPTNeoXConfig", "GPTNeoXForCausalLM", BASE, "left", False),
    "bloom": ("BloomConfig", "BloomForCausalLM", dict(vocab_size=V, hidden_size=32, n_layer=2, n_head=4), "left", True),
    "mpt": ("MptConfig", "MptForCausalLM", dict(vocab_size=V, d_model=32, n_layers=2, n_heads=4, max_seq_len=64,
                                                 expansion_ratio=2), "left", True),
    "gpt_oss": ("GptOssConfig", "GptOssForCausalLM", dict(GQA, num_local_experts=2, num_experts_per_tok=1,
                                                          sliding_window=4, layer_types=["sliding_attention", "full_attention"]),
                "left", True),
    "olmo": ("OlmoConfig", "OlmoForCausalLM", BASE, "left", False),
    "olmo2": ("Olmo2Config", "Olmo2ForCausalLM", BASE, "left", False),
    "cohere": ("CohereConfig", "CohereForCausalLM", GQA, "left", False),
    "helium": ("HeliumConfig", "HeliumForCausalLM", GQA, "left", False),
    "starcoder2": ("Starcoder2Config", "Starcoder2ForCausalLM", GQA, "left", False),
    "mixtral": ("MixtralConfig", "MixtralForCausalLM", dict(GQA, num_local_experts=2, num_experts_per_tok=1),
                "left", False),
    "codegen": ("CodeGenConfig", "CodeGenForCausalLM", dict(vocab_size=V, n_embd=32, n_layer=2, n_head=4,
                                                            rotary_dim=4, n_positions=64, n_ctx=64), "left", False),
    "xglm": ("XGLMConfig", "XGLMForCausalLM", dict(vocab_size=V, d_model=32, num_layers=2, attention_heads=4,
                                                   ffn_dim=48, max_position_embeddings=64), "left", False),
    "biogpt": ("BioGptConfig", "BioGptForCausalLM", BASE, "left", False),
    "granite": ("GraniteConfig", "GraniteForCausalLM", GQA, "left", False),
    "persimmon": ("PersimmonConfig", "PersimmonForCausalLM", BASE, "left", False),
}
ENCODERS = {
    "bert": ("BertConfig", "BertModel", BASE, "right", False),
    "roberta": ("RobertaConfig", "RobertaModel", dict(BASE, max_position_embeddings=70), "right", False),
    "distilbert": ("DistilBertConfig", "DistilBertModel", dict(vocab_size=V, dim=32, n_layers=2, n_heads=4,
                                                               hidden_dim=48, max_position_embeddings=64), "right", False),
    "albert": ("AlbertConfig", "AlbertModel", dict(BASE, embedding_size=16), "right", False),
    "electra": ("ElectraConfig", "ElectraModel", dict(BASE, embedding_size=32), "right", False),
    "xlm_roberta": ("XLMRobertaConfig", "XLMRobertaModel", dict(BASE, max_position_embeddings=70), "right", False),
}
SEQ2SEQ = {
    "t5": ("T5Config", "T5ForConditionalGeneration", dict(vocab_size=V, d_model=32, d_kv=8, d_ff=48, num_layers=2,
                                                          num_heads=4, decoder_start_token_id=0), "right", False),
    "bart": ("BartConfig", "BartForConditionalGeneration", dict(vocab_size=V, d_model=32, encoder_layers=2,
                                                                decoder_layers=2, encoder_attention_heads=4,
                                                                decoder_attention_heads=4, encoder_ffn_dim=48,
                                                                decoder_ffn_dim=48, max_position_embeddings=64),
             "right", False),
    "marian": ("MarianConfig", "MarianMTModel", dict(vocab_size=V, d_model=32, encoder_layers=2, decoder_layers=2,
                                                    encoder_attention_heads=4, decoder_attention_heads=4,
                                                    encoder_ffn_dim=48, decoder_ffn_dim=48, max_position_embeddings=64,
                                                    decoder_start_token_id=0, pad_token_id=0), "right", False),
    "pegasus": ("PegasusConfig", "PegasusForConditionalGeneration", dict(vocab_size=V, d_model=32, encoder_layers=2,
                                                                         decoder_layers=2, encoder_attention_heads=4,
                                                                         decoder_attention_heads=4, encoder_ffn_dim=48,
                                                                         decoder_ffn_dim=48, max_position_embeddings=64),
                "right", False),
}
ALL = {**DECODERS, **ENCODERS, **SEQ2SEQ}


def build(name, impl):
    cfg_cls, model_cls, kw, _, _ = ALL[name]
    cfg = getattr(transformers, cfg_cls)(**kw)
    torch.manual_seed(0)
    return getattr(transformers, model_cls)._from_config(copy.deepcopy(cfg), attn_implementation=impl).eval()


def inputs(name):
    ids = torch.randint(3, V, (B, T), generator=torch.Generator().manual_seed(1))
    am = torch.ones(B, T, dtype=torch.long)
    if ALL[name][3] == "left":
        am[1, :3] = 0
    else:
        am[1, -3:] = 0
    kw = dict(input_ids=ids, attention_mask=am)
    if name in SEQ2SEQ:
        kw["decoder_input_ids"] = ids[:, :5]
    return kw, am


def reference(model, kw):
    with torch.no_grad():
        out = model(**kw, output_attentions=True)
    if hasattr(out, "encoder_attentions") and out.encoder_attentions is not None:
        return list(out.encoder_attentions) + [a for pair in zip(out.decoder_attentions, out.cross_attentions)
                                               for a in pair]
    return list(out.attentions)


def first(out):
    return out.logits if hasattr(out, "logits") and out.logits is not None else out.last_hidden_state


def real_rows(name, am, w):
    """Query rows of real (not padding) tokens; the decoder side of seq2seq models has no padding."""
    if w.shape[-2] != T:
        return (slice(None),) * 4
    return am.bool()[:, None, :, None].expand(B, w.shape[1], T, w.shape[-1])


def _check(name, impl, eager_model):
    model = build(name, impl)
    model.load_state_dict(eager_model.state_dict())
    kw, am = inputs(name)
    ref = reference(eager_model, kw)
    with torch.no_grad():
        plain = first(model(**kw))
        with warnings.catch_warnings():
            warnings.simplefilter("error", CaptureWarning)
            with capture(model) as rec:
                out = first(model(**kw))
    assert torch.equal(plain, out), "capture changed the output"
    assert rec.skipped == []
    assert len(rec) == len(ref), (rec.names, len(ref))
    for (n, at), want in zip(rec.traces, ref):
        w = at.weights
        assert w.shape == want.shape, (n, w.shape, want.shape)
        rows = real_rows(name, am, want)
        torch.testing.assert_close(w[rows], want[rows], atol=1e-6, rtol=1e-5, msg=lambda m: f"{n}: {m}")
    check_overview(rec.traces[0][1], tuple(0 for _ in rec.traces[0][1].batch_shape), 2, 3)  # the module's own weights
    return rec


@pytest.mark.parametrize("name", list(ALL))
def test_every_attention_layer_recorded_and_equal_to_eager(name):
    eager = build(name, "eager")
    rec = _check(name, "eager", eager)  # hand-written attention: eager_attention_forward and friends
    assert type(rec.traces[0][1]).__name__ == "ChainTrace"
    if getattr(getattr(transformers, ALL[name][1]), "_supports_sdpa", False):
        assert not ALL[name][4], f"{name} gained an sdpa path: test it as such"
        _check(name, "sdpa", eager)


@pytest.mark.parametrize("name", ["mamba", "rwkv"])
def test_state_space_and_recurrent_mixers_are_recorded_as_state_traces(name):
    """Mamba and RWKV mixers used to be named in the never-silent warning; they are recorded now (their
    recurrent state, tests/capture/test_state_mixers.py), and the capture says nothing."""
    if name == "mamba":
        cfg = transformers.MambaConfig(vocab_size=V, hidden_size=32, num_hidden_layers=2, state_size=4, expand=2,
                                       conv_kernel=2)
        model, prefix = transformers.MambaForCausalLM(cfg).eval(), "backbone.layers.0.mixer"
    else:
        cfg = transformers.RwkvConfig(vocab_size=V, hidden_size=32, num_hidden_layers=2, attention_hidden_size=32,
                                      intermediate_size=48, context_length=64)
        model, prefix = transformers.RwkvForCausalLM(cfg).eval(), "rwkv.blocks.0.attention"
    ids = torch.randint(0, V, (1, T))
    with torch.no_grad():
        plain = model(ids).logits
        with warnings.catch_warnings():
            warnings.simplefilter("error", CaptureWarning)
            with capture(model) as rec:
                out = model(ids).logits
    assert torch.equal(plain, out)
    assert rec.names[0] == prefix and len(rec.names) == 2 and not rec.skipped
    assert type(rec[prefix]).__name__ == "StateTrace" and len(rec[prefix]) == T
