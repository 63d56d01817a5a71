"""What crosses to the browser is bounded by the screen, not by T (sizes, not timings).

Over the frame budget a stepper streams chunks of frames (frames.py); large values the page already
holds (the weights window, the overview) travel once and are referred to by hash afterwards. These
tests read what was sent: the sizes (``record_comms``) and the values inside each chunk.
"""
import json
import zlib

import pytest
import torch
from torch import nn

import tr_widgets
from tr_widgets.widgets import frames as fr
from tr_widgets.widgets import show
from tr_widgets.testing.commlog import record_comms

KiB, MiB = 1024, 1024 * 1024


def _attention(T, heads=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(1, heads, T, 64, generator=g) for _ in range(3))
    return tr_widgets.trace_attention(q, k, v, is_causal=True, tokens=[f"tok{i}" for i in range(T)])


def zlib_raw(payload: bytes) -> bytes:
    return zlib.decompress(payload)


def _blobs(payload: bytes) -> list[bytes]:
    """The binary values a frames payload carries itself (not those it refers to by hash)."""
    raw = zlib_raw(payload)
    n = int.from_bytes(raw[4:8], "little")
    man, blobs = json.loads(raw[8:8 + n]), raw[8 + n:]
    return [bytes(blobs[e[0]:e[0] + e[1]]) for keys in man["targets"] for _, kind, table, _, _ in keys
            if kind == "b" for e in table if len(e) > 1]


@pytest.fixture(scope="module")
def attention_1024():
    with record_comms() as log:
        s = show(_attention(1024), progress=False)
    sent = []  # the frames payloads of the chunks, as the page receives them
    clock, send = s.controller.clock, s.controller.clock.send
    clock.send = lambda content, buffers=None: (sent.extend(buffers or []), send(content, buffers=buffers))[1]
    return s, log, sent


def test_step_change_sends_at_most_64_kib(attention_1024):
    s, log, _ = attention_1024
    assert s.frames_mode == "chunks"
    sizes, moves, r0 = [], 0, s.weights.r0
    # Steps in order around two window moves (at 144 and 240), then long jumps both ways.
    for i in list(range(1, 12)) + list(range(138, 150)) + list(range(236, 244)) + [1023, 0, 512]:
        log.clear()
        s.step = i
        sizes.append(log.total())
        moves += s.weights.r0 != r0  # the weights window moved
        r0 = s.weights.r0
    assert moves >= 5  # the worst case (a moving window) is part of the sweep
    assert max(sizes) <= 64 * KiB, max(sizes)
    assert sorted(sizes)[len(sizes) // 2] <= 32 * KiB  # most steps move a marker, not the window


def test_a_step_inside_the_window_does_not_resend_it(attention_1024):
    s, log, sent = attention_1024
    s.step = 300
    window, overview = s.weights.codes, s.weights.ov_codes
    log.clear()
    sent.clear()
    for i in range(301, 301 + 2 * s._chunk):  # every chunk sent while the window stays put
        s.step = i
        assert s.weights.r0 == 0 or s.weights.codes == window
    assert sent, "no chunk was sent: the test did not look at one"
    for payload in sent:
        carried = _blobs(payload)
        assert window not in carried and overview not in carried  # referred to by hash, not resent
    assert not {"codes", "ov_codes"} & set(log.keys())  # the panels' traits never travel either


def test_matrices_travel_as_binary_buffers(attention_1024):
    s, log, _ = attention_1024
    log.clear()
    s.select(head=3)
    raw = zlib_raw(s.controller.clock.frames)
    carried = _blobs(s.controller.clock.frames)
    assert s.weights.codes in carried and s.weights.ov_codes in carried  # the window itself, in binary
    assert len(raw) >= s.weights.rows * s.weights.cols + len(s.weights.ov_codes)
    assert log.buffers() > 0 and "frames" in log.keys()  # the payload is a binary buffer
    assert log.total() - log.buffers() < 16 * KiB  # no JSON tables of numbers


@pytest.mark.parametrize("kind", ["attention", "recurrent"])
def test_a_4096_step_view_opens_with_at_most_1_mib(kind):
    if kind == "attention":
        trace = _attention(4096, heads=1)
    else:
        torch.manual_seed(0)
        trace = tr_widgets.trace_recurrent(nn.GRU(8, 256), torch.randn(4096, 1, 8))
    with record_comms() as log:
        s = show(trace, progress=False)
    assert log.total() <= 1 * MiB, log.total()
    log.clear()
    s.step = 4095
    assert log.total() <= 64 * KiB, log.total()
    assert fr.unpack(s.controller.clock.frames)[1]  # the opening payload is self-contained
