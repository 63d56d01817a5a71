"""Frames (issue 12): within the budget every step's state goes to the browser once, exactly what Python
would have sent; a step then sends nothing but the step; over the budget, chunks around the step and an
exported page that says why it does not step. Labels sent to the browser are safe and bidi-isolated."""
import re

import numpy as np
import pytest
import torch
from torch import nn

import tr_widgets
from tr_widgets import TraceInputError
from tr_widgets.testing.commlog import record_comms
from tr_widgets.widgets import frames as fr
from tr_widgets.widgets import get_frame_budget, set_frame_budget, show


def _attention(T=10, tokens=None):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, T, 8, generator=g) for _ in range(3))
    return tr_widgets.trace_attention(q, k, v, is_causal=True, tokens=tokens)


def _lstm(T=7):
    torch.manual_seed(0)
    return tr_widgets.trace_recurrent(nn.LSTM(4, 6), torch.randn(T, 1, 4))


@pytest.mark.parametrize("make", [_attention, _lstm])
def test_every_frame_is_what_python_draws_at_that_step(make):
    s = show(make(), progress=False)
    assert s.frames_mode == "browser" and s.controller.clock.frames_mode
    first, frames = fr.unpack(s.controller.clock.frames)
    assert first == 0 and len(frames) == s.controller.n_steps
    assert s.controller.clock.targets == [t.model_id for t in s._targets]
    for step in (3, 0, len(frames) - 1):
        s.step = step
        assert frames[step] == fr.state_of(s._targets), f"frame {step} differs from the drawn step"


def test_with_frames_in_the_browser_a_step_sends_only_the_step():
    with record_comms() as log:
        s = show(_attention(), progress=False)
    log.clear()
    s.step = 4
    assert log.keys() == ["step"] and log.total() < 200  # the panels are set by the browser itself
    assert s.weights.mark_row == 4 and "query 4" in s.controller.caption.value  # Python follows quietly
    log.clear()
    s.controller.clock.set_state({"step": 6})  # the browser stepped: nothing goes back (no echo either:
    assert s.step == 6 and log.keys() == []    # an echo of a step the page has since left would pull it back)


def test_later_chunks_name_what_the_page_holds_and_carry_only_what_changes():
    """Values that hold for a whole chunk (the window, labels, the theme's words: bytes and JSON) travel
    once and are named by hash afterwards; values that change each step travel in place, unhashed."""
    s = show(_attention(T=600), progress=False, frames=64 * 1024)
    frames = s._record(range(10, 20))
    known, cache = set(), {}
    one = fr.pack(frames[:5], 10, 1, known=known)
    two = fr.pack(frames[5:], 15, 1, known=known)
    assert fr.unpack(one, cache) == (10, frames[:5])
    held = dict(cache)
    assert fr.unpack(two, cache) == (15, frames[5:])  # its references resolve to what the page kept
    assert len(two) < len(fr.pack(frames[5:], 15, 1)) * 0.8  # and that saves bytes
    assert any(isinstance(v, bytes) and v.startswith(b"{") for v in held.values())  # JSON is shared too
    changing = {(t, k) for t, d in enumerate(frames[0]) for k, v in d.items() if any(f[t][k] != v for f in frames[:5])}
    shared = {v if isinstance(v, bytes) else None for v in held.values()}
    assert not any(frames[i][t][k] in shared for t, k in changing for i in range(5)
                   if isinstance(frames[i][t][k], bytes)), "a value that changes each step was hashed"


def test_a_selector_change_sends_new_frames():
    s = show(_attention(), progress=False)
    before = s.controller.clock.frames
    s.select(head=1)
    _, frames = fr.unpack(s.controller.clock.frames)
    assert s.controller.clock.frames != before and frames[s.step] == fr.state_of(s._targets)


def test_over_the_budget_chunks_stream_and_the_page_says_why():
    with record_comms() as log:
        s = show(_attention(T=600), progress=False, frames=64 * 1024)
    assert s.frames_mode == "chunks"
    first, frames = fr.unpack(s.controller.clock.frames)
    assert (first, len(frames)) == (0, 2)  # the step and its neighbour: next is instant
    log.clear()
    s.step = 300  # a jump: its frame, then each neighbour
    assert [m.buffer_bytes > 0 for m in log.messages].count(True) == 3
    page = s._repr_mimebundle_()["text/html"]
    assert "tr-frames-notice" in page and "set_frame_budget" in page and "<script" not in page
    assert "data:image/png;base64," in page  # the static snapshot stays


def test_the_exported_page_ships_the_player_and_loads_nothing():
    s = show(_lstm(), progress=False)
    page = s._repr_mimebundle_()["text/html"]
    assert "tr-export-data" in page and "type='module'" in page and "tr-snapshot" in page
    assert not re.search(r"(src|href)=['\"]?https?:|import\(['\"]https?:", page)  # nothing from the network
    assert fr.embedded_size(s._payload) <= get_frame_budget() and len(page) <= get_frame_budget() + 200_000


def test_frame_budget_is_settable_and_checked():
    old = set_frame_budget(0)
    try:
        assert show(_lstm(), progress=False).frames_mode == "chunks"
    finally:
        assert set_frame_budget(old) == 0
    with pytest.raises(TraceInputError, match="nbytes"):
        set_frame_budget(-1)
    with pytest.raises(TraceInputError, match="frames="):
        show(_lstm(), progress=False, frames="all")


def test_labels_are_safe_and_isolated():
    evil = ["a\u202eb", "x\ud800", "ok", "\u2067rtl"] + [f"w{i}" for i in range(6)]
    s = show(_attention(tokens=evil), progress=False, step=1)
    assert s.weights.col_labels[:2] == ["a\\u202eb", "x\\ud800"]
    page = s._repr_mimebundle_()["text/html"]
    page.encode("utf-8")  # no lone surrogate anywhere
    assert "\u202e" not in page and "\u2067" not in page
    assert "unicode-bidi:isolate" in s.output.value and "unicode-bidi:isolate" in s.controller.caption.value
    assert np.frombuffer(s.weights.codes, np.uint8).size == s.weights.rows * s.weights.cols
