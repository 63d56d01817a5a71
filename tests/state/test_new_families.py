"""The newer mixer families (LFM2 short conv, RecurrentGemma's RG-LRU, Kimi Delta Attention in KimiLinear and
BailingHybrid, MiniMax's lightning attention) are found by structure, and their traces equal the model's own
token-by-token cache path: tiny hybrid models built from configs (one mixer layer, one attention layer), batch 2.
The oracle is the model fed one token at a time, its state read from where the model keeps it."""
import copy
import functools
import warnings

import numpy as np
import pytest
import torch

from tr_widgets.engine.capture import CaptureWarning, capture
from tr_widgets.engine.state import StateTrace, mixer_kind, state_before, trace_mixer_call

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()

VOCAB, T = 64, 6
SMALL = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
             num_key_value_heads=1, pad_token_id=0)
DELTA = dict(SMALL, moe_intermediate_size=32, num_key_value_heads=2, linear_head_dim=8, linear_num_heads=2,
             linear_conv_kernel_dim=4, num_local_experts=2, num_experts_per_tok=1, kv_lora_rank=8,
             qk_rope_head_dim=4, qk_nope_head_dim=8, v_head_dim=8, layer_types=["linear_attention", "full_attention"],
             mlp_layer_types=["dense", "dense"])
MODELS = {  # family: (config class, model class, config overrides, the spec's name); all hybrids but xLSTM
    "lfm2": ("Lfm2Config", "Lfm2Model", dict(layer_types=["conv", "full_attention"]), "short_conv"),
    "lfm2_moe": ("Lfm2MoeConfig", "Lfm2MoeModel", dict(layer_types=["conv", "full_attention"], num_dense_layers=1,
                                                       num_experts=2, num_experts_per_tok=1, moe_intermediate_size=32),
                 "short_conv"),
    "lfm3": ("Lfm3Config", "Lfm3Model", dict(layer_types=["conv", "full_attention"]), "short_conv"),
    "recurrent_gemma": ("RecurrentGemmaConfig", "RecurrentGemmaModel",
                        dict(lru_width=32, attention_window_size=16, block_types=["recurrent", "attention"]), "rglru"),
    "kimi_linear": ("KimiLinearConfig", "KimiLinearModel", DELTA, "kda"),
    "bailing_hybrid": ("BailingHybridConfig", "BailingHybridModel",
                       dict(DELTA, head_dim=8, first_k_dense_replace=2, n_group=1, topk_group=1), "kda"),
    "minimax": ("MiniMaxConfig", "MiniMaxModel", dict(head_dim=16, num_local_experts=2, num_experts_per_tok=1,
                                                      layer_types=["linear_attention", "full_attention"],
                                                      block_size=4), "lightning"),
    "xlstm": ("xLSTMConfig", "xLSTMModel", dict(num_hidden_layers=1, num_heads=4, qk_dim_factor=2.0, v_dim_factor=2.0),
              "mlstm"),
}
FAMILIES = sorted(MODELS)


@functools.lru_cache(maxsize=None)
def build(family):
    """The family's tiny model, built once per test session (tests only read it: hooks are removed after)."""
    cfg_cls, model_cls, overrides, _ = MODELS[family]
    if not hasattr(transformers, cfg_cls):  # a family newer than the installed release (LaraMini: 5.25)
        pytest.skip(f"transformers {transformers.__version__} has no {cfg_cls}")
    torch.manual_seed(0)
    cfg = getattr(transformers, cfg_cls)(**{**SMALL, **overrides})
    return getattr(transformers, model_cls)(cfg).eval()


def the_mixer(model):
    found = [m for m in model.modules() if mixer_kind(m) is not None]
    assert len(found) == 1, found  # one mixer layer, found by structure; the attention layer is not one
    return found[0]


def kept_state(mixer, cache):
    """The layer's state where the model keeps it (what a trace's state(step) must equal)."""
    if hasattr(cache, "rnn_state"):  # xLSTM: (C, n, m) of its only block
        return cache.rnn_state[0]
    if hasattr(mixer, "rg_lru"):  # RecurrentGemma keeps it on the module
        return mixer.rg_lru.recurrent_states
    if hasattr(cache, "linear_cache"):  # MiniMax
        return cache.linear_cache[mixer.layer_idx]
    layer = cache.layers[mixer.layer_idx]
    return layer.recurrent_states[0] if layer.recurrent_states[0] is not None else layer.conv_states[0]


def clone(state):
    return tuple(s.clone() for s in state) if isinstance(state, tuple) else state.clone()


def main(output):
    return output[0] if isinstance(output, tuple) else output


def ids_for(seed=3):
    return torch.randint(1, VOCAB, (2, T), generator=torch.Generator().manual_seed(seed))


