"""Frames: the state of every panel at each step, packed once for the browser and for exported pages.

A *frame* is what Python would send for one step: every synced value of every panel (canvases, HTML
panels, the caption). The stepper records them by drawing each step quietly (``canvas.Quiet``), so a
frame is the same bytes the kernel would have sent, by construction. Values repeated across steps are
stored once (a table per key, and the table index of each step), the whole is zlib-compressed.

The frame budget (default :data:`DEFAULT_BUDGET`, 2 MiB; :func:`set_frame_budget`, or
``show(..., frames=nbytes)`` for one stepper) bounds what one stepper embeds: its frames as base64
plus the JavaScript. Within it, every frame goes to the browser once and stepping, playing and
scrubbing run there, also in exported pages (nbconvert HTML, nbviewer, Jupyter Book). Above it,
the browser gets chunks of frames around the step (about :data:`CHUNK_BYTES` each), and exported pages keep the static
snapshot with a notice saying why and how to make it step.

Payload: ``b"TRF1"``, u32 manifest length, manifest JSON, blobs (``static/player.js`` reads it).
Chunks name large values (≥ :data:`REF_MIN` bytes) that hold for the whole chunk by hash; a later chunk
refers to a value the page already holds (the weights window, the overview, labels, the theme's words)
instead of resending it.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
import zlib

import ipywidgets as w
import numpy as np

from ..engine.errors import fail
from . import esm
from .panels import BarsCanvas, CaptionPanel, MatrixCanvas

MiB = 1024 * 1024
DEFAULT_BUDGET = 2 * MiB
CHUNK_BYTES = 24 * 1024  # about how large one prefetched chunk of frames is (large traces)
MSG_MAX = 40 * 1024  # the most one chunk message may weigh (halved until it fits)
REF_MIN = 256  # values this large travel once per page; later chunks refer to them by hash
REF_MIN_JSON = 96  # the same for JSON values (a colour table, the theme's words): a reference costs ~20 bytes
MAX_FULL = 4096  # steps above which frames are never all recorded (show() stays fast)
EXCLUDED = {"layout", "style", "tabbable", "tooltip", "comm", "keys", "log"}
# Keys whose bytes are float32 arrays (MatrixCanvas.values, BarsCanvas.values). They travel byte-shuffled
# (kind "s": every float's first byte, then every second byte...): sign and exponent bytes sit together and
# repeat, so zlib packs them about 13% smaller than floats in place. The page unshuffles them.
FLOAT32_KEYS = {"values"}
_budget = {"bytes": DEFAULT_BUDGET}


def set_frame_budget(nbytes: int) -> int:
    """Set the most bytes one stepper may embed for in-browser stepping; returns the previous budget.

    0 never sends all frames (the browser then gets chunks around the step, exports stay static).

    Example::

        old = tr_widgets.widgets.set_frame_budget(8 * 1024**2)   # 8 MiB per stepper
        tr_widgets.widgets.set_frame_budget(old) == 8 * 1024**2   # back as it was; returns the one it replaces
    """
    if not isinstance(nbytes, int) or isinstance(nbytes, bool) or nbytes < 0:
        fail("nbytes", "an int ≥ 0 (bytes per stepper)", repr(nbytes), "pass e.g. 4 * 1024**2 for 4 MiB")
    old, _budget["bytes"] = _budget["bytes"], nbytes
    return old


def get_frame_budget() -> int:
    """The frame budget in bytes (default 2 MiB). Example: ``get_frame_budget()  # 2097152``"""
    return _budget["bytes"]


def player_sources() -> dict[str, str]:
    """The JavaScript the exported page runs: the same modules the live widgets load (widgets/esm.py).

    Example: ``"export default" in player_sources()["player"]``
    """
    return esm.sources()


def js_bytes() -> int:
    """Bytes of the player's JavaScript and CSS as an exported page embeds them (base64).

    Example: ``js_bytes() > sum(len(s) for s in player_sources().values())  # base64 adds a third``
    """
    n = sum(len(s.encode()) for s in player_sources().values()) + len(esm.stylesheet().encode())
    return math.ceil(n / 3) * 4


# ---- which widgets a frame sets ------------------------------------------------------------------

def frame_keys(widget) -> list[str]:
    """The synced names a frame carries for ``widget``: an HTML panel's value, a canvas's (or the caption's) state.
    Example: ``frame_keys(w.HTML("hi")) == ["value"]; ("codes" in frame_keys(MatrixCanvas())) == True``"""
    if isinstance(widget, (MatrixCanvas, BarsCanvas, CaptionPanel)):
        return sorted(k for k in widget.keys if not k.startswith("_") and k not in EXCLUDED)
    return ["value"]


