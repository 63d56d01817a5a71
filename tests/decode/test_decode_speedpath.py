"""decode's cheap tick (issue 23): a plain SDPA call is drained as an SdpaCall (its operands, no AttentionTrace
built), which must hold exactly what the trace of the same call holds (q unpacked from Hugging Face's packed
grouped-query decode step, k/v heads expanded, the default scale); position_ids go in by signature."""
import pytest
import torch

from tr_widgets.engine.capture import capture
from tr_widgets.engine.decode.states import kept_cache, takes_positions

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()


def _llama(kv_heads):
    cfg = transformers.LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=kv_heads, pad_token_id=0)
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(cfg).eval()


def _gpt2():
    torch.manual_seed(0)
    return transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=2, n_head=4, n_embd=32, vocab_size=64,
                                                                n_positions=64)).eval()


def _drained(model, calls, padded):
    """Prefill 5 tokens, then one decode step, each drained: [(module, trace or call), ...] per forward. Left
    padding gives the step a mask, so Hugging Face packs its grouped query heads ([B, Hkv, n_rep, E], pack_gqa)."""
    ids = torch.randint(1, 64, (1, 5), generator=torch.Generator().manual_seed(2))
    mask = torch.tensor([[0, 1, 1, 1, 1]] if padded else [[1] * 5])
    with torch.no_grad(), capture(model) as cap:
        out = model(ids, attention_mask=mask, use_cache=True)
        first = cap.drain(calls=calls)
        model(torch.tensor([[7]]), attention_mask=torch.cat([mask, mask[:, :1] * 0 + 1], 1),
              cache=out.past_key_values, use_cache=True)
        return [first, cap.drain(calls=calls)]


@pytest.mark.parametrize("padded", [False, True], ids=["unpadded", "left-padded"])
@pytest.mark.parametrize("build", [_gpt2, lambda: _llama(4), lambda: _llama(2), lambda: _llama(1)],
                         ids=["gpt2", "llama-mha", "llama-gqa2", "llama-mqa"])
def test_a_drained_call_holds_what_its_trace_holds(build, padded):
    model = build()
    traces, calls = _drained(model, False, padded), _drained(model, True, padded)
    assert [len(f) for f in calls] == [len(f) for f in traces] == [2, 2]  # one call per layer, per forward
    for (m1, at), (m2, c) in ((a, b) for ft, fc in zip(traces, calls) for a, b in zip(ft, fc)):
        assert m1 is m2 and type(c).__name__ == "SdpaCall"
        for name in ("q", "k", "v"):
            assert torch.equal(getattr(c, name), getattr(at, name)), name  # shapes too: heads unpacked, expanded
        assert (c.attn_mask is None) == (at.attn_mask is None)
        if at.attn_mask is not None:
            assert torch.equal(c.attn_mask, at.attn_mask)
        assert (c.is_causal, c.scale, c.L, c.S) == (at.is_causal, at.scale, at.L, at.S)


def test_position_ids_and_an_own_cache_are_decided_by_signature():
    class Counts(torch.nn.Module):
        def forward(self, input_ids, position_ids=None, cache=None, use_cache=False):
            return input_ids

    class NoPositions(torch.nn.Module):
        def forward(self, input_ids, cache=None, use_cache=False):
            return input_ids

    assert takes_positions(Counts()) and not takes_positions(NoPositions())
    assert takes_positions(_gpt2()) and kept_cache(_gpt2()) is None  # GPT-2 returns its cache
    assert kept_cache(Counts()) is None  # no output type declared: the cache is read back from the output
