"""token_labels on tokenizers trained here (no download): byte-level BPE (GPT-2 style), SentencePiece-like
BPE with '▁' and <0xE4> byte fallback (Llama-2 style), WordLevel, the tiny model's, and a decode-only object.

The oracle for the subword tokenizers is written independently of tr_widgets: each token's bytes (through
GPT-2's byte-to-unicode table, or <0xHH> / '▁' for byte fallback) fed to Python's incremental UTF-8 decoder.
"""
import codecs
import json
import re
import time

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tr_widgets.engine.errors import TraceInputError
from tr_widgets.engine.text import CONTINUED, EMPTY, labels_text, token_labels

tokenizers = pytest.importorskip("tokenizers")
transformers = pytest.importorskip("transformers")
from tokenizers import decoders, models, pre_tokenizers, trainers  # noqa: E402

CORPUS = """\
注意力机制让模型在每个时间步关注输入的不同部分。The attention weights at each time step sum to one.
循环神经网络一步一步地处理序列，隐藏状态携带过去的信息。A recurrent network reads the sequence one step at a time.
在第一个时间步，查询向量与所有的键向量做点积，然后用 softmax 得到注意力权重。
At the first time step, the query is compared with every key, and softmax turns the scores into weights.
长短期记忆网络有三个门：输入门、遗忘门和输出门。The LSTM has three gates: input, forget and output.
每一步的注意力权重加起来等于一。Tokens 🙂 and emoji 🚀 are split into bytes; 中文字符也是。
缓存让解码更快：已经算过的键和值不用再算。The cache makes decoding faster: old keys and values are reused.
Time steps: t = 1, 2, 3 … 时间步一、二、三。
\tIndented line with a tab.
"""
RARE = "龘鑫👍🏽é"  # not in the corpus: byte-level and byte fallback spell them in single bytes
ALPHABET = sorted(set(CORPUS + RARE + " \n"))
SPECIAL = "<|endoftext|>"


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table (openai/gpt-2 encoder.py): printable bytes map to themselves, the rest above 255."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


BYTE_OF = {c: b for b, c in bytes_to_unicode().items()}


def byte_level() -> "tokenizers.Tokenizer":
    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=360, special_tokens=[SPECIAL], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([CORPUS], trainer)
    return tok


def byte_fallback() -> "tokenizers.Tokenizer":
    """Llama-2's layout: BPE over '▁'-words, 256 <0xHH> tokens in the model vocabulary, byte_fallback."""
    tok = tokenizers.Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    trainer = trainers.BpeTrainer(vocab_size=200, limit_alphabet=60, special_tokens=["<unk>", "<s>"],
                                  show_progress=False)
    tok.train_from_iterator([CORPUS], trainer)
    spec = json.loads(tok.to_str())
    vocab = spec["model"]["vocab"]
    for b in range(256):
        vocab.setdefault(f"<0x{b:02X}>", len(vocab))
    spec["model"]["byte_fallback"] = True
    tok = tokenizers.Tokenizer.from_str(json.dumps(spec))
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    return tok


def word_level() -> "tokenizers.Tokenizer":
    tok = tokenizers.Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator([CORPUS], trainers.WordLevelTrainer(special_tokens=["[UNK]"], show_progress=False))
    return tok


def token_bytes(raw, ids: list[int]) -> list[bytes]:
    """What each token adds to the decoded bytes, from its vocabulary string (the oracle)."""
    out = []
    for i in ids:
        piece = raw.id_to_token(i)
        if raw.token_to_id(piece) is not None and piece in (SPECIAL, "<unk>", "<s>"):
            out.append(piece.encode())
        elif re.fullmatch(r"<0x[0-9A-F]{2}>", piece):
            out.append(bytes([int(piece[3:5], 16)]))
        elif type(raw.pre_tokenizer).__name__ == "Metaspace":
            out.append(piece.replace("▁", " ").encode())
        else:
            out.append(bytes(BYTE_OF[c] for c in piece))
    if out and type(raw.pre_tokenizer).__name__ == "Metaspace" and out[0].startswith(b" "):
        out[0] = out[0][1:]  # Strip(' ', 1, 0): the text's first space goes
    return out


def oracle(pieces: list[bytes]) -> list[str]:
    dec, out = codecs.getincrementaldecoder("utf-8")(), []
    for b in pieces:
        s = dec.decode(b).replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥")
        out.append(s + "⋯" if dec.getstate()[0] else s or "∅")
    return out


@pytest.fixture(scope="module")
def trained():
    bl, bf = byte_level(), byte_fallback()
    return {"byte-level": bl, "byte-fallback": bf, "word-level": word_level(),
            "hf-byte-level": transformers.PreTrainedTokenizerFast(tokenizer_object=bl),
            "hf-byte-fallback": transformers.PreTrainedTokenizerFast(tokenizer_object=bf)}


