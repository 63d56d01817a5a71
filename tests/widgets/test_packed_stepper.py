"""A packed batch in the RecurrentStepper: a sequence shorter than the longest has only padding past its end,
which the engine refuses to step; the stepper keeps that sequence's last step on screen and says so."""
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import tr_widgets


def packed_trace():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4)
    x = torch.randn(5, 2, 3)  # [T, B, I]; sequence 1 runs 3 steps
    return tr_widgets.trace_recurrent(lstm, pack_padded_sequence(x, torch.tensor([5, 3]), enforce_sorted=False))


def test_a_short_sequence_past_its_end_shows_its_last_step_and_says_so():
    tr = packed_trace()
    w = tr_widgets.show(tr, batch=1)
    last = tr.lengths[1] - 1
    w.step = last
    at_end = w.equations.value
    assert "padding" not in w.controller.caption.value
    for t in range(last + 1, tr.seq_len):
        w.step = t
        assert w.equations.value == at_end  # the last real step's numbers, not the padding's zeros
        assert "padding" in w.controller.caption.value and f"t = {t}" in w.controller.caption.value


def test_the_longest_sequence_steps_every_step_without_a_note():
    tr = packed_trace()
    w = tr_widgets.show(tr, batch=0)
    seen = set()
    for t in range(tr.seq_len):
        w.step = t
        seen.add(w.equations.value)
        assert "padding" not in w.controller.caption.value
    assert len(seen) == tr.seq_len  # every step shows its own numbers
