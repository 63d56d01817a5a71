"""Readable token labels, and label text that is safe to send to a browser (issues 15 and 16).

:func:`token_labels` gives one label per token id. Subword tokenizers (byte-level BPE as in GPT-2,
Llama-3 and Qwen; SentencePiece-style ``▁`` metaspace with ``<0xE4>`` byte fallback as in Llama-2;
WordPiece; anything with ``.decode(list[int])``) are labelled by *incremental detokenization*, the
method of Hugging Face's ``DecodeStream`` and vLLM: each label is the text that ``decode`` gains when
that token is appended, computed on a short window of ids so the cost is O(n), and causal (the labels
of ``ids[:k]`` are the first k labels of ``ids``). Word-level vocabularies (the tiny model's
:class:`~tr_widgets.models.WordTokenizer`, a ``tokenizers`` ``WordLevel`` model) show their own words.

Visible marks (the only characters :func:`token_labels` adds)::

    ' '  -> '␣'  SPACE_MARK        '\\n' -> '↵'  NEWLINE_MARK
    '\\t' -> '⇥'  TAB_MARK          '\\r' -> '␍'  RETURN_MARK
    CONTINUED '⋯' ends a label whose token holds the first bytes of a character that a later token
                  completes; the whole character is shown once, on the token that completes it.
    EMPTY     '∅' is the whole label of a token that adds no text (e.g. a leading '▁' that decode strips).

The rule that undoes them, :func:`labels_text`: drop EMPTY labels and one trailing CONTINUED, join,
map the marks back. Then ``labels_text(token_labels(tok, ids)) == tok.decode(ids)`` (for a raw
``tokenizers.Tokenizer``, ``decode(ids, skip_special_tokens=False)``), except that where ``ids`` end in
the middle of a character: there the last label ends with CONTINUED where decode shows U+FFFD (and
Llama-2's ByteFallback decoder writes U+FFFD for the whole run of byte tokens, characters already
complete included). It reads wrongly only for text that itself contains a mark character.
Word-level labels are words; their decode puts spaces between them.

:func:`safe_label` makes any label safe for the widgets: no lone surrogates, no invisible control or
bidi-control characters (see its docstring). :func:`token_labels` does not apply it; the widgets do.
"""
from __future__ import annotations

import operator
import re

import torch

from .errors import describe, fail

SPACE_MARK, NEWLINE_MARK, TAB_MARK, RETURN_MARK = "␣", "↵", "⇥", "␍"
CONTINUED = "⋯"  # U+22EF, rarer in real text than '…' U+2026 (which GPT-2 has as a token)
EMPTY = "∅"
MARKS = {" ": SPACE_MARK, "\n": NEWLINE_MARK, "\t": TAB_MARK, "\r": RETURN_MARK}
MAX_PENDING = 16  # tokens one character may stay incomplete; UTF-8 needs ≤ 4, the rest is slack for odd merges
REPLACEMENT = "\ufffd"

_SHOW = str.maketrans(MARKS)
_UNSHOW = str.maketrans({v: k for k, v in MARKS.items()})


def token_labels(tokenizer, ids) -> list[str]:
    """One readable label per token id; ``tokenizer=None`` gives ``'#id'`` labels.

    ``ids``: a list of ints, or a tensor of shape [T] or [1, T]. Raises
    :class:`~tr_widgets.engine.errors.TraceInputError` for ids that are not ints or not in the
    vocabulary, and for a tokenizer that is not one (e.g. its name as a string).

    Example::

        ids = tok.encode(" the 注意\\n")   # byte-level BPE pieces 'Ġthe', 'Ġæ', '³¨æ', 'Ħı', 'Ċ'
        token_labels(tok, ids)            # ['␣the', '␣⋯', '注⋯', '意', '↵']
        token_labels(None, [5, 9])        # ['#5', '#9']
        model, tok = load_tiny(); token_labels(tok, tok.encode("The cat"))   # ['The', 'cat']
    """
    if tokenizer is None:
        return [f"#{i}" for i in _as_ids(ids, None)]
    labeller = _labeller(tokenizer)
    return labeller(tokenizer, _as_ids(ids, _vocab_size(tokenizer)))


