"""The cost measurements run on any causal LM and step kind and report what they measured (no timed
assertions: the numbers are the machine's; benchmarks/bench_cost_growth.py prints and plots them)."""
import pytest
import torch

from tr_widgets.testing.costs import AttentionStep, measure_step_costs, measure_tick_costs
from tr_widgets.engine.errors import TraceInputError
from tr_widgets.models import load_tiny


@pytest.mark.parametrize("use_cache", [True, False])
def test_tick_costs_of_the_tiny_model(use_cache):
    model, _ = load_tiny()
    c = measure_tick_costs(model, [0, 5, 20], use_cache=use_cache, repeats=2)
    assert c["position"] == [0, 5, 20] and c["use_cache"] is use_cache
    assert c["fed_tokens"] == ([1, 1, 1] if use_cache else [1, 6, 21])
    assert all(s > 0 for s in c["seconds"])


def test_tick_costs_of_a_hugging_face_model_leave_no_trace():
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        n_layer=1, n_head=2, n_embd=16, vocab_size=50, n_positions=32, bos_token_id=0, eos_token_id=0)).eval()
    c = measure_tick_costs(model, [3, 9], use_cache=True, repeats=2)
    assert c["fed_tokens"] == [1, 1] and len(c["seconds"]) == 2


def test_step_costs_cover_every_position_and_attention_matches_sdpa():
    c = measure_step_costs(max_position=40, d_model=16, n_heads=2, every=10)
    assert c["position"] == [0, 10, 20, 30]
    assert all(s > 0 for s in c["recurrent_s"] + c["attention_s"])
    torch.manual_seed(0)
    a = AttentionStep(8, 2, 5)
    xs = torch.randn(5, 1, 8)
    with torch.no_grad():
        outs = torch.cat([a(xs[t], t) for t in range(5)])  # (5, 8): one step at a time, cache growing
        q, k, v = a.qkv(xs[:, 0]).view(5, 3, 2, 4).permute(1, 2, 0, 3)  # 3 x (2, 5, 4)
        full = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)  # (2, 5, 4)
        want = a.proj(full.transpose(0, 1).reshape(5, 8))
    torch.testing.assert_close(outs, want, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("call,arg", [
    (lambda m: measure_tick_costs(m, [100]), "positions"),
    (lambda m: measure_tick_costs(m, []), "positions"),
    (lambda m: measure_tick_costs("tiny", [1]), "model"),
    (lambda m: measure_step_costs(max_position=0), "max_position"),
    (lambda m: measure_step_costs(d_model=10, n_heads=4), "d_model"),
])
def test_bad_input(call, arg):
    model, _ = load_tiny()
    with pytest.raises(TraceInputError, match=f"^{arg}: expected"):
        call(model)