def decode(model, ids, hook=None, pre=None):
    """Feed ids one token at a time through the model's cache; per step the layer's state and the mixer's output."""
    mixer = the_mixer(model)
    outs, states = [], []
    handles = [mixer.register_forward_hook(lambda m, a, k, o: outs.append(main(o)) or hook and hook(m, a, k, o),
                                           with_kwargs=True)]
    if pre is not None:
        handles.append(mixer.register_forward_pre_hook(pre, with_kwargs=True))
    cache = transformers.DynamicCache(config=model.config) if hasattr(mixer, "rg_lru") else None
    if hasattr(model, "_setup_cache"):  # RecurrentGemma: clear the state its blocks kept from an earlier call
        model._setup_cache(model.config, ids.shape[0], ids.device, model.dtype)
    try:
        with torch.no_grad():
            for t in range(ids.shape[1]):
                at = {"position_ids": torch.tensor([[t]])} if hasattr(mixer, "rg_lru") else {}  # it counts none
                out = model(ids[:, t:t + 1], cache=cache, use_cache=True, **at)
                cache = out.past_key_values if cache is None or not hasattr(mixer, "rg_lru") else cache
                states.append(clone(kept_state(mixer, cache)))
    finally:
        for h in handles:
            h.remove()
    return states, [o[:, 0] for o in outs]


def traced(model, ids):
    mixer, got = the_mixer(model), {}
    h = mixer.register_forward_hook(lambda m, a, k, o: got.update(t=trace_mixer_call(m, a, k, o)), with_kwargs=True)
    try:
        with torch.no_grad():
            out = model(ids, use_cache=True)
    finally:
        h.remove()
    return got["t"], out


