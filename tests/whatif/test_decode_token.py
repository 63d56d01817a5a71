"""Token edits on a decode (issue 24): ``Edit.token(tick, token)`` feeds another token at a tick and the decode goes
on. Checked against the same change made BY HAND: a plain loop through the model's own cache path (or, without a
cache, the whole sequence each tick) that feeds the edited token at that tick, greedy or sampling with the same
generator. The edited decode restarts from the baseline's cache (fewer forward calls), and gives the same bits."""
import pytest
import torch

import tr_widgets
from tr_widgets.engine.decode.build import cache_arg, returned_cache
from tr_widgets.engine.whatif import Edit, compare, what_if
from tr_widgets.engine.whatif.apply import footprint
from tr_widgets.engine.whatif.run import run_edited

PROMPT, N = "The cat sat on the", 6


def by_hand(model, ids, n, forced, use_cache=True, seed=None, state_of=None):
    """The model's own loop: (chosen ids, top-5 probabilities per tick, the last cache, states per tick)."""
    arg, past, seq, feed = cache_arg(model), None, ids, ids
    gen = None if seed is None else torch.Generator().manual_seed(seed)
    chosen, probs, states = [], [], []
    with torch.no_grad():
        for t in range(n):
            out = model(feed, use_cache=use_cache, **{arg: past})
            logits = out.logits[:, -1, :].float()
            p = torch.softmax(logits / 1.0, dim=-1)
            nxt = torch.multinomial(p, 1, generator=gen) if gen is not None else logits.argmax(-1, keepdim=True)
            if t + 1 in forced:
                nxt = torch.tensor([[forced[t + 1]]])
            probs.append(p.topk(5, dim=-1).values[0].tolist())
            chosen.append(int(nxt))
            past = returned_cache(out, arg) if use_cache else None
            if state_of is not None:
                states.append([s.clone() for s in state_of(past)])
            seq = torch.cat([seq, nxt], dim=1)
            feed = nxt if use_cache else seq
    return chosen, probs, past, states


def counted(model):
    calls = []
    return calls, model.register_forward_pre_hook(lambda m, a: calls.append(1))


@pytest.mark.parametrize("use_cache, sample", [(True, False), (False, False), (True, True)])
def test_a_token_edit_is_the_models_own_decode_with_that_token_fed(use_cache, sample):
    model, tok = tr_widgets.load_tiny()
    seed = 3 if sample else None
    run = lambda: tr_widgets.decode(model, PROMPT, N, use_cache=use_cache, tokenizer=tok,  # noqa: E731
                                    sample=sample, seed=seed)
    dog = tok.encode("dog")[0]
    found = footprint(model)
    calls, handle = counted(model)
    try:
        wi = what_if(model, run, Edit.token(2, "dog"))
    finally:
        handle.remove()
    assert len(calls) == N + (N - 2)  # the baseline, then ticks 2..N-1 only: restarted from the copied cache
    assert footprint(model) == found
    ids = torch.tensor([tok.encode(PROMPT)])
    chosen, probs, past, _ = by_hand(model, ids, N, {2: dog}, use_cache, seed)
    after, before = wi.after_output, wi.before_output
    assert after.new_ids == chosen and after.new_ids[1] == dog and before.new_ids[1] != dog
    assert [tk.topk_probs for tk in after.ticks] == probs  # tick 1 still says what the model preferred
    assert after.forced == [[2, dog]] and before.forced == []
    if use_cache:
        for layer, (k, v) in enumerate(past):  # the whole cache after the last tick, bit for bit
            at = after.attention(N - 1, layer)
            assert torch.equal(at.k, k) and torch.equal(at.v, v)
    assert wi.after.names == wi.before.names  # the reused ticks' calls are the baseline's, named alike
    parted = {n for n, t in wi.diverges_at.items() if t is not None}
    assert parted and all(int(n.split("#")[1]) >= 3 for n in parted)  # call #3 on: tick 2's


def test_without_the_baseline_cache_the_whole_decode_runs_again_with_the_same_result():
    model, tok = tr_widgets.load_tiny()
    run = lambda: tr_widgets.decode(model, PROMPT, N, tokenizer=tok)  # noqa: E731
    with tr_widgets.capture(model) as before:
        run()
    calls, handle = counted(model)
    try:
        again, out = run_edited(model, run, before, [Edit.token(3, "dog")])  # no steer: no copy to restart from
    finally:
        handle.remove()
    cheap = what_if(model, run, Edit.token(3, "dog"))
    assert len(calls) == N
    assert out.new_ids == cheap.after_output.new_ids
    for t in range(N):
        for layer in range(out.num_layers):
            assert torch.equal(out.attention(t, layer).k, cheap.after_output.attention(t, layer).k)
    assert again.names == cheap.after.names


def test_a_token_edit_with_a_head_cut_decodes_from_tick_0_and_both_apply():
    model, tok = tr_widgets.load_tiny()
    run = lambda: tr_widgets.decode(model, PROMPT, N, tokenizer=tok)  # noqa: E731
    wi = what_if(model, run, Edit.token(2, "dog"), Edit.head("h.0.attn#5", 1))  # tick 4's call of layer 0
    cut = wi.after["h.0.attn#5"].weights[0, 1]
    assert cut.abs().sum() == 0 and wi.after_output.new_ids[1] == tok.encode("dog")[0]
    assert wi.diverges_at["h.0.attn#3"] == 0 and wi.diverges_at["h.0.attn#2"] is None


