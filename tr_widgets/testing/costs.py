"""What one tick costs as the sequence grows, measured (seed 004: "the cost of each tick").

Two comparisons, both timed on the device they run on (CUDA synchronised before each clock read):

* ``measure_tick_costs``: a language model's tick at position p, with a KV cache (feed one token,
  reuse p cached keys/values: attention grows with p, the rest is constant) and without (feed all
  p + 1 tokens again: every layer's work grows with p, attention with p²).
* ``measure_step_costs``: one recurrent step (an LSTM cell: h_t from x_t and h_{t-1}, the same work at
  every t) against one attention step (the new query against t cached keys: work grows with t),
  both run over the whole sequence, each step timed.

Results are plain dicts of lists (columns), ready for a table or a chart. Nothing here asserts a
shape of the curve: the numbers are what this machine measured.
"""
from __future__ import annotations

import copy
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from ..engine.decode import cache_arg, returned_cache, sync
from ..engine.decode.build import POSITION_LIMITS
from ..engine.errors import describe, fail


def _clock(fn, device) -> float:
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def _check_positions(positions, limit=None) -> list[int]:
    if (not isinstance(positions, (list, tuple, range)) or not positions
            or not all(isinstance(p, int) and not isinstance(p, bool) and p >= 0 for p in positions)):
        fail("positions", "a non-empty list of ints >= 0", describe(positions), "pass e.g. positions=[1, 16, 64]")
    if limit is not None and max(positions) >= limit:
        fail("positions", f"positions < {limit} (the model's longest sequence)", f"max {max(positions)}",
             f"drop positions >= {limit}")
    return list(positions)


def _fresh(past):
    """A cache one more step may grow without touching ``past``: tuples are immutable, others are copied."""
    return past if past is None or isinstance(past, tuple) else copy.deepcopy(past)


def measure_tick_costs(model, positions, use_cache: bool = True, repeats: int = 5, seed: int = 0) -> dict:
    """Seconds of one decoding tick at each position p (median of ``repeats``).

    Cached: the cache holds p positions (filled untimed), the tick feeds 1 token. Uncached: the
    tick feeds p + 1 tokens. Random token ids (the cost does not depend on which tokens).

    Example::

        model, _ = tr_widgets.models.load_tiny()
        measure_tick_costs(model, [1, 16, 48], use_cache=False)
        # {'position': [1, 16, 48], 'seconds': [...], 'fed_tokens': [2, 17, 49], 'use_cache': False}
    """
    if not isinstance(model, nn.Module):
        fail("model", "a torch nn.Module language model", describe(model), "pass model from load_tiny()")
    cfg = getattr(model, "config", None)
    limit = next((getattr(cfg, n) for n in POSITION_LIMITS
                  if isinstance(getattr(cfg, n, None), int)), None)
    positions = _check_positions(positions, limit)
    device = next(model.parameters()).device
    vocab = getattr(cfg, "vocab_size", 2)
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (1, max(positions) + 1), generator=g).to(device)  # [1, P_max + 1]
    out = {"position": [], "seconds": [], "fed_tokens": [], "use_cache": use_cache}
    arg = cache_arg(model)  # the name the forward takes its cache under (``cache`` on transformers 5.25)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for p in positions:
                past, feed = None, ids[:, :p + 1]  # uncached: the tick feeds every position again
                if use_cache and p > 0:
                    past = returned_cache(model(ids[:, :p], use_cache=True), arg)  # untimed: the cache of p positions
                    feed = ids[:, p:p + 1]
                times = []
                for r in range(repeats + 1):  # the first run warms up
                    cache = _fresh(past)  # untimed copy: the step below grows it
                    secs = _clock(lambda: model(feed, use_cache=use_cache, **{arg: cache}), device)
                    if r:
                        times.append(secs)
                secs = statistics.median(times)
                out["position"].append(p)
                out["seconds"].append(secs)
                out["fed_tokens"].append(feed.shape[1])
    finally:
        model.train(was_training)
    return out


class AttentionStep(nn.Module):
    """One decoder attention step with a preallocated KV cache: x_t -> q, k, v -> append -> attend.

    Example: ``a = AttentionStep(64, 4, 128); a(torch.randn(1, 64), t=0)`` (then t=1, 2, ...)
    """

    def __init__(self, d_model: int, n_heads: int, max_len: int):
        super().__init__()
        self.h, self.d = n_heads, d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.register_buffer("k", torch.zeros(1, n_heads, max_len, self.d), persistent=False)
        self.register_buffer("v", torch.zeros(1, n_heads, max_len, self.d), persistent=False)

    def forward(self, x: torch.Tensor, t: int) -> torch.Tensor:
        q, k, v = self.qkv(x).view(1, 3, self.h, self.d).unbind(1)  # 3 x (1, h, d)
        self.k[:, :, t] = k  # the cache grows by one position; earlier ones are reused
        self.v[:, :, t] = v
        y = F.scaled_dot_product_attention(q[:, :, None], self.k[:, :, :t + 1], self.v[:, :, :t + 1])  # (1, h, 1, d)
        return self.proj(y.reshape(1, -1))  # (1, d_model)


def measure_step_costs(max_position: int = 2048, d_model: int = 256, n_heads: int = 4, every: int = 128,
                       device="cpu", seed: int = 0) -> dict:
    """Per-step seconds of a recurrent step (nn.LSTMCell) and an attention step, t = 0..max_position-1.

    Each step is timed on its own; the result gives, for every ``every``-th position, the median of
    the steps around it (a window of ``every`` steps), so single-step timer noise averages out.

    Example::

        c = measure_step_costs(max_position=1024, every=128)
        c["position"], c["recurrent_s"], c["attention_s"]       # lists of equal length
    """
    for name, v in (("max_position", max_position), ("d_model", d_model), ("n_heads", n_heads), ("every", every)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            fail(name, "an int >= 1", describe(v), f"pass e.g. {name}=128")
    if d_model % n_heads:
        fail("d_model", f"a multiple of n_heads={n_heads}", str(d_model), "change d_model or n_heads")
    torch.manual_seed(seed)
    cell = nn.LSTMCell(d_model, d_model).to(device)
    attn = AttentionStep(d_model, n_heads, max_position).to(device)
    xs = torch.randn(max_position, 1, d_model, device=device)  # (T, 1, d)
    rec_s, att_s = [], []
    with torch.no_grad():
        h = c = torch.zeros(1, d_model, device=device)
        for t in range(max_position):
            # interleaved, so load on the machine hits both kinds alike
            sync(device)
            t0 = time.perf_counter()
            h, c = cell(xs[t], (h, c))
            sync(device)
            t1 = time.perf_counter()
            attn(xs[t], t)
            sync(device)
            rec_s.append(t1 - t0)
            att_s.append(time.perf_counter() - t1)
    out = {"position": [], "recurrent_s": [], "attention_s": []}
    for p in range(0, max_position, every):
        lo, hi = max(0, p - every // 2), min(max_position, p + every // 2 + 1)
        out["position"].append(p)
        out["recurrent_s"].append(statistics.median(rec_s[lo:hi]))
        out["attention_s"].append(statistics.median(att_s[lo:hi]))
    return out
