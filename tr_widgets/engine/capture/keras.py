"""Keras 3 models on the torch backend under ``capture``: where their layers are, what they are called, which
calls are recorded, and the one message for Keras on another backend.

With ``KERAS_BACKEND=torch`` every Keras layer is an ``nn.Module`` whose ``__call__`` runs torch's hooks, but
Keras tracks its sublayers itself, so ``model.named_modules()`` does not list them: :func:`walk` adds them
(``_flatten_layers``) and :func:`named` names them by their Keras path (``lstm``, ``bidirectional.forward_gru``).
Keras's RNN layers (SimpleRNN, LSTM, GRU, RNN over their cells or a ``StackedRNNCells``) are recorded from
the layer's call (its input, initial state, output and a snapshot of each cell's weights), and traced in
Keras's own equations (``recurrent.keras_build``). keras.layers.MultiHeadAttention needs nothing here: its
class name says Attention, so the capture watches it like any attention module, and it calls
``F.scaled_dot_product_attention`` (or softmax(q·kᵀ)·v by einsum when it returns its scores).

Nothing imports keras: layers are recognised by the class names and modules along their MRO.
"""
from __future__ import annotations

import dataclasses

from ..errors import TraceInputError, describe, fail
from ..recurrent.keras_build import keras_kind, trace_keras_layer
from ..recurrent.keras_cells import keras_class, keras_params
from . import torchstate
from .entries import Entry, detach_all, keep, version_of

_KERAS_ROOTS = ("keras.", "tf_keras.", "tensorflow.python.keras.", "tensorflow.keras.")
_BACKENDS: dict = {}  # type -> its Keras backend or None (asked for every module when a capture starts)


def keras_backend(obj) -> str | None:
    """The backend a Keras object was built for (``'torch'``, ``'jax'``, ``'tensorflow'``...), ``'tf.keras'`` for
    Keras 2 / tf.keras layers, or None when ``obj`` is not a Keras object.

    Example: ``keras_backend(nn.LSTM(1, 2)) == None``  (a Keras LSTM with ``KERAS_BACKEND=torch``: ``'torch'``)
    """
    cls = type(obj)
    if cls not in _BACKENDS:
        _BACKENDS[cls] = _backend_of(cls)
    return _BACKENDS[cls]


def _backend_of(cls) -> str | None:
    mods = [c.__module__ + "." for c in cls.__mro__]
    if not any(m.startswith(_KERAS_ROOTS) for m in mods):
        return None
    for m in mods:
        if m.startswith("keras.src.backend.") and m.count(".") >= 4 and m.split(".")[3] != "common":
            return m.split(".")[3]
    return "tf.keras"


def check_model(model) -> None:
    """One clear error for a Keras model that is not a torch module (another backend, or tf.keras).

    Example: ``check_model(nn.LSTM(1, 2))``  (a torch module passes; a Keras model on jax raises, with the Fix)
    """
    backend = keras_backend(model)
    if backend is None or backend == "torch":
        return
    if backend == "tf.keras":
        fail("model", "a Keras 3 model on the torch backend (its layers are then torch modules)",
             f"{describe(model)} from tf.keras / Keras 2",
             "import keras instead of tensorflow.keras (Keras 3), with os.environ['KERAS_BACKEND'] = 'torch' set "
             "before the first import keras")
    fail("model", "a Keras 3 model on the torch backend (its layers are then torch modules)",
         f"{describe(model)} built on Keras's {backend!r} backend",
         "set os.environ['KERAS_BACKEND'] = 'torch' before the first import keras, and import keras instead of "
         "tensorflow.keras (restart the kernel), then build the model again")


def walk(model) -> list:
    """The model and every submodule, Keras's tracked sublayers included.

    Example: ``len(walk(nn.Sequential(nn.Linear(1, 2), nn.ReLU()))) == 3``  (a Keras model: its layers too)
    """
    mods = torchstate.walk(model)
    seen = {id(m) for m in mods}
    for m in list(mods):
        if keras_backend(m) == "torch" and hasattr(m, "_flatten_layers"):
            for layer in m._flatten_layers(include_self=False, recursive=True):
                if id(layer) not in seen:
                    seen.add(id(layer))
                    mods.append(layer)
    return mods


def named(model):
    """``(name, module)`` pairs: ``model.named_modules()``, then each Keras sublayer by its path in the model.

    Example: ``[n for n, _ in named(nn.Sequential(nn.Linear(1, 2)))] == ['', '0']``  (Keras: ``'lstm'``...)
    """
    yield from model.named_modules()
    if keras_backend(model) != "torch" or not hasattr(model, "_flatten_layers"):
        return
    root = (getattr(model, "path", None) or getattr(model, "name", "")) + "/"
    for layer in model._flatten_layers(include_self=False, recursive=True):
        path = getattr(layer, "path", None) or layer.name
        yield (path[len(root):] if path.startswith(root) else path).replace("/", "."), layer


_RNN_TYPES: dict = {}  # type -> whether it is a Keras RNN layer (asked for every module call under global hooks)


