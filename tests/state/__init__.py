"""Shared helpers of the state-trace tests: tiny Hugging Face models built from configs (no download),
forward hooks that trace every mixer, and the oracle — the same tokens fed ONE AT A TIME through the
model's own cache path, reading the cache after each token."""
from __future__ import annotations

import torch

from tr_widgets.engine.state import state_before, trace_mixer_call

FAMILIES = ("mamba", "mamba2", "rwkv", "gated_deltanet")
VOCAB = 64


def build(family: str, dtype=torch.float32, seed: int = 0, **overrides):
    """A tiny two-layer model of the family, seeded, in eval mode."""
    import transformers as tf

    torch.manual_seed(seed)
    if family == "mamba":
        cfg = tf.MambaConfig(vocab_size=VOCAB, hidden_size=32, state_size=8, num_hidden_layers=2, conv_kernel=4,
                             expand=2, time_step_rank=4, **overrides)
        model = tf.MambaModel(cfg)
    elif family == "mamba2":
        cfg = tf.Mamba2Config(vocab_size=VOCAB, hidden_size=32, state_size=8, num_hidden_layers=2, conv_kernel=4,
                              expand=2, num_heads=8, head_dim=8, n_groups=2, chunk_size=4, **overrides)
        model = tf.Mamba2Model(cfg)
    elif family == "gated_deltanet":  # Qwen3-Next: two Gated DeltaNet layers, one attention layer (the cache's length)
        cfg = tf.Qwen3NextConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=3, intermediate_size=64,
                                 layer_types=["linear_attention", "linear_attention", "full_attention"],
                                 num_attention_heads=2, num_key_value_heads=1, head_dim=16, moe_intermediate_size=32,
                                 num_experts=2, num_experts_per_tok=1, shared_expert_intermediate_size=32,
                                 linear_num_value_heads=4, linear_num_key_heads=2, linear_key_head_dim=8,
                                 linear_value_head_dim=8, linear_conv_kernel_dim=4, **overrides)
        model = tf.Qwen3NextModel(cfg)
    else:
        cfg = tf.RwkvConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, attention_hidden_size=32,
                            intermediate_size=64, context_length=64, **overrides)
        model = tf.RwkvModel(cfg)
    return model.eval().to(dtype)


def mixers(model) -> list:
    """The mixer modules, one per layer."""
    if hasattr(model, "blocks"):
        return [b.attention for b in model.blocks]
    return [getattr(layer, "mixer", None) or getattr(layer, "linear_attn", None) for layer in model.layers
            if hasattr(layer, "mixer") or hasattr(layer, "linear_attn")]


def record(model, ids, mask=None, snapshot=False, **call):
    """Run the model once with a forward hook on every mixer; returns ``(traces by layer, model output)``.

    ``snapshot``: also keep the cache state before each call (a pre-hook), for calls continuing a cache.
    """
    traces, snaps, handles = {}, {}, []
    for i, mod in enumerate(mixers(model)):
        def hook(m, args, kwargs, out, i=i):
            traces[i] = trace_mixer_call(m, args, kwargs, out, name=f"layer{i}", initial=snaps.get(i))
        if snapshot:
            def pre(m, args, kwargs, i=i):
                snaps[i] = state_before(m, args, kwargs)
            handles.append(mod.register_forward_pre_hook(pre, with_kwargs=True))
        handles.append(mod.register_forward_hook(hook, with_kwargs=True))
    try:
        with torch.no_grad():
            out = model(ids, attention_mask=mask, **call)
    finally:
        for h in handles:
            h.remove()
    return traces, out


def decode(model, ids, mask=None):
    """Feed ids one token at a time through the cache; returns per step, per layer, the layer's state as
    the cache keeps it: Mamba families ``(ssm, conv)``, RWKV the tuple ``(att_shift, num, den, max)``.

    RWKV runs one sequence at a time: transformers' single-token RWKV path with a state broadcasts its
    [B, C] shift state against [B, 1, C] and mixes batch rows for B > 1 (shape [B, B, C] out).
    """
    if hasattr(model, "blocks"):
        rows = [_decode_rwkv(model, ids[b:b + 1]) for b in range(ids.shape[0])]
        return [[tuple(torch.cat(parts) for parts in zip(*[row[t][i] for row in rows]))
                 for i in range(len(rows[0][t]))] for t in range(ids.shape[1])]
    cache, steps, layers = None, [], [m.layer_idx for m in mixers(model)]
    with torch.no_grad():
        for t in range(ids.shape[1]):
            m = None if mask is None else mask[:, t:t + 1]
            out = model(ids[:, t:t + 1], use_cache=True, attention_mask=m, **continuing(model, cache))
            cache = cache_of(model, out)
            steps.append([(cache.layers[i].recurrent_states[0].clone(), cache.layers[i].conv_states[0].clone())
                          for i in layers])
    return steps


def continuing(model, cache) -> dict:
    """The keyword that hands the model its cache (RWKV: its state list) to continue from."""
    if hasattr(model, "blocks"):
        return {"state": cache}
    return {"past_key_values" if "Qwen3Next" in type(model).__name__ else "cache_params": cache}


def cache_of(model, out):
    """The cache (RWKV: state list) a model call returned."""
    if hasattr(model, "blocks"):
        return out.state
    return getattr(out, "cache_params", None) or out.past_key_values


def _decode_rwkv(model, ids):
    state, steps = None, []
    with torch.no_grad():
        for t in range(ids.shape[1]):
            state = model(ids[:, t:t + 1], state=state, use_cache=True).state
            steps.append([tuple(s[:, :, i].clone() for s in state[1:]) for i in range(len(model.blocks))])
    return steps


def main(output):
    """The hidden-state tensor of a mixer's output (RWKV returns ``(out, state)``)."""
    return output[0] if isinstance(output, tuple) else output


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def first_layer_traces(T: int) -> dict:
    """The first mixer's StateTrace of each family's tiny model over one seeded batch of 2 x ``T`` ids."""
    ids = torch.randint(0, VOCAB, (2, T), generator=torch.Generator().manual_seed(1))
    return {fam: record(build(fam), ids)[0][0] for fam in ("mamba", "mamba2", "rwkv", "gated_deltanet")}