def labels_text(labels) -> str:
    """The text a list of :func:`token_labels` reads as: the marks undone, labels joined.

    Example::

        labels_text(["␣the", "↵", "注⋯", "意", "∅"]) == " the\\n注意"
        labels_text(token_labels(None, [5, 9])) == "#5#9"   # labels without marks are joined as they are
    """
    parts = []
    for label in labels:
        if label == EMPTY:
            continue
        parts.append(label[:-1] if label.endswith(CONTINUED) else label)
    return "".join(parts).translate(_UNSHOW)


def safe_label(s) -> str:
    """``s`` as text that can be JSON-encoded as UTF-8 and cannot hide or reorder its neighbours.

    Non-strings go through ``str()``. A valid surrogate pair is joined into its character; a lone
    surrogate becomes its escape (``'\\ud800'``), so the damage stays visible. C0 controls become the
    marks above or Unicode control pictures (``'\\x00'`` -> ``'␀'``, DEL -> ``'␡'``); C1 controls, the
    line/paragraph separators and every bidi control (ALM, LRM, RLM, LRE, RLE, PDF, LRO, RLO, LRI, RLI,
    FSI, PDI) become their escape as ``ascii()`` writes it (RLO -> ``'\\u202e'``). Everything else
    (letters, emoji with ZWJ and variation selectors, the marks) is left alone, so it is idempotent.

    Example::

        safe_label("abc\\u202eevil")     # 'abc\\\\u202eevil'  (backslash, u, 2, 0, 2, e)
        safe_label("a\\nb\\x00")          # 'a↵b␀'
        safe_label("\\ud800x")           # '\\\\ud800x'
        safe_label(3)                   # '3'
    """
    s = s if isinstance(s, str) else str(s)
    if _PAIR.search(s):
        s = _PAIR.sub(lambda m: m.group().encode("utf-16-le", "surrogatepass").decode("utf-16-le"), s)
    return _UNSAFE.sub(_shown, s)


def safe_labels(seq) -> list[str]:
    """:func:`safe_label` of each item.

    Example::

        safe_labels(["ok", "\\u202e", None])   # ['ok', '\\\\u202e', 'None']
    """
    return [safe_label(s) for s in seq]


_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _shown(m: re.Match) -> str:
    ch = m.group()
    if ch in MARKS:
        return MARKS[ch]
    if ch < " ":
        return chr(0x2400 + ord(ch))  # the Control Pictures block mirrors C0 in order
    if ch == "\x7f":
        return "\u2421"
    return ascii(ch)[1:-1]


# ---- which tokenizer is it -------------------------------------------------------------------------

def _backend(tokenizer):
    """The ``tokenizers.Tokenizer`` inside (or being) ``tokenizer``, else None; duck-typed so the
    engine need not import ``tokenizers``."""
    for obj in (tokenizer, getattr(tokenizer, "backend_tokenizer", None)):
        if obj is not None and all(hasattr(obj, a) for a in ("id_to_token", "get_vocab_size", "model")):
            return obj
    return None


def _labeller(tokenizer):
    if isinstance(tokenizer, (str, bytes)) or not (callable(getattr(tokenizer, "decode", None))
                                                   or callable(getattr(tokenizer, "tokens", None))):
        fail("tokenizer", "a tokenizer object (Hugging Face, tokenizers.Tokenizer, one with .decode(ids)) or None",
             _got(tokenizer), "pass the loaded tokenizer, e.g. AutoTokenizer.from_pretrained(name), not its name")
    backend = _backend(tokenizer)
    if backend is not None and type(backend.model).__name__ == "WordLevel":
        return _word_labels
    if callable(getattr(tokenizer, "tokens", None)) and not hasattr(tokenizer, "convert_ids_to_tokens"):
        return _word_labels  # the tiny model's WordTokenizer: its tokens are its words
    return _stream_labels


