"""A saved step shows what the screen shows (issue 21): the static snapshot of an LSTM step draws every gate on
one scale, the one computed here from torch's own gate equations, and a decode step's timings carry their unit.
Before, the snapshot drew each gate on its own scale, 48 px high where the live charts are 40."""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import torch

import tr_widgets
from tr_widgets.views import palette
from tr_widgets.views.looks import CHART_H
from tr_widgets.views.svg import paint
from tr_widgets.widgets import show

SVG = "{http://www.w3.org/2000/svg}"


def _charts(snapshot: str) -> dict[str, tuple[list[str], list[float]]]:
    """name -> (axis texts, bar heights) of each chart in a bar panel's inline SVG snapshot."""
    svg = snapshot[snapshot.index("<svg"):snapshot.rindex("</svg>") + 6]
    panel = ET.fromstring(svg).find(SVG + "g")
    out, name, axis = {}, None, []
    for node in panel:
        if node.tag == SVG + "text" and node.get("text-anchor") == "end":
            axis.append(node.text)
        elif node.tag == SVG + "text" and node.get("fill") == palette.light_theme()["fg"] and node.get("y") != "13":
            name, axis = node.text, []  # a chart's name (the title is the text at y = 13)
        elif node.tag == SVG + "g":
            rects = list(node.iter(SVG + "rect"))
            assert rects[0].get("height") == str(CHART_H)  # the live chart's height
            out[name] = (axis, [float(r.get("height")) for r in rects[1:-1] if r.get("fill") != "none"])
    return out


def _gates_at(lstm: torch.nn.LSTM, x: torch.Tensor, t: int) -> torch.Tensor:
    """i, f, g, o [4, H] at step t of batch 0, from torch's LSTM equations and its own h_{t-1}."""
    with torch.no_grad():
        h = lstm(x[:t])[1][0][0, 0] if t else torch.zeros(lstm.hidden_size)
        pre = x[t, 0] @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + h @ lstm.weight_hh_l0.T + lstm.bias_hh_l0
        i, f, g, o = pre.chunk(4)
        return torch.stack([i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()])


def test_a_saved_lstm_step_shows_every_gate_on_one_scale():
    torch.manual_seed(3)
    lstm, x, t = torch.nn.LSTM(2, 6), torch.randn(5, 1, 2), 2
    w = show(tr_widgets.trace_recurrent(lstm, x), step=t, progress=False)
    gates = _gates_at(lstm, x, t)
    top = float(gates.abs().max())
    charts = _charts(w.flow._repr_mimebundle_()["text/html"])
    gate_names = [n for n, g in zip(w.flow.names, w.flow.scale_groups) if g]
    assert len(gate_names) == 4
    label = f"{top:.3g}"
    room = CHART_H // 2 - 2  # g = tanh is signed: the group is drawn about a middle zero line
    shown = 0
    for name, row in zip(gate_names, gates):
        axis, heights = charts[name]
        assert axis in ([f"+{label}", "0", f"\u2212{label}"], []), name  # one axis for all four (or its neighbour's)
        shown += bool(axis)
        expected = [max(1, math.floor(abs(float(v)) / top * room + 0.5)) for v in row]
        assert all(abs(a - b) <= 1 for a, b in zip(heights, expected)), (name, heights, expected)
    assert shown == 2  # two abreast: the right chart of each pair repeats no axis
    assert max(max(charts[n][1]) for n in gate_names) == room  # only the largest gate value fills its chart


def test_a_saved_decode_step_shows_its_timings_with_their_unit():
    model, tok = tr_widgets.load_tiny()
    w = show(tr_widgets.decode(model, "the cat", 3, tokenizer=tok), progress=False)
    times = w.times
    charts = _charts(times._repr_mimebundle_()["text/html"])
    for name, unit, values in zip(times.names, times.units, times.series().values()):
        axis, _ = charts[name]
        assert unit and axis[0] == f"{float(abs(values).max()):.3g} {unit}"  # never negative: 0 … max


def test_a_step_set_from_its_frame_saves_that_step():
    """Frames set only the synced traits (the Look's fields); the picture is painted from them, so a step the
    browser stepped to (and Python followed from its recorded frame) saves as that step, not the last drawn."""
    torch.manual_seed(4)
    trace = tr_widgets.trace_gradients(torch.nn.LSTM(2, 3), torch.randn(7, 1, 2), lambda out: out[0][-1].sum())
    stepped, fresh = show(trace, progress=False), show(trace, step=3, progress=False)
    stepped.step = 3  # from the recorded frame: no redraw
    for a, b in ((stepped.flow, fresh.flow), (stepped.gains, fresh.gains)):
        assert a.snapshot_svg() == b.snapshot_svg()
    for a, b in ((stepped.norms, fresh.norms), (stepped.controller.caption, fresh.controller.caption)):
        assert a.looks and [paint(x) for x in a.looks] == [paint(x) for x in b.looks]  # the panels' Looks follow too