@pytest.mark.parametrize("family", FAMILIES)
def test_found_by_structure_and_every_state_equals_the_token_by_token_cache_path(family):
    model = build(family)
    assert mixer_kind(the_mixer(model)).name == MODELS[family][3]
    ids = ids_for()
    t, _ = traced(model, ids)
    states, outs = decode(model, ids)
    assert isinstance(t, StateTrace) and len(t) == T and t.batch_size == 2
    replay = t.replay()
    torch.testing.assert_close(replay, main(t.output), rtol=1e-5, atol=1e-5)  # the module's own full output
    for step in range(T):
        torch.testing.assert_close(t.state(step), states[step], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(replay[:, step], outs[step], rtol=1e-5, atol=1e-5)
    for ours, theirs in zip(*(s if isinstance(s, tuple) else (s,) for s in (t.state(-1), states[-1]))):
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    assert set(t.quantities(2)) == set(t.names)


@pytest.mark.parametrize("family", FAMILIES)
def test_bfloat16_traces_follow_the_cache_path_to_bf16_rounding(family):
    model = copy.deepcopy(build(family)).to(torch.bfloat16)
    t, _ = traced(model, ids_for())
    states, outs = decode(model, ids_for())
    ours, theirs = t.state(-1), states[-1]
    for a, b in zip(*(s if isinstance(s, tuple) else (s,) for s in (ours, theirs))):
        assert a.dtype == b.dtype
        torch.testing.assert_close(a.float(), b.float(), rtol=2e-2, atol=2e-2 * float(b.float().abs().max()))
    scale = float(main(t.output).float().abs().max())
    for step, out in enumerate(outs):
        torch.testing.assert_close(t.replay()[:, step].float(), out.float(), rtol=2e-2, atol=2e-2 * scale)


@pytest.mark.parametrize("family", FAMILIES)
def test_each_one_token_call_traced_from_its_snapshot_continues_the_cache(family):
    """A decode tick's trace starts from the state the pre-hook saw: its state(-1) is the cache after the tick."""
    model, snaps, ticks = build(family), {}, []
    states, outs = decode(model, ids_for(5),
                          hook=lambda m, a, k, o: ticks.append(trace_mixer_call(m, a, k, o, initial=snaps.get("s"))),
                          pre=lambda m, a, k: snaps.update(s=state_before(m, a, k)))
    for tick, state, out in zip(ticks, states, outs):
        torch.testing.assert_close(tick.state(-1), state, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(tick.replay()[:, 0], out, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", ["lfm2", "kimi_linear", "minimax", "xlstm"])
def test_chunked_prefill_continues_from_the_snapshot(family):
    model, ids = build(family), ids_for(7)
    mixer, snaps, got = the_mixer(model), {}, []
    with torch.no_grad():
        first = model(ids[:, :4], use_cache=True)
        h = [mixer.register_forward_pre_hook(lambda m, a, k: snaps.update(s=state_before(m, a, k)), with_kwargs=True),
             mixer.register_forward_hook(lambda m, a, k, o: got.append(trace_mixer_call(m, a, k, o,
                                                                                       initial=snaps["s"])),
                                         with_kwargs=True)]
        out = model(ids[:, 4:], cache=first.past_key_values, use_cache=True)
        for handle in h:
            handle.remove()
    torch.testing.assert_close(got[0].state(-1), kept_state(mixer, out.past_key_values), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got[0].replay(), main(got[0].output), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_capture_leaves_outputs_bitwise_and_keeps_the_attention_layer(family):
    model, ids = build(family), ids_for(9)
    with torch.no_grad():
        plain = model(ids).last_hidden_state
        with warnings.catch_warnings():
            warnings.simplefilter("error", CaptureWarning)
            with capture(model) as rec:
                out = model(ids).last_hidden_state
    assert torch.equal(plain, out)
    kinds = sorted(type(t).__name__ for _, t in rec)
    hybrid = hasattr(model.config, "layer_types") or hasattr(model.config, "block_types")
    assert kinds == ["AttentionTrace", "StateTrace"][not hybrid:], kinds  # a hybrid whole: its attention layer too


@pytest.mark.parametrize("family", ["recurrent_gemma", "kimi_linear", "minimax", "xlstm"])
def test_effective_attention_rows_sum_to_the_recurrences_output(family):
    t, _ = traced(build(family), ids_for(11))
    ea = t.effective_attention()
    for i in (0, 3, T - 1):
        row = ea.row(i, (1, 1))
        assert bool(row.blocked[i + 1:].all()) and not row.weights[i + 1:].any()
        torch.testing.assert_close(row.output, ea.sdpa_row(i, (1, 1)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", ["lfm2", "kimi_linear", "minimax"])
def test_left_padding_leaves_the_state_of_the_real_tokens(family):
    """Row 0 is left-padded by 2: after the pads, its state is what the model's own cache keeps for its real
    tokens alone (the mixer zeroes padded positions, so they write nothing)."""
    model, ids = build(family), ids_for(13)
    mask = torch.ones_like(ids)
    mask[0, :2] = 0
    mixer, got = the_mixer(model), {}
    h = mixer.register_forward_hook(lambda m, a, k, o: got.update(t=trace_mixer_call(m, a, k, o)), with_kwargs=True)
    try:
        with torch.no_grad():
            model(ids, attention_mask=mask, use_cache=True)
    finally:
        h.remove()
    with torch.no_grad():
        alone = model(ids[:1, 2:], use_cache=True).past_key_values
    t = got["t"]
    torch.testing.assert_close(t.state(-1)[:1], kept_state(mixer, alone), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(t.replay(), main(t.output), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", ["lfm2", "recurrent_gemma", "kimi_linear", "minimax"])
def test_the_state_stepper_shows_the_selected_steps_state(family):
    from tr_widgets.views import dequantize
    from tr_widgets.widgets import show

    t, _ = traced(build(family), ids_for(17))
    s = show(t, step=2)
    s.next()
    s.select(batch=1)
    state = t.state(3)[1].numpy()
    if s.heatmap is None:  # a vector state (RG-LRU): drawn as a series
        np.testing.assert_array_equal(s.state_panel.series()[t.state_names[0]], state)
    else:  # a matrix per head (head 0's), or the conv window [channels, K]: within one colour level
        shown = dequantize(s.heatmap.window_codes(), s.heatmap.vmin, s.heatmap.vmax)
        want = state[0] if state.ndim == 3 else state
        assert np.abs(shown - want).max() <= (s.heatmap.vmax - s.heatmap.vmin) / 253 + 1e-7
    assert s.step == 3 and len(s.quantities.series()) == len(t.quantities(3))


def test_an_xlstm_call_on_its_bfloat16_chunk_kernel_is_named_not_traced():
    """A call of chunk_size tokens or more runs xLSTM's chunkwise kernel in bfloat16, which no float32 recurrence
    reproduces: capture leaves the output bitwise, records nothing wrong, and names the layer with the fix."""
    cfg = transformers.xLSTMConfig(**{**SMALL, **MODELS["xlstm"][2]}, chunk_size=4)
    torch.manual_seed(0)
    model, ids = transformers.xLSTMModel(cfg).eval(), ids_for(19)
    with torch.no_grad():
        plain = model(ids).last_hidden_state
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with capture(model) as rec:
                out = model(ids).last_hidden_state
            traced_any = [n for n, t in rec if isinstance(t, StateTrace)]  # traces are built (and refused) here
            skipped = dict(rec.skipped)
    assert torch.equal(plain, out) and not traced_any
    assert "chunk_size=4" in skipped["blocks.0.mlstm_layer"] and "autocast_kernel_dtype" in skipped["blocks.0.mlstm_layer"]
    assert any("blocks.0.mlstm_layer" in str(w.message) for w in caught if w.category is CaptureWarning)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_trace_saved_to_a_file_loads_with_the_same_states(family, tmp_path):
    from tr_widgets import load

    t, _ = traced(build(family), ids_for(23))
    t.save(tmp_path / "trace.safetensors")
    back = load(tmp_path / "trace.safetensors")
    for step in (0, T - 1):
        for a, b in zip(*(s if isinstance(s, tuple) else (s,) for s in (t.state(step), back.state(step)))):
            assert torch.equal(a, b)
    torch.testing.assert_close(back.replay(), main(t.output), rtol=1e-5, atol=1e-5)
