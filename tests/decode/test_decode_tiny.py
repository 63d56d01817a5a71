"""decode() on the shipped tiny model: cache on/off agree, ticks are bookkept, attention is exact."""
import pytest
import torch

from tr_widgets.engine.capture import capture
from tr_widgets.engine.decode import decode
from tr_widgets.engine.decode import DecodeTrace
from tr_widgets.engine.errors import TraceInputError
from tr_widgets.models import load_tiny

PROMPT = "The cat sat on the"


@pytest.fixture(scope="module")
def tiny():
    return load_tiny()


@pytest.fixture(scope="module")
def cached(tiny):
    model, tok = tiny
    return decode(model, PROMPT, 6, tokenizer=tok)


@pytest.fixture(scope="module")
def uncached(tiny):
    model, tok = tiny
    return decode(model, PROMPT, 6, tokenizer=tok, use_cache=False)


def test_cached_and_uncached_decoding_choose_the_same_tokens(cached, uncached):
    assert isinstance(cached, DecodeTrace) and len(cached) == len(uncached) == 6
    assert cached.new_ids == uncached.new_ids
    for a, b in zip(cached.ticks, uncached.ticks):
        torch.testing.assert_close(torch.tensor(a.topk_probs), torch.tensor(b.topk_probs), atol=1e-5, rtol=1e-4)


def test_greedy_picks_the_most_probable_candidate_and_text_matches_the_tokenizer(tiny, cached):
    _, tok = tiny
    for tk in cached.ticks:
        assert tk.token_id == tk.topk_ids[0] and tk.token == tok.tokens([tk.token_id])[0]
        assert tk.topk_probs == sorted(tk.topk_probs, reverse=True) and 0 < sum(tk.topk_probs) <= 1 + 1e-6
    assert cached.text == tok.decode(cached.prompt_ids + cached.new_ids)
    assert cached.tokens == tok.tokens(cached.prompt_ids + cached.new_ids)
    assert cached.text.startswith(PROMPT)


def test_tiny_model_continues_the_cat_sentence_sensibly(tiny, cached):
    _, tok = tiny
    assert cached.ticks[0].token == "mat"  # the corpus's favourite continuation
    assert "<unk>" not in cached.tokens
    assert "." in cached.tokens[len(cached.prompt_ids):]  # it finishes the sentence


def test_the_cache_grows_one_position_per_tick(cached, uncached):
    n = len(cached.prompt_ids)
    for t, tk in enumerate(cached.ticks):
        assert tk.query_position == n + t - 1 and tk.keys == n + t == tk.cache_len
        assert tk.layer_keys == (n + t,) * cached.num_layers
        assert tk.reused == range(0, 0 if t == 0 else n + t - 1)
        assert tk.appended == (range(0, n) if t == 0 else range(n + t - 1, n + t))
        assert tk.seconds > 0
    for t, tk in enumerate(uncached.ticks):  # without a cache nothing is reused; everything is recomputed
        assert tk.reused == range(0) and tk.appended == range(0, n + t) and tk.cache_len == 0
    assert cached.cache_lengths == [n + t for t in range(6)]


def test_only_appended_keys_are_kept_per_tick(cached):
    # no T x T storage: after the prompt's tick each tick keeps one new key/value per layer
    for t in range(1, len(cached)):
        for layer in range(cached.num_layers):
            assert cached.k_new[t][layer].shape[-2] == 1 and cached.q_rows[t][layer].shape[-2] == 1