def _vocab_size(tokenizer) -> int | None:
    backend = _backend(tokenizer)
    if backend is not None and backend is tokenizer:
        return backend.get_vocab_size(with_added_tokens=True)
    try:
        return len(tokenizer)  # HF counts added tokens here, unlike .vocab_size
    except TypeError:
        return None


# ---- labellers ---------------------------------------------------------------------------------------

def _word_labels(tokenizer, ids: list[int]) -> list[str]:
    backend = _backend(tokenizer)
    words = [backend.id_to_token(i) for i in ids] if backend is not None else tokenizer.tokens(ids)
    return [str(w).translate(_SHOW) or EMPTY for w in words]


def _stream_labels(tokenizer, ids: list[int]) -> list[str]:
    """Incremental detokenization over a window ``ids[start:]``.

    Text of ``ids[:read]`` is whole characters; ``shown`` is the window's text already given to
    labels. The window keeps one token before ``read`` so that decode's start-of-text rules (Strip,
    Metaspace's prepend, WordPiece's missing space) hit that token, never the one being labelled.
    """
    backend = _backend(tokenizer)
    if backend is tokenizer:  # a raw tokenizers.Tokenizer skips special tokens unless told
        def decode(window):
            return backend.decode(window, skip_special_tokens=False)
    else:
        decode = tokenizer.decode
    labels, start, read, shown = [], 0, 0, ""
    for i in range(len(ids)):
        text = str(decode(ids[start:i + 1]))
        # decode writes U+FFFD for bytes that do not yet make a character; wait for the next token
        pending = text.endswith(REPLACEMENT) and i + 1 - read < MAX_PENDING
        done = text.rstrip(REPLACEMENT) if pending else text
        piece = done[len(shown):].translate(_SHOW)
        labels.append(piece + CONTINUED if pending else piece or EMPTY)
        if pending:
            shown = done if len(done) > len(shown) else shown
        else:
            start, read = read, i + 1
            shown = str(decode(ids[start:read]))
    return labels


# ---- input checks ------------------------------------------------------------------------------------

def _got(x) -> str:
    return " ".join(describe(x).split())  # one line, whatever the object's repr looks like


def _as_ids(ids, vocab_size: int | None) -> list[int]:
    """``ids`` as a list of Python ints in ``range(vocab_size)``, or one clear error."""
    expected = "a list of int token ids or a tensor of shape [T] or [1, T]"
    if isinstance(ids, torch.Tensor):
        if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
            fail("ids", expected + " of an integer dtype", _got(ids), "convert it with ids.long()")
        if ids.dim() == 2 and ids.shape[0] == 1:
            ids = ids[0]
        if ids.dim() != 1:
            fail("ids", expected, _got(ids), "pass one sequence, e.g. ids[0] or ids.flatten()")
        ids = ids.tolist()
    elif isinstance(ids, (str, bytes)) or not hasattr(ids, "__iter__"):
        fail("ids", expected, _got(ids), "encode text first: token_labels(tok, tok.encode(text))")
    out = []
    for pos, x in enumerate(ids):
        try:
            if isinstance(x, bool):
                raise TypeError
            out.append(operator.index(x))
        except TypeError:
            fail("ids", expected, f"{_got(x)} at position {pos}", "pass whole numbers, e.g. [464, 3797]")
        if out[-1] < 0 or (vocab_size is not None and out[-1] >= vocab_size):
            top = f"0..{vocab_size - 1}, the tokenizer's vocabulary" if vocab_size is not None else "≥ 0"
            fail("ids", f"token ids in {top}", f"id {out[-1]} at position {pos}",
                 "use ids made by this tokenizer (or the model that goes with it)")
    return out
