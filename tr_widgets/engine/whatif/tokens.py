"""Token edits on a decode (``Edit.token(tick, token)``): the token fed at a tick replaced, the decode going on.

Tick t of a decode (``DecodeTrace.ticks[t]``) is fed the token tick t − 1 chose (tick 0: the prompt). A token
edit at tick t puts another token there: in the sequence, in what tick t − 1 records as its token (``Tick.token_id``,
its ``topk_*`` still what the model preferred) and in the trace's ``forced`` list. The edited decode is the
model's own decode from the changed sequence (greedy, or sampling with the seeded generator where it stood).

How, without touching the model: ``decode`` asks a :class:`Steer` (``decode.build.STEER``, a context variable
set only for a what-if's runs) at its start (``begin``), after every tick (``tick``) and at its end (``end``).

* The baseline run (mode ``record``) copies what the decode holds after tick t − 1 of the first edited tick: the
  sequence, the cache (``copy.deepcopy``), what the Recording kept, the generator's state, and how many calls
  the run's capture had recorded by then. A model keeping state on its modules (a tensor attribute, e.g.
  RecurrentGemma's ``rg_lru.recurrent_states``) or a cache that cannot be copied gets no copy.
* The edited run (mode ``edit``) restarts from that copy with the token replaced: ticks 0..t−1 are the baseline's
  (not run again) and the after-capture gets the baseline's calls of those ticks (``splice``). Without a copy
  (none made; other edits in the same what-if, which count the module's calls from tick 0; another decode)
  the whole decode runs again and the token is replaced after tick t − 1: the same result, at full cost.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
from dataclasses import dataclass

import torch

from ..decode.build import STEER
from ..errors import fail


@dataclass
class Resume:
    """What a decode held after tick ``tick - 1`` (a baseline's), to restart from at ``tick``.

    Example::

        steer = Steer([tr_widgets.Edit.token(2, "dog")])
        with steering(steer):
            tr_widgets.decode(model, "The cat sat on the", 4, tokenizer=tok)
        (steer.resume.tick, steer.resume.seq.shape[1]) == (2, 7)  # the prompt's 5 tokens and ticks 0-1's
    """

    key: tuple
    tick: int
    seq: torch.Tensor
    past: object
    rec: dict
    gen: torch.Tensor | None
    entries: int | None  # calls the run's capture had recorded by then


def _copy(state: dict) -> dict:
    """A Recording's attributes, its lists and dicts copied (the tensors they hold are never changed)."""
    return {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else
                v.clone() if isinstance(v, torch.Tensor) else v) for k, v in state.items()}


def _vocab(model) -> int | None:
    """The ids the model embeds (its input embedding's rows, or ``config.vocab_size``), or None if unknown."""
    get = getattr(model, "get_input_embeddings", None)
    n = getattr(get() if callable(get) else None, "num_embeddings", None)
    n = n if isinstance(n, int) else getattr(getattr(model, "config", None), "vocab_size", None)
    return n if isinstance(n, int) and n > 0 else None


def _keeps_state_on_modules(model) -> bool:
    return any(isinstance(v, torch.Tensor) for m in model.modules() for v in vars(m).values())


def token_id(edit, tokenizer, vocab) -> int:
    """The id ``edit`` feeds: its int, or the one id ``tokenizer`` encodes its string to; else one TraceInputError.

    Example: ``token_id(Edit.token(2, "dog"), tok, 40) == tok.encode("dog")[0]``
    """
    tok = edit.value
    if isinstance(tok, str):
        if tokenizer is None or not callable(getattr(tokenizer, "encode", None)):
            fail("token", "a token id (an int): this decode has no tokenizer to encode a string", repr(tok),
                 "pass the id, e.g. Edit.token(2, tok.encode('dog')[0]), or decode with tokenizer=tok")
        try:
            ids = list(tokenizer.encode(tok, add_special_tokens=False))
        except TypeError:  # a tokenizer without that option (the tiny model's)
            ids = list(tokenizer.encode(tok))
        if len(ids) != 1:
            fail("token", "a string the decode's tokenizer encodes to exactly one id", f"{tok!r} -> ids {ids}",
                 "pass one token (e.g. with its leading space for a BPE tokenizer), or its id")
        return int(ids[0])
    if vocab is not None and not 0 <= tok < vocab:
        fail("token", f"a token id in [0, {vocab - 1}] (the model's vocabulary)", repr(tok),
             "pass an id the model embeds")
    return int(tok)


