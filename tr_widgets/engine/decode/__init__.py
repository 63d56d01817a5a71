"""Decoding: one tick of the clock per generated token, with the KV cache as the model keeps it."""
from .build import decode, labels_for, sync
from .trace import DecodeTrace, Tick

__all__ = ["DecodeTrace", "Tick", "decode", "labels_for", "sync"]
