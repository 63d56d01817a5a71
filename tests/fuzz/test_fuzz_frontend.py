"""Fuzz show() and the %tr_step magic in a real IPython shell.

show: any trace with any options gives a stepper or one clear TraceInputError naming the option, and the
widget's state can be sent to the browser (JSON in UTF-8). The magic: any line gives the widget, the help,
or one one-line UsageError with "expected", "got" and "Fix"; then the shell still works, the user's
variables are as they were, and nothing of capture is left.
"""
import json
import shlex

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import tr_widgets
from tr_widgets import magic

from . import test_fuzz_attention as fa
from . import test_fuzz_recurrent as fr
from .props import TEXTS, check_error, check_state, fuzz_settings, junk, outcome, quiet, snapshot
from .test_fuzz_capture_decode import make_model, run, tiny

OPTIONS = ["step", "progress", "interval", "window", "overview_px", "frames", "layer", "direction", "batch", "head",
           "dim0", "units", "max_bars", "graph_nodes", "dims", "top_k", "text_tokens", "timeline", "colour"]


def _sendable(widgets) -> None:
    """Every widget's state as the kernel sends it: JSON, encodable as UTF-8 (binary buffers aside)."""
    for wid in widgets:
        state = wid.get_state()
        json.dumps(state, ensure_ascii=False, default=lambda o: None).encode("utf-8")


@st.composite
def any_trace(draw):
    kind = draw(st.sampled_from(["attention", "recurrent", "decode", "capture", "junk"]))
    with quiet():
        if kind == "attention":
            return tr_widgets.trace_attention(**draw(fa.valid_call()))
        if kind == "recurrent":
            return tr_widgets.trace_recurrent(**draw(fr.valid_call()))
        if kind == "decode":
            model, tok = tiny()
            return tr_widgets.decode(model, draw(st.sampled_from(["The cat", "the dog sat"])),
                                     draw(st.integers(1, 3)), tokenizer=tok)
        if kind == "capture":
            model, x = make_model(draw(st.sampled_from(["lstm", "mha", "sdpa"])), False)
            with tr_widgets.capture(model) as rec:
                run(model, x)
            return rec
    return draw(junk())


def option_values():
    return st.one_of(st.integers(-3, 600), st.sampled_from([True, False, None, 1.5, "0", 2**40]), junk())


@fuzz_settings(30)
@given(any_trace(), st.dictionaries(st.sampled_from(OPTIONS), option_values(), max_size=3),
       st.integers(-2, 8))
def test_show(trace, options, step):
    import ipywidgets.widgets.widget as ww
    before = snapshot(trace, rng=False)
    known = set(ww._instances)
    with quiet():
        w, err = outcome(tr_widgets.show, set(OPTIONS) | {"trace"}, trace, **options)
        if err is None and hasattr(w, "step"):
            outcome(setattr, {"step"}, w, "step", step)
    made = [wid for k, wid in list(ww._instances.items()) if k not in known]
    try:
        if err is None:
            _sendable(made)
    finally:
        for wid in made:
            wid.close()
    check_state(before)


@pytest.mark.parametrize("step", [None, "2", 1.5])
def test_setting_step_to_a_non_int_is_refused_clearly(step):
    q = torch.randn(1, 1, 3, 2)
    w = tr_widgets.show(tr_widgets.trace_attention(q, q, q))
    try:
        _, err = outcome(setattr, {"step"}, w, "step", step)
        assert err is not None
    finally:
        w.close()


@pytest.mark.parametrize("label", ["\ud800", "a\udfffb", "\u202eevil", "x\ny", "\x00"])
def test_shown_labels_are_sendable(label):
    q = torch.randn(1, 1, 3, 2)
    at = tr_widgets.trace_attention(q, q, q, tokens=["a", label, "b"])
    import ipywidgets.widgets.widget as ww
    known = set(ww._instances)
    tr_widgets.show(at)
    made = [wid for k, wid in list(ww._instances.items()) if k not in known]
    try:
        _sendable(made)
    finally:
        for wid in made:
            wid.close()


# -- the magic -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ip():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "tr_widgets.magic")
    shell.run_cell("import torch, tr_widgets\n"
                   "torch.manual_seed(0)\n"
                   "lstm = torch.nn.LSTM(3, 4)\n"
                   "seq = torch.nn.Sequential(torch.nn.GRU(2, 2))\n"
                   "x = torch.randn(5, 1, 3)\n"
                   "words = ['keep', 'me']\n"
                   "def f(t):\n    return lstm(t)\n"
                   "at = tr_widgets.trace_attention(x[:, 0], x[:, 0], x[:, 0])")
    return shell


def _flags(name):
    return [o for a in magic.DEMOS[name].parser(name)._actions for o in a.option_strings if o.startswith("--")]


VALUES = st.one_of(st.integers(-3, 300).map(str), st.sampled_from(["nan", "inf", "-inf", "1e400", "0x10", "2.5", "",
                   "the cat sat", "The cat sat on the", "1,2,3", "tanh", "relu", "zebra unicorn"]), TEXTS)
EXPRESSIONS = ["lstm", "lstm(x)", "seq", "f", "f(x)", "x", "at", "words", "undefined_thing", "1 +", "lstm(x", "",
               "torch.zeros(2) + 1", "tr_widgets.trace_attention(x, x, 5)"]


@st.composite
def magic_line(draw):
    if draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(EXPRESSIONS))
    name = draw(st.sampled_from(sorted(magic.DEMOS) + ["lstmm", "Attention", "decod"]))
    flags = _flags(name) if name in magic.DEMOS else ["--hidden"]
    parts = [name]
    for _ in range(draw(st.integers(0, 3))):
        flag = draw(st.sampled_from(flags + ["--colour", "--hidden", "-x"]))
        parts.append(flag)
        if flag not in ("--bidirectional", "--causal", "--no-cache", "--sample") or draw(st.integers(0, 4)) == 0:
            value = draw(VALUES)
            parts.append(shlex.quote(value) if draw(st.integers(0, 5)) else value)  # sometimes unquoted
    if draw(st.integers(0, 9)) == 0:
        parts.append('"unclosed')
    return " ".join(" ".join(parts).splitlines())  # one line, as a line magic is (a cell splits at line breaks)


MAGIC_NAMES = {"line", "demo", "options", "prompt", "max_new_tokens", "tokens", "trace"}  # + the options, the expression


@fuzz_settings(40)
@given(line=magic_line())
def test_magic(ip, line):
    user = [ip.user_ns[n] for n in ("lstm", "seq", "x", "words", "at")]
    before = snapshot(*user)
    with quiet():
        r = ip.run_cell(f"%tr_step {line}", store_history=False)
    err = r.error_before_exec or r.error_in_exec
    check_state(before)
    assert all(ip.user_ns[n] is o for n, o in zip(("lstm", "seq", "x", "words", "at"), user))
    assert ip.run_cell("21 * 2", store_history=False).result == 42
    if err is None:
        return
    if line.split(" ")[0] in ("undefined_thing",) or line.startswith("tr_widgets.trace_attention"):
        if isinstance(err, tr_widgets.TraceInputError):
            check_error(err, {"v"})
            return
    assert isinstance(err, UsageError), f"{type(err).__name__}: {err}"
    check_error(err, MAGIC_NAMES | {f for n in magic.DEMOS for f in _flags(n)} | {line.strip(), repr(line.strip())})
