"""player.js decodes what frames.pack writes: every kind (JSON in place, bytes, shuffled float32, shared JSON
text), chunks that name values an earlier chunk carried, and a chunk whose reference the page lost."""
from __future__ import annotations

import base64
import json

import numpy as np
import torch

import tr_widgets
from tr_widgets.widgets import frames as fr
from tr_widgets.widgets import show

DECODE_JS = """async ([src, payloads]) => {
  const url = "data:text/javascript;base64," + btoa(unescape(encodeURIComponent(src)));
  const { decodeFrames, valueAt } = await import(url);
  const cache = new Map(), out = [];
  const plain = (v) => v instanceof DataView ? {bytes: btoa(String.fromCharCode(...new Uint8Array(v.buffer, v.byteOffset, v.byteLength)))} : v;
  for (const p of payloads) {
    const raw = Uint8Array.from(atob(p), (c) => c.charCodeAt(0));
    try {
      const ch = await decodeFrames(raw, cache);
      const frames = [];
      for (let k = 0; k < ch.count; k++) frames.push(ch.targets.map((keys) => Object.fromEntries(keys.map((key) => [key.name, plain(valueAt(key, k))]))));
      out.push({first: ch.first, frames});
    } catch (e) { out.push({error: e.constructor.name}); }
  }
  return out;
}"""


def _plain(frames):
    return [[{k: {"bytes": base64.b64encode(v).decode()} if isinstance(v, bytes) else v for k, v in d.items()}
             for d in f] for f in frames]


def test_the_page_decodes_every_kind_and_every_reference(browser_page):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, 600, 8, generator=g) for _ in range(3))
    s = show(tr_widgets.trace_attention(q, k, v, is_causal=True), progress=False, frames=64 * 1024)
    frames = s._record(range(100, 112))
    known = set()
    chunks = [fr.pack(frames[:6], 100, 1, known=known), fr.pack(frames[6:], 106, 1, known=known)]
    kinds = {key[1] for t in json.loads(_manifest(chunks[0]))["targets"] for key in t}
    assert {"j", "b", "s", "J"} <= kinds, kinds  # this trace exercises every kind
    assert any(len(e) == 1 for t in json.loads(_manifest(chunks[1]))["targets"] for key in t
               if key[1] != "j" for e in key[2]), "the second chunk names nothing it could"
    src = fr.player_sources()["player"]  # the module the page loads (player.js with what it imports)
    got = browser_page.evaluate(DECODE_JS, [src, [base64.b64encode(c).decode() for c in chunks + chunks[1:]]])
    assert got[0] == {"first": 100, "frames": _plain(frames[:6])}
    assert got[1] == {"first": 106, "frames": _plain(frames[6:])}  # its references resolve in the page's cache
    lone = browser_page.evaluate(DECODE_JS, [src, [base64.b64encode(chunks[1]).decode()]])
    assert lone == [{"error": "Missing"}]  # a page without the first chunk asks again (player.js: "lost")
    floats = np.frombuffer(base64.b64decode(got[0]["frames"][0][_bars(s)]["values"]["bytes"]), np.float32)
    assert floats.size and np.array_equal(floats, np.frombuffer(frames[0][_bars(s)]["values"], np.float32))


def _manifest(payload: bytes) -> str:
    import struct
    import zlib
    raw = zlib.decompress(payload)
    return raw[8:8 + struct.unpack("<I", raw[4:8])[0]].decode()


def _bars(s) -> int:
    return next(i for i, t in enumerate(s._targets) if type(t).__name__ == "BarsCanvas")