@pytest.mark.parametrize("which", ["cached", "uncached"])
def test_attention_equals_the_last_row_of_a_full_uncached_forward(tiny, which, request):
    model, _ = tiny
    tr = request.getfixturevalue(which)
    ids = torch.tensor([tr.prompt_ids + tr.new_ids])
    for t in (0, 3, len(tr) - 1):
        S = tr.ticks[t].keys
        with torch.no_grad(), capture(model) as rec:
            model(ids[:, :S])  # the whole prefix again, no cache: an independent computation
        for layer, (_, full) in enumerate(rec.traces):
            want = full.weights[0, :, -1, :]  # [H, S]: the last query's row
            torch.testing.assert_close(tr.head_weights(t, layer), want, atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(tr.weights(t, layer, head=1), want[1], atol=1e-5, rtol=1e-4)


def test_attention_trace_is_one_query_over_labelled_cache_positions(cached):
    at = cached.attention(2, 1)
    tk = cached.ticks[2]
    assert (at.L, at.S) == (1, tk.keys) and at.batch_names == ("batch", "head")
    assert at.tokens == cached.tokens[:tk.keys] and at.query_tokens == [cached.tokens[tk.query_position]]
    torch.testing.assert_close(at.output, at.sdpa_output)
    assert at is cached.attention(2, 1)  # derived once, then cached


def test_sampling_is_reproducible_with_a_seed(tiny):
    model, tok = tiny
    runs = [decode(model, "The dog", 8, tokenizer=tok, sample=True, seed=s, temperature=1.5) for s in (0, 0, 1, 2, 3)]
    assert runs[0].new_ids == runs[1].new_ids and repr(runs[0]) == repr(runs[1])
    assert len({tuple(r.new_ids) for r in runs}) > 1  # different seeds, different draws
    assert all(r.sample and r.seed is not None for r in runs)
    for r in runs:
        for tk in r.ticks:  # a sampled token need not be the top candidate, but it had a probability
            assert tk.token_id in range(len(tok))


def test_tensor_prompts_1d_and_2d_without_tokenizer(tiny, cached):
    model, tok = tiny
    ids = torch.tensor(tok.encode(PROMPT))
    a, b = decode(model, ids, 3), decode(model, ids[None], 3)
    assert a.new_ids == b.new_ids == cached.new_ids[:3]
    assert a.text is None and a.tokens[0] == f"#{ids[0].item()}"


def test_repr_is_deterministic_and_names_the_run(tiny, cached):
    model, tok = tiny
    again = decode(model, PROMPT, 6, tokenizer=tok)
    assert repr(again) == repr(cached)
    assert "TinyGPT" in repr(cached) and "greedy" in repr(cached) and "cache=on" in repr(cached)
    assert "ms" not in repr(cached) and "seconds" not in repr(cached)


def test_model_is_left_in_its_training_mode(tiny):
    model, tok = tiny
    model.train()
    try:
        tr = decode(model, PROMPT, 2, tokenizer=tok)
        assert model.training and tr.ticks[0].token == "mat"  # eval inside (no dropout anyway), restored after
    finally:
        model.eval()


@pytest.mark.parametrize("kwargs,arg", [
    ({"prompt": PROMPT, "tokenizer": None}, "tokenizer"),
    ({"max_new_tokens": 0}, "max_new_tokens"),
    ({"max_new_tokens": 2.0}, "max_new_tokens"),
    ({"max_new_tokens": True}, "max_new_tokens"),
    ({"max_new_tokens": 100}, "max_new_tokens"),  # beyond the model's 64 positions
    ({"prompt": torch.randn(5)}, "prompt"),
    ({"prompt": torch.zeros(2, 5, dtype=torch.long)}, "prompt"),
    ({"prompt": [1, 2, 3]}, "prompt"),
    ({"prompt": ""}, "prompt"),
    ({"temperature": 0}, "temperature"),
    ({"top_k": 0}, "top_k"),
    ({"sample": "yes"}, "sample"),
    ({"seed": 1.5}, "seed"),
    ({"model": "gpt2"}, "model"),
    ({"model": torch.nn.Linear(3, 3)}, "model"),  # a module, but no language model with a cache
])
def test_bad_input_names_argument_expected_got_and_fix(tiny, kwargs, arg):
    model, tok = tiny
    args = {"model": model, "prompt": PROMPT, "max_new_tokens": 3, "tokenizer": tok, **kwargs}
    with pytest.raises(TraceInputError) as e:
        decode(**args)
    msg = str(e.value)
    assert msg.startswith(f"{arg}: expected") and ", got " in msg and "Fix:" in msg


@pytest.mark.parametrize("call,arg", [(lambda tr: tr.attention(99, 0), "tick"),
                                      (lambda tr: tr.attention(0, 5), "layer"),
                                      (lambda tr: tr.weights(0, 0, head=9), "head")])
def test_bad_tick_layer_head(cached, call, arg):
    with pytest.raises(TraceInputError, match=f"^{arg}: expected"):
        call(cached)


@pytest.mark.gpu
def test_cuda_decode_matches_cpu(tiny, cached, no_tf32):
    model, tok = load_tiny("cuda")
    tr = decode(model, PROMPT, 6, tokenizer=tok)
    assert tr.new_ids == cached.new_ids and tr.device.startswith("cuda")
    torch.testing.assert_close(tr.head_weights(3, 1).cpu(), cached.head_weights(3, 1), atol=1e-4, rtol=1e-3)
    assert all(s > 0 for s in tr.seconds)


def test_unknown_prompt_words_are_named_in_a_warning(tiny):
    model, tok = tiny
    with pytest.warns(UserWarning, match="'xyzzy'.*<unk>"):
        tr = decode(model, "The xyzzy sat on the", 2, tokenizer=tok)
    assert tr.tokens[1] == "<unk>"
