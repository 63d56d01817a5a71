"""Head edits (issue 24) on the tiny GPT, Hugging Face GPT-2 and Llama (tiny random configs, sdpa attention) and
nn.MultiheadAttention, each checked against the same change made BY HAND: a head's weights times v is that
head's slice of the attention output, so cutting (re-weighting) the head at some queries is zeroing (scaling)
that slice of the out-projection's input at those positions, done with a forward pre-hook."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import tr_widgets
from tr_widgets.engine.whatif.apply import footprint
from tr_widgets.engine.whatif.edits import Edit
from tr_widgets.engine.whatif.run import what_if

transformers = pytest.importorskip("transformers")


def scale_head_hook(proj, head, hd, steps, factor):
    """A pre-hook on the out-projection: head `head`'s columns at positions `steps` (None: all) times factor."""
    def pre(mod, args):
        y = args[0].clone()  # [B, T, H*hd]
        rows = slice(None) if steps is None else list(steps)
        y[:, rows, head * hd:(head + 1) * hd] *= factor
        return (y,)
    return proj.register_forward_pre_hook(pre)


def gpt2():
    cfg = transformers.GPT2Config(n_layer=2, n_head=4, n_embd=32, vocab_size=60, n_positions=32)
    cfg._attn_implementation = "sdpa"
    return transformers.GPT2LMHeadModel(cfg).eval(), "transformer.h.{}.attn", lambda m, i: m.transformer.h[i].attn.c_proj


def llama():
    cfg = transformers.LlamaConfig(num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                   hidden_size=32, intermediate_size=64, vocab_size=60)
    cfg._attn_implementation = "sdpa"
    return (transformers.LlamaForCausalLM(cfg).eval(), "model.layers.{}.self_attn",
            lambda m, i: m.model.layers[i].self_attn.o_proj)


@pytest.mark.parametrize("make", [gpt2, llama])
@pytest.mark.parametrize("value, steps, factor", [(0.0, None, 0.0), (0.0, [3, 5], 0.0),
                                                   (lambda w: w * 0.5, [4], 0.5)])
def test_hf_head_edit_equals_a_hook_on_the_out_projection(make, value, steps, factor):
    torch.manual_seed(0)
    model, name, proj = make()
    ids = torch.randint(0, 60, (2, 7))
    found = footprint(model)
    wi = what_if(model, lambda: model(ids).logits, Edit.head(name.format(1), 2, value, steps))
    handle = scale_head_hook(proj(model, 1), 2, 8, steps, factor)
    try:
        with torch.no_grad():
            ref = model(ids).logits
    finally:
        handle.remove()
    torch.testing.assert_close(wi.after_output, ref, atol=1e-6, rtol=0)
    first = 0 if steps is None else min(steps)
    assert wi.diverges_at[name.format(0)] is None  # the layer before the edit is untouched
    assert wi.diverges_at[name.format(1)] == first
    assert torch.equal(wi.after_output[:, :first], wi.before_output[:, :first])  # earlier positions, bitwise
    assert footprint(model) == found


def test_tiny_gpt_head_cut_changes_the_next_token_as_a_hook_does():
    model, tok = tr_widgets.load_tiny()
    ids = torch.tensor([tok.encode("The cat sat on the")])
    wi = what_if(model, lambda: model(ids).logits, Edit.head("h.0.attn", 1))
    handle = scale_head_hook(model.h[0].attn.c_proj, 1, model.h[0].attn.c_proj.in_features // 4, None, 0.0)
    try:
        with torch.no_grad():
            ref = model(ids).logits
    finally:
        handle.remove()
    torch.testing.assert_close(wi.after_output, ref, atol=1e-6, rtol=0)
    after = wi.after["h.0.attn"]  # the trace of what the edited call computed: head 1's weights are 0
    assert float(after.weights[0, 1].abs().sum()) == 0.0 and float(after.output[0, 1].abs().sum()) == 0.0
    assert torch.equal(after.weights[0, 0], wi.before["h.0.attn"].weights[0, 0])


def mha_by_hand(mha, x, head, steps):
    """F.multi_head_attention_forward's arithmetic written out, head `head` cut at query `steps`."""
    B, L, E = x.shape
    H, hd = mha.num_heads, E // mha.num_heads
    q, k, v = F.linear(x, mha.in_proj_weight, mha.in_proj_bias).chunk(3, -1)  # [B, L, E] each
    q, k, v = (t.reshape(B, L, H, hd).transpose(1, 2) for t in (q, k, v))  # [B, H, L, hd]
    w = torch.softmax(q @ k.transpose(-2, -1) / hd ** 0.5, -1)  # [B, H, L, L]
    w[:, head, steps] = 0.0
    y = (w @ v).transpose(1, 2).reshape(B, L, E)  # [B, H, L, hd] -> [B, L, E]
    return mha.out_proj(y)


def test_multihead_attention_head_edit_equals_the_arithmetic_by_hand():
    torch.manual_seed(1)
    mha, x = nn.MultiheadAttention(8, 2, batch_first=True).eval(), torch.randn(2, 5, 8)
    found = footprint(mha)
    wi = what_if(mha, lambda: mha(x, x, x)[0], Edit.head("MultiheadAttention", 0, 0.0, steps=[3]))
    with torch.no_grad():
        ref = mha_by_hand(mha, x, 0, [3])
    torch.testing.assert_close(wi.after_output, ref, atol=1e-6, rtol=0)
    assert wi.diverges_at["MultiheadAttention"] == 3
    assert footprint(mha) == found


def test_encoder_layer_fast_path_still_gets_the_edit():
    torch.manual_seed(2)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True).eval()
    x = torch.randn(1, 6, 8)
    found = footprint(layer)
    with torch.no_grad():
        wi = what_if(layer, lambda: layer(x), Edit.head("self_attn", 1))
    assert not torch.equal(wi.after_output, wi.before_output)
    assert wi.diverges_at["self_attn"] == 0
    assert footprint(layer) == found


def test_eager_attention_is_refused_with_the_sdpa_fix():
    torch.manual_seed(3)
    cfg = transformers.GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=30, n_positions=16)
    cfg._attn_implementation = "eager"
    model = transformers.GPT2LMHeadModel(cfg).eval()
    ids = torch.randint(0, 30, (1, 5))
    found = footprint(model)
    with pytest.raises(tr_widgets.TraceInputError) as err:
        what_if(model, lambda: model(ids).logits, Edit.head("transformer.h.0.attn", 0))
    assert "attn_implementation='sdpa'" in str(err.value) and "not editable yet" in str(err.value)
    assert footprint(model) == found
