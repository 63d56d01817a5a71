"""The Chinese tiny model: character-level, pickle-free, small, trained from the repo's own CC0 corpus."""
import collections
import hashlib
import importlib.util
import pathlib
import pickle

import pytest
import torch

import tr_widgets
from tr_widgets.engine.errors import TraceInputError
from tr_widgets.engine.text import labels_text
from tr_widgets.models import CharTokenizer, TinyGPT, WordTokenizer, load_tiny, read_corpus_zh
from tr_widgets.models.char_tokenizer import CORPUS_ZH_PATH, split_chars
from tr_widgets.models.tiny_gpt import WEIGHTS, read_meta

from .test_tiny_gpt import greedy_ids

ROOT = pathlib.Path(__file__).resolve().parents[2]
SMALL = dict(n_layer=1, n_head=2, n_embd=16, block_size=16)
CJK = range(0x4E00, 0xA000)  # CJK Unified Ideographs


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def zh():
    return load_tiny("zh")


@torch.no_grad()
def greedy(model, tok, prompt, n, use_cache=True):
    """The greedy continuation of ``prompt`` as text (test_tiny_gpt's greedy_ids, decoded)."""
    return tok.decode(greedy_ids(model, torch.tensor([tok.encode(prompt)]), n, use_cache))


def test_file_is_small_and_loads_without_pickle(monkeypatch):
    assert WEIGHTS["zh"].stat().st_size <= 1024 * 1024

    def refuse(*a, **k):
        raise AssertionError("pickle-based loading was used")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    model, tok = load_tiny("zh")
    assert isinstance(model, TinyGPT) and not model.training and isinstance(tok, CharTokenizer)
    assert model.config.vocab_size == tok.vocab_size
    assert model.lm_head.weight is model.wte.weight


def test_metadata_says_how_it_was_made():
    meta = read_meta(WEIGHTS["zh"])
    assert meta["tokenizer"].startswith("character-level")
    assert meta["vocab"] == CharTokenizer.from_text(read_corpus_zh()).vocab
    assert meta["corpus_sha256"] == hashlib.sha256(read_corpus_zh().encode()).hexdigest()
    assert meta["seed"] == 0 and meta["steps"] == load_script("train_tiny").LANGS["zh"]["steps"]


def test_corpus_is_generated_by_the_script_and_says_its_licence():
    text = CORPUS_ZH_PATH.read_text(encoding="utf-8")
    assert text == load_script("make_corpus_zh").make_corpus()
    assert "CC0" in text.splitlines()[1]
    body = read_corpus_zh()
    assert 5_000 <= len(body) and len(body.encode()) <= 110_000
    assert " " not in body and body.count("猫坐在垫子上") > 30


def test_every_corpus_line_round_trips(zh):
    _, tok = zh
    lines = read_corpus_zh().splitlines()
    assert len(lines) > 100
    for line in lines:
        ids = tok.encode(line)
        assert tok.unk_id not in ids, line
        assert tok.decode(ids) == line and tok.tokens(ids) == list(line)


def test_char_tokenizer_api():
    tok = CharTokenizer.from_text("猫坐在垫子上。\n狗跑到公园里。")
    assert tok.vocab[0] == "<unk>" and tok.vocab[1:] == sorted(tok.vocab[1:]) and "\n" not in tok.vocab
    assert split_chars("猫 坐\n在") == ["猫", "坐", "在"]
    ids = tok.encode("猫 坐在龙")  # whitespace is skipped, an unknown character is <unk>
    assert tok.tokens(ids) == ["猫", "坐", "在", "<unk>"] and ids[-1] == tok.unk_id == 0
    assert tok.decode(torch.tensor(ids[:3])) == "猫坐在" and len(tok) == tok.vocab_size
    assert repr(tok) == f"CharTokenizer(vocab_size={tok.vocab_size})"
    with pytest.raises(ValueError, match="vocab"):
        CharTokenizer(["<unk>", "猫狗"])


def test_greedy_continuation_is_chinese_from_the_corpus(zh):
    model, tok = zh
    vocab = set(tok.vocab[1:])
    for prompt, favourite in [("猫坐在", "垫子上。"), ("狗跑到", "公园里。"), ("第三步之后是", "第四步。")]:
        text = greedy(model, tok, prompt, 8)
        assert text == greedy(model, tok, prompt, 8, use_cache=False)  # deterministic, cache or not
        assert text.startswith(favourite), (prompt, text)
        assert set(text) <= vocab and sum(ord(c) in CJK for c in text) >= 6, text


def test_the_favourite_is_the_corpus_favourite():
    # why 猫坐在 -> 垫: it is what the corpus says most often after 猫坐在
    body = read_corpus_zh()
    after = collections.Counter(body[i + 3] for i in range(len(body) - 3) if body.startswith("猫坐在", i))
    assert after.most_common(1)[0][0] == "垫"


def test_decode_and_token_labels_give_whole_characters(zh):
    model, tok = zh
    tr = tr_widgets.decode(model, "猫坐在", 5, tokenizer=tok)
    assert tr.tokens == ["猫", "坐", "在", "垫", "子", "上", "。", "小"]
    assert tr.new_text.startswith("垫子上。")
    labels = tr_widgets.token_labels(tok, tok.encode("猫坐在垫子上。"))
    assert labels == list("猫坐在垫子上。")
    ids = list(tr.prompt_ids) + list(tr.new_ids)
    assert labels_text(tr_widgets.token_labels(tok, ids)) == tok.decode(ids) == tr.text


def test_lang_picks_the_model_and_bad_lang_names_the_argument():
    m_en, t_en = load_tiny(lang="en")
    assert isinstance(t_en, WordTokenizer) and t_en.vocab == load_tiny()[1].vocab
    assert isinstance(load_tiny(lang="zh", device="cpu")[1], CharTokenizer)
    assert isinstance(load_tiny("cpu")[1], WordTokenizer)  # the older form load_tiny(device)
    assert isinstance(load_tiny("zh", path=WEIGHTS["en"])[1], WordTokenizer)  # path wins; its metadata decides
    for bad in ("fr", "ZH", None, 3):
        with pytest.raises(TraceInputError, match=r"^lang: .*'en'.*'zh'"):
            load_tiny(bad)


def test_training_zh_is_reproducible_and_saves_a_char_model(tmp_path):
    train_tiny = load_script("train_tiny")
    a, tok, log_a = train_tiny.train(steps=3, batch_size=4, model_kw=SMALL, lang="zh")
    b, _, log_b = train_tiny.train(steps=3, batch_size=4, model_kw=SMALL, lang="zh")
    assert isinstance(tok, CharTokenizer) and log_a["train_loss"] == log_b["train_loss"]
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    path = tmp_path / "zh.safetensors"
    train_tiny.save_tiny(a, tok, path, extra={"steps": 3})
    loaded, tok2 = load_tiny(path=path)
    assert isinstance(tok2, CharTokenizer) and tok2.vocab == tok.vocab
    assert all(torch.equal(v, sa[k]) for k, v in loaded.state_dict().items())