class Steer:
    """A what-if's token edits on the decode its run makes (see the module docstring).

    Example::

        steer = Steer([Edit.token(2, "dog")])
        with steering(steer):
            before = tr_widgets.decode(model, "The cat sat on the", 5, tokenizer=tok)  # records a Resume at tick 2
        edited = steer.edited(cheap=True)
        with steering(edited):
            after = tr_widgets.decode(model, "The cat sat on the", 5, tokenizer=tok)  # ticks 2-4 run
        (edited.reused, after.forced) == (2, [[2, tok.encode("dog")[0]]])
    """

    def __init__(self, edits, outer=None):
        self.edits, self.outer, self.mode = list(edits), outer, "record"
        self.first = min(e.steps[0] for e in self.edits)
        self.decodes, self.resume, self.ids, self.applied, self.reused, self.cheap = [], None, None, set(), 0, False
        self.key, self.use_cache, self.ran = None, True, False  # ran: a baseline ran with it (``steering``)

    # -- the decode's calls --------------------------------------------------------------------
    def begin(self, model, ids, tokenizer, opts, rec, gen, past=None):
        key = (id(model), tuple(ids[0].tolist()), opts)
        self.decodes.append((opts[0], tokenizer, _vocab(model)))
        self.key, self.use_cache = key, opts[1]
        if self.mode == "edit" and self.ids is None:
            self.ids = self.check()  # no recorded baseline: checked now, against this decode
        r = self.resume
        if self.mode != "edit" or not self.cheap or r is None or r.key != key or len(self.decodes) > 1:
            return 0, ids, past, ids  # decoded from tick 0, with the cache decode starts from (its own, or None)
        rec.__dict__.update(_copy(r.rec))
        if gen is not None and r.gen is not None:
            gen.set_state(r.gen)
        seq, feed = self._feed(r.tick, r.seq, rec)
        self.reused = r.tick
        return r.tick, seq, copy.deepcopy(r.past), feed  # a copy: the Resume serves every edited run

    def tick(self, model, t, seq, past, feed, rec, gen):
        if len(self.decodes) > 1:
            return seq, feed  # a second decode in the run: refused after the run (``check``, ``done``)
        if self.mode == "record":
            if t == self.first - 1:
                self._keep(model, t, seq, past, rec, gen)
            return seq, feed
        return self._feed(t + 1, seq, rec) if t + 1 in self.ids else (seq, feed)

    def end(self, trace):
        if self.mode != "edit" or len(self.decodes) > 1:
            return trace
        forced = [[t, i] for t, i in sorted(self.ids.items()) if t in self.applied]
        return dataclasses.replace(trace, forced=forced, derived={}) if forced else trace

    # -- what it does ----------------------------------------------------------------------------
    def _feed(self, t, seq, rec):
        """``seq`` with its last token (what tick t − 1 chose) replaced by the edit's, and what tick t is fed."""
        new = torch.full_like(seq[:, -1:], self.ids[t])
        seq = torch.cat([seq[:, :-1], new], dim=1)
        rec.chosen[-1] = new[0, 0]
        self.applied.add(t)
        return seq, (new if self.use_cache else seq)

    def _keep(self, model, t, seq, past, rec, gen):
        if _keeps_state_on_modules(model):
            return  # a state outside the cache: the edited run decodes from the start
        try:
            kept = copy.deepcopy(past)
        except Exception:  # noqa: BLE001 - a cache that cannot be copied: decoded from the start, as exact
            return
        entries = None if self.outer is None else len(self.outer.recorder.entries)
        self.resume = Resume(self.key, t + 1, seq.clone(), kept, _copy(vars(rec)),
                             None if gen is None else gen.get_state(), entries)

    # -- checks ----------------------------------------------------------------------------------
    def check(self) -> dict:
        """{tick: id} of every edit, checked against the one decode the run made; else one TraceInputError."""
        if not self.decodes:
            fail("edits", "Edit.token on a run that calls tr_widgets.decode(...) (it replaces a token a decode feeds)",
                 f"{self.edits[0]!r} on a run that made no decode", "make run decode, e.g. run = lambda: "
                 "tr_widgets.decode(model, prompt, 8, tokenizer=tok); edit a module's call with Edit.state/gate/head")
        if len(self.decodes) > 1:
            fail("edits", "Edit.token on a run that makes one decode", f"a run that made {len(self.decodes)} decodes",
                 "what_if one decode at a time")
        T, tokenizer, vocab = self.decodes[0]
        ids = {}
        for e in self.edits:
            t = e.steps[0]
            if not 1 <= t < T:
                fail("tick", f"a tick in [1, {T - 1}] (tick t is fed the token tick t − 1 chose; tick 0 the prompt)",
                     repr(t), "pick a later tick, or change the prompt and compare two decodes"
                     if t == 0 else f"pick a tick the decode made (max_new_tokens={T})")
            if t in ids:
                fail("edits", "one Edit.token per tick", f"two at tick {t}", "keep one of them")
            ids[t] = token_id(e, tokenizer, vocab)
        return ids

    def edited(self, cheap: bool) -> "Steer":
        """The steer of the edited run: the edits checked, restarting from the recorded tick where ``cheap``."""
        s = Steer(self.edits, self.outer)
        s.mode, s.ids, s.resume, s.cheap = "edit", self.check() if self.ran else None, self.resume, cheap
        return s

    def done(self, after) -> None:
        """After the edited run: every edited tick was fed; the after-capture gets the baseline's reused calls."""
        missed = sorted(set(self.ids or ()) - self.applied)
        if missed or len(self.decodes) != 1:
            fail("edits", "Edit.token on the same decode in the edited run (one decode, as long as the baseline's)",
                 f"ticks {missed} never fed" if missed else f"{len(self.decodes)} decodes",
                 "make run() decode the same prompt the same way each time")
        if self.reused and after is not None and self.resume.entries is not None:
            splice(self.outer, after, self.resume.entries)


