"""A package installed outside site-packages (``pip install --target`` onto PYTHONPATH, as the pinned older
transformers is for bench_decode_small) is library code to capture's module-loop finder, not the user's: its
modules get no module-loop hooks (issue 23: every GPT-2 submodule of transformers 5.23 got one)."""
import importlib
import textwrap

from tr_widgets.engine.capture.module_loops import user_class

CELL = textwrap.dedent("""
    import torch
    class Cell(torch.nn.Module):
        def forward(self, x, h):
            return torch.tanh(x + h)
""")


def _package(root, name, listed):
    (root / name).mkdir()
    (root / name / "__init__.py").write_text(CELL)
    info = root / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "RECORD").write_text((f"{name}/__init__.py,,\n" if listed else "") + f"{name}-1.0.dist-info/RECORD,,\n")


def test_a_package_a_RECORD_lists_is_library_code_and_the_users_own_is_not(tmp_path, monkeypatch):
    _package(tmp_path, "tr_probe_installed", listed=True)
    _package(tmp_path, "tr_probe_own", listed=False)  # a RECORD beside it that does not list it: the user's
    monkeypatch.syspath_prepend(str(tmp_path))
    installed = importlib.import_module("tr_probe_installed").Cell
    own = importlib.import_module("tr_probe_own").Cell
    assert user_class(installed) is False
    assert user_class(own) is True
