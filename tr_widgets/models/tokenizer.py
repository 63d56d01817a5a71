"""A word-level tokenizer for the tiny model, small enough to read in one sitting.

Text is split with the regular expression ``\\w+|[^\\w\\s]``: runs of letters/digits are words, and every
other non-space character (``.``, ``,``, ``!``) is a token of its own. Case is kept ("The" and "the"
are different tokens). Words not in the vocabulary become ``<unk>`` (id 0). Decoding joins tokens
with single spaces and puts no space before punctuation, so ``decode(encode(s)) == s`` for text
written that way ("The cat sat on the mat.").

A word-level vocabulary keeps the labels readable in the widgets: each decoding tick is one whole
word, and every attention column is a word the reader can see.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

TOKEN_RE = re.compile(r"\w+|[^\w\s]")
PUNCT_RE = re.compile(r"[^\w\s]")  # one punctuation character: sticks to the previous token
UNK = "<unk>"
CORPUS_PATH = Path(__file__).with_name("corpus.txt")


def split_words(text: str) -> list[str]:
    """Split text into word and punctuation strings.

    Example: ``split_words("The cat sat.") == ["The", "cat", "sat", "."]``
    """
    return TOKEN_RE.findall(text)


def read_corpus(path: str | Path | None = None) -> str:
    """The training text of the shipped model: corpus.txt without its '#' comment lines.

    Example: ``read_corpus().startswith("Zoe has a pet cat.")``
    """
    lines = Path(path or CORPUS_PATH).read_text(encoding="utf-8").splitlines()
    return "\n".join(ln for ln in lines if not ln.startswith("#")) + "\n"


class WordTokenizer:
    """Maps words and punctuation to ids; id 0 is ``<unk>``.

    Example:
        >>> tok = WordTokenizer(["<unk>", ".", "The", "cat", "mat", "on", "sat", "the"])
        >>> ids = tok.encode("The cat sat on the mat.")
        >>> tok.tokens(ids)
        ['The', 'cat', 'sat', 'on', 'the', 'mat', '.']
        >>> tok.decode(ids)
        'The cat sat on the mat.'
    """

    description = "word-level: regex \\w+|[^\\w\\s], <unk> = 0"  # the file's "tokenizer" metadata (save_tiny)
    split = staticmethod(split_words)  # text -> token strings (CharTokenizer: one per character)

    def __init__(self, vocab: list[str]):
        if not vocab or vocab[0] != UNK or len(set(vocab)) != len(vocab):
            raise ValueError(f"vocab: expected a list of unique strings starting with {UNK!r}, "
                             f"got {vocab[:5]!r}... ({len(vocab)} entries); "
                             f"fix: build it with WordTokenizer.from_text(text)")
        self.vocab = list(vocab)
        self.index = {w: i for i, w in enumerate(self.vocab)}

    @classmethod
    def from_text(cls, text: str) -> "WordTokenizer":
        """Vocabulary = ``<unk>`` followed by every distinct token of `text`, sorted (stable ids).

        Example: ``WordTokenizer.from_text("a b a.").vocab == ["<unk>", ".", "a", "b"]``
        """
        return cls([UNK] + sorted(Counter(cls.split(text))))

    @property
    def vocab_size(self) -> int:
        """Number of token ids. Example: ``WordTokenizer.from_text("a b").vocab_size == 3``"""
        return len(self.vocab)

    @property
    def unk_id(self) -> int:
        """Id of ``<unk>`` (always 0). Example: ``tok.encode("zebra") == [tok.unk_id]``"""
        return 0

    def encode(self, text: str) -> list[int]:
        """Text -> ids; unknown words map to ``<unk>``. Example: ``tok.encode("The cat")``"""
        return [self.index.get(w, 0) for w in self.split(text)]

    def tokens(self, ids) -> list[str]:
        """Ids -> token strings, one per id (labels for plots). Example: ``tok.tokens([0]) == ["<unk>"]``"""
        return [self.vocab[int(i)] for i in _as_list(ids)]

    def decode(self, ids) -> str:
        """Ids -> text: tokens joined by spaces, no space before punctuation.

        Example: ``tok.decode(tok.encode("the mat.")) == "the mat."``
        """
        out = ""
        for w in self.tokens(ids):
            out += ("" if not out or PUNCT_RE.fullmatch(w) else " ") + w
        return out

    def __len__(self) -> int:
        return len(self.vocab)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size})"


def _as_list(ids) -> list:
    # accepts list[int], a 1-D tensor, or anything with .tolist()
    return ids.tolist() if hasattr(ids, "tolist") else list(ids)
