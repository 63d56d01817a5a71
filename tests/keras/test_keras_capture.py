"""Keras under capture, beyond its RNN layers: MultiHeadAttention recorded as attention, one clear message for
Keras on another backend or from tf.keras, clear notes for calls that cannot be replayed, and a core that never
imports keras."""
import subprocess
import sys

import pytest
import torch

import tr_widgets
from tr_widgets.engine.errors import TraceInputError

keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":
    pytest.skip("keras runs on another backend in this process", allow_module_level=True)

L = keras.layers


def _mha(x):
    keras.utils.set_random_seed(7)
    mha = L.MultiHeadAttention(num_heads=2, key_dim=4)
    mha(x, x)  # built
    return mha


@pytest.mark.parametrize("scores", [False, True])  # sdpa path, and the einsum path that returns its scores
def test_multi_head_attention_equals_its_own_scores(scores):
    x = torch.randn(2, 5, 8)
    mha = _mha(x)
    out, w = mha(x, x, return_attention_scores=True, use_causal_mask=True)  # Keras's own weights
    ref = mha(x, x, return_attention_scores=scores, use_causal_mask=True)
    inp = keras.Input((5, 8))
    model = keras.Model(inp, mha(inp, inp, return_attention_scores=scores, use_causal_mask=True))
    with tr_widgets.capture(model) as rec:
        got = model(x)
    for a, b in zip(got if scores else [got], ref if scores else [ref]):
        assert torch.equal(a, b)
    assert rec.names == [mha.name]
    tr = rec[mha.name]
    torch.testing.assert_close(tr.weights, w.detach(), atol=1e-6, rtol=0)
    heads = tr.output.permute(0, 2, 1, 3)  # [B, H, L, Ev] -> [B, L, H, Ev], Keras's layout
    torch.testing.assert_close(mha._output_dense(heads), out.detach(), atol=1e-6, rtol=0)


def test_masked_and_training_dropout_calls_are_noted_not_traced():
    keras.utils.set_random_seed(8)
    model = keras.Sequential([L.Input((None,)), L.Embedding(6, 4, mask_zero=True), L.GRU(3)])
    x = torch.tensor([[1, 2, 0, 0]])
    with pytest.warns(UserWarning, match="could not be recorded"):
        with tr_widgets.capture(model) as rec:
            model(x)
    (name, why), = rec.skipped
    assert name == model.layers[1].name and "mask" in why and "Fix:" in why
    drop = keras.Sequential([L.Input((4, 2)), L.LSTM(3, dropout=0.5)])
    with pytest.warns(UserWarning, match="could not be recorded"):
        with tr_widgets.capture(drop) as rec:
            drop(torch.randn(1, 4, 2), training=True)
    assert "training=False" in rec.skipped[0][1]


def _stand_in(base_module: str, module: str):
    """A model whose class (from ``module``) derives from a layer class of ``base_module``, as Keras's do."""
    base = type("Layer", (), {"__module__": base_module})
    return type("Sequential", (base,), {"__module__": module})()


@pytest.mark.parametrize("base, module, words", [
    ("keras.src.backend.jax.layer", "keras.src.models.sequential", ["'jax' backend", "KERAS_BACKEND", "'torch'"]),
    ("keras.src.backend.tensorflow.layer", "keras.src.models.sequential", ["'tensorflow' backend", "KERAS_BACKEND"]),
    ("tf_keras.src.engine.base_layer", "tf_keras.src.engine.sequential",
     ["tf.keras", "import keras instead of tensorflow.keras"]),
])
def test_another_backend_is_one_clear_message(base, module, words):
    model = _stand_in(base, module)
    with pytest.raises(TraceInputError) as err:
        tr_widgets.capture(model)
    msg = str(err.value)
    assert "\n" not in msg and "Fix:" in msg
    for w in words:
        assert w in msg


def test_core_never_imports_keras():
    code = "import sys, tr_widgets, tr_widgets.engine.capture; assert 'keras' not in sys.modules, 'keras imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_layer_over_the_memory_budget_is_a_note_with_a_fix():
    keras.utils.set_random_seed(9)
    layer = L.LSTM(16, return_sequences=True)
    x = torch.randn(2, 50, 4)
    ref = layer(x)
    old = tr_widgets.set_memory_budget(10_000)
    try:
        with tr_widgets.capture(layer) as rec:
            out = layer(x)
        assert len(rec) == 0  # traces are built on first access: the budget refuses this one
    finally:
        tr_widgets.set_memory_budget(old)
    assert torch.equal(out, ref)
    (_, why), = rec.skipped
    assert why.startswith("MemoryBudgetError") and "(2, 50, 2, 16)" in why and "Fix:" in why


@pytest.mark.parametrize("make", [lambda: L.Attention(), lambda: L.Attention(use_scale=True),
                                  lambda: L.AdditiveAttention()])
def test_keras_attention_layers_equal_their_own_scores(make):
    keras.utils.set_random_seed(10)
    layer, q, v = make(), torch.randn(2, 4, 8), torch.randn(2, 6, 8)
    ref, w = layer([q, v], return_attention_scores=True)
    with tr_widgets.capture(layer) as rec:
        out = layer([q, v])
    assert torch.equal(out, ref) and len(rec) == 1 and rec.skipped == []
    tr = rec.traces[0][1]
    torch.testing.assert_close(tr.weights, w.detach(), atol=1e-6, rtol=0)
    torch.testing.assert_close(tr.output, ref.detach(), atol=1e-6, rtol=0)
