// Binary traits as typed arrays. A trait's buffer arrives as a DataView (anywidget), an ArrayBuffer or a
// typed array (frames decoded in this page); all are read through these two.

export function bytesOf(v) {
  if (!v) return new Uint8Array(0);
  if (v instanceof DataView) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return new Uint8Array(0);
}

// float32 values: a view where the bytes are 4-aligned, else a copy (a Float32Array cannot start mid-word).
export function floatsOf(v) {
  const b = bytesOf(v);
  if (b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, b.byteLength >> 2);
  return new Float32Array(b.slice(0, b.byteLength & ~3).buffer);
}
