"""What the equality tests rest on: transformers really runs its pure-torch paths here (no mamba_ssm,
causal_conv1d, fla, hub kernels, mambapy or RWKV CUDA kernel), and the state engine is pure torch."""
import ast
import importlib.util
import inspect
import pathlib
import subprocess
import sys

import pytest

import tr_widgets.engine.state as state_pkg

transformers = pytest.importorskip("transformers")
# effective.py shows a state trace as attention: it subclasses AttentionTrace (the only engine module besides errors)
ALLOWED = ("__future__", "collections", "dataclasses", "functools", "importlib", "math", "re", "typing", "tr_widgets.engine.errors",
           "tr_widgets.engine.attention.trace", "..files.saving")  # every trace is Saveable (engine/files)


def test_no_kernel_package_is_installed():
    # transformers 5.25 brings `kernels` (hub kernels, used only after model.kernelize() or use_kernels=True)
    for name in ("mamba_ssm", "causal_conv1d", "mambapy", "fla"):
        assert importlib.util.find_spec(name) is None, f"{name} is installed: the model may not take its torch path"


def _torch_function(fn):
    """The plain function a (possibly hub-kernelized) transformers function runs when no kernel is active."""
    if inspect.isfunction(fn):
        chosen = inspect.getclosurevars(fn).nonlocals.get("implementation", fn)
        return fn.__wrapped__ if chosen is getattr(fn, "__wrapped__", None) else chosen
    return inspect.getclosurevars(type(fn).forward).nonlocals["func"]  # kernels' Func module: calls func


def test_the_mixers_dispatch_to_their_torch_functions():
    from transformers.models.mamba import modeling_mamba as m1
    from transformers.models.mamba2 import modeling_mamba2 as m2
    from transformers.models.qwen3_next import modeling_qwen3_next as q3
    from transformers.models.rwkv import modeling_rwkv as rw

    wrapped = [m1.mamba_selective_scan, m1.mamba_selective_state_update, m1.causal_conv1d_fn, m1.causal_conv1d_update,
               m2.mamba2_chunk_scan, m2.mamba2_selective_state_update, m2.causal_conv1d_fn,
               q3.torch_chunk_gated_delta_rule, q3.torch_recurrent_gated_delta_rule, q3.causal_conv1d_fn]
    for fn in wrapped:
        plain = _torch_function(fn)
        assert inspect.isfunction(plain) and plain.__module__.startswith("transformers."), f"{fn} runs {plain}"
    if importlib.util.find_spec("kernels") is not None:
        from kernels._internals.layer import layer

        assert layer._ACTIVE_KERNEL_FUNCS.get() is None  # no model was kernelized: Func calls its torch function
    assert rw.rwkv_cuda_kernel is None  # rwkv_linear_attention takes rwkv_linear_attention_cpu


def test_state_engine_imports_only_torch_and_the_errors_module():
    root = pathlib.Path(state_pkg.__file__).parent
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = ["." * node.level + (node.module or "")]
            else:
                continue
            for name in names:
                sibling = name.startswith(".") and not name.startswith("..")
                assert name in ALLOWED or name.startswith("torch") or sibling, f"{path.name} imports {name}"


def test_importing_the_state_engine_loads_no_transformers():
    code = "import sys, tr_widgets.engine.state; assert 'transformers' not in sys.modules, 'transformers loaded'"
    subprocess.run([sys.executable, "-c", code], check=True)
