"""Head edits on a decode (issue 24): ``run`` is ``decode(...)``; a capture names each tick's attention call
(``h.0.attn`` at the prefill, ``h.0.attn#2`` at tick 1, ...), so an edit on one of those names changes that tick
only. Checked against the same change made BY HAND through the model's own cache path: decode again with a
forward pre-hook on the out-projection that zeroes the head's slice on that call only."""
import torch

import tr_widgets
from tr_widgets.engine.whatif.apply import footprint
from tr_widgets.engine.whatif.edits import Edit
from tr_widgets.engine.whatif.run import what_if

PROMPT, N = "The cat sat on the", 4


def test_a_head_cut_at_one_tick_equals_the_cache_path_with_a_hook():
    model, tok = tr_widgets.load_tiny()
    found = footprint(model)
    run = lambda: tr_widgets.decode(model, PROMPT, N, tokenizer=tok)  # noqa: E731
    head, hd = 1, model.h[0].attn.c_proj.in_features // 4
    wi = what_if(model, run, *[Edit.head("h.0.attn#2", h) for h in range(4) if h != head])  # tick 1: one head left
    calls = []

    def pre(mod, args):
        calls.append(1)
        if len(calls) != 2:  # the second call of the layer: tick 1
            return None
        y = args[0].clone()  # [B, T, H*hd]
        keep = y[..., head * hd:(head + 1) * hd].clone()
        y.zero_()
        y[..., head * hd:(head + 1) * hd] = keep
        return (y,)
    handle = model.h[0].attn.c_proj.register_forward_pre_hook(pre)
    try:
        with tr_widgets.capture(model) as rec:
            by_hand = run()
    finally:
        handle.remove()
    assert wi.after_output.new_ids == by_hand.new_ids
    assert rec.names == wi.after.names
    for name, tr in rec:  # every tick's attention of every layer: the same q, k, v as the edited decode's
        other = wi.after[name]
        for a, b in ((tr.q, other.q), (tr.k, other.k), (tr.v, other.v)):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    assert wi.diverges_at["h.0.attn"] is None and wi.diverges_at["h.0.attn#2"] == 0  # tick 0 untouched
    # layer 1 reads the changed output at tick 1 and keeps it in its KV cache: later ticks differ there too,
    # while layer 0's later ticks (from the embeddings of the same tokens) do not
    assert wi.diverges_at["h.1.attn#2"] == 0 and wi.diverges_at["h.1.attn#4"] is not None
    assert wi.diverges_at["h.0.attn#4"] is None
    assert wi.after["h.0.attn#2"].weights[0, 0].abs().sum() == 0  # a cut head's weights, as the call used them
    assert footprint(model) == found


def test_a_mamba_state_patched_between_ticks_equals_the_cache_written_by_hand():
    import pytest

    tf = pytest.importorskip("transformers")
    from tests.state import build

    torch.manual_seed(0)
    lm = tf.MambaForCausalLM(build("mamba").config).eval()
    ids = torch.randint(0, 64, (1, 5))
    found = footprint(lm)
    run = lambda: tr_widgets.decode(lm, ids, 4)  # noqa: E731
    new = torch.randn(1, 64, 8)  # layer 0's SSM state after tick 1 (its one token), [B, d_inner, d_state]
    wi = what_if(lm, run, Edit.state("backbone.layers.0.mixer#2", 0, new))
    calls = []

    def pre(mod, args, kwargs):  # by hand: HF's own cache object, written before the layer's third call
        calls.append(1)
        if len(calls) == 3:
            cache = kwargs.get("cache") or kwargs.get("cache_params") or args[1]
            cache.layers[0].recurrent_states[0].copy_(new)
    handle = lm.backbone.layers[0].mixer.register_forward_pre_hook(pre, with_kwargs=True)
    try:
        with tr_widgets.capture(lm) as rec:
            by_hand = run()
    finally:
        handle.remove()
    assert wi.after_output.new_ids == by_hand.new_ids
    for name, tr in rec:
        assert torch.equal(tr.output, wi.after[name].output), name
    assert torch.equal(wi.after["backbone.layers.0.mixer#3"].initial["state"].float(), new)
    assert wi.diverges_at["backbone.layers.0.mixer#2"] is None  # the edit is carried out of tick 1 ...
    assert wi.diverges_at["backbone.layers.0.mixer#3"] == 0  # ... into tick 2
    assert footprint(lm) == found
