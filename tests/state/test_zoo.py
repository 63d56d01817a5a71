"""Every family the state tracer finds by structure (tests/state/zoo.py), on a tiny random model: the trace of
each mixer equals the model's own cache path token by token (fp32, 1e-5, batch 2), the padded row of a
left-padded batch has the state of its unpadded sequence, and under capture the outputs are bitwise unchanged,
every mixer is a StateTrace and every attention layer keeps its AttentionTrace."""
import warnings

import pytest
import torch

import tr_widgets
from tests.state.zoo import V, ZOO, build_zoo
from tr_widgets.engine.capture import CaptureWarning, capture
from tr_widgets.engine.state import StateTrace, mixer_kind, state_before, trace_mixer_call

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()
T = 6


def _ids(batch=2, steps=T, seed=5):
    return torch.randint(1, V, (batch, steps), generator=torch.Generator().manual_seed(seed))


def _mixers(model):
    return [(n, m) for n, m in model.named_modules() if mixer_kind(m) is not None]


def _record(model, ids, **call):
    """Hook every mixer (with the cache snapshot before each call); returns (traces by name, model output)."""
    traces, snaps, handles = {}, {}, []
    for name, mod in _mixers(model):
        handles.append(mod.register_forward_pre_hook(
            lambda m, a, k, name=name: snaps.__setitem__(name, state_before(m, a, k)), with_kwargs=True))
        handles.append(mod.register_forward_hook(lambda m, a, k, o, name=name: traces.__setitem__(
            name, trace_mixer_call(m, a, k, o, name=name, initial=snaps.get(name))), with_kwargs=True))
    try:
        with torch.no_grad():
            out = model(ids, **call)
    finally:
        for h in handles:
            h.remove()
    return traces, out


def _cache_path(model, ids):
    """The oracle: ids fed one token at a time through the model's own cache; per step, per mixer layer
    (ssm state, conv buffer) read from the cache."""
    cache, steps = None, []
    layers = [m.layer_idx for _, m in _mixers(model)]
    with torch.no_grad():
        for t in range(ids.shape[1]):
            cache = model(ids[:, t:t + 1], use_cache=True, cache=cache).cache
            steps.append([(cache.layers[i].recurrent_states[0].clone(), cache.layers[i].conv_states[0].clone())
                          for i in layers])
    return steps


@pytest.mark.parametrize("name", list(ZOO))
def test_each_state_equals_the_models_cache_token_by_token(name, tmp_path):
    model = build_zoo(name)
    ids = _ids()
    traces, _ = _record(model, ids)
    assert traces and {t.kind for t in traces.values()} == {ZOO[name][0]}
    oracle = _cache_path(model, ids)
    for i, t in enumerate(traces.values()):
        assert t.output.shape == (2, T, model.config.hidden_size)  # the mixer's output tensor
        torch.testing.assert_close(t.replay(), t.output, rtol=1e-5, atol=1e-5)
        for step in range(T):
            ssm, conv = oracle[step][i]
            assert t.state(step).shape == ssm.shape  # the shape the model's cache keeps it in
            torch.testing.assert_close(t.state(step), ssm.float(), rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(t.conv_state(step), conv, rtol=1e-5, atol=1e-5)
        assert set(t.quantities(2)) == set(t.spec.names)  # the family's own names
    t.save(tmp_path / "mixer.trace")  # a trace is data (no module in its consts): it saves and loads back
    assert torch.equal(tr_widgets.load(tmp_path / "mixer.trace").state(T - 1), t.state(T - 1))


@pytest.mark.parametrize("name", list(ZOO))
def test_a_decode_tick_continues_the_cache_and_left_padding_is_the_unpadded_state(name):
    model = build_zoo(name)
    ids = _ids()
    with torch.no_grad():
        cache = model(ids[:, :T - 1], use_cache=True).cache
    ticks, _ = _record(model, ids[:, T - 1:], use_cache=True, cache=cache)  # one token, from the snapshot
    full, _ = _record(model, ids)
    for tick, whole in zip(ticks.values(), full.values()):
        assert tick.initial is not None and len(tick) == 1
        torch.testing.assert_close(tick.state(0), whole.state(-1), rtol=1e-5, atol=1e-5)
    mask = torch.ones(2, T, dtype=torch.long)
    mask[1, :2] = 0  # left padding on the second row
    padded, _ = _record(model, ids, attention_mask=mask)
    alone, _ = _record(model, ids[1:, 2:])
    for p, a in zip(padded.values(), alone.values()):
        if p.mask is None:  # the model does not hand its mixer the mask: nothing to compare
            continue
        torch.testing.assert_close(p.state(-1)[1:], a.state(-1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", list(ZOO))
def test_capture_records_every_mixer_and_attention_with_outputs_bitwise_unchanged(name):
    model = build_zoo(name)
    ids = _ids()
    with torch.no_grad():
        plain = model(ids).logits
        with warnings.catch_warnings():
            warnings.simplefilter("error", CaptureWarning)
            with capture(model) as rec:
                out = model(ids).logits
    assert torch.equal(plain, out)
    mixer_names = [n for n, _ in _mixers(model)]
    for n in mixer_names:
        assert isinstance(rec[n], StateTrace) and rec[n].kind == ZOO[name][0]
    attention = [n for n in rec.names if n not in mixer_names]
    hybrid = any("Attention" in type(m).__name__ for m in model.modules())
    assert bool(attention) == hybrid and all(type(rec[n]).__name__ == "AttentionTrace" for n in attention)


def test_a_look_alike_that_computes_something_else_is_named_not_traced():
    """A module found by structure whose output is not its spec's (here: a Bamba mixer whose output is doubled)
    fails the build's output check: capture names it in its warning and records the rest."""
    model = build_zoo("bamba")
    mixer = model.model.layers[0].mamba
    cls = type(mixer)
    doubled = type("DoubledMixer", (cls,), {"forward": lambda self, *a, **k: 2 * cls.forward(self, *a, **k)})
    mixer.__class__ = doubled
    ids = _ids()
    with torch.no_grad(), pytest.warns(CaptureWarning, match="DoubledMixer") as got:
        with capture(model) as rec:
            model(ids)
        rec.names
    msg = " ".join(str(w.message) for w in got)
    assert "Bamba" in msg or "DoubledMixer" in msg
    assert any(n == "model.layers.0.mamba" for n, _ in rec.skipped), rec.skipped
    assert "model.layers.1.self_attn" in rec.names