def is_rnn_layer(module) -> bool:
    """Whether a module is a Keras RNN layer (SimpleRNN, LSTM, GRU, RNN) on the torch backend.

    Example: ``is_rnn_layer(nn.GRU(3, 4)) == False``  (``keras.layers.GRU(4)``: True)
    """
    cls = type(module)
    if cls not in _RNN_TYPES:
        _RNN_TYPES[cls] = keras_backend(module) == "torch" and keras_class(module, "RNN")
    return _RNN_TYPES[cls]


def _cells(layer) -> list:
    cell = layer.cell
    return list(cell.cells) if keras_class(cell, "StackedRNNCells") else [cell]


def _initial(cells, state) -> list:
    """Per cell, its initial states as a list (``[h]`` or ``[h, c]``), or None for zeros."""
    if state is None:
        return [None] * len(cells)
    state = list(state) if isinstance(state, (list, tuple)) else [state]
    if len(cells) == 1:
        return [[detach_all(s) for s in state]]
    return [[detach_all(s) for s in (one if isinstance(one, (list, tuple)) else [one])] for one in state]


def _check(layer, cells, x, kwargs) -> None:
    name = getattr(layer, "name", type(layer).__name__)
    if not (hasattr(x, "dim") and x.dim() == 3):
        fail(name, "an input [batch, time, features]", describe(x), "call the layer on a 3-D tensor")
    if kwargs.get("mask") is not None:
        fail(name, "an unmasked sequence (a masked step keeps the state, which the trace does not replay)",
             "a call with a mask (e.g. Embedding(mask_zero=True))", "trace the layer on unpadded sequences")
    if getattr(layer, "stateful", False):
        fail(name, "a layer with stateful=False", "stateful=True (the state before the call is not kept)",
             "build the layer with stateful=False to trace it")
    for cell in cells:
        if keras_kind(cell) is None:
            fail(name, "Keras's SimpleRNNCell, LSTMCell or GRUCell", describe(cell),
                 "trace a layer built from Keras's own cells")
        if kwargs.get("training") and (getattr(cell, "dropout", 0) or getattr(cell, "recurrent_dropout", 0)):
            fail(name, "inference (dropout is random, so it cannot be replayed)", "training=True with dropout",
                 "call the model with training=False (model.predict, or model(x, training=False))")


def record_rnn(mr, layer, args, kwargs, output) -> None:
    """One Keras RNN layer call (a ``modules.RECORDED`` handler): one entry per cell, traced when first read.

    From the forward hook: ``record_rnn(rec.modules, lstm_layer, (x,), {"training": False}, y)``. Here a stand-in
    of ``keras.layers.SimpleRNN(4, return_sequences=True)`` holds an nn.RNN's weights (Keras's are transposed).

    Example::

        import types
        from tr_widgets.engine.capture.recorder import Recorder
        rnn, xb, r = nn.RNN(3, 4, batch_first=True), torch.randn(2, 5, 3), Recorder(None, True, "patch")
        cell = type("SimpleRNNCell", (), {"__module__": "keras.src.layers.rnn.simple_rnn", "activation": torch.tanh,
                    "kernel": rnn.weight_ih_l0.detach().T, "recurrent_kernel": rnn.weight_hh_l0.detach().T,
                    "bias": (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach()})()
        layer = types.SimpleNamespace(cell=cell, return_sequences=True, parameters=lambda: [], name="rnn")
        record_rnn(r.modules, layer, (xb,), {"training": False}, rnn(xb)[0])
        e = r.entries[0]
        assert torch.allclose(e.build(*e.held).step(4, batch=1)["h_t"], rnn(xb)[0][1, 4], atol=1e-6)
    """
    x = args[0] if args else kwargs.get("sequences")
    cells = _cells(layer)
    _check(layer, cells, x, kwargs)
    vers = tuple(version_of(p) for p in layer.parameters())
    hit = mr.snaps.get(id(layer))
    if hit is None or hit[1] != vers:  # first call, or weights changed in place: a new snapshot
        hit = mr.snaps[id(layer)] = (layer, vers, [keras_params(c) for c in cells])
    kept = []
    call = {"x": keep(x, "input", kept), "initial": _initial(cells, kwargs.get("initial_state")),
            "output": detach_all(output), "params": hit[2], "traces": None}
    for i, cell in enumerate(cells):
        mr.rec.entries.append(Entry(layer if len(cells) == 1 else cell, _build, kept, [layer, cells, call, i]))
    mr.rec.cover("hand")


def _build(layer, cells, call, i, *, name=""):
    if call["traces"] is None:  # a stack is stepped once, for all its cells
        try:
            call["traces"] = trace_keras_layer(
                [keras_kind(c) for c in cells], call["params"], call["x"], call["initial"], call["output"],
                go_backwards=bool(getattr(layer, "go_backwards", False)),
                return_sequences=bool(getattr(layer, "return_sequences", False)), names=[""] * len(cells))
        except TraceInputError:
            raise
        except Exception as e:  # noqa: BLE001 - one clear line, never a deep torch traceback
            raise TraceInputError(f"{getattr(layer, 'name', 'layer')}: {type(e).__name__}: {e}") from None
    return dataclasses.replace(call["traces"][i], name=name)
