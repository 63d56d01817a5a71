"""decode and capture on grouped-query, multi-query and sliding-window caches (tiny Hugging Face models from
configs): every tick's attention equals eager output_attentions; padded generate() keeps heads as heads;
decode's input checks and token labels."""
import copy

import pytest
import torch

from tr_widgets.engine.capture import capture
from tr_widgets.engine.decode import decode
from tr_widgets.engine.errors import TraceInputError

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()
V = 61


def _pair(kind):
    kw = dict(vocab_size=V, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
              max_position_embeddings=64, head_dim=8, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    if kind == "gqa":
        cfg = transformers.LlamaConfig(**kw, num_key_value_heads=2)
        cls = transformers.LlamaForCausalLM
    elif kind == "mqa":
        cfg = transformers.LlamaConfig(**kw, num_key_value_heads=1)
        cls = transformers.LlamaForCausalLM
    else:  # sliding window smaller than the sequence
        cfg = transformers.MistralConfig(**kw, num_key_value_heads=2, sliding_window=5)
        cls = transformers.MistralForCausalLM
    torch.manual_seed(0)
    eager = cls._from_config(copy.deepcopy(cfg), attn_implementation="eager").eval()
    sdpa = cls._from_config(copy.deepcopy(cfg), attn_implementation="sdpa").eval()
    sdpa.load_state_dict(eager.state_dict())
    return eager, sdpa


PROMPT = torch.randint(3, V, (1, 6), generator=torch.Generator().manual_seed(4))


@pytest.mark.parametrize("kind", ["gqa", "mqa", "window"])
@pytest.mark.parametrize("impl", [1, 0])  # 1: sdpa, 0: eager (hand-written attention)
def test_every_tick_equals_eager_output_attentions(kind, impl):
    models = _pair(kind)
    tr = decode(models[impl], PROMPT, 6)
    with torch.no_grad():
        ref = models[1].generate(PROMPT, attention_mask=torch.ones_like(PROMPT), max_new_tokens=6, min_new_tokens=6,
                                 do_sample=False, pad_token_id=0)
    assert tr.new_ids == ref[0, 6:].tolist()
    assert tr.num_heads == 4 and tr.layer_names == ["model.layers.0.self_attn", "model.layers.1.self_attn"]
    ids = torch.tensor([tr.prompt_ids + tr.new_ids])
    for t in range(len(tr)):
        end = tr.ticks[t].query_position + 1
        with torch.no_grad():
            att = models[0](ids[:, :end], output_attentions=True).attentions
        for layer in range(2):
            hw = tr.head_weights(t, layer)  # [H, S]: every head, over the keys the cache held
            want = att[layer][0, :, -1, :]  # [H, end]
            S = hw.shape[-1]
            assert hw.shape[0] == 4
            torch.testing.assert_close(hw, want[:, end - S:], atol=1e-6, rtol=1e-5)
            assert float(want[:, :end - S].abs().sum()) == 0.0  # the window dropped only zero weights


@pytest.mark.parametrize("kind", ["gqa", "mqa"])
def test_padded_generate_keeps_query_heads_as_heads(kind):
    eager, sdpa = _pair(kind)
    ids = torch.randint(3, V, (2, 5), generator=torch.Generator().manual_seed(2))
    am = torch.ones(2, 5, dtype=torch.long)
    am[1, :2] = 0  # left padding: a mask at every decode step, so HF packs GQA queries
    with torch.no_grad():
        plain = sdpa.generate(ids, attention_mask=am, max_new_tokens=3, do_sample=False, pad_token_id=0)
        with capture(sdpa) as rec:
            out = sdpa.generate(ids, attention_mask=am, max_new_tokens=3, do_sample=False, pad_token_id=0)
    assert torch.equal(out, plain)
    step = rec["model.layers.1.self_attn#3"]  # the second generated token
    assert step.batch_shape == (2, 4) and step.L == 1
    full_am = torch.cat([am, torch.ones(2, 2, dtype=torch.long)], dim=1)
    with torch.no_grad():
        want = eager(out[:, :7], attention_mask=full_am, output_attentions=True).attentions[1][:, :, -1:, :]
    torch.testing.assert_close(step.weights, want, atol=1e-6, rtol=1e-5)


def test_bad_inputs_name_the_argument():
    _, sdpa = _pair("gqa")
    for bad in (99999, -1):
        with pytest.raises(TraceInputError, match=r"^prompt: expected token ids in \[0, 60\]"):
            decode(sdpa, torch.tensor([[5, bad, 7]]), 2)
    base = transformers.LlamaModel(sdpa.config).eval()  # no LM head
    with pytest.raises(TraceInputError, match="^model: .*LM head"):
        decode(base, PROMPT, 2)

    class Plain(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(V, V)

        def forward(self, ids, past_key_values=None, use_cache=True):
            return self.emb(ids)  # a plain tensor, not an output with .logits
    with pytest.raises(TraceInputError, match="^model: "):
        decode(Plain(), PROMPT, 2)
    with pytest.raises(TraceInputError, match="^tokenizer: .*not its name"):
        decode(sdpa, "The cat", 2, tokenizer="tok")


def test_decode_inside_a_mode_capture_names_layers_once():
    _, sdpa = _pair("gqa")
    with torch.no_grad(), capture(sdpa, via="mode") as outer:
        tr = decode(sdpa, PROMPT, 2)
    assert tr.layer_names == ["model.layers.0.self_attn", "model.layers.1.self_attn"]
    assert outer.names == ["model.layers.0.self_attn", "model.layers.1.self_attn",
                           "model.layers.0.self_attn#2", "model.layers.1.self_attn#2"]