def collect(root, controller) -> tuple[list, dict]:
    """(targets, layout) of a stepper's widget tree: the widgets frames set, and how they nest.
    Example: ``s = tr_widgets.show(tr); (collect(s, s.controller)[0][0] is s.controller.caption) == True``"""
    targets: list = []

    def add(widget) -> int:
        targets.append(widget)
        return len(targets) - 1

    def walk(node):
        if node is controller:
            shown = [f"{n} {dd.label}" for n, dd in controller.selectors.items() if len(dd.options) > 1]
            return {"controller": True, "caption": add(controller.caption),
                    "selectors": " · ".join(shown) + (" (fixed in this page)" if shown else "")}
        if isinstance(node, MatrixCanvas):
            return {"matrix": add(node)}
        if isinstance(node, BarsCanvas):
            return {"bars": add(node)}
        if isinstance(node, w.HTML):
            return {"html": add(node)}
        if isinstance(node, w.Box):
            return {"box": "h" if isinstance(node, w.HBox) else "v", "children": [walk(c) for c in node.children]}
        return {"box": "v", "children": []}
    return targets, walk(root)


def state_of(targets: list) -> list[dict]:
    """The current values of every frame key of every target.
    Example: ``state_of([w.HTML("hi")]) == [{"value": "hi"}]``"""
    return [{k: getattr(tw, k) for k in frame_keys(tw)} for tw in targets]


# ---- packing ---------------------------------------------------------------------------------------

def blob_key(v: bytes) -> str:
    """The hash a large value is cached under in the browser (16 hex digits).

    Example: ``len(blob_key(b"codes")) == 16``
    """
    return hashlib.blake2b(v, digest_size=8).hexdigest()


def _index_table(values: list) -> tuple[list, list]:
    """(distinct values in order, the table index of each value)."""
    table, index, seen = [], [], {}
    for v in values:
        h = v if isinstance(v, bytes) else json.dumps(v, sort_keys=True)
        if h not in seen:
            seen[h] = len(table)
            table.append(v)
        index.append(seen[h])
    return table, index


def _spans(table: list, blobs: bytearray, known: set | None, prefix: bytes = b"", least: int = REF_MIN) -> list:
    """Blob entries: ``[offset, length]``; ``[offset, length, hash]`` for a large value the page is to
    keep; ``[hash]`` for one it already holds (``known``, updated with what this payload carries).
    ``prefix`` keeps the hashes of JSON text apart from those of bytes values."""
    spans = []
    for v in table:
        key = blob_key(prefix + v) if known is not None and len(v) >= least else None
        if key is not None and key in known:
            spans.append([key])
            continue
        spans.append([len(blobs), len(v)] + ([key] if key else []))
        blobs += v
        if key:
            known.add(key)
    return spans


def shuffle4(v: bytes) -> bytes:
    """The bytes of 4-byte items grouped by their position in the item (float32s compress better so).

    Example: ``shuffle4(b"ABCDabcd") == b"AaBbCcDd"``
    """
    return np.frombuffer(v, np.uint8).reshape(-1, 4).T.tobytes()


def unshuffle4(v: bytes) -> bytes:
    """:func:`shuffle4` undone. Example: ``unshuffle4(shuffle4(b"ABCDabcd")) == b"ABCDabcd"``"""
    return np.frombuffer(v, np.uint8).reshape(4, -1).T.tobytes()


_DECODE = {"b": bytes, "s": unshuffle4, "J": json.loads}  # a blob kind's value from its bytes (player.js: DECODE)


def pack(frames: list[list[dict]], first: int, gen: int, known: set | None = None) -> bytes:
    """Frames ``first .. first + len(frames) - 1`` as one zlib payload (see the module docstring).

    ``known``: hashes of the large values the page already holds; they travel as references, and
    the set gains the ones this payload carries. None: self-contained, nothing cached. Only a value
    that holds for the whole chunk is shared that way (a window, the labels, the theme's words: what
    the next chunk most likely repeats); values that change from step to step travel in place, so
    they neither weigh a hash nor crowd the page's cache. A shared JSON value (kind ``"J"``) travels
    as UTF-8 JSON text among the blobs, so later chunks name it by hash too.

    Example: ``unpack(pack([[{"step": 0}], [{"step": 1}]], 5, 1))[0] == 5  # the first frame's step``
    """
    count = len(frames)
    blobs = bytearray()
    targets = []
    for t in range(len(frames[0]) if frames else 0):
        keys = []
        for name in frames[0][t]:
            table, index = _index_table([f[t][name] for f in frames])
            share = known if len(table) == 1 else None
            kind = "b" if isinstance(table[0], bytes) else "j"
            if kind == "b" and name in FLOAT32_KEYS and all(len(v) % 4 == 0 for v in table):
                kind, table = "s", _spans([shuffle4(v) for v in table], blobs, share, prefix=b"s")
            elif kind == "b":
                table = _spans(table, blobs, share)
            elif share is not None:
                text = json.dumps(table[0], ensure_ascii=False, separators=(",", ":")).encode()
                if len(text) >= REF_MIN_JSON:
                    kind, table = "J", _spans([text], blobs, share, prefix=b"J", least=REF_MIN_JSON)
            if len(table) == 1:
                keys.append([name, kind, table, 0, 0])
                continue
            width = 2 if len(table) < 65536 else 4
            blobs += b"\0" * (-len(blobs) % 4)
            off = len(blobs)
            blobs += struct.pack(f"<{count}{'H' if width == 2 else 'I'}", *index)
            keys.append([name, kind, table, [off], width])
        targets.append(keys)
    man = json.dumps({"v": 1, "gen": gen, "first": first, "count": count, "targets": targets},
                     ensure_ascii=False, separators=(",", ":")).encode()
    return zlib.compress(b"TRF1" + struct.pack("<I", len(man)) + man + bytes(blobs), 6)


