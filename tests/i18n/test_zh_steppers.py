"""Every stepper in Chinese (issue 15): with ``lang="zh"`` no English word is left on screen.

For each kind of stepper, every text a reader sees is collected from the widget tree: HTML panels (tags
stripped, hover titles and accessible names kept), the canvases' titles, axis names, notes, notices,
series names and their ``texts`` dicts (what the JavaScript shows), the controls' words, the step's
name, the selectors, the folded panels' titles and the caption. Words of three letters or more that are
not symbols (``h_t``, ``d_inner``), names (``torch``, ``SDPA``, ``LSTM``) or the trace's own tensor names
(a Mamba's ``delta``) fail the test. The same stepper built after ``set_language("zh")`` shows the
same texts, and ``lang="en"`` gives the English ones back.
"""
from __future__ import annotations

import html
import re

import ipywidgets as w
import pytest
import torch
from torch import nn

import tr_widgets
from tr_widgets import i18n
from tr_widgets.widgets.panels.bars import BarsCanvas
from tr_widgets.widgets.panels.matrix import MatrixCanvas
from tr_widgets.widgets.controller import StepController

# symbols, names and units that stay as they are in every language (compared lower-case)
SYMBOLS = {"torch", "sdpa", "softmax", "lstm", "gru", "rnn", "tanh", "relu", "mamba", "mamba2", "rwkv", "elman",
           "nan", "inf", "kib", "mib", "gib", "log", "max", "cuda", "cpu", "gpt", "float", "dtype", "gated", "deltanet", "ssd", "wkv", "delta",
           "home", "end", "space"}  # the last three: keys of the keyboard
PLACEHOLDER = re.compile(r"\{[A-Za-z_]+\}")  # a template the JavaScript fills ("{name} [{i}] = {value}")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.]*[A-Za-z0-9_]|[A-Za-z]")  # a dotted name (trace.state_bytes) is one
ATTRS = re.compile(r"""\b(?:title|aria-label|alt)=(['"])(.*?)\1""")


def words_of(text: str, allowed: set[str]) -> list[str]:
    """The English words in ``text``: 3+ letters, not a symbol with ``_``, ``.`` or digits, not ``allowed``."""
    return [m for m in WORD.findall(PLACEHOLDER.sub(" ", text)) if len(m) >= 3 and not re.search(r"[_.0-9]", m)
            and m.lower() not in allowed]


def html_texts(value: str) -> list[str]:
    """What an HTML string shows: its text (tags stripped) and its hover titles and accessible names."""
    shown = re.sub(r"<style.*?</style>|<script.*?</script>", " ", value, flags=re.S)
    attrs = [html.unescape(m.group(2)) for m in ATTRS.finditer(shown)]
    return [html.unescape(re.sub(r"<[^>]+>", " ", shown))] + attrs


def visible_texts(widget) -> list[str]:
    """Every text of ``widget`` and the widgets inside it that a reader sees."""
    out: list[str] = []
    seen: set[int] = set()

    def walk(x):
        if id(x) in seen:
            return
        seen.add(id(x))
        if isinstance(x, StepController):
            c = x.clock
            out.extend([c.description, *c.texts.values(), *(label for label, _ in c.speeds)])
            out.extend(html_texts(x.caption.value))
        if isinstance(x, MatrixCanvas):
            out.extend([x.title, x.row_axis, x.col_axis, x.notice, x.range_note, x.units, x.caption(),
                        *x.texts.values()])
        elif isinstance(x, BarsCanvas):
            out.extend([x.title, *x.names, *x.notes, *x.units, *x.scale_groups, *x.texts.values()])
        elif isinstance(x, w.Dropdown):
            out.append(x.description)
            if "tr-capture-chooser" not in x._dom_classes:  # the chooser lists the user's module names
                out.extend(str(label) for label, _ in x.options)
        elif isinstance(x, w.HTML):
            out.extend(html_texts(x.value))
        if isinstance(x, w.Accordion):
            out.extend(x.titles)
        for child in getattr(x, "children", ()):
            walk(child)

    walk(widget)
    return [t for t in out if t]


def english_left(widget, allowed=frozenset()) -> list[str]:
    return sorted({word for text in visible_texts(widget) for word in words_of(text, SYMBOLS | set(allowed))})


# ---- one trace of every kind ---------------------------------------------------------------------

