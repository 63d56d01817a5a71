"""The shipped tiny GPT: size, pickle-free loading, KV cache equivalence, SDPA calls, sensible text."""
import collections
import hashlib
import pickle

import pytest
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from tr_widgets.engine.errors import TraceInputError
from tr_widgets.models import TinyGPT, TinyGPTConfig, load_tiny, read_corpus
from tr_widgets.models.tiny_gpt import MAX_FILE_BYTES, WEIGHTS_PATH, read_meta
from tr_widgets.models.tokenizer import split_words


@pytest.fixture(scope="module")
def shipped():
    return load_tiny()


@torch.no_grad()
def greedy_ids(model, ids, n, use_cache):
    """n greedy tokens after `ids` [1, T]: with the cache one token per call, without it the whole
    sequence again every step."""
    ids, new, past = ids.clone(), [], None
    for _ in range(n):
        if use_cache:
            out = model(ids if past is None else ids[:, -1:], past_key_values=past, use_cache=True)
            past = out.past_key_values
        else:
            out = model(ids)
        nxt = out.logits[:, -1].argmax(-1, keepdim=True)  # (1, 1)
        new.append(nxt.item())
        ids = torch.cat([ids, nxt], dim=1)
    return new


def corpus_next_words(prefix: str) -> collections.Counter:
    """How often each word follows `prefix` (a word sequence) in the training corpus."""
    words, p = split_words(read_corpus()), split_words(prefix)
    return collections.Counter(words[i + len(p)] for i in range(len(words) - len(p))
                               if words[i:i + len(p)] == p)


def test_file_is_at_most_2_mb():
    assert WEIGHTS_PATH.stat().st_size <= MAX_FILE_BYTES


def test_loads_without_pickle_and_in_eval_mode(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("pickle-based loading was used")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    model, tok = load_tiny()
    assert isinstance(model, TinyGPT) and not model.training
    assert model.config.vocab_size == tok.vocab_size
    assert model.lm_head.weight is model.wte.weight  # tying survives loading


def test_config_in_metadata_matches_the_model(shipped):
    model, _ = shipped
    meta = read_meta()
    assert meta["config"] == {k: getattr(model.config, k) for k in meta["config"]}
    assert model.wpe.weight.shape == (model.config.block_size, model.config.n_embd)
    # the shipped weights were trained on the committed corpus (retrain after editing it)
    assert meta["corpus_sha256"] == hashlib.sha256(read_corpus().encode()).hexdigest()


def test_cached_logits_equal_uncached(shipped):
    model, tok = shipped
    ids = torch.tensor([tok.encode("Once upon a time there was a sleepy cat. The cat sat on the")])
    T = ids.size(1)
    with torch.no_grad():
        full = model(ids).logits  # (1, T, V)
        out = model(ids[:, :5], use_cache=True)
        steps = [out.logits]
        for t in range(5, T):  # one token per call
            out = model(ids[:, t:t + 1], past_key_values=out.past_key_values, use_cache=True)
            steps.append(out.logits)
        chunk = model(ids[:, 7:], past_key_values=model(ids[:, :7], use_cache=True).past_key_values).logits
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(chunk, full[:, 7:], rtol=1e-4, atol=1e-5)  # multi-token chunk + cache
    k, v = out.past_key_values[0]
    assert len(out.past_key_values) == model.config.n_layer
    hs = model.config.n_embd // model.config.n_head
    assert k.shape == v.shape == (1, model.config.n_head, T, hs)


def test_cached_and_uncached_greedy_tokens_are_identical(shipped):
    model, tok = shipped
    for prompt in ["The cat sat on the", "Tom has a red ball.", "The"]:
        ids = torch.tensor([tok.encode(prompt)])
        assert greedy_ids(model, ids, 15, True) == greedy_ids(model, ids, 15, False)


def test_cache_works_for_a_batch():
    torch.manual_seed(0)
    model = TinyGPT(TinyGPTConfig(vocab_size=11, n_layer=2, n_head=2, n_embd=8, block_size=12)).eval()
    ids = torch.randint(11, (3, 9))
    with torch.no_grad():
        full = model(ids).logits
        past = model(ids[:, :8], use_cache=True).past_key_values
        last = model(ids[:, 8:], past_key_values=past).logits
    torch.testing.assert_close(last, full[:, 8:], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("prompt", ["The cat sat on the", "The dog ran to the", "The bird flew to the"])
def test_greedy_continuation_is_the_corpus_favourite(shipped, prompt):
    # Training maximises likelihood, so the argmax should be the word that most often follows the
    # prompt in the corpus; the corpus makes each favourite >= 3x its runner-up, so this is stable.
    model, tok = shipped
    follows = corpus_next_words(prompt)
    (best, n_best), (_, n_second) = follows.most_common(2)
    assert n_best >= 3 * n_second
    with torch.no_grad():
        logits = model(torch.tensor([tok.encode(prompt)])).logits[0, -1]
    assert tok.tokens([logits.argmax()]) == [best]


def test_the_cat_sits_on_the_mat(shipped):
    # the tutorial sentence from seed 003: greedy decoding completes it, then ends the sentence
    model, tok = shipped
    ids = torch.tensor([tok.encode("The cat sat on the")])
    assert tok.tokens(greedy_ids(model, ids, 2, True)) == ["mat", "."]


class CountSDPA(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.scaled_dot_product_attention:
            q, k = args[0], args[1]
            self.calls.append((tuple(q.shape), tuple(k.shape), kwargs.get("is_causal"),
                               kwargs.get("attn_mask") is not None))
        return func(*args, **kwargs)


def test_every_layer_calls_sdpa_once_with_head_major_shapes(shipped):
    model, tok = shipped
    c = model.config
    hs = c.n_embd // c.n_head
    ids = torch.tensor([tok.encode("The dog ran to the")])
    T = ids.size(1)
    with torch.no_grad(), CountSDPA() as mode:
        out = model(ids, use_cache=True)
    assert mode.calls == [((1, c.n_head, T, hs), (1, c.n_head, T, hs), True, False)] * c.n_layer
    with torch.no_grad(), CountSDPA() as mode:
        out = model(ids[:, :1], past_key_values=out.past_key_values, use_cache=True)
    # one new query over every cached key plus its own: no causal triangle, no mask
    assert mode.calls == [((1, c.n_head, 1, hs), (1, c.n_head, T + 1, hs), False, False)] * c.n_layer
    with torch.no_grad(), CountSDPA() as mode:
        model(ids[:, :2], past_key_values=out.past_key_values)
    assert mode.calls == [((1, c.n_head, 2, hs), (1, c.n_head, T + 3, hs), None, True)] * c.n_layer


def test_bad_inputs_say_what_to_do(shipped):
    model, _ = shipped
    too_long = torch.zeros(1, model.config.block_size + 1, dtype=torch.long)
    with pytest.raises(TraceInputError, match="block_size"):
        model(too_long)
    with pytest.raises(TraceInputError, match="batch dimension"):
        model(torch.tensor([1, 2, 3]))
    with pytest.raises(TraceInputError, match="past_key_values"):
        model(torch.tensor([[1]]), past_key_values=((torch.zeros(1, 4, 1, 16),) * 2,))
