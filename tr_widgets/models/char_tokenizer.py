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

from .tokenizer import UNK, read_corpus

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


class CharTokenizer:
    """Maps characters to ids; id 0 is ``<unk>``. The same API as WordTokenizer.

    Example:
        >>> tok = CharTokenizer.from_text("猫坐在垫子上。")
        >>> ids = tok.encode("猫坐在垫子上。")
        >>> tok.tokens(ids)
        ['猫', '坐', '在', '垫', '子', '上', '。']
        >>> tok.decode(ids)
        '猫坐在垫子上。'
    """

    description = DESCRIPTION  # what save_tiny writes as the file's "tokenizer" metadata

    def __init__(self, vocab: list[str]):
        if (not vocab or vocab[0] != UNK or len(set(vocab)) != len(vocab)
                or not all(len(c) == 1 and not c.isspace() for c in vocab[1:])):
            raise ValueError(f"vocab: expected {UNK!r} followed by unique single non-space characters, "
                             f"got {vocab[:5]!r}... ({len(vocab)} entries); "
                             f"fix: build it with CharTokenizer.from_text(text)")
        self.vocab = list(vocab)
        self.index = {c: i for i, c in enumerate(self.vocab)}

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        """Vocabulary = ``<unk>`` followed by every distinct character of `text`, sorted (stable ids).

        Example: ``CharTokenizer.from_text("猫猫狗").vocab == ["<unk>", "狗", "猫"]``
        """
        return cls([UNK] + sorted(set(split_chars(text))))

    @property
    def vocab_size(self) -> int:
        """Number of token ids. Example: ``CharTokenizer.from_text("猫狗").vocab_size == 3``"""
        return len(self.vocab)

    @property
    def unk_id(self) -> int:
        """Id of ``<unk>`` (always 0). Example: ``tok.encode("龙") == [tok.unk_id]``"""
        return 0

    def encode(self, text: str) -> list[int]:
        """Text -> ids, one per character; whitespace is skipped, unknown characters map to ``<unk>``.

        Example: ``len(tok.encode("猫坐在")) == 3``
        """
        return [self.index.get(c, 0) for c in split_chars(text)]

    def tokens(self, ids) -> list[str]:
        """Ids -> characters, one per id (labels for plots). Example: ``tok.tokens([0]) == ["<unk>"]``"""
        return [self.vocab[int(i)] for i in (ids.tolist() if hasattr(ids, "tolist") else list(ids))]

    def decode(self, ids) -> str:
        """Ids -> text: the characters joined with nothing between them.

        Example: ``tok.decode(tok.encode("猫坐在垫子上。")) == "猫坐在垫子上。"``
        """
        return "".join(self.tokens(ids))

    def __len__(self) -> int:
        return len(self.vocab)

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"