TOKENS = ["猫", "坐", "在", "垫", "子", "上"]


def recurrent(kind):
    torch.manual_seed(0)
    return tr_widgets.trace_recurrent(kind(3, 4), torch.randn(5, 1, 3)), set()


def attention():
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 2, 6, 4) for _ in range(3))
    return tr_widgets.trace_attention(q, k, v, is_causal=True, tokens=TOKENS), set()


def decoding():
    model, tok = tr_widgets.load_tiny("zh")
    return tr_widgets.decode(model, "猫坐在", 3, tokenizer=tok), set()


def gradients():
    torch.manual_seed(0)
    return tr_widgets.trace_gradients(nn.LSTM(3, 4), torch.randn(6, 1, 3), lambda out: out[0][-1].sum()), set()


def gradients_gru():
    torch.manual_seed(0)
    return tr_widgets.trace_gradients(nn.GRU(3, 4), torch.randn(6, 1, 3), lambda out: out[0][-1].sum()), set()


def state(family):
    def make():
        pytest.importorskip("transformers").logging.set_verbosity_error()
        from tests.state import build, record

        ids = torch.randint(0, 64, (2, 5), generator=torch.Generator().manual_seed(1))
        tr = record(build(family), ids)[0][0]
        return tr, {n.lower() for n in (*tr.names, *tr.state_names, tr.name or "")}
    return make


def captured():
    torch.manual_seed(0)

    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm, self.gru = nn.LSTM(3, 4), nn.GRU(4, 4)

        def forward(self, x):
            return self.gru(self.lstm(x)[0])

    model = Two()
    with tr_widgets.capture(model) as rec:
        model(torch.randn(5, 1, 3))
    return rec, set()


KINDS = {"lstm": lambda: recurrent(nn.LSTM), "gru": lambda: recurrent(nn.GRU), "attention": attention,
         "decode": decoding, "gradients_lstm": gradients, "gradients_gru": gradients_gru,
         "state_mamba": state("mamba"), "state_mamba2": state("mamba2"), "state_rwkv": state("rwkv"),
         "state_gated_deltanet": state("gated_deltanet"), "capture": captured}


@pytest.fixture(scope="module", params=sorted(KINDS))
def made(request):
    return KINDS[request.param]()


def steps_of(view):
    stepper = getattr(view, "stepper", view)
    return stepper, [0, stepper.controller.n_steps - 1]


def user_characters(trace) -> set[str]:
    """The characters of the trace's own text (tokens, candidates): user text, shown as it is."""
    texts = list(getattr(trace, "tokens", None) or [])
    texts += [t for tick in getattr(trace, "ticks", ()) for t in (tick.token, *tick.topk_tokens)]
    return set("".join(map(str, texts)))


def test_no_english_word_is_left_in_chinese(made):
    trace, allowed = made
    view = tr_widgets.show(trace, lang="zh", progress=False)
    stepper, steps = steps_of(view)
    for step in steps:
        stepper.step = step
        left = english_left(view, allowed)
        assert not left, f"step {step}: English words on a Chinese stepper: {left}"


def test_set_language_gives_what_lang_gives(made):
    trace, _ = made
    view = tr_widgets.show(trace, lang="zh", progress=False)
    before = tr_widgets.set_language("zh")
    try:
        chosen = tr_widgets.show(trace, progress=False)
    finally:
        tr_widgets.set_language(before)
    assert visible_texts(chosen) == visible_texts(view)
    # a stepper keeps its language: built in Chinese, it draws in Chinese after the language changes back
    stepper, steps = steps_of(chosen)
    stepper.step = steps[-1]
    assert not english_left(chosen, made[1])


def test_english_comes_back(made):
    trace, allowed = made
    before = tr_widgets.set_language("zh")
    try:
        tr_widgets.set_language("en")
        view = tr_widgets.show(trace, progress=False)
    finally:
        tr_widgets.set_language(before)
    zh = tr_widgets.show(trace, lang="zh", progress=False)
    texts = visible_texts(view)
    assert texts != visible_texts(zh)
    han = {ch for t in texts for ch in t if "\u4e00" <= ch <= "\u9fff"}
    assert han <= user_characters(trace), sorted(han - user_characters(trace))  # only the user's own text
    assert english_left(view, allowed)  # English words are what it shows
    assert i18n.get_language() == before
