"""Decoding: one tick of the clock per generated token, with the KV cache as the model keeps it."""
from .build import cache_arg, decode, labels_for, returned_cache, sync
from .states import cache_layer_bytes, kv_bytes_per_position
from .trace import DecodeTrace, Tick

__all__ = ["DecodeTrace", "Tick", "cache_arg", "cache_layer_bytes", "decode", "kv_bytes_per_position", "labels_for",
           "returned_cache", "sync"]
