"""what_if(model, run, *edits): the run recorded twice, without and with the edits, compared step by step.

1. ``run`` runs under ``capture(model)``: the baseline (``before``) and what the edits are checked against;
2. every edit is checked against its recorded trace (``targets``): a bad one raises one TraceInputError before
   anything is installed, so the model is untouched;
3. the edits are installed on the recorded modules (``apply.Interventions``) and ``run`` runs again under a
   second capture (``after``): the model's own forward with the edits applied. A recurrent module restarts
   from the recorded state at the first edited step, so only steps from there on run again; a decode with a
   token edit restarts from the cache its baseline copied (``tokens``);
4. everything installed is removed, whatever happened (the model's hook tables, forwards and weights are
   checked against what they were), and the after-run's trace of each edited call is the one that call really
   computed (``Target.finish``).

What each recorded kind takes (the table ``targets.TARGETS``):

- RecurrentTrace (nn.RNN/LSTM/GRU called once over the sequence, one layer, one direction; their cells called
  per step): ``Edit.state`` (h, or an LSTM's (h, c)) and ``Edit.gate`` (the spec's gates: LSTM i/f/g/o, GRU
  r/z/n; an RNN has none). Multi-layer, bidirectional, projected and packed modules are refused.
- LoopTrace of a module called once per step: ``Edit.state`` (its output, the state it carries); a quantity
  inside such a cell is refused with a Fix. A loop of tensor operations inside one forward (d2l's scratch
  models): ``Edit.state`` and ``Edit.gate`` on any variable its step assigns (``F``, ``C_tilde``), written right
  after the statement that assigns it (``inline``; capture's fast line tracer reads the loop's later steps after
  the edit's tracer, so the edited run costs about one capture).
- AttentionTrace (SDPA calls, Hugging Face sdpa attention, nn.MultiheadAttention, inside a decode too: one name
  per tick): ``Edit.head``. Hand-written (eager) attention is not editable yet.
- StateTrace (Mamba, Mamba-2, RWKV, Gated DeltaNet mixers): ``Edit.state`` of a call's last step, written into
  the cache the next call reads (a decode's ticks). A step inside a multi-token call is refused.
- A decode (``run`` calls ``tr_widgets.decode`` once): ``Edit.token(tick, token)``, the token fed at that tick
  (``tokens``). The edited decode restarts from the baseline's cache after tick − 1 (copied while the baseline
  ran), so ticks before the edit are not run again and their calls are the baseline's in ``after``; a model keeping
  state on its modules, an uncopyable cache, or token edits mixed with other edits decode again from tick 0
  (the same result, at full cost). Compare the decodes themselves with ``compare(wi.before_output,
  wi.after_output)``: tokens side by side, and ``cache_delta_norm`` (KV cache / SSM state ‖Δ‖ per tick).
- Not supported: a token edit at tick 0 (it is fed the whole prompt: decode two prompts and ``compare``); a run
  making more than one decode (refused: which one is meant?); a token edit on a generation loop of the user's own
  or Hugging Face ``generate`` (only ``tr_widgets.decode`` is steered: the run is refused as making no decode).
"""
from __future__ import annotations

from torch import nn

from ..capture import capture
from ..decode import DecodeTrace
from ..errors import describe, fail
from . import heads, tokens
from .apply import Interventions
from .compare import Comparison
from .edits import Edit
from .targets import target_of


def _check_args(model, run, edits) -> None:
    if not isinstance(model, nn.Module):
        fail("model", "the nn.Module that run() calls", describe(model), "pass the model, e.g. what_if(model, run, edit)")
    if not callable(run):
        fail("run", "a function of no arguments that runs the model (like the body of a capture block)",
             describe(run), "pass e.g. lambda: model(x)")
    if not edits:
        fail("edits", "one or more tr_widgets.Edit", "none", "pass e.g. tr_widgets.Edit.state('lstm', 3, 0.0)")
    for i, e in enumerate(edits):
        if not isinstance(e, Edit):
            fail(f"edits[{i}]", "a tr_widgets.Edit (Edit.state, Edit.gate, Edit.head or Edit.token)", describe(e),
                 "make it with tr_widgets.Edit.state(name, step, value)")


