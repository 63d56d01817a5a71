"""A head edited during a decode (issue 24) is shown by the decode itself: the DecodeTrace derives each tick's
attention from q and k, which a head edit does not change, so without ``heads.into_decode`` it showed the head
uncut while the model's probabilities moved (and ``compare`` of the two decodes said they never part)."""
import torch

import tr_widgets
from tr_widgets import Edit


def _run():
    model, tok = tr_widgets.load_tiny()
    return model, (lambda: tr_widgets.decode(model, "The cat sat on the", 4, tokenizer=tok))


def test_a_head_cut_at_a_tick_is_what_the_decode_shows_at_that_tick():
    model, run = _run()
    wi = tr_widgets.what_if(model, run, Edit.head("h.1.attn#3", 0))  # layer 1's call at tick 2
    before, after = wi.before_output, wi.after_output
    assert float(after.weights(2, layer=1, head=0).abs().sum()) == 0.0
    call = wi.after["h.1.attn#3"]
    assert torch.equal(after.attention(2, 1).weights, call.weights[..., -1:, :])  # the weights the call used
    assert torch.equal(after.attention(2, 1).output, call.output[..., -1:, :])
    for h in range(1, after.num_heads):
        assert torch.equal(after.weights(2, 1, head=h), before.weights(2, 1, head=h))
    assert torch.equal(after.attention(2, 0).weights, before.attention(2, 0).weights)  # other layer, same tick
    assert torch.equal(after.attention(1, 1).weights, before.attention(1, 1).weights)  # the tick before
    assert after.ticks[2].topk_probs != before.ticks[2].topk_probs  # the model's own numbers moved
    assert tr_widgets.compare(before, after).diverges_at == {"decode": 2} or \
        min(v for v in tr_widgets.compare(before, after).diverges_at.values() if v is not None) == 2


def test_a_reweighted_head_shows_the_weights_the_run_used():
    model, run = _run()
    wi = tr_widgets.what_if(model, run, Edit.head("h.0.attn#2", 1, value=lambda w: w.flip(-1)))
    row = wi.after["h.0.attn#2"].weights[..., -1:, :]
    assert torch.equal(wi.after_output.attention(1, 0).weights, row)
    assert torch.equal(wi.after_output.weights(1, 0, head=1), wi.before_output.weights(1, 0, head=1).flip(-1))