def unpack(payload: bytes, cache: dict | None = None) -> tuple[int, list[list[dict]]]:
    """``(first, frames)`` back from :func:`pack` (what ``player.js`` decodes; for tests).

    ``cache``: hash -> value of what the page holds; filled with the values this payload carries.

    Example: ``unpack(pack([[{"value": "<b>t = 0</b>"}]], 0, 1)) == (0, [[{"value": "<b>t = 0</b>"}]])``
    """
    raw = zlib.decompress(payload)
    assert raw[:4] == b"TRF1"
    n = struct.unpack("<I", raw[4:8])[0]
    man, blobs = json.loads(raw[8:8 + n]), raw[8 + n:]
    count, cache = man["count"], {} if cache is None else cache
    frames: list[list[dict]] = [[{} for _ in man["targets"]] for _ in range(count)]
    for t, keys in enumerate(man["targets"]):
        for name, kind, table, index, width in keys:
            values = [_DECODE[kind](_blob(e, blobs, cache)) for e in table] if kind in _DECODE else table
            idx = ([index] * count if isinstance(index, int) else
                   struct.unpack(f"<{count}{'H' if width == 2 else 'I'}", blobs[index[0]:index[0] + width * count]))
            for k in range(count):
                frames[k][t][name] = values[idx[k]]
    return man["first"], frames


def _blob(entry: list, blobs: bytes, cache: dict) -> bytes:
    if len(entry) == 1:
        return cache[entry[0]]  # KeyError: the page lacks it (player.js asks again)
    v = bytes(blobs[entry[0]:entry[0] + entry[1]])
    if len(entry) == 3:
        cache[entry[2]] = v
    return v


def embedded_size(payload: bytes) -> int:
    """Bytes an exported page spends on ``payload`` and the player: base64 of both.

    Example: ``embedded_size(b"123") == 4 + js_bytes()``
    """
    return math.ceil(len(payload) / 3) * 4 + js_bytes()


# ---- exported pages --------------------------------------------------------------------------------

_BOOT = """
const src = %s;
const url = (s) => "data:text/javascript;base64," + btoa(unescape(encodeURIComponent(s)));
window.__trwPlayer ||= Promise.all([src.player, src.export, src.matrix, src.bars].map((s) => import(url(s))));
window.__trwPlayer.then(([player, exp, matrix, bars]) => exp.mountAll({player, matrix, bars}));
"""


def export_html(snapshot: str, spec: dict | None, payload: bytes | None, notice: str = "") -> str:
    """text/html of a stepper: the static snapshot, and (when its frames fit) the player that steps it.

    The player is ``static/player.js`` with ``export.js``, ``matrix.js`` and ``bars.js``, embedded in the page and
    imported from ``data:`` URLs: no CDN, no kernel. Where scripts do not run (GitHub, an untrusted
    notebook in JupyterLab), the snapshot stays.
    Example: ``("<p>t</p>" in export_html("<p>t</p>", None, None, notice="too many frames")) == True``"""
    if payload is None:
        note = (f"<div class='tr-frames-notice' role='note' style='margin:4px 0;padding:3px 6px;"
                f"border-left:3px solid #e08a00;background:#fff6e5;color:#5a3b00;font:12px sans-serif'>"
                f"{notice}</div>")
        return f"<div class='tr-export tr-export-static-only'>{note}{snapshot}</div>"
    data = json.dumps(dict(spec, frames=base64.b64encode(payload).decode("ascii"))).replace("</", "<\\/")
    js = json.dumps(player_sources()).replace("</", "<\\/")
    css = esm.stylesheet()
    return (f"<div class='tr-export' data-tr-frames='1'><style>{css}</style>"
            f"<div class='tr-export-static'>{snapshot}</div>"
            f"<script type='application/json' class='tr-export-data'>{data}</script>"
            f"<script type='module'>{_BOOT % js}</script></div>")
