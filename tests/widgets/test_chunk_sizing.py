"""Chunks of frames are sized by what a frame costs where the user is (stream._size_chunks): after a jump to a
costlier region (the end rows of a long trace, where a frame scores a whole row), the next chunk holds few
frames, so the step after the jump does not draw a chunk sized by the cheap first frames (300-400 ms at
T=131,072, in one handler). Frame costs are made slow here by a delay on drawing, not measured."""
import time

import torch

import tr_widgets
from tr_widgets.widgets import show
from tr_widgets.widgets.frames import set_frame_budget


def test_a_jump_to_costly_frames_shrinks_the_chunks_that_follow():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 1, 64, 16, generator=g) for _ in range(3))
    old = set_frame_budget(0)  # chunks, as over the budget, without drawing every frame first
    try:
        s = show(tr_widgets.trace_attention(q, k, v, is_causal=True), progress=False)
    finally:
        set_frame_budget(old)
    assert s.frames_mode == "chunks"
    s._frame_s = 1e-4  # the first frames were cheap: chunks as large as the bytes allow
    s._size_chunks(32, 32)
    assert s._chunk == 32
    record = s._record

    def slow(steps):
        steps = list(steps)
        time.sleep(0.06 * len(steps))  # the region jumped to costs 60 ms a frame
        return record(steps)
    s._record = slow
    s.step = 40  # a jump: this frame, then its neighbours, one frame each
    assert s._chunk <= 2, s._chunk
