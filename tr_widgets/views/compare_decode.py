"""What a comparison of two decodes shows, beside the outputs' difference: what each run's cache holds, ‖Δ‖ per
tick and per layer (``Comparison.cache_delta_norm``: the KV cache of an attention layer, the fixed-size state of a
state-space mixer), over time, the tick where the runs part marked.

``show(wi)`` of a what-if of token edits (``Edit.token``) whose ``run`` returned the decode (``run = lambda:
tr_widgets.decode(...)``) shows the two decodes that run returned (:func:`shown_comparison`): a token edit is a change
of the decode, read on its own clock, ticks, with both runs' tokens side by side and the caches' difference. The
per-call comparison (each recorded call, one name per tick and layer) stays ``compare(wi.before, wi.after)``. A head
cut or a state patch inside a decode is shown per call: a DecodeTrace derives each tick's attention again from its
q, k, v, without the cut (only the edited call's own trace holds it), and holds a patched state only from the next
tick on (the state it reads after the edited tick is the one before the patch).
Every number here is the comparison's; nothing is computed from the traces.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..engine.decode import DecodeTrace
from ..engine.errors import TraceInputError, describe
from ..i18n import msg
from .looks_text import Frame, Line, LineChartLook

KINDS = ("kv", "state")  # cache_delta_norm's kinds, in the order their panels stand
# a layer's line: a colour (palette name) and a dash, in turn; its legend entry names it
STYLES = tuple((c, d) for d in ("", "4 3", "1 2") for c in ("negative", "positive", "ok", "highlight"))
LAYER_CSS, PARTS_CSS = "tr-cache-layer", "tr-cache-parts"


def is_decode(cmp, name: str | None = None) -> bool:
    """Whether ``cmp`` compares two decodes (its traces are DecodeTraces).

    Example::

        d1, d2 = (tr_widgets.decode(model, p, 3, tokenizer=tok) for p in ("The cat", "The dog"))
        is_decode(tr_widgets.compare(d1, d2)) == True
    """
    return isinstance(cmp.traces(name)[0], DecodeTrace)


def shown_comparison(cmp):
    """The comparison a CompareStepper shows for ``cmp``: the two decodes a what-if's ``run`` returned, when its
    edits are all ``Edit.token`` and it returned DecodeTraces (their edits kept), else ``cmp`` itself. A what-if
    with ``Edit.token`` whose run returned something else, or with other edits too, is shown per call, with a
    warning saying why and how to see the decodes.

    Example::

        wi = tr_widgets.what_if(model, lambda: tr_widgets.decode(model, "The cat sat", 5, tokenizer=tok),
                                tr_widgets.Edit.token(2, "dog"))
        shown_comparison(wi).word() == "tick"     # the decodes, tick by tick
    """
    from ..engine.whatif.compare import Comparison

    a, b = cmp.before_output, cmp.after_output
    kinds = {e.kind for e in cmp.edits}
    if is_decode(cmp) or "token" not in kinds:
        return cmp
    if kinds != {"token"}:
        warnings.warn(f"show: the what-if's edits {sorted(kinds)} are shown per recorded call: a DecodeTrace's "
                      "per-tick attention does not hold a head cut, nor its state a patch at the edited tick. The "
                      "tokens and caches of the two decodes: show(tr_widgets.compare(wi.before_output, "
                      "wi.after_output))", stacklevel=3)
        return cmp
    if isinstance(a, DecodeTrace) and isinstance(b, DecodeTrace):
        try:
            return Comparison(a, b, edits=cmp.edits, atol=cmp.atol)
        except TraceInputError as e:
            warnings.warn(f"show: the two decodes the what-if's run returned cannot be compared tick by tick ({e}); "
                          "each recorded call's comparison is shown instead", stacklevel=3)
            return cmp
    warnings.warn(f"show: the what-if's run returned {describe(a)}, not the DecodeTrace, so each recorded call's "
                  "comparison is shown, not the two decodes. Fix: return the decode from run, e.g. run = lambda: "
                  "tr_widgets.decode(model, prompt, 8, tokenizer=tok)", stacklevel=3)
    return cmp


def cache_kinds(cmp, name: str | None = None) -> list[str]:
    """The kinds of cache the compared decodes hold: ``"kv"`` (attention layers), ``"state"`` (state mixers), or
    none for a comparison of other runs.

    Example::

        d1, d2 = (tr_widgets.decode(model, p, 3, tokenizer=tok) for p in ("The cat", "The dog"))
        cache_kinds(tr_widgets.compare(d1, d2)) == ["kv"]   # the tiny GPT: attention layers only
    """
    if not is_decode(cmp, name):
        return []
    tr = cmp.traces(name)[0]
    return [k for k, n in zip(KINDS, (tr.num_layers, tr.num_state_layers)) if n]


def cache_norms(cmp, kind: str, name: str | None = None) -> np.ndarray:
    """``Comparison.cache_delta_norm(kind)`` as float64 numpy ``[ticks, layers]`` (the engine's numbers, as they are).

    Example::

        d1, d2 = (tr_widgets.decode(model, p, 3, tokenizer=tok) for p in ("The cat", "The dog"))
        cache_norms(tr_widgets.compare(d1, d2), "kv").shape == (len(d1), d1.num_layers)
    """
    return cmp.cache_delta_norm(kind, name).numpy()


def cache_chart(cmp, kind: str, t: int, name: str | None = None, width: int = 300,
                height: int = 120) -> LineChartLook:
    """‖Δ‖ of each layer's cache per tick as a line chart's Look: a line per layer (``STYLES`` in turn, class
    ``tr-cache-layer``), from 0 to the largest ‖Δ‖, the current tick ``t`` marked, and where the runs part
    (``first_difference``: the first tick whose output differs) as a dashed upright line (``tr-cache-parts``).

    Example::

        d1, d2 = (tr_widgets.decode(model, p, 4, tokenizer=tok) for p in ("The cat", "The dog"))
        look = cache_chart(tr_widgets.compare(d1, d2), "kv", 3)
        [ln.values[3] for ln in look.lines if ln.css == "tr-cache-layer"]  # each layer's ‖ΔK, ΔV‖ after tick 3
        look.current == 3
    """
    d = cache_norms(cmp, kind, name)  # [T, L]
    T = d.shape[0]
    fin = d[np.isfinite(d)]
    hi = float(fin.max()) if fin.size and fin.max() > 0 else 1.0
    frame = Frame(n=T, lo=0.0, hi=hi, width=width, height=height, left=52, tick=lambda v: f"{v:.3g}")
    lines = [Line(range(T), d[:, layer], *STYLES[layer % len(STYLES)], css=LAYER_CSS, dot=True)
             for layer in range(d.shape[1])]
    parts = cmp.first_difference(name)
    if parts is not None:
        lines.append(Line((parts, parts), (0.0, hi), "fg-muted", dash="2 2", css=PARTS_CSS))
    return LineChartLook(frame, tuple(lines), min(max(int(t), 0), T - 1), T - 1, msg("compare.cache_aria"))


def cache_legend(cmp, kind: str, t: int, name: str | None = None) -> list[tuple[tuple[str, str], str]]:
    """Each layer's line style and its words at tick ``t``: ``((colour, dash), "layer 0: 9.958")``.

    Example::

        d1, d2 = (tr_widgets.decode(model, "The cat", 3, tokenizer=tok) for _ in range(2))
        cache_legend(tr_widgets.compare(d1, d2), "kv", 0)[0][1] == "layer 0: 0"   # the same decode twice
    """
    d = cache_norms(cmp, kind, name)
    t = min(max(int(t), 0), d.shape[0] - 1)
    return [(STYLES[layer % len(STYLES)], msg("compare.cache_layer", layer=layer, norm=f"{d[t, layer]:.4g}"))
            for layer in range(d.shape[1])]


def fed_positions(tr: DecodeTrace) -> set[int]:
    """The positions of the tokens an edit fed (``DecodeTrace.forced``: tick t's fed token sits at its query).

    Example::

        wi = tr_widgets.what_if(model, lambda: tr_widgets.decode(model, "The cat sat", 4, tokenizer=tok),
                                tr_widgets.Edit.token(2, "dog"))
        fed_positions(wi.after_output) == {wi.after_output.ticks[2].query_position}   # 'dog' sits there
    """
    return {tr.ticks[int(tick)].query_position for tick, _ in getattr(tr, "forced", ()) or ()}


def fed_note(cmp, name: str | None = None) -> str:
    """A line naming each token an edit fed, in the after run (``""`` when none did).

    Example::

        wi = tr_widgets.what_if(model, lambda: tr_widgets.decode(model, "The cat sat", 4, tokenizer=tok),
                                tr_widgets.Edit.token(2, "dog"))
        fed_note(shown_comparison(wi)).startswith("✎ tick 2 is fed 'dog' by the edit") == True
    """
    tr = cmp.traces(name)[1]
    if not isinstance(tr, DecodeTrace):
        return ""
    toks = list(tr.tokens)
    return "; ".join(msg("compare.tokens_fed", t=int(tick), token=repr(toks[tr.ticks[int(tick)].query_position]),
                         prev=int(tick) - 1) for tick, _ in tr.forced or ())


def kv_rows(cmp, t: int, name: str | None = None) -> tuple[np.ndarray, int]:
    """``Comparison.kv_delta_by_position(t)`` as float32 numpy ``[positions]`` (what a bar chart holds), and the
    position to mark: the first token an edit fed up to tick ``t`` (-1: none).

    Example::

        wi = tr_widgets.what_if(model, lambda: tr_widgets.decode(model, "The cat sat", 4, tokenizer=tok),
                                tr_widgets.Edit.token(2, "dog"))
        rows, fed = kv_rows(shown_comparison(wi), 3)
        bool((rows[:fed] == 0).all() and (rows[fed:] > 0).all()) == True   # apart from the fed token on
    """
    tr = cmp.traces(name)[1]
    t = min(max(int(t), 0), len(tr) - 1)
    fed = sorted(tr.ticks[int(tick)].query_position for tick, _ in tr.forced or () if int(tick) <= t)
    return cmp.kv_delta_by_position(t, name).numpy().astype(np.float32), (fed[0] if fed else -1)
