"""engine.batch.broadcast: the batch shape every attention trace reads many times a step, in plain Python, must be
torch.broadcast_shapes's own answer (and torch's error) for every mix of shapes."""
import itertools
import random

import pytest
import torch

from tr_widgets.engine.batch import broadcast


def _torch(shapes):
    try:
        return tuple(torch.broadcast_shapes(*shapes))
    except RuntimeError:
        return "error"


def _ours(shapes):
    try:
        return broadcast(*shapes)
    except RuntimeError:
        return "error"


def test_every_small_pair_and_a_random_sweep_agree_with_torch():
    sizes = [(), (0,), (1,), (3,), (1, 3), (2, 1), (2, 3), (3, 3), (1, 1, 3), (2, 0)]
    for a, b in itertools.product(sizes, repeat=2):
        assert _ours([a, b]) == _torch([a, b]), (a, b)
    rng = random.Random(0)
    for _ in range(3000):
        shapes = [tuple(rng.choice([0, 1, 2, 3]) for _ in range(rng.randint(0, 4))) for _ in range(rng.randint(1, 4))]
        assert _ours(shapes) == _torch(shapes), shapes


def test_a_trace_reads_its_batch_shape_without_torch_broadcast_shapes(monkeypatch):
    import tr_widgets
    at = tr_widgets.trace_attention(*(torch.randn(2, 1, 4, 8), torch.randn(1, 3, 4, 8), torch.randn(1, 3, 4, 8)))
    monkeypatch.setattr(torch, "broadcast_shapes", lambda *s: pytest.fail("torch.broadcast_shapes called"))
    assert at.batch_shape == (2, 3)
