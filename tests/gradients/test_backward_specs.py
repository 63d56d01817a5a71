"""The gradient spec table: one entry per cell kind, keyed by the kind's spec; no branch on a kind's name."""
import dataclasses
import pathlib
import re

import pytest
from torch import nn

import tr_widgets
from tr_widgets.engine.errors import TraceInputError
from tr_widgets.engine.gradients.backward import BACKWARD, backward_of, gate_blocks
from tr_widgets.engine.recurrent import KINDS, kind_of

MODULES = [nn.RNN(2, 3), nn.RNN(2, 3, nonlinearity="relu"), nn.LSTM(2, 3), nn.GRU(2, 3)]
PACKAGE = pathlib.Path(tr_widgets.__file__).parent


@pytest.mark.parametrize("module", MODULES, ids=lambda m: type(m).__name__)
def test_every_torch_kind_has_its_own_gradient_spec(module):
    spec = kind_of(module)
    assert backward_of(spec) is BACKWARD[spec]
    assert gate_blocks(spec) * module.hidden_size == module.weight_hh_l0.shape[0]


def test_the_two_plain_rnns_differ_in_their_derivative_only():
    tanh, relu = BACKWARD[KINDS["rnn_tanh"]], BACKWARD[KINDS["rnn_relu"]]
    assert tanh.factors is not relu.factors and tanh.loop is relu.loop and tanh.carry is relu.carry


def test_a_kind_without_a_gradient_spec_is_refused_clearly():
    mine = dataclasses.replace(KINDS["gru"], name="my_gru")
    with pytest.raises(TraceInputError, match="my_gru"):
        backward_of(mine)


def test_no_layer_branches_on_a_kinds_name():
    names = r"(==|!=|in) *\(?[\"'](lstm|gru|rnn_tanh|rnn_relu|rnn)[\"']"
    hits = [f"{path.relative_to(PACKAGE)}:{i}" for sub in ("engine", "views", "widgets")
            for path in (PACKAGE / sub).rglob("*.py")
            for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if re.search(names, line)]
    assert not hits, hits
