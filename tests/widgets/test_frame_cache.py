"""Chunks refer to the large values the page already holds by hash (frames.pack(known=...)): a chunk is
exactly the frames Python draws once resolved against what came before, and a page that lost its cache
asks again and gets self-contained frames."""
import torch

import tr_widgets
from tr_widgets.widgets import frames as fr
from tr_widgets.widgets import show


def _stepper(T=300):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, T, 16, generator=g) for _ in range(3))
    return show(tr_widgets.trace_attention(q, k, v, is_causal=True), progress=False, frames=0)


def _drawn(s, step):
    """What ``_update`` draws at ``step`` from scratch (no cache of an earlier drawing)."""
    s._win = None
    s._quiet(True)
    try:
        s._update(step, new_selection=False)
        return fr.state_of(s._targets)
    finally:
        s._quiet(False)


def _capture(s):
    sent, send = [], s.controller.clock.send
    s.controller.clock.send = lambda content, buffers=None: (sent.append((content, buffers)), send(content, buffers))[1]
    return sent


def test_pack_refers_to_known_values_and_unpack_restores_them():
    big, small = bytes(range(256)) * 4, b"abc"
    frames = [[{"codes": big, "row": small, "n": 1}], [{"codes": big, "row": b"abd", "n": 2}]]
    known: set = set()
    first = fr.pack(frames, 0, 1, known=known)
    assert known == {fr.blob_key(big)}
    again = fr.pack(frames, 5, 1, known=known)
    assert len(again) < len(first) and fr.blob_key(big).encode() in __import__("zlib").decompress(again)
    cache: dict = {}
    assert fr.unpack(first, cache)[1] == frames and fr.unpack(again, cache) == (5, frames)
    assert fr.unpack(fr.pack(frames, 0, 1)) == (0, frames)  # without known: self-contained


def test_every_chunk_resolves_to_the_drawn_frames():
    s = _stepper()
    assert s.frames_mode == "chunks"
    sent = _capture(s)
    cache: dict = {}
    fr.unpack(s.controller.clock.frames, cache)  # what a page decodes first
    for step in list(range(1, 40)) + [250, 251, 10]:
        s.step = step
    got = {}
    for content, buffers in sent:
        first, frames = fr.unpack(buffers[0], cache)  # raises KeyError if a reference were unknown
        assert content["frames"] == [first, first + len(frames)]
        got.update({first + i: f for i, f in enumerate(frames)})
    for step in (5, 33, 250, 10):
        assert got[step] == _drawn(s, step), step


def test_python_follows_the_browser_exactly_across_window_moves():
    """Following a step from a recorded frame leaves the same traits as drawing it (the window cache too)."""
    s = _stepper(T=600)
    for step in list(range(90, 110)) + [400, 401, 399, 120, 0, 1, 2]:
        s.step = step
        here = fr.state_of(s._targets)
        assert here == _drawn(s, step), step


def test_a_page_that_lost_its_cache_gets_self_contained_frames():
    s = _stepper()
    for step in range(1, 20):
        s.step = step
    sent = _capture(s)
    s._on_clock_msg(s.controller.clock, {"want": 19, "lost": True}, [])
    (content, buffers), = sent
    first, frames = fr.unpack(buffers[0], {})  # no cache needed
    assert content["frames"] == [18, 21] and first == 18 and len(frames) == 3
    sent.clear()
    s._on_clock_msg(s.controller.clock, {"want": 19}, [])  # reloaded: the page holds the trait's values
    cache: dict = {}
    fr.unpack(s.controller.clock.frames, cache)
    fr.unpack(sent[0][1][0], cache)
