// The frames codec: what frames.pack (Python) writes, read back here. A frame is the state of every panel at
// one step.
//
// Payload (zlib): "TRF1", u32 manifest length, manifest JSON, blobs. The manifest lists per target and key
// either JSON values ("j") or blob entries (bytes "b", shuffled float32 "s", JSON text "J"; see DECODE), and
// per key the table index of each step: one int when constant, else the offset of a Uint16/Uint32 array in
// the blobs.

import { bytesOf } from "../lib/bytes.js";

async function inflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// Blob entries: [offset, length]; [offset, length, hash] (keep it: later chunks refer to it);
// [hash] (a value this page already holds). A missing one (the cache was lost) throws Missing.
export class Missing extends Error {}
const CACHE_MAX = 512, UTF8 = new TextDecoder();

// A blob kind's value from its bytes: "b" bytes (a DataView), "s" float32 bytes sent byte-shuffled
// (frames.shuffle4: all first bytes, then all second bytes...), "J" JSON text (kept parsed).
const DECODE = {
  b: (src) => new DataView(src.buffer, src.byteOffset, src.byteLength),
  s: (src) => {
    const n = src.length >> 2, out = new Uint8Array(src.length);
    for (let j = 0; j < 4; j++) {
      const plane = src.subarray(j * n, (j + 1) * n);
      for (let i = 0; i < n; i++) out[4 * i + j] = plane[i];
    }
    return new DataView(out.buffer);
  },
  J: (src) => JSON.parse(UTF8.decode(src)),
};

function blobOf(kind, entry, blobs, cache) {
  if (entry.length === 1) {
    if (!cache || !cache.has(entry[0])) throw new Missing(entry[0]);
    return cache.get(entry[0]);
  }
  const v = DECODE[kind](blobs.subarray(entry[0], entry[0] + entry[1]));
  if (entry.length === 3 && cache) {
    cache.set(entry[2], v);
    if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value);  // oldest first
  }
  return v;
}

// One decoded chunk: {gen, first, count, targets: [[{name, values, index}]]}.
export async function decodeFrames(raw, cache = new Map()) {
  const b = await inflate(bytesOf(raw));
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = dv.getUint32(4, true);
  const man = JSON.parse(UTF8.decode(b.subarray(8, 8 + n)));
  const blobs = b.subarray(8 + n);
  const targets = man.targets.map((keys) => keys.map(([name, kind, table, index, width]) => {
    const values = kind in DECODE ? table.map((e) => blobOf(kind, e, blobs, cache)) : table;
    let idx = index;
    if (Array.isArray(index)) {
      const o = index[0], copy = blobs.slice(o, o + man.count * width);
      idx = width === 2 ? new Uint16Array(copy.buffer) : new Uint32Array(copy.buffer);
    }
    return { name, values, index: idx };
  }));
  return { gen: man.gen, first: man.first, count: man.count, targets };
}

export function valueAt(key, k) {
  return key.values[typeof key.index === "number" ? key.index : key.index[k]];
}
