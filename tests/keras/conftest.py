"""Keras runs on the torch backend here: the variable must be set before the first ``import keras``."""
import os

os.environ["KERAS_BACKEND"] = "torch"
