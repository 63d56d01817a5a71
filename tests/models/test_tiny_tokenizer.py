"""The word-level tokenizer: round trips, <unk>, labels, and the corpus it was built from."""
import importlib.util
import pathlib

import pytest

from tr_widgets.models import WordTokenizer, read_corpus
from tr_widgets.models.tiny_gpt import read_meta
from tr_widgets.models.tokenizer import CORPUS_PATH, split_words

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tok():
    return WordTokenizer(read_meta()["vocab"])


def test_shipped_vocab_is_the_corpus_vocab(tok):
    # the training script builds the vocabulary from the corpus; the shipped file must match it
    assert tok.vocab == WordTokenizer.from_text(read_corpus()).vocab


def test_every_corpus_line_round_trips(tok):
    lines = read_corpus().splitlines()
    assert len(lines) > 100
    for line in lines:
        ids = tok.encode(line)
        assert tok.unk_id not in ids, line
        assert tok.decode(ids) == line


def test_split_words_separates_punctuation():
    assert split_words("The cat sat, then ran.") == ["The", "cat", "sat", ",", "then", "ran", "."]


def test_unknown_words_become_unk_and_tokens_label_every_id(tok):
    ids = tok.encode("The zebra sat.")
    assert ids[1] == tok.unk_id == 0
    assert tok.tokens(ids) == ["The", "<unk>", "sat", "."]
    assert tok.decode(ids) == "The <unk> sat."


def test_decode_accepts_a_tensor(tok):
    torch = pytest.importorskip("torch")
    ids = tok.encode("the mat.")
    assert tok.decode(torch.tensor(ids)) == "the mat."
    assert len(tok.tokens(torch.tensor(ids))) == 3


def test_from_text_is_sorted_and_starts_with_unk():
    t = WordTokenizer.from_text("b a b.")
    assert t.vocab == ["<unk>", ".", "a", "b"] and t.vocab_size == len(t) == 4


def test_bad_vocab_is_refused():
    with pytest.raises(ValueError, match="vocab"):
        WordTokenizer(["cat", "dog"])


def test_corpus_is_generated_by_the_script_and_says_its_licence():
    spec = importlib.util.spec_from_file_location("make_corpus", ROOT / "scripts" / "make_corpus.py")
    make_corpus = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_corpus)
    text = CORPUS_PATH.read_text(encoding="utf-8")
    assert text == make_corpus.make_corpus()
    assert "CC0" in text.splitlines()[1]