def test_a_mamba_decode_with_a_token_edit_equals_its_own_cache_path():
    tf = pytest.importorskip("transformers")
    from tests.state import build

    torch.manual_seed(0)
    lm = tf.MambaForCausalLM(build("mamba").config).eval()
    ids = torch.randint(0, 64, (1, 5))
    found = footprint(lm)
    wi = what_if(lm, lambda: tr_widgets.decode(lm, ids, N), Edit.token(2, 7), Edit.token(3, 9))
    layers = lm.config.num_hidden_layers
    chosen, _, _, states = by_hand(lm, ids, N, {2: 7, 3: 9},
                                   state_of=lambda c: [c.layers[i].recurrent_states[0] for i in range(layers)])
    after = wi.after_output
    assert after.new_ids == chosen and after.forced == [[2, 7], [3, 9]]
    for t in range(N):
        for layer in range(layers):
            assert torch.equal(after.state(t, layer), states[t][layer]), (t, layer)
    cmp = compare(wi.before_output, after)
    d = cmp.cache_delta_norm("state")  # [ticks, layers]
    assert (d[:2] == 0).all() and (d[2:] > 0).all()  # the state parts at the edited tick, a fixed size all along
    assert len(set(after.state_bytes)) == 1
    assert footprint(lm) == found


def test_the_kv_cache_parts_at_the_edited_token_and_keeps_it_as_its_own_row():
    model, tok = tr_widgets.load_tiny()
    wi = what_if(model, lambda: tr_widgets.decode(model, PROMPT, N, tokenizer=tok), Edit.token(2, "dog"))
    cmp = compare(wi.before_output, wi.after_output)
    d = cmp.cache_delta_norm("kv")
    assert d.shape == (N, 2) and (d[:2] == 0).all() and (d[2:] > 0).all()
    edited = wi.after_output.ticks[2].query_position  # where tick 2's fed token sits
    rows = cmp.kv_delta_by_position()
    assert (rows[:edited] == 0).all() and (rows[edited:] > 0).all()
    k_b, k_a = wi.before_output.attention(N - 1, 0).k, wi.after_output.attention(N - 1, 0).k
    by_hand = torch.linalg.vector_norm((k_a - k_b)[..., edited, :].double())
    assert by_hand <= rows[edited]  # layer 0's keys are part of the row's ‖Δ‖
    assert cmp.tokens_part_at() == 1  # tick 1's token is the one replaced (tick 2 is fed it)


def hf_model(family):
    tf = pytest.importorskip("transformers")
    torch.manual_seed(0)
    if family == "gpt2":
        cfg = tf.GPT2Config(vocab_size=64, n_embd=32, n_layer=2, n_head=2, n_positions=64)
        return tf.GPT2LMHeadModel(cfg).eval()
    cfg = tf.LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    return tf.LlamaForCausalLM(cfg).eval()


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_a_hugging_face_decode_restarts_from_its_copied_cache_and_equals_its_own_cache_path(family):
    lm = hf_model(family)
    ids = torch.randint(0, 64, (1, 5), generator=torch.Generator().manual_seed(1))
    found = footprint(lm)
    calls, handle = counted(lm)
    try:
        wi = what_if(lm, lambda: tr_widgets.decode(lm, ids, N), Edit.token(3, 11))
    finally:
        handle.remove()
    assert len(calls) == N + (N - 3)  # the DynamicCache copied after tick 2: ticks 3.. only
    chosen, probs, past, _ = by_hand(lm, ids, N, {3: 11})
    after = wi.after_output
    assert after.new_ids == chosen
    # decode asks for the last position's logits only (logits_to_keep=1): the head's product may differ in a last bit
    torch.testing.assert_close([tk.topk_probs for tk in after.ticks], probs, atol=1e-6, rtol=0)
    for layer in range(after.num_layers):  # the grown cache, bit for bit (its kv heads repeated as attention reads them)
        k, v = past.layers[layer].keys, past.layers[layer].values  # [B, kv heads, S, E]
        at = after.attention(N - 1, layer)
        group = at.k.shape[1] // k.shape[1]
        assert torch.equal(at.k, k.repeat_interleave(group, dim=1)) and torch.equal(at.v, v.repeat_interleave(group, 1))
    assert footprint(lm) == found


@pytest.mark.parametrize("family", ["recurrent_gemma", "lfm2"])
def test_a_token_edit_on_a_hybrid_decode_agrees_cached_and_recomputed(family):
    """RecurrentGemma keeps its RG-LRU state on its modules and decode passes it a cache of its own: decoded again
    from tick 0 with that cache; LFM2 keeps its conv state in the cache: restarted from the copy."""
    pytest.importorskip("transformers")
    from tests.decode.test_decode_families import _causal_lm

    lm = _causal_lm(family)
    ids = torch.randint(3, 64, (1, 4), generator=torch.Generator().manual_seed(1))
    runs = {c: (lambda c=c: tr_widgets.decode(lm, ids, N, use_cache=c)) for c in (True, False)}
    base = runs[True]()
    edit = Edit.token(2, (base.new_ids[1] + 7) % 64)
    cached, fresh = (what_if(lm, runs[c], edit).after_output for c in (True, False))
    assert cached.new_ids == fresh.new_ids and cached.new_ids[1] == edit.value
    torch.testing.assert_close(torch.tensor([tk.topk_probs for tk in cached.ticks]),
                               torch.tensor([tk.topk_probs for tk in fresh.ticks]), atol=1e-5, rtol=1e-4)
