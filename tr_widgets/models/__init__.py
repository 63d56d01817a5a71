"""The tiny language model shipped with tr_widgets: a word-level GPT trained on corpus.txt.

Example:
    >>> import torch
    >>> from tr_widgets.models import load_tiny
    >>> model, tok = load_tiny()
    >>> out = model(torch.tensor([tok.encode("The cat sat on the")]), use_cache=True)
    >>> tok.decode([out.logits[0, -1].argmax()])
    'mat'

Files: tiny_gpt.safetensors (weights, config and vocabulary as metadata; made by scripts/train_tiny.py),
corpus.txt (training text written for this repo, CC0; made by scripts/make_corpus.py).
"""
from .tiny_gpt import TinyGPT, TinyGPTConfig, TinyGPTOutput, load_tiny, save_tiny
from .tokenizer import WordTokenizer, read_corpus

__all__ = ["TinyGPT", "TinyGPTConfig", "TinyGPTOutput", "WordTokenizer", "load_tiny", "read_corpus",
           "save_tiny"]
