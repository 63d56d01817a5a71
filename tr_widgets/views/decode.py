"""What the decode stepper shows for one tick, as bounded numpy: no widgets here.

One tick of the clock: the new query attends over every key in the cache (softmax(q·Kᵀ/√d), one row
per head), the chosen token appears, and the cache grows by the appended position(s). Positions are
marked *reused* (their keys/values came from the cache) or *appended* (computed this tick; without a
cache every position is recomputed and counts as appended).

Sizes are bounded by the screen, not by the sequence: the key window is at most ``window`` positions
ending at the newest one, and the cache strip is max-pooled to at most ``max_px`` columns.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine.errors import fail
from .matrix import OVERVIEW, WINDOW, Window, maxabs_pool, pool_factors, to_numpy, window_around

REUSED, APPENDED = 0.5, 1.0  # cache strip values (0 = not in the cache yet)


@dataclass(eq=False)
class TickView:
    """One tick for one layer/head: weights over a key window, reused vs appended, the token.

    Example::

        tv = tick_view(trace, 1, layer=0, head=1)    # trace: decode(model, "The cat sat on the", 3, tokenizer=tok)
        (tv.keys, tv.query_position, tv.reused.tolist()) == (6, 5, [True] * 5 + [False])   # 5 cached keys, 1 new
        assert abs(tv.weights.sum() - 1) < 1e-5      # the whole window: one softmax row of head 1
    """

    tick: int
    layer: int
    head: int
    keys: int  # S: positions the new query attended over
    window: Window  # rows = heads [0, H), cols = key positions [c0, c1)
    head_weights: np.ndarray  # [H, c1-c0] float32
    weights: np.ndarray  # [c1-c0] float32, the selected head
    labels: list[str]  # key labels in the window
    reused: np.ndarray  # [c1-c0] bool: True = keys/values came from the cache
    query_position: int
    query_token: str
    token: str  # the chosen token
    top: list  # [(position, label, weight)] largest weights of the selected head (whole row)
    topk: list  # [(token, probability)] the model's candidates for the next token


def _check_layer_head(trace, layer: int, head: int) -> None:
    if not (isinstance(head, int) and 0 <= head < max(trace.num_heads, 1)):
        fail("head", f"an int in [0, {max(trace.num_heads, 1) - 1}]", repr(head), "pick an existing head")


def tick_view(trace, tick: int, layer: int = 0, head: int = 0, window: int = WINDOW, top: int = 5) -> TickView:
    """Tick ``tick`` of a DecodeTrace, for ``layer`` and ``head``, keys cut to the last ``window``.

    Example::

        tv = tick_view(trace, 2, layer=0, head=1)
        tv.weights.sum(), tv.reused.sum(), tv.token      # ~1.0, 6, 'The'
    """
    _check_layer_head(trace, layer, head)
    hw = to_numpy(trace.head_weights(tick, layer))  # [H, S]
    H, S = hw.shape
    tk = trace.ticks[tick]
    win = window_around((H, S), 0, S - 1, max(H, 1), window)  # the newest key is always in view
    start = tk.query_position + 1 - S  # absolute position of key 0 (0 for full caches)
    pos = np.arange(win.c0, win.c1) + start
    reused = pos < tk.appended.start if trace.use_cache else np.zeros(len(pos), bool)
    row = hw[head]
    order = np.argsort(-row, kind="stable")[:top]
    lbls = trace.tokens
    return TickView(
        tick=tick, layer=layer, head=head, keys=S, window=win,
        head_weights=np.ascontiguousarray(hw[:, win.c0:win.c1], dtype=np.float32),
        weights=np.ascontiguousarray(row[win.c0:win.c1], dtype=np.float32),
        labels=[lbls[p] if 0 <= p < len(lbls) else "?" for p in pos], reused=reused,
        query_position=tk.query_position, query_token=lbls[tk.query_position], token=tk.token,
        top=[(int(j + start), lbls[j + start], float(row[j])) for j in order],
        topk=list(zip(tk.topk_tokens, tk.topk_probs)))


def cache_strip(trace, tick: int, max_px: int = OVERVIEW) -> tuple[np.ndarray, tuple[int, int]]:
    """The cache after ``tick`` as [layers, positions] values: 0 empty, 0.5 reused, 1 appended.

    Columns cover every position the decode reaches; more than ``max_px`` are max-pooled (an
    appended position stays visible). Without a cache the strip shows what the tick recomputed (1)
    and is empty afterwards (nothing is kept). Returns (values, pooling factors).

    Example::

        strip, _ = cache_strip(trace, 1)     # trace: decode(model, "The cat sat on the", 3, tokenizer=tok)
        strip.shape == (trace.num_layers, 7)     # every position fed: 5 prompt tokens, 2 generated ones fed back
        strip[0].tolist() == [0.5] * 5 + [1.0, 0.0]     # reused from the cache, appended at tick 1, not yet there
    """
    n_layers = max(trace.num_layers, 1)
    last = trace.ticks[-1].query_position + 1
    strip = np.zeros((n_layers, last), dtype=np.float32)
    tk = trace.ticks[tick]
    keys = tk.layer_keys or (tk.keys,)
    for layer, S in enumerate(keys):
        end = tk.query_position + 1
        begin = end - S
        if trace.use_cache:
            strip[layer, begin:tk.appended.start] = REUSED
        strip[layer, max(begin, tk.appended.start):end] = APPENDED
    factors = pool_factors(strip.shape, max_px)
    return (maxabs_pool(strip, (1, factors[1])) if factors[1] > 1 else strip), (1, factors[1])


def timeline(trace) -> np.ndarray:
    """Milliseconds per tick, float32 [ticks]. Example: ``timeline(trace)[0]`` (the prompt's tick)."""
    return np.asarray([s * 1e3 for s in trace.seconds], dtype=np.float32)


def text_parts(trace, tick: int, max_tokens: int = 64) -> tuple[list[str], list[str], str, int]:
    """(prompt labels, labels generated before ``tick``, the new token, labels elided at the start).

    At most ``max_tokens`` labels are returned before the new token; the earliest are elided.

    Example: ``text_parts(trace, 2)  # (['The', 'cat', ...], ['mat', '.'], 'The', 0)``
    """
    n_prompt = len(trace.prompt_ids)
    before = trace.tokens[:n_prompt + tick]
    cut = max(0, len(before) - max_tokens)
    prompt = before[cut:n_prompt] if cut < n_prompt else []
    made = before[max(cut, n_prompt):]
    return prompt, made, trace.ticks[tick].token, cut