def _sites(rec, edits) -> list:
    """[(entry, trace, target, edits on it, call)] for every edited name, each edit checked."""
    rec.traces  # noqa: B018 - builds every trace (and names them)
    by_name = {}
    for e in edits:
        if e.kind == "token":
            continue  # the decode's, not a module's: tokens.Steer
        by_name.setdefault(e.name, []).append(e)
    sites = []
    for name, group in by_name.items():
        trace = rec[name]  # a name not recorded: TraceNameError, listing the names that were
        for e in group:
            target = target_of(trace, e)
        entry = next(x for x in rec.recorder.entries if x.trace is trace)
        same = [x for x in rec.recorder.entries if x.trace is not None and x.module is entry.module]
        if target.once and len(same) > 1:
            fail("name", f"a module recorded once in the run ({name!r}'s module was recorded {len(same)} times: "
                 f"{[x.trace.name for x in same]})", repr(name), "edit a run that calls the module once")
        target.check(group, trace)
        sites.append((entry, trace, target, group, same.index(entry)))
    return sites


def what_if(model: nn.Module, run, *edits: Edit) -> Comparison:
    """Run ``run`` twice under ``capture(model)``, without and with ``edits``, and compare the two runs.

    ``run``: a no-argument function that runs the model (what a capture block's body does); what it returns
    is kept as ``before_output`` / ``after_output``. The result is a Comparison: ``before`` and ``after``
    (Captures), ``diverges_at`` (per recorded name, the first step whose output differs, or None).

    Example::

        lstm = torch.nn.LSTM(2, 4); x = torch.randn(6, 1, 2)
        wi = tr_widgets.what_if(lstm, lambda: lstm(x)[0], tr_widgets.Edit.gate("LSTM", "f", [2, 3], 1.0))
        wi.diverges_at == {"LSTM": 2}                          # steps 0-1 as before, step 2 on differ
        torch.equal(wi.after_output[:2], wi.before_output[:2])  # the edited run reused them
    """
    _check_args(model, run, edits)
    with capture(model) as before:
        steer = tokens.of(edits, before)  # token edits: the decode notes where the edited run can restart
        with tokens.steering(steer):
            before_output = run()
    after, after_output = run_edited(model, run, before, edits, steer)
    return Comparison(before, after, before_output, after_output, edits)


def run_edited(model: nn.Module, run, before, edits, steer=None) -> tuple:
    """``(after, after_output)``: ``run`` under a capture with ``edits`` installed, checked against ``before``
    (a capture of the same run). This is the what-if's own cost (``benchmarks/bench_what_if.py`` times it).
    ``steer``: the ``tokens.Steer`` that ran with the baseline (token edits restart from where it noted;
    without it a decode runs again from tick 0).

    Example::

        with tr_widgets.capture(lstm) as before:
            lstm(x)
        after, out = run_edited(lstm, lambda: lstm(x)[0].detach(), before, [Edit.state("LSTM", 4, 0.0)])
        float(out[4].abs().sum()) == 0.0 and after.names == ["LSTM"]
    """
    sites = _sites(before, edits)
    others = any(e.kind != "token" for e in edits)  # they count their module's calls from tick 0: no restart
    base = steer if steer is not None else tokens.of(edits)
    steer = None if base is None else base.edited(cheap=not others)  # checked against the baseline's decode
    installed = []
    with Interventions(model) as iv:
        for entry, trace, target, group, call in sites:
            installed.append(target.install(iv, entry.module, trace, group, call))
        with capture(model) as after, tokens.steering(steer):
            after_output = run()
        if steer is not None:
            steer.done(after)  # every edited tick fed; the reused ticks' calls put in front of after's
        _finish(after, sites, installed)  # traces built while the edits are on: a replayed step is edited too
        if isinstance(after_output, DecodeTrace):
            heads.into_decode(after_output, after, sites)  # its ticks' attention: the weights the edited calls used
    for (entry, trace, target, group, call), done in zip(sites, installed):
        if not done.applied:
            fail("edits", f"edits on calls the run makes again ({trace.name!r} is recorded in the first run)"
                 + getattr(done, "expects", ""),
                 f"{group[0]!r}: the edited run did not make that call (or not as far as the edited step)",
                 getattr(done, "fix", "make run() call the model the same way each time"))
    return after, after_output


def _finish(after, sites, installed) -> None:
    """Each edited call's after-trace becomes the trace of what it computed (``Target.finish``)."""
    if not any(done.finishes for done in installed):
        return  # nothing to put in: the traces are built when first read, as any capture's
    traces = dict(after.traces)
    for (entry, trace, target, group, call), done in zip(sites, installed):
        old = traces.get(trace.name)
        if old is None:
            continue  # the edited run did not call it the same way: the Comparison says so
        new = target.finish(old, done, group)
        if new is not old:
            for e in after.recorder.entries:
                if e.trace is old:
                    e.trace = new  # the record's trace of this call: the one it really computed
