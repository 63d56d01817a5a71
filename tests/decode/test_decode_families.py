"""decode() on every mixer family found by structure (the state tests' tiny configs, as causal LMs): the cached
ticks choose the same tokens as recomputing from scratch and as ``generate``; every tick records one state trace
per mixer layer; the mixers' state bytes stay constant from tick to tick while a hybrid's KV cache grows."""
import warnings

import pytest
import torch

from tr_widgets.engine.decode import decode

from ..state.test_new_families import MODELS, SMALL
from ..state.zoo import ZOO, build_zoo

transformers = pytest.importorskip("transformers")
P, N = 4, 4  # prompt length, new tokens

# RecurrentGemma is in: its cache counts no tokens and its output returns none, so decode passes position_ids and a
# cache of its own (decode/states.py). xLSTM too: a prompt shorter than its chunk_size runs its recurrent step (its
# bf16 chunk kernel, for longer calls, is refused by design: see its spec and test_new_families).
NEW = sorted(MODELS)


def _causal_lm(family):
    if family in ZOO:
        return build_zoo(family)
    cfg_cls, model_cls, overrides, _ = MODELS[family]
    if not hasattr(transformers, cfg_cls):  # a family newer than the installed release (LaraMini: 5.25)
        pytest.skip(f"transformers {transformers.__version__} has no {cfg_cls}")
    torch.manual_seed(0)
    cfg = getattr(transformers, cfg_cls)(**{**SMALL, **overrides})
    return getattr(transformers, model_cls.replace("Model", "ForCausalLM"))(cfg).eval()


@pytest.mark.parametrize("family", sorted(ZOO) + NEW)
def test_cached_equals_recomputed_equals_generate_and_the_state_stays_one_size(family):
    model = _causal_lm(family)
    ids = torch.randint(3, 64, (1, P), generator=torch.Generator().manual_seed(1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cached, fresh = decode(model, ids, N), decode(model, ids, N, use_cache=False)
        with torch.no_grad():
            gen = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=N, min_new_tokens=N,
                                 do_sample=False, pad_token_id=0)[0, P:].tolist()
    assert cached.new_ids == fresh.new_ids == gen
    probs = [torch.tensor([tk.topk_probs for tk in tr.ticks]) for tr in (cached, fresh)]  # [N, top_k] each
    torch.testing.assert_close(probs[0], probs[1], atol=1e-5, rtol=1e-4)  # the cached ticks' distribution too
    assert cached.num_state_layers >= 1 and len(cached) == N
    assert [len(cached.state_trace(t, 0)) for t in range(N)] == [P] + [1] * (N - 1)  # one token a tick
    mixer_bytes = [sum(cached.state_trace(t, i).state_bytes for i in range(cached.num_state_layers))
                   for t in range(N)]
    assert len(set(mixer_bytes)) == 1 and mixer_bytes[0] > 0  # the mixers' state: one size every tick
    assert len(set(cached.state_bytes)) == 1 and cached.state_bytes[0] > 0  # and so is the cache's, as it holds it
