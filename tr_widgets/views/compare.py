"""What a comparison view shows, as numpy: two runs of one thing (a :class:`~tr_widgets.engine.whatif.compare.
Comparison`) on one clock.

The difference is never left to the eye: after − before of every step's output is its own units × steps matrix
(a diverging map with its own colour bar, the step where the runs part marked), ‖Δ‖ per step is a line chart
(the change growing, fading or carried), and a step's outputs of both runs stand as bars beside their difference.
A decode's two runs show their tokens side by side. The numbers are the comparison's (``delta``, ``delta_norm``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..i18n import msg
from .compare_decode import fed_positions
from .looks_text import Cell, Frame, Line, LineChartLook
from .matrix import to_numpy
from .recurrent import fmt


WORDS = {"t": "compare.word_t", "i": "compare.word_i", "tick": "compare.word_tick"}  # a step's name, per language


def step_word(word: str) -> str:
    """What a step is called on screen, in the active language ("t", "i", or a decode's "tick").

    Example: ``step_word("tick") == "tick"   # "拍" in Chinese``
    """
    return msg(WORDS[word]) if word in WORDS else word


def compare_axes(cmp) -> list[tuple[str, list[str]]]:
    """The selector of the compared name (a Capture's recorded names), when there is more than one.

    Example::

        from tr_widgets.engine.whatif import compare
        rnn = torch.nn.RNN(2, 3)
        a, b = (tr_widgets.trace_recurrent(rnn, torch.randn(4, 1, 2)) for _ in range(2))
        cmp = compare(a, b)
        compare_axes(cmp) == []          # one name: nothing to choose
    """
    return [("name", list(cmp.names))] if len(cmp.names) > 1 else []


def delta_matrix(cmp, name: str | None = None) -> np.ndarray:
    """after − before of every step's output as a units × steps float32 matrix ``[N, T]`` (column t: step t).

    Example::

        from tr_widgets.engine.whatif import compare
        rnn = torch.nn.RNN(2, 3); x = torch.randn(4, 1, 2)
        cmp = compare(tr_widgets.trace_recurrent(rnn, x), tr_widgets.trace_recurrent(rnn, x + 1))
        delta_matrix(cmp).shape == (3, 4)     # 3 units, 4 steps
    """
    return np.ascontiguousarray(to_numpy(cmp.delta(name)).T)  # [T, N] -> [N, T]


def norm_series(cmp, name: str | None = None) -> np.ndarray:
    """‖after − before‖ of each step's output, float32 ``[T]``.

    Example::

        from tr_widgets.engine.whatif import compare
        rnn = torch.nn.RNN(2, 3); x = torch.randn(4, 1, 2)
        cmp = compare(tr_widgets.trace_recurrent(rnn, x), tr_widgets.trace_recurrent(rnn, x))
        norm_series(cmp).tolist() == [0.0, 0.0, 0.0, 0.0]     # the same run twice: no difference
    """
    return to_numpy(cmp.delta_norm(name)).astype(np.float32)


@dataclass(frozen=True, eq=False)
class CompareStepView:
    """One step of one compared name: the step ``t`` (clamped to the name's steps), what a step is called,
    the step where the runs part (None: never), ‖Δ‖ and the largest |Δ| at ``t``, and the two runs' outputs
    and their difference at ``t`` (float32, at most ``max_bars`` values each; ``cut``: how many there were).

    Example::

        from tr_widgets.engine.whatif import compare
        rnn = torch.nn.RNN(2, 3); x = torch.randn(4, 1, 2); x2 = x.clone(); x2[2] += 1
        sv = step_view(compare(tr_widgets.trace_recurrent(rnn, x), tr_widgets.trace_recurrent(rnn, x2)), None, 3)
        (sv.t, sv.parts) == (3, 2)
    """

    name: str
    t: int
    steps: int
    word: str
    parts: int | None
    norm: float
    largest: float
    before: np.ndarray
    after: np.ndarray
    delta: np.ndarray
    cut: int


def step_view(cmp, name: str | None, t: int, max_bars: int = 128) -> CompareStepView:
    """Step ``t`` of ``name`` (default: the first; ``t`` past its last step shows its last) as a
    :class:`CompareStepView`.

    Example::

        from tr_widgets.engine.whatif import compare
        rnn = torch.nn.RNN(2, 3); x = torch.randn(4, 1, 2)
        cmp = compare(tr_widgets.trace_recurrent(rnn, x), tr_widgets.trace_recurrent(rnn, x + 1))
        step_view(cmp, None, 9).t == 3      # clamped to the last step
    """
    b, a = cmp.outputs(name)
    steps = int(b.shape[0])
    t = min(max(int(t), 0), steps - 1)
    d = to_numpy(cmp.delta(name)[t])  # [N]
    fin = np.abs(d[np.isfinite(d)])
    n = min(d.size, max_bars)
    return CompareStepView(name or cmp.names[0], t, steps, step_word(cmp.word(name)), cmp.first_difference(name),
                           float(to_numpy(cmp.delta_norm(name)[t])), float(fin.max()) if fin.size else 0.0,
                           to_numpy(b[t])[:n], to_numpy(a[t])[:n], d[:n], d.size)


def summary(sv: CompareStepView, edits=()) -> list[str]:
    """The lines above the panels: where the runs part (or that they never do), this step's ‖Δ‖ and largest
    |Δ|, and the edits that made the second run (their reprs).

    Example::

        from tr_widgets.engine.whatif import compare
        rnn = torch.nn.RNN(2, 3); x = torch.randn(4, 1, 2)
        cmp = compare(tr_widgets.trace_recurrent(rnn, x), tr_widgets.trace_recurrent(rnn, x))
        summary(step_view(cmp, None, 0))[0] == "the two runs never part: every step's output is the same"
    """
    w, last = sv.word, sv.steps - 1
    lines = [msg("compare.part_at", word=w, t=sv.parts, last=last) if sv.parts is not None else msg("compare.never")]
    lines.append(msg("compare.at_step", word=w, t=sv.t, norm=fmt(sv.norm), largest=fmt(sv.largest)))
    if edits:
        lines.append(msg("compare.edits", edits="; ".join(repr(e) for e in edits)))
    return lines


def norm_chart(norms: np.ndarray, t: int, parts: int | None, width: int = 300, height: int = 120,
               max_points: int = 256) -> LineChartLook:
    """‖Δ‖ per step as a line chart's Look: from 0 to the largest ‖Δ‖, the current step marked; the steps before
    the runs part drawn muted (dashed), the rest (from the last equal step) as the difference's line. A long run
    is drawn in at most ``max_points`` bins, each the largest ‖Δ‖ of its steps (a peak is never averaged away).

    Example: ``norm_chart(np.array([0.0, 0.0, 2.0, 1.0], np.float32), 3, 2).frame.hi == 2.0``
    """
    T = len(norms)
    per = -(-T // max_points)  # steps per bin
    if per > 1:
        norms = np.fmax.reduceat(norms, np.arange(0, T, per))  # [bins]: the largest of each bin's steps
        t, parts = t // per, None if parts is None else parts // per
    n = len(norms)
    fin = norms[np.isfinite(norms)]
    hi = float(fin.max()) if fin.size and fin.max() > 0 else 1.0
    frame = Frame(n=n, lo=0.0, hi=hi, width=width, height=height, left=52, tick=lambda v: f"{v:.3g}")
    split = n if parts is None else parts  # the steps before it are equal: ‖Δ‖ = 0 there
    lines = [Line(range(0, split), norms[:split], "fg-muted", dash="4 3")] if split > 0 else []
    if parts is not None:  # solid from the last equal step on, so the rise is drawn as the change
        first = max(split - 1, 0)
        lines.append(Line(range(first, n), norms[first:], "positive", dot=True))
    return LineChartLook(frame, tuple(lines), t, T - 1, msg("compare.norm_aria"))


def token_rows(cmp, name: str | None, t: int, around: int = 8) -> list[list[Cell]] | None:
    """A decode's two runs, token by token, as table rows (positions, before, after) around the token that tick
    ``t`` chose; a token that differs between the runs is written ``≠ token``, one an edit fed (``Edit.token``)
    ``✎ token``. None for a run without tokens.

    Example::

        from tr_widgets.engine.whatif import compare
        model, tok = tr_widgets.load_tiny()
        d1, d2 = (tr_widgets.decode(model, p, 3, tokenizer=tok) for p in ("The cat", "The dog"))
        cmp = compare(d1, d2)
        [c.text for c in token_rows(cmp, None, 0)[2]][:3] == ["after", "The", "≠ dog"]
    """
    toks = cmp.tokens(name)
    if toks is None:
        return None
    before, after = toks
    tr = cmp.traces(name)[0]
    t = min(max(int(t), 0), len(tr.ticks) - 1)
    chosen = tr.ticks[t].query_position + 1  # where tick t's token sits
    lo, hi = max(0, chosen - around), min(max(len(before), len(after)), chosen + 2)
    head = [Cell(msg("compare.col_position"), True)] + [Cell(("▸ " if i == chosen else "") + str(i), True)
                                                        for i in range(lo, hi)]

    def row(label: str, mine: list, other: list, fed: set) -> list[Cell]:
        cells = [Cell(label, True)]
        for i in range(lo, hi):
            tok = repr(mine[i])[1:-1] if i < len(mine) else ""
            differs = i >= len(other) or i >= len(mine) or mine[i] != other[i]
            mark = "✎ " if i in fed and tok else "≠ " if differs and tok else ""
            cells.append(Cell(mark + tok))
        return cells
    fed = [fed_positions(x) for x in cmp.traces(name)]
    return [head, row(msg("compare.before"), before, after, fed[0]), row(msg("compare.after"), after, before, fed[1])]
