"""A character-level tokenizer for the Chinese tiny model: one token per character.

Chinese is written without spaces, and a character is already a unit a reader can see, so the
Chinese tiny model reads and writes one character per time step: every attention column and every
decoding tick is one whole character ("猫", "坐", "在"), never a byte-level piece of one.

Whitespace separates nothing in Chinese and is not a token: :meth:`CharTokenizer.encode` skips it
(as :class:`~tr_widgets.models.WordTokenizer` skips the spaces between words), and
:meth:`CharTokenizer.decode` joins characters with nothing between them, so ``decode(encode(s)) == s``
for text without whitespace ("猫坐在垫子上。"). Characters not in the vocabulary become ``<unk>`` (id 0).
"""
from __future__ import annotations

from pathlib import Path

from .tokenizer import UNK, WordTokenizer, read_corpus

CORPUS_ZH_PATH = Path(__file__).with_name("corpus_zh.txt")
DESCRIPTION = "character-level: one token per non-whitespace character, <unk> = 0"


def read_corpus_zh() -> str:
    """The Chinese model's training text: corpus_zh.txt without its '#' comment lines.

    Example: ``read_corpus_zh().count("猫坐在垫子上") > 100``
    """
    return read_corpus(CORPUS_ZH_PATH)


def split_chars(text: str) -> list[str]:
    """The characters of ``text`` that are tokens (every one but whitespace).

    Example: ``split_chars("猫 坐。\\n") == ["猫", "坐", "。"]``
    """
    return [ch for ch in text if not ch.isspace()]


class CharTokenizer(WordTokenizer):
    """Maps characters to ids; id 0 is ``<unk>``. The same API as WordTokenizer, whose methods it keeps:
    only how text splits (one token per non-space character) and how ids join back (with nothing) differ.

    Example:
        >>> tok = CharTokenizer.from_text("猫坐在垫子上。")
        >>> ids = tok.encode("猫坐在垫子上。")
        >>> tok.tokens(ids)
        ['猫', '坐', '在', '垫', '子', '上', '。']
        >>> tok.decode(ids)
        '猫坐在垫子上。'
    """

    description = DESCRIPTION  # what save_tiny writes as the file's "tokenizer" metadata
    split = staticmethod(split_chars)

    def __init__(self, vocab: list[str]):
        if (not vocab or vocab[0] != UNK or len(set(vocab)) != len(vocab)
                or not all(len(c) == 1 and not c.isspace() for c in vocab[1:])):
            raise ValueError(f"vocab: expected {UNK!r} followed by unique single non-space characters, "
                             f"got {vocab[:5]!r}... ({len(vocab)} entries); "
                             f"fix: build it with CharTokenizer.from_text(text)")
        super().__init__(vocab)

    def decode(self, ids) -> str:
        """Ids -> text: the characters joined with nothing between them.

        Example: ``tok.decode(tok.encode("猫坐在垫子上。")) == "猫坐在垫子上。"``
        """
        return "".join(self.tokens(ids))
