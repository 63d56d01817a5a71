"""The tiny language models shipped with tr_widgets: a word-level GPT trained on corpus.txt (English,
``load_tiny()``) and a character-level one trained on corpus_zh.txt (Chinese, ``load_tiny("zh")``).

Example:
    >>> import torch
    >>> from tr_widgets.models import load_tiny
    >>> model, tok = load_tiny()
    >>> out = model(torch.tensor([tok.encode("The cat sat on the")]), use_cache=True)
    >>> tok.decode([out.logits[0, -1].argmax()])
    'mat'
    >>> model, tok = load_tiny("zh")
    >>> out = model(torch.tensor([tok.encode("猫坐在")]), use_cache=True)
    >>> tok.decode([out.logits[0, -1].argmax()])
    '垫'

Files: tiny_gpt.safetensors and tiny_gpt_zh.safetensors (weights, config and vocabulary as metadata;
made by scripts/train_tiny.py [--lang zh]), corpus.txt and corpus_zh.txt (training text written for
this repo, CC0; made by scripts/make_corpus.py and scripts/make_corpus_zh.py).
"""
from .char_tokenizer import CharTokenizer, read_corpus_zh
from .tiny_gpt import TinyGPT, TinyGPTConfig, TinyGPTOutput, load_tiny, save_tiny
from .tokenizer import WordTokenizer, read_corpus

__all__ = ["CharTokenizer", "TinyGPT", "TinyGPTConfig", "TinyGPTOutput", "WordTokenizer", "load_tiny",
           "read_corpus", "read_corpus_zh", "save_tiny"]
