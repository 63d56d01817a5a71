"""The trace file: one safetensors file, its tensors plus one JSON document in the header's metadata.

safetensors (huggingface/safetensors) stores raw tensor bytes behind a JSON header and runs no code when read,
unlike ``torch.save`` (pickle). Its header's ``__metadata__`` (str -> str) carries ours under one key,
:data:`KEY`::

    {"format": "tr_widgets.trace", "version": 1, "kind": "RecurrentTrace", "spec": "lstm",
     "torch": "2.x", "package": "0.1.0", "body": <the trace, as codec.Writer encodes it>}

``spec`` is the kind's spec by name (a cell kind, a state-space family), for a reader of the header; the body
holds every option of the trace. A reader refuses, with one message naming the path, a file that is not ours,
one cut short, and one written by a newer format version (:data:`VERSION`).
"""
from __future__ import annotations

import json
import os
import pathlib

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..errors import TraceInputError, describe, fail  # noqa: F401  (TraceInputError: for the examples)

FORMAT = "tr_widgets.trace"
VERSION = 1  # raise it when a file written now could not be read by the code of the version before
KEY = "tr_widgets"


def file_path(path, what: str) -> pathlib.Path:
    """``path`` as a Path, or one clear error. Example: ``file_path("a.trace", "save(path)").name == "a.trace"``"""
    if not isinstance(path, (str, os.PathLike)):
        fail(what, "a file path (a str or a pathlib.Path)", describe(path), 'pass e.g. "lstm.trace"')
    return pathlib.Path(path)


def write(path: pathlib.Path, header: dict, tensors: dict) -> pathlib.Path:
    """Write ``tensors`` and ``header`` (plus format, version and library versions) to ``path``.

    Example::

        import tempfile, pathlib
        p = write(pathlib.Path(tempfile.mkdtemp()) / "x.trace", {"kind": "none", "body": None}, {})
        read_header(p)["format"] == FORMAT
    """
    from ... import __version__  # noqa: PLC0415 - the package imports the engine first

    meta = {"format": FORMAT, "version": VERSION, **header, "torch": torch.__version__, "package": __version__}
    try:
        # ASCII JSON: a label holding a lone surrogate (a byte-level token cut in two) still makes a valid header
        save_file(tensors, str(path), metadata={KEY: json.dumps(meta)})
    except (OSError, SafetensorError, ValueError, TypeError) as err:
        fail("save(path)", "a file path that can be written", f"{str(path)!r} ({type(err).__name__}: {err})",
             "pick a folder that exists and that you may write to")
    return path


def not_ours(path, why: str) -> None:
    """Refuse ``path`` as not one of our trace files, saying why.

    Example::

        try: not_ours("notes.txt", "a text file"); err = None
        except TraceInputError as e: err = str(e)
        err.startswith("load(path): expected a trace file") == True
    """
    fail("load(path)", "a trace file written by trace.save(path) (tr_widgets' safetensors format)",
         f"{str(path)!r}, {why}", "pass a file written by trace.save(...) (save it again if it was cut short)")


def _sniff(path: pathlib.Path) -> None:
    """Say plainly what a file that cannot be ours is (safetensors' own words: "header too large" for a text file)."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(9)
    n = int.from_bytes(head[:8], "little") if len(head) >= 8 else -1
    if len(head) < 9 or head[8:9] != b"{" or n > size:
        if 0 < n <= 100_000_000 and head[8:9] == b"{":  # a safetensors header, the file stops inside it
            not_ours(path, f"which is cut short: its header announces {n} bytes, the file has {size - 8}")
        not_ours(path, f"which is {size} bytes with no safetensors header (it starts {head[:8]!r})")


def read_header(path: pathlib.Path) -> dict:
    """Our JSON header of the file at ``path``, checked: ours, whole, and of a version this code reads.

    Example: ``read_header(tr.save("lstm.trace"))["kind"] == "RecurrentTrace"``
    """
    if not path.is_file():
        fail("load(path)", "an existing trace file", f"{str(path)!r}, which does not exist",
             "check the path, or save the trace first: trace.save(path)")
    _sniff(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get(KEY)
    except (SafetensorError, OSError, ValueError) as err:
        not_ours(path, f"which is not a whole safetensors file ({err})")
    try:
        meta = json.loads(raw) if raw is not None else None
    except json.JSONDecodeError:
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        not_ours(path, "a safetensors file without tr_widgets' header")
    version = meta.get("version")
    if not isinstance(version, int) or version > VERSION:
        fail("load(path)", f"a trace file of format version {VERSION} or older (what this tr_widgets reads)",
             f"{str(path)!r}, of version {version!r} (written by tr_widgets {meta.get('package', '?')})",
             "upgrade tr_widgets (pip install -U tr_widgets), or save the trace with this version")
    return meta


def device_name(device) -> str:
    """``device`` as safetensors takes it ("cpu", "cuda:0"), or one clear error (also for a GPU that is absent).

    Example: ``device_name(torch.device("cpu")) == "cpu"``
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        fail("device", 'a torch device ("cpu", "cuda", "cuda:1")', describe(device), 'pass device="cpu"')
    if dev.type == "cuda" and not torch.cuda.is_available():
        fail("device", "a device this machine has", f"{device!r}, but CUDA is not available here",
             'load on the CPU: tr_widgets.load(path) (device="cpu" is the default)')
    return str(dev) if dev.type != "cuda" or dev.index is not None else "cuda:0"


def read_tensors(path: pathlib.Path, device: str = "cpu") -> dict:
    """Every tensor of the file, on ``device``.

    Example: ``read_tensors(at.save("at.trace"))["t0"].device.type == "cpu"``
    """
    try:
        with safe_open(str(path), framework="pt", device=device) as f:
            # cloned: fresh, aligned storage (a view into the read buffer can take another matmul kernel, and
            # differ from the original in the last bit), and the file is not held open by the trace
            return {k: f.get_tensor(k).clone() for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        not_ours(path, f"whose tensors cannot be read ({err})")
