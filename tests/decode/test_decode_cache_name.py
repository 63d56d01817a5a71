"""The cache goes in and comes back under the name the installed transformers uses (``cache=`` since 5.25),
and our calls never touch a deprecated alias. When a release renames the argument again, the first test
fails: ``cache_arg`` finds none of the names it knows in the forward's signature."""
import inspect

import pytest
import torch

from tr_widgets.engine.decode import cache_arg, decode, returned_cache

transformers = pytest.importorskip("transformers")
generic = pytest.importorskip("transformers.utils.generic")


def _models():
    torch.manual_seed(0)
    t = transformers
    return {
        "gpt2": t.GPT2LMHeadModel(t.GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=50, n_positions=32,
                                               bos_token_id=0, eos_token_id=0, pad_token_id=0)),
        "llama": t.LlamaForCausalLM(t.LlamaConfig(num_hidden_layers=1, hidden_size=16, intermediate_size=32,
                                                  num_attention_heads=2, num_key_value_heads=1, vocab_size=50,
                                                  bos_token_id=0, eos_token_id=0, pad_token_id=0)),
        "mamba": t.MambaForCausalLM(t.MambaConfig(num_hidden_layers=1, hidden_size=16, state_size=4,
                                                  vocab_size=50, bos_token_id=0, eos_token_id=0, pad_token_id=0)),
    }


@pytest.fixture(scope="module")
def models():
    return {k: m.eval() for k, m in _models().items()}


@pytest.mark.parametrize("name", ["gpt2", "llama", "mamba"])
def test_the_cache_name_is_the_forwards_own_and_comes_back(models, name):
    model = models[name]
    arg = cache_arg(model)
    assert arg in inspect.signature(model.forward).parameters, (
        f"{type(model).__name__}.forward takes none of our cache names: transformers renamed it again")
    out = model(torch.tensor([[1, 2, 3]]), use_cache=True)
    assert arg in out.__dataclass_fields__  # a real field, not a deprecated alias
    assert returned_cache(out, arg) is getattr(out, arg) is not None


@pytest.mark.parametrize("name", ["gpt2", "llama", "mamba"])
def test_decode_never_calls_a_deprecated_name(models, name, monkeypatch):
    said = []

    class Logger:  # transformers logs the deprecation once per process; record every call instead
        def __getattr__(self, attr):
            return lambda msg, *a, **k: said.append(str(msg))

    monkeypatch.setattr(generic, "logger", Logger())
    tr = decode(models[name], torch.tensor([[1, 2, 3]]), 3)
    assert len(tr) == 3
    assert not [m for m in said if "deprecated" in m], said
