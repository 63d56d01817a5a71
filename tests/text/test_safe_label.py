"""safe_label: any value becomes a label that JSON-encodes as UTF-8 and hides or reorders nothing."""
import json
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tr_widgets.engine.text import safe_label, safe_labels

BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


# hypothesis never draws surrogates by itself; mix them, bidi and control characters in on purpose
ANY_CHAR = st.one_of(st.characters(), st.integers(0xD800, 0xDFFF).map(chr),
                     st.sampled_from(BIDI_CONTROLS + "\x00\n\x1b\x7f\x85\u2028\u2029"))


def browser_safe(s: str) -> bool:
    """No surrogate, no control character, no bidi control, no line/paragraph separator left."""
    return not any(unicodedata.category(c) in ("Cs", "Cc", "Zl", "Zp") or c in BIDI_CONTROLS for c in s)


@pytest.mark.parametrize("raw, want", [
    ("abc\u202eevil", "abc\\u202eevil"),
    ("\u202dx\u202c", "\\u202dx\\u202c"),
    ("\u2067\u05d0\u2069", "\\u2067\u05d0\\u2069"),
    ("a\nb\tc\rd", "a↵b⇥c␍d"),
    ("\x00\x1b\x7f", "␀␛␡"),
    ("\x85", "\\x85"),
    ("line\u2028sep", "line\\u2028sep"),
    ("\ud800x", "\\ud800x"),
    ("x\udfff", "x\\udfff"),
    ("\ud83d\ude00", "😀"),  # a surrogate pair (e.g. from JavaScript or surrogatepass) is one character
    ("注意力 🙂 👨\u200d👩\u200d👧 ␣the⋯", "注意力 🙂 👨\u200d👩\u200d👧 ␣the⋯"),  # left alone
    ("", ""),
])
def test_examples(raw, want):
    assert safe_label(raw) == want


@pytest.mark.parametrize("value, want", [(None, "None"), (3, "3"), (1.5, "1.5"), (b"\xff", "b'\\xff'"),
                                         (["a"], "['a']")])
def test_non_strings_go_through_str(value, want):
    assert safe_label(value) == want


def test_every_bidi_control_is_neutralised():
    for c in BIDI_CONTROLS:
        out = safe_label(f"a{c}b")
        assert browser_safe(out) and out.startswith("a\\u") and out.endswith("b"), repr(c)


def test_safe_labels_maps_a_list():
    assert safe_labels(["ok", "\u202e", None, "\ud800"]) == ["ok", "\\u202e", "None", "\\ud800"]
    assert safe_labels(()) == []


@settings(max_examples=300, deadline=None)
@given(st.text(ANY_CHAR, max_size=30))
def test_any_text_becomes_json_utf8_and_is_idempotent(s):
    out = safe_label(s)
    assert browser_safe(out)
    json.dumps(out, ensure_ascii=False).encode("utf-8")
    json.dumps(safe_labels([s, out]), ensure_ascii=False).encode("utf-8")
    assert safe_label(out) == out


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")).filter(lambda c: c not in BIDI_CONTROLS)))
def test_clean_text_is_unchanged(s):
    assert safe_label(s) == s
