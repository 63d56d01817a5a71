"""decode() on Hugging Face GPT-2 built from a config (no download): generate's greedy tokens, cache
on/off agreement, and per-tick attention equal to output_attentions=True under eager attention."""
import copy

import pytest
import torch

from tr_widgets.engine.decode import decode

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()


@pytest.fixture(scope="module")
def gpt2():
    """The same weights twice: eager attention (the oracle for weights) and the default sdpa."""
    cfg = transformers.GPT2Config(n_layer=2, n_head=4, n_embd=32, vocab_size=97, n_positions=64,
                                  bos_token_id=0, eos_token_id=0, pad_token_id=0)
    torch.manual_seed(0)
    eager = transformers.GPT2LMHeadModel._from_config(copy.deepcopy(cfg), attn_implementation="eager").eval()
    sdpa = transformers.GPT2LMHeadModel(copy.deepcopy(cfg)).eval()
    sdpa.load_state_dict(eager.state_dict())
    return eager, sdpa


@pytest.fixture(scope="module")
def prompt():
    return torch.randint(1, 97, (1, 7), generator=torch.Generator().manual_seed(3))


@pytest.fixture(scope="module")
def trace(gpt2, prompt):
    return decode(gpt2[1], prompt, 10)


def test_greedy_equals_hf_generate(gpt2, prompt, trace):
    with torch.no_grad():
        ref = gpt2[1].generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=10, min_new_tokens=10,
                               do_sample=False, pad_token_id=0)
    assert trace.new_ids == ref[0, prompt.shape[1]:].tolist()
    assert trace.prompt_ids == prompt[0].tolist()


def test_cached_and_uncached_agree(gpt2, prompt, trace):
    full = decode(gpt2[1], prompt, 10, use_cache=False)
    assert full.new_ids == trace.new_ids
    assert [tk.keys for tk in full.ticks] == [tk.keys for tk in trace.ticks]
    for t in (0, 5, 9):
        torch.testing.assert_close(full.head_weights(t, 1), trace.head_weights(t, 1), atol=1e-5, rtol=1e-4)


def test_per_tick_attention_equals_eager_output_attentions(gpt2, trace):
    eager, _ = gpt2
    ids = torch.tensor([trace.prompt_ids + trace.new_ids])
    assert trace.layer_names == ["transformer.h.0.attn", "transformer.h.1.attn"] and trace.num_heads == 4
    for t in range(len(trace)):
        S = trace.ticks[t].keys
        with torch.no_grad():
            ref = eager(ids[:, :S], output_attentions=True).attentions  # layers x [1, H, S, S]
        for layer in range(2):
            torch.testing.assert_close(trace.head_weights(t, layer), ref[layer][0, :, -1, :], atol=1e-6, rtol=1e-5)


def test_dynamic_cache_bookkeeping(trace, prompt):
    n = prompt.shape[1]
    assert [tk.cache_len for tk in trace.ticks] == list(range(n, n + 10))
    assert trace.ticks[0].appended == range(0, n) and trace.ticks[4].reused == range(0, n + 3)
    assert trace.model_name == "GPT2LMHeadModel" and trace.text is None


def test_eager_attention_is_traced_too(gpt2, prompt, trace):
    """Eager attention (softmax(q·kᵀ)·v written by hand) is followed like SDPA: same tokens, same weights."""
    tr = decode(gpt2[0], prompt, 10)
    assert tr.new_ids == trace.new_ids and tr.layer_names == trace.layer_names
    for t in (0, 4, 9):
        for layer in range(2):
            torch.testing.assert_close(tr.head_weights(t, layer), trace.head_weights(t, layer), atol=1e-6, rtol=1e-5)


def test_a_model_without_attention_says_so_when_asked(prompt):
    class Bag(torch.nn.Module):  # an LM with no attention at all: tokens come out, attention cannot
        def __init__(self):
            super().__init__()
            self.emb, self.out = torch.nn.Embedding(97, 8), torch.nn.Linear(8, 97)

        def forward(self, ids, past_key_values=None, use_cache=True):
            return transformers.modeling_outputs.CausalLMOutputWithPast(logits=self.out(self.emb(ids)))
    with pytest.warns(UserWarning, match="nothing was recorded"):
        tr = decode(Bag(), prompt, 2)
    assert tr.num_layers == 0 and len(tr.new_ids) == 2
    with pytest.raises(ValueError, match="attn_implementation='sdpa'"):
        tr.attention(0, 0)
