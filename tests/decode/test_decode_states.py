"""decode on state-space and linear-attention models built tiny from configs: one tick per token with the
state carried in the model's cache, the same tokens as recomputing from scratch and as ``generate``, and
the fixed state's bytes (constant) beside an attention model's KV cache (growing one position a tick)."""
import warnings

import pytest
import torch

from tr_widgets.engine.capture import CaptureWarning
from tr_widgets.engine.decode import decode, kv_bytes_per_position
from tr_widgets.engine.errors import TraceInputError

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()

V, P, N = 64, 5, 7  # vocabulary, prompt length, new tokens


def tiny(family):
    tf = transformers
    torch.manual_seed(0)
    if family == "mamba":
        cfg = tf.MambaConfig(vocab_size=V, hidden_size=32, state_size=8, num_hidden_layers=2, expand=2,
                             time_step_rank=4, initializer_range=0.5)
        return tf.MambaForCausalLM(cfg).eval()
    if family == "mamba2":
        cfg = tf.Mamba2Config(vocab_size=V, hidden_size=32, state_size=8, num_hidden_layers=2, conv_kernel=4,
                              expand=2, num_heads=8, head_dim=8, n_groups=2, chunk_size=4)
        return tf.Mamba2ForCausalLM(cfg).eval()
    if family == "rwkv":
        cfg = tf.RwkvConfig(vocab_size=V, hidden_size=32, num_hidden_layers=2, attention_hidden_size=32,
                            intermediate_size=64, context_length=64)
        return tf.RwkvForCausalLM(cfg).eval()
    if family == "qwen3_next":  # hybrid: two Gated DeltaNet layers and one attention layer
        cfg = tf.Qwen3NextConfig(vocab_size=V, hidden_size=32, num_hidden_layers=3, intermediate_size=64,
                                 layer_types=["linear_attention", "linear_attention", "full_attention"],
                                 num_attention_heads=2, num_key_value_heads=1, head_dim=16, moe_intermediate_size=32,
                                 num_experts=2, num_experts_per_tok=1, shared_expert_intermediate_size=32,
                                 linear_num_value_heads=4, linear_num_key_heads=2, linear_key_head_dim=8,
                                 linear_value_head_dim=8, linear_conv_kernel_dim=4)
        return tf.Qwen3NextForCausalLM(cfg).eval()
    cfg = tf.GPT2Config(vocab_size=V, n_embd=32, n_layer=2, n_head=4, n_positions=64)
    return tf.GPT2LMHeadModel(cfg).eval()


def prompt(seed=1):
    return torch.randint(0, V, (1, P), generator=torch.Generator().manual_seed(seed))


def quiet_decode(model, ids, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error", CaptureWarning)
        return decode(model, ids, N, **kw)


def as_tuple(s):
    return s if isinstance(s, tuple) else (s,)


@pytest.mark.parametrize("family", ["mamba", "mamba2", "rwkv", "qwen3_next"])
def test_cached_equals_recomputed_equals_generate_and_the_states_agree(family):
    model, ids = tiny(family), prompt()
    cached, fresh = quiet_decode(model, ids), quiet_decode(model, ids, use_cache=False)
    with torch.no_grad():
        gen = model.generate(ids, max_new_tokens=N, min_new_tokens=N, do_sample=False)[0, P:].tolist()
    assert cached.new_ids == fresh.new_ids == gen
    assert cached.num_state_layers == 2 and len(cached) == N
    assert [len(cached.state_trace(t, 0)) for t in range(N)] == [P] + [1] * (N - 1)  # one token a tick
    assert [len(fresh.state_trace(t, 0)) for t in range(N)] == list(range(P, P + N))  # all of them again
    for t in range(N):
        for layer in range(2):
            for a, b in zip(as_tuple(cached.state(t, layer)), as_tuple(fresh.state(t, layer))):
                # the model's fp32 one-token path against its full scan: 1e-5 of the state's scale
                torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * (1 + float(b.abs().max())))


@pytest.mark.parametrize("family", ["mamba", "mamba2"])
def test_a_ticks_state_is_the_cache_of_the_model_fed_that_prefix(family):
    model, ids = tiny(family), prompt(2)
    tr = quiet_decode(model, ids)
    seq = torch.tensor([tr.prompt_ids + tr.new_ids])
    t = 3
    with torch.no_grad():
        cache = model(seq[:, : P + t], use_cache=True).cache_params  # the prompt and the first t new tokens
    for layer in range(2):
        torch.testing.assert_close(tr.state(t, layer), cache.layers[layer].recurrent_states[0], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(tr.state_trace(t, layer).conv_state(-1), cache.layers[layer].conv_states[0],
                                   rtol=1e-5, atol=1e-5)  # the conv buffer too, from the tick's own trace


@pytest.mark.parametrize("family", ["mamba", "mamba2", "rwkv"])
def test_state_bytes_are_constant_and_the_traces_agree_with_the_cache(family):
    tr = quiet_decode(tiny(family), prompt())
    assert len(set(tr.state_bytes)) == 1 and tr.state_bytes[0] > 0
    assert tr.kv_bytes == [0] * N and tr.num_layers == 0
    per_layer = tr.layer_bytes(N - 1, "state")
    assert len(per_layer) == 2
    if family != "rwkv":  # the mixer owns its whole cache entry (ssm state and conv buffer)
        assert list(per_layer) == [tr.state_trace(N - 1, i).state_bytes for i in range(2)]
    else:  # RWKV's cache entry also holds the feed-forward's token shift [1, hidden]: 32 floats
        assert [b - tr.state_trace(N - 1, i).state_bytes for i, b in enumerate(per_layer)] == [32 * 4] * 2


def test_mamba_state_bytes_are_the_shapes_arithmetic():
    tr = quiet_decode(tiny("mamba"), prompt())
    d_inner, d_state, d_conv = 64, 8, 4  # expand 2 · hidden 32; state_size; conv_kernel (default 4)
    assert tr.layer_bytes(0) == ((d_inner * d_state + d_inner * d_conv) * 4,) * 2


def test_gpt2_kv_cache_grows_one_position_a_tick_the_hybrid_both():
    tr = quiet_decode(tiny("gpt2"), prompt())
    step = kv_bytes_per_position(layers=2, kv_heads=4, head_dim=8)
    assert tr.kv_bytes == [(P + t) * step for t in range(N)]  # P positions after the prompt tick, +1 a tick
    assert tr.state_bytes == [0] * N and tr.num_state_layers == 0
    with pytest.raises(TraceInputError, match="state-space or linear-attention"):
        tr.state(0, 0)
    hybrid = quiet_decode(tiny("qwen3_next"), prompt())
    one = kv_bytes_per_position(layers=1, kv_heads=1, head_dim=16)
    assert hybrid.kv_bytes == [(P + t) * one for t in range(N)]
    assert len(set(hybrid.state_bytes)) == 1 and hybrid.num_layers == 1


def test_layer_bytes_checks_its_arguments():
    tr = quiet_decode(tiny("mamba"), prompt())
    with pytest.raises(TraceInputError, match="'state' or 'kv'"):
        tr.layer_bytes(0, "ssm")
    with pytest.raises(TraceInputError, match="tick"):
        tr.state(N, 0)
    with pytest.raises(TraceInputError, match="layer"):
        tr.state(0, 2)
