"""The overview of a long attention trace: its softmax weights max-pooled to a small image, streamed.

One block of query rows at a time (about ``block_cells`` scores held, never L×S), each block scoring only
the keys its rows may see (``AttentionTrace.open_keys``: a causal block ends at its last row), so memory
stays bounded and causal costs about half.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import check_budget


def pooled_weights(trace, index=(), factors=(1, 1), block_cells: int = 1 << 22, progress=None):
    """The weights of one batch/head entry max-pooled in ``fr × fc`` blocks.

    Returns ``(pooled [ceil(L/fr), ceil(S/fc)] float32, blocked [same] bool or None)``: a pooled cell is
    blocked when every cell of its block is masked. ``progress`` wraps an iterable (tqdm).

    Example::

        pooled, blocked = pooled_weights(at, (0, 0), (64, 64))    # T=16384: [256, 256]
    """
    fr, fc = int(factors[0]), int(factors[1])
    L, S = trace.L, trace.S
    out_r, out_c = -(-L // fr), -(-S // fc)
    rows = min(max(1, block_cells // max(S, 1) // fr) * fr, -(-L // fr) * fr)
    check_budget("pooled_weights", (rows, S), torch.float32, "a smaller block_cells")
    dev = trace.q.device
    pooled = torch.zeros(out_r, out_c, dtype=torch.float32, device=dev)
    blocked = torch.ones(out_r, out_c, dtype=torch.bool, device=dev) if trace.has_mask else None
    starts = range(0, L, rows)
    if progress is not None:
        starts = progress(starts, total=len(starts), desc="attention overview")
    for r0 in starts:
        r1 = min(r0 + rows, L)
        c1 = min(S, -(-trace.open_keys(r0, r1) // fc) * fc)  # whole pooling blocks
        w, blk = trace.weights_rows(r0, r1, index, keys=c1)  # [n, c1]: exact, every open key is in [0, c1)
        pr, pc = -(-(r1 - r0) // fr) * fr - (r1 - r0), -(-c1 // fc) * fc - c1
        w = F.pad(w.float(), (0, pc, 0, pr))  # [n', c1'] padded to whole blocks
        a, nc = r0 // fr, w.shape[1] // fc
        pooled[a:a + w.shape[0] // fr, :nc] = w.reshape(-1, fr, nc, fc).amax((1, 3))
        if blocked is not None:
            blk = F.pad(blk, (0, pc, 0, pr), value=True)
            blocked[a:a + blk.shape[0] // fr, :nc] = blk.reshape(-1, fr, nc, fc).all(3).all(1)
    return pooled, blocked