@pytest.fixture(scope="module", params=["byte-level", "byte-fallback", "hf-byte-level", "hf-byte-fallback"])
def subword(request, trained):
    """(tokenizer as the user holds it, its raw tokenizers.Tokenizer, decode with special tokens kept)."""
    tok = trained[request.param]
    raw = trained[request.param.removeprefix("hf-")]
    return tok, raw, lambda ids: raw.decode(ids, skip_special_tokens=False)


def check(tok, raw, decode, ids):
    labels = token_labels(tok, ids)
    assert len(labels) == len(ids)
    assert labels == oracle(token_bytes(raw, ids))
    assert not any(bad in "".join(labels) for bad in "\ufffdĠ▁")
    for k in range(len(ids) + 1):  # every split: the labels of a prefix are the first labels, read as decode
        text, read = decode(ids[:k]), labels_text(labels[:k])
        cut = text.endswith("\ufffd")  # ids end mid-character
        assert cut == (k > 0 and labels[k - 1].endswith(CONTINUED))
        # ByteFallback writes U+FFFD for the whole run of byte tokens, characters done before the cut too
        assert read.startswith(text.rstrip("\ufffd")) if cut else read == text
    for k in range(0, len(ids), 7):
        assert token_labels(tok, ids[:k]) == labels[:k]
    return labels


def test_corpus_reads_as_decode(subword):
    tok, raw, decode = subword
    for line in CORPUS.splitlines(keepends=True):
        check(tok, raw, decode, raw.encode(line).ids)
    ids = raw.encode(CORPUS).ids
    assert labels_text(token_labels(tok, ids)) == decode(ids) == CORPUS.lstrip()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(st.sampled_from(ALPHABET), max_size=24))
def test_any_text_reads_as_decode(subword, text):
    tok, raw, decode = subword
    check(tok, raw, decode, raw.encode(text).ids)


def test_split_character_is_shown_once_on_the_token_that_completes_it(subword):
    tok, raw, _ = subword
    ids = raw.encode(CORPUS + RARE).ids
    pieces, labels = token_bytes(raw, ids), token_labels(tok, ids)
    ends = [sum(map(len, pieces[:j + 1])) for j in range(len(pieces))]
    data, cjk_splits = b"".join(pieces), 0
    for ch in {c for c in CORPUS + RARE if len(c.encode()) > 1}:
        completes = [0] * len(ids)  # how many times ch is completed by each token
        for m in re.finditer(re.escape(ch.encode()), data):
            first = next(j for j, e in enumerate(ends) if e > m.start())
            last = next(j for j, e in enumerate(ends) if e >= m.end())
            completes[last] += 1
            assert all(labels[j].endswith(CONTINUED) for j in range(first, last)), (ch, labels[first:last + 1])
            cjk_splits += first < last and "\u4e00" <= ch <= "\u9fff"
        assert [label.count(ch) for label in labels] == completes, ch
    assert cjk_splits >= 5  # the test must see CJK characters cut by the small vocabulary


def test_rare_character_in_single_bytes(subword):
    tok, raw, _ = subword
    ids = raw.encode("龘").ids
    assert token_labels(tok, ids)[-3:] == ["⋯", "⋯", "龘"]


def test_marks_for_spaces_newlines_tabs(trained):
    tok = trained["hf-byte-level"]
    labels = token_labels(tok, tok.encode("a b\n\tc"))
    assert "".join(labels) == "a␣b↵⇥c" and labels_text(labels) == "a b\n\tc"


def test_text_that_holds_the_raw_symbols_keeps_them(trained):
    tok = trained["hf-byte-level"]
    ids = tok.encode("Ġ▁ x")
    assert labels_text(token_labels(tok, ids)) == "Ġ▁ x" == tok.decode(ids)


def test_special_tokens_show_their_text(trained):
    tok = trained["hf-byte-level"]
    ids = tok.encode(f"ab{SPECIAL}注")
    labels = token_labels(tok, ids)
    assert SPECIAL in labels and labels_text(labels) == tok.decode(ids)
    assert token_labels(trained["byte-level"], ids) == labels


def test_stray_byte_shows_replacement_where_decode_does(trained):
    tok = trained["byte-level"]
    ids = [tok.token_to_id("¨"), tok.token_to_id("a")]  # a lone continuation byte: invalid UTF-8
    labels = token_labels(tok, ids)
    assert labels_text(labels) == tok.decode(ids) == "\ufffda"


