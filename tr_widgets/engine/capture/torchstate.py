"""What a capture changes in torch while it runs, and how it puts torch back exactly as it was: hook
tables, the function-mode stack, and the compiler's stance."""
from __future__ import annotations

import sys

import torch
from torch import nn
from torch.nn.modules import module as nn_module

GLOBAL_TABLES = ("_global_forward_pre_hooks", "_global_forward_hooks", "_global_forward_hooks_always_called",
                 "_global_forward_hooks_with_kwargs")


def walk(root: nn.Module) -> list:
    """root and every submodule (``modules()`` without the names, several times faster).

    Example::

        net = nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.ReLU()))
        walk(net) == list(net.modules())
    """
    out, i = [root], 0
    while i < len(out):
        out.extend(m for m in out[i]._modules.values() if m is not None)
        i += 1
    return out


def remove_global_hook(handle) -> None:
    """Remove a global module hook, and the with_kwargs entry torch's ``handle.remove()`` leaves behind.

    Example::

        handle = nn.modules.module.register_module_forward_hook(lambda m, i, o: None)
        remove_global_hook(handle)
        [handle.id in getattr(nn.modules.module, t) for t in GLOBAL_TABLES] == [False] * 4
    """
    handle.remove()
    for n in GLOBAL_TABLES:
        getattr(nn_module, n).pop(handle.id, None)


def remove_mode(mode) -> None:
    """Take ``mode`` off torch's function-mode stack wherever it is (others stay in their order).

    Example::

        from torch.overrides import TorchFunctionMode
        mode = TorchFunctionMode()
        depth = torch._C._len_torch_function_stack()
        torch._C._push_on_torch_function_stack(mode)
        remove_mode(mode)
        torch._C._len_torch_function_stack() == depth
    """
    above = []
    for _ in range(torch._C._len_torch_function_stack()):
        top = torch._C._pop_torch_function_stack()
        if top is mode:
            break
        above.append(top)  # above[0] was the top
    for m in reversed(above):
        torch._C._push_on_torch_function_stack(m)


def force_eager():
    """Entered: compiled code runs as plain Python while the capture is active (nothing else sees inside
    it). None when nothing was ever compiled in this process, or the torch is too old for stances.

    Example::

        stance = force_eager()  # None when torch._dynamo was never imported
        if stance is not None:
            stance.__exit__(None, None, None)
    """
    if "torch._dynamo" not in sys.modules:
        return None
    try:
        stance = torch.compiler.set_stance("force_eager")
        stance.__enter__()
        return stance
    except Exception:  # noqa: BLE001 - an older torch: the hooks still step out of compilation
        return None


def compiled_backends(mods) -> list:
    """``(module, backend name)`` for each ``torch.compile``-d module of ``mods`` whose backend is not
    ``"eager"``: recording one would run it eagerly, which can change the last bits of its outputs.

    Example::

        compiled_backends([lstm]) == []  # nothing compiled
    """
    out = []
    for m in mods:
        ctx = getattr(m, "dynamo_ctx", None) if type(m).__name__ == "OptimizedModule" else None
        if ctx is None:
            continue
        backend = getattr(ctx, "callback", None)
        for _ in range(8):  # dynamo wraps the backend in a few layers, each pointing at the next
            inner = getattr(backend, "_torchdynamo_orig_backend", None)
            if inner is None or inner is backend:
                break
            backend = inner
        name = getattr(backend, "compiler_name", None) or getattr(backend, "__name__", None) or type(backend).__name__
        if name != "eager":
            out.append((m, str(name)))
    return out
