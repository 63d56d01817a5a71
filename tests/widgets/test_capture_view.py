"""show(rec): what capture(model) recorded, one dropdown of names above the chosen stepper."""
import pytest
import torch
from torch import nn

import tr_widgets
from tr_widgets.widgets import AttentionStepper, CaptureView, RecurrentStepper


@pytest.fixture
def rec():
    torch.manual_seed(0)
    model = nn.ModuleDict({"rnn": nn.GRU(3, 4), "attn": nn.MultiheadAttention(4, 2)}).eval()
    x = torch.randn(5, 1, 3)
    with tr_widgets.capture(model) as rec:
        h, _ = model["rnn"](x)
        model["attn"](h, h, h)
    return rec


def test_show_of_a_capture_chooses_among_its_traces(rec):
    view = tr_widgets.show(rec, progress=False)
    assert isinstance(view, CaptureView) and list(view.chooser.options) == ["rnn", "attn"]
    assert isinstance(view.stepper, RecurrentStepper)
    view.choose("attn")
    assert isinstance(view.stepper, AttentionStepper) and view.children[1] is view.stepper
    with pytest.raises(tr_widgets.TraceInputError, match="name: expected one of"):
        view.choose("nope")


def test_snapshot_names_the_modules_and_shows_the_chosen_view(rec):
    view = tr_widgets.show(rec, progress=False)
    bundle = view._repr_mimebundle_()
    assert bundle["text/plain"] == repr(view) and "0x" not in repr(view)
    assert "<b>rnn</b>" in bundle["text/html"] and view.stepper.snapshot_html() in bundle["text/html"]
    assert bundle == view._repr_mimebundle_() or bundle["text/html"] == view._repr_mimebundle_()["text/html"]


def test_an_empty_capture_says_what_is_supported():
    with tr_widgets.capture(nn.Linear(2, 2)) as rec:
        nn.Linear(2, 2)(torch.randn(1, 2))
    with pytest.raises(tr_widgets.TraceInputError, match="nn.LSTM"):
        tr_widgets.show(rec)