def test_word_level_labels_are_its_words(trained):
    raw = trained["word-level"]
    ids = raw.encode("注意力 The attention zebra").ids
    words = [raw.id_to_token(i) for i in ids]
    assert "[UNK]" in words and len(words) == 4
    assert token_labels(raw, ids) == words
    assert token_labels(transformers.PreTrainedTokenizerFast(tokenizer_object=raw), ids) == words


def test_tiny_model_tokenizer_gives_its_own_tokens():
    from tr_widgets.models import load_tiny
    _, tok = load_tiny()
    ids = tok.encode("The cat sat on the mat. zebra")
    assert token_labels(tok, ids) == tok.tokens(ids) == ["The", "cat", "sat", "on", "the", "mat", ".", "<unk>"]


def test_decode_only_fallback_and_none(trained):
    hf = trained["hf-byte-level"]

    class DecodeOnly:
        def decode(self, ids):
            return hf.decode(ids)

    ids = hf.encode("注意力 🙂 time step")
    assert token_labels(DecodeOnly(), ids) == token_labels(hf, ids)
    assert token_labels(None, ids[:2]) == [f"#{ids[0]}", f"#{ids[1]}"]
    assert token_labels(hf, []) == []


def test_tensor_ids(trained):
    hf = trained["hf-byte-level"]
    ids = hf.encode("注意力 time")
    want = token_labels(hf, ids)
    assert token_labels(hf, torch.tensor(ids)) == want == token_labels(hf, torch.tensor([ids], dtype=torch.int32))
    assert token_labels(hf, tuple(ids)) == want


@pytest.mark.parametrize("tok_name, ids, arg, got", [
    ("hf-byte-level", [1.5], "ids", "float 1.5 at position 0"),
    ("hf-byte-level", [3, True], "ids", "bool True at position 1"),
    ("hf-byte-level", "注意", "ids", "str '注意'"),
    ("hf-byte-level", 7, "ids", "int 7"),
    ("hf-byte-level", [5, 100000], "ids", "id 100000 at position 1"),
    ("byte-level", [-1], "ids", "id -1 at position 0"),
    ("word-level", [10**9], "ids", "id 1000000000 at position 0"),
    ("hf-byte-level", torch.ones(2, 3, dtype=torch.long), "ids", "shape (2, 3)"),
    ("hf-byte-level", torch.ones(3), "ids", "dtype torch.float32"),
    ("tok", [1, 2], "tokenizer", "str 'tok'"),
    (None, [1, 2], "tokenizer", "object"),
])
def test_bad_input_is_one_clear_error(trained, tok_name, ids, arg, got):
    tok = trained.get(tok_name, tok_name) if tok_name is not None else object()
    with pytest.raises(TraceInputError) as err:
        token_labels(tok, ids)
    msg = str(err.value)
    assert re.fullmatch(rf"{arg}: expected [^\n]+, got [^\n]+\. Fix: [^\n]+", msg), msg
    assert got in msg.split(", got ", 1)[1], msg


def test_fast_on_ten_thousand_ids(trained):
    hf = trained["hf-byte-level"]
    ids = (hf.encode(CORPUS) * 40)[:10_000]
    t = time.perf_counter()
    labels = token_labels(hf, ids)
    assert time.perf_counter() - t < 2.0  # O(n): about 0.05 s here; a full decode per token takes minutes
    assert len(labels) == 10_000 and EMPTY not in labels


def test_docstring_example_with_hand_made_merges():
    pieces = [("t", "h"), ("th", "e"), ("Ġ", "the"), ("Ġ", "æ"), ("³", "¨"), ("³¨", "æ"), ("Ħ", "ı")]
    vocab = {c: i for i, c in enumerate(sorted(bytes_to_unicode().values()))}
    for a, b in pieces:
        vocab[a + b] = len(vocab)
    tok = tokenizers.Tokenizer(models.BPE(vocab, pieces))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    ids = tok.encode(" the 注意\n").ids
    assert [tok.id_to_token(i) for i in ids] == ["Ġthe", "Ġæ", "³¨æ", "Ħı", "Ċ"]
    assert token_labels(tok, ids) == ["␣the", "␣⋯", "注⋯", "意", "↵"]
    assert labels_text(["␣the", "↵", "注⋯", "意", "∅"]) == " the\n注意"


def test_wordpiece_reads_as_decode():
    tok = tokenizers.Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()  # '##' pieces join the previous word; the rest get a space; cleanup on
    tok.train_from_iterator([CORPUS], trainers.WordPieceTrainer(vocab_size=300, special_tokens=["[UNK]"],
                                                                show_progress=False))
    ids = tok.encode("The attention weights, at each time step. 注意力 🚀").ids
    labels = token_labels(tok, ids)
    assert any(tok.id_to_token(i).startswith("##") for i in ids) and "␣step" in labels and "." in labels
    assert labels_text(labels) == tok.decode(ids, skip_special_tokens=False)