def splice(before, after, n: int) -> None:
    """Put ``before``'s first ``n`` recorded calls (the reused ticks') in front of ``after``'s, so both Captures
    name the same calls alike (``h.0.attn#3`` is tick 2's in both).

    Example::

        with tr_widgets.capture(lstm) as before:
            lstm(x), lstm(x)
        with tr_widgets.capture(lstm) as after:
            lstm(x)                    # the second call only
        splice(before, after, 1)
        after.names == ["LSTM", "LSTM#2"]
    """
    before.traces  # noqa: B018 - every call traced and named
    after.recorder.entries[:0] = [copy.copy(e) for e in before.recorder.entries[:n]]


def of(edits, outer=None) -> Steer | None:
    """The Steer of ``edits``' token edits, or None. Example: ``of([Edit.state("lstm", 2, 0.0)]) is None``"""
    tokens = [e for e in edits if e.kind == "token"]
    return Steer(tokens, outer) if tokens else None


@contextlib.contextmanager
def steering(steer: Steer | None):
    """``decode`` calls ``steer`` while the block runs (nothing when None).

    Example::

        with steering(Steer([tr_widgets.Edit.token(1, 5)])):  # a baseline: the decode notes tick 0's cache
            d = tr_widgets.decode(model, "The cat", 3, tokenizer=tok)
        d.forced == []
    """
    if steer is None:
        yield
        return
    token = STEER.set(steer)
    try:
        yield
        steer.ran = True
    finally:
        STEER.reset(token)

