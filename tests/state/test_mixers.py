"""Traces of Hugging Face mixers (built from configs) against the model's own computation: the module's
output, and the state its cache keeps when the same tokens are fed one at a time."""
import pytest
import torch

from tests.state import FAMILIES, VOCAB, as_tuple, build, cache_of, continuing, decode, main, mixers, record
from tr_widgets.engine.errors import MemoryBudgetError, TraceInputError, set_memory_budget

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()

T = 11  # not a multiple of the checkpoint spacing (4), so the tail segment is exercised too


def ids_for(batch=2, steps=T, seed=1):
    return torch.randint(0, VOCAB, (batch, steps), generator=torch.Generator().manual_seed(seed))


def assert_state(trace, step, cached, rtol=1e-5, atol=1e-5):
    ours = as_tuple(trace.state(step))
    theirs = (cached[0],) if trace.spec.has_conv else cached  # Mamba families: (ssm, conv); the conv is separate
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol)  # shape and dtype too


@pytest.mark.parametrize("family", FAMILIES)
def test_output_is_the_module_output_and_replay_equals_it(family):
    model = build(family)
    traces, _ = record(model, ids_for())
    assert sorted(traces) == [0, 1]
    for t in traces.values():
        assert len(t) == T and t.batch_size == 2
        torch.testing.assert_close(t.replay(), main(t.output), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_state_equals_the_cache_when_decoding_token_by_token(family):
    model = build(family)
    ids = ids_for()
    traces, _ = record(model, ids)
    steps = decode(model, ids)
    for step, layers in enumerate(steps):
        for i, cached in enumerate(layers):
            assert_state(traces[i], step, cached)
            if traces[i].spec.has_conv:
                torch.testing.assert_close(traces[i].conv_state(step), cached[1], rtol=1e-5, atol=1e-5)
    for a, b in zip(as_tuple(traces[0].state(-1)), as_tuple(traces[0].state(T - 1))):  # negative counts from the end
        assert torch.equal(a, b)


@pytest.mark.parametrize("family", FAMILIES)
def test_bfloat16_matches_loosely(family):
    model = build(family, dtype=torch.bfloat16)
    ids = ids_for()
    traces, _ = record(model, ids)
    for t in traces.values():
        out = main(t.output)
        torch.testing.assert_close(t.replay().float(), out.float(), rtol=1e-2, atol=1e-2 * float(out.abs().max()))
    last = decode(model, ids)[-1]
    for i, cached in enumerate(last):  # layer 1 differs more: the model's bf16 step path rounds layer 0 differently
        scale = max(float(c.float().abs().max()) for c in as_tuple(cached))
        assert_state(traces[i], -1, cached, rtol=2e-2, atol=2e-2 * scale)


@pytest.mark.parametrize("family", FAMILIES)
def test_states_all_at_once_equal_state_by_step(family):
    t = record(build(family), ids_for())[0][0]
    assert t.every == 4  # ⌈√11⌉
    everything = as_tuple(t.states())
    for step in range(T):
        for whole, one in zip(everything, as_tuple(t.state(step))):
            torch.testing.assert_close(whole[:, step], one, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("every", [1, 3, T, 50])
def test_checkpoint_spacing_does_not_change_the_states(family, every):
    from tr_widgets.engine.state import trace_mixer_call

    model = build(family)
    mod = mixers(model)[0]
    hidden = torch.randn(2, T, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        out = mod(hidden)
    base = trace_mixer_call(mod, (hidden,), {}, out)
    other = trace_mixer_call(mod, (hidden,), {}, out, every=every)
    assert base.output is main(out) and other.output is main(out)  # the hooked output tensor itself, not a copy
    assert len(other.checkpoints[0]) == T // every + 1
    for step in (0, 5, T - 1):
        for a, b in zip(as_tuple(base.state(step)), as_tuple(other.state(step))):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(other.replay(), main(out), rtol=1e-5, atol=1e-6)


def test_state_of_one_step_reruns_at_most_one_segment(monkeypatch):
    t = record(build("mamba"), ids_for(steps=40))[0][0]
    assert t.every == 7
    lengths = []
    real = type(t.spec).run
    monkeypatch.setattr(type(t.spec), "run", lambda self, s, inp, c, keep: lengths.append(inp["x"].shape[1])
                        or real(self, s, inp, c, keep))
    for step in range(40):
        t.state(step)
    assert lengths and max(lengths) < t.every  # checkpoints hold the rest; never a rerun from step 0
    lengths.clear()
    t.states()
    assert lengths == [t.every]  # all segments in one call, folded into the batch dim (the tail zero-padded)


@pytest.mark.parametrize("family", ["mamba", "mamba2", "gated_deltanet"])
def test_left_padding_gives_the_state_of_the_unpadded_sequence(family):
    """Padded positions are zeroed before and after the conv, so the state stays zero until the first
    token. The oracle is the unpadded row fed token by token alone (Mamba-2's single-token path drops
    the mask, so a padded prompt fed one token at a time would not be masked there)."""
    model = build(family)
    ids = ids_for()
    mask = torch.ones(2, T, dtype=torch.long)
    mask[1, :4] = 0
    traces, _ = record(model, ids, mask=mask)
    alone = decode(model, ids[1:, 4:])
    for step in range(4, T):
        for i, cached in enumerate(alone[step - 4]):
            torch.testing.assert_close(traces[i].state(step)[1:], cached[0], rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(traces[i].conv_state(step)[1:], cached[1], rtol=1e-5, atol=1e-5)
    for i in range(2):
        assert float(traces[i].state(3)[1].abs().max()) == 0.0  # nothing but padding yet
        torch.testing.assert_close(traces[i].replay(), main(traces[i].output), rtol=1e-6, atol=1e-6)


def test_mamba_padding_matches_the_masked_token_by_token_path():
    model = build("mamba")
    ids, mask = ids_for(), torch.ones(2, T, dtype=torch.long)
    mask[0, :3] = 0
    traces, _ = record(model, ids, mask=mask)
    for step, layers in enumerate(decode(model, ids, mask=mask)):
        for i, cached in enumerate(layers):
            assert_state(traces[i], step, cached)


def test_rwkv_ignores_the_padding_mask_like_the_model():
    """transformers' RWKV has no padding mask (it logs that attention_mask is unused); neither has the trace."""
    model = build("rwkv")
    ids, mask = ids_for(), torch.ones(2, T, dtype=torch.long)
    mask[1, :4] = 0
    with_mask, out_m = record(model, ids, mask=mask)
    without, out = record(model, ids)
    torch.testing.assert_close(out_m.last_hidden_state, out.last_hidden_state, rtol=0, atol=0)
    for a, b in zip(as_tuple(with_mask[1].state(-1)), as_tuple(without[1].state(-1))):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_decode_step_continues_from_the_snapshot_before_it(family):
    model = build(family)
    ids = ids_for(batch=1 if family == "rwkv" else 2)
    prompt = record(model, ids[:, :6], use_cache=True)[1]
    cache = continuing(model, cache_of(model, prompt))
    traces, _ = record(model, ids[:, 6:7], snapshot=True, use_cache=True, **cache)
    expected = decode(model, ids[:, :7])[-1]
    for i, cached in enumerate(expected):
        assert len(traces[i]) == 1
        assert_state(traces[i], 0, cached)
        if traces[i].spec.has_conv:  # the buffer before the call (the snapshot) shifted by the new token
            torch.testing.assert_close(traces[i].conv_state(0), cached[1], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(traces[i].replay(), main(traces[i].output), rtol=1e-6, atol=1e-6)
    with pytest.raises(TraceInputError, match="state_before"):  # the same step without the snapshot
        record(model, ids[:, 7:8], use_cache=True, **cache)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_multi_token_call_continues_from_the_snapshot_before_it(family):
    """Chunked prefill: 6 tokens, then 5 more through the same cache. transformers' Mamba (v1) torch path
    restarts its scan from zero here (mamba_selective_scan takes no initial state) and keeps only the conv
    buffer; the trace follows the module, so for Mamba only the module's output is the oracle."""
    model = build(family)
    ids = ids_for()
    prompt = record(model, ids[:, :6], use_cache=True)[1]
    traces, _ = record(model, ids[:, 6:], snapshot=True, use_cache=True, **continuing(model, cache_of(model, prompt)))
    for t in traces.values():
        assert t.initial is not None and len(t) == T - 6
        torch.testing.assert_close(t.replay(), main(t.output), rtol=1e-5, atol=1e-5)
    again = record(model, ids[:, :6], use_cache=True)[1]
    with pytest.raises(TraceInputError, match="state_before"):  # even Mamba: its conv buffer carries over
        record(model, ids[:, 6:], use_cache=True, **continuing(model, cache_of(model, again)))
    if family == "mamba":
        return
    for step, layers in enumerate(decode(model, ids)[6:]):
        for i, cached in enumerate(layers):
            assert_state(traces[i], step, cached)


@pytest.mark.parametrize("family", FAMILIES)
def test_state_bytes_is_what_the_cache_keeps_for_the_layer(family):
    model = build(family)
    ids = ids_for()
    t = record(model, ids)[0][0]
    cached = decode(model, ids)[-1][0]
    assert t.state_bytes == sum(c.numel() * c.element_size() for c in as_tuple(cached)) > 0


@pytest.mark.parametrize("family", FAMILIES)
def test_kept_bytes_are_the_scan_inputs_and_checkpoints(family):
    t = record(build(family), ids_for(steps=64))[0][0]
    own = sum(v.numel() * v.element_size() for v in (*t.inputs.values(), *t.checkpoints))
    assert t.every == 8 and len(t.checkpoints[0]) == 9
    assert t.kept_bytes <= own  # no view keeps a larger projection alive


def test_budget_guards_full_materialisation():
    t = record(build("mamba"), ids_for())[0][0]
    old = set_memory_budget(1024)
    try:
        with pytest.raises(MemoryBudgetError, match="state\\(step\\)"):
            t.states()
        t.state(3)  # one step stays cheap
    finally:
        set_memory_budget(old)


def test_bad_steps_and_modules_fail_clearly():
    from tr_widgets.engine.state import trace_mixer_call

    t = record(build("mamba2"), ids_for())[0][0]
    for bad in (T, -T - 1, 1.0, True):
        with pytest.raises(TraceInputError, match="step"):
            t.state(bad)
    with pytest.raises(TraceInputError, match="MambaMixer"):
        trace_mixer_call(torch.nn.Linear(3, 3), (torch.ones(1, 2, 3),), {}, None)
    rwkv = record(build("rwkv"), ids_for())[0][0]
    with pytest.raises(TraceInputError, match="conv"):
        rwkv.conv_state(0)


@pytest.mark.parametrize("family", FAMILIES)
def test_trace_state_runs_a_mixer_module_on_its_input(family):
    from tr_widgets.engine.state import trace_state

    mod = mixers(build(family))[0]
    hidden = torch.randn(2, 5, 32, generator=torch.Generator().manual_seed(4))
    t = trace_state(mod, hidden)
    assert t.kind == family and len(t) == 5
    torch.testing.assert_close(t.replay(), main(t.output), rtol=1e-6, atol=1e-6)


def test_a_mask_of_the_wrong_length_fails_clearly():
    from tr_widgets.engine.state import trace_mixer_call

    mod = mixers(build("mamba"))[0]
    hidden = torch.randn(2, 5, 32)
    with pytest.raises(TraceInputError, match="attention_mask: expected a \\[batch, seq\\] mask of shape \\(2, 5\\)"):
        trace_mixer_call(mod, (hidden,), {"attention_mask": torch.ones(2, 9)}, None)


def test_mixer_kind_finds_exactly_the_traced_modules():
    from tr_widgets.engine.state import mixer_kind

    for family in FAMILIES:
        model = build(family)
        found = [m for m in model.modules() if mixer_kind(m) is not None]
        assert found == mixers(model) and all(mixer_kind(m).name == family for m in found)
