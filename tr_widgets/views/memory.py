"""The memory panel of a state view: a state-space mixer's fixed-size state against a KV cache's bytes.

This module owns :class:`MemoryView` (bytes per layer after position t, the crossover where an
attention layer's KV cache of the same width outweighs the state) and :func:`human_bytes`, how the
views print bytes. :mod:`.state` re-exports these names.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..i18n import msg


def human_bytes(n: float) -> str:
    """Bytes as the views print them. Example: ``human_bytes(6144) == '6 KiB'``"""
    for unit, size in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


@dataclass(frozen=True)
class MemoryView:
    """Bytes per layer after position t: the fixed-size state against an attention layer's KV cache.

    The KV cache is that of a comparable attention layer: heads × head_dim = d_model (the mixer's output
    width, multi-head attention without grouped keys), K and V, ``dtype`` bytes per number, the whole
    batch: ``kv_bytes(s) = 2 · (s + 1) · d_model · batch · itemsize`` after position s (s + 1 tokens).
    ``steps`` are the positions drawn (≤ t, at most ``max_points``), ``crossover`` the first position
    where the KV cache outweighs the state (None if it never does within T).

    Example::

        from tr_widgets.engine.state import trace_state
        st = trace_state("mamba", x=torch.randn(1, 6, 4), delta=torch.rand(1, 6, 4), A=-torch.ones(4, 2),
                         B=torch.randn(1, 6, 2), C=torch.randn(1, 6, 2))
        m = memory_view(st, 4)
        m.kv_bytes == m.kv_at(4)
    """

    t: int
    T: int
    state_bytes: int
    kv_bytes: int
    per_position: int
    d_model: int
    batch: int
    itemsize: int
    dtype: str
    steps: np.ndarray
    crossover: int | None

    def kv_at(self, s) -> np.ndarray:
        """The KV cache's bytes after position(s) ``s``. Example: ``m.kv_at(0) == m.per_position``"""
        return (np.asarray(s, np.int64) + 1) * self.per_position

    def caption(self) -> str:
        """The assumption and the numbers, in words (what the panel prints).

        Example::

            memory_view(t, 4).caption()    # 'after position t = 4: state 6 KiB (constant, ...) · KV cache ...'
        """
        cross = (msg("state.cross_from", t=self.crossover) if self.crossover is not None
                 else msg("state.cross_never", T=self.T))
        return msg("state.memory_caption", t=self.t, state=human_bytes(self.state_bytes), kv=human_bytes(self.kv_bytes),
                   positions=self.t + 1, d_model=self.d_model, batch=self.batch, itemsize=self.itemsize,
                   dtype=self.dtype, cross=cross)


def memory_view(trace, t: int, max_points: int = 256) -> MemoryView:
    """The state's bytes and a comparable attention layer's KV cache bytes, up to position ``t``.

    Example::

        from tr_widgets.engine.state import trace_state
        st = trace_state("mamba", x=torch.randn(1, 6, 4), delta=torch.rand(1, 6, 4), A=-torch.ones(4, 2),
                         B=torch.randn(1, 6, 2), C=torch.randn(1, 6, 2))
        m = memory_view(st, 5)
        m.state_bytes == st.state_bytes
        m.kv_bytes == 2 * 6 * 4 * 1 * 4       # K and V, 6 positions, d_model 4, batch 1, float32
    """
    out = trace.output[0] if isinstance(trace.output, tuple) else trace.output
    T, B = len(trace), trace.batch_size
    d_model = math.prod(out.shape[2:])
    itemsize = out.element_size()
    per = 2 * d_model * B * itemsize
    stride = max(1, -(-T // max_points))
    steps = np.unique(np.append(np.arange(0, t + 1, stride), t)).astype(np.int64)
    sb = int(trace.state_bytes)
    cross = sb // per if sb // per < T else None  # first s with (s + 1) · per > sb
    return MemoryView(t, T, sb, (t + 1) * per, per, d_model, B, itemsize, str(out.dtype).replace("torch.", ""),
                      steps, cross)
