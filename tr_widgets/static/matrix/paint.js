// The matrix's cells on a canvas: uint8 codes 0..253 map onto the colour table `lut` ([vmin, vmax]);
// 254 = NaN/inf; 255 = blocked by a mask (hatched). Python chose the colours and the cell sizes.
// Rows outside [`pal.notYet.a`, `pal.notYet.b`) are not computed yet (a filling overview: [0, ov_done); a filling
// window: done_rows): drawn in the panel background with a light diagonal stroke every NOT_YET_STEP px
// (views/image.py `not_yet` paints the same pixels).

import { outline } from "../lib/canvas.js";

export const LEVELS = 253, NONFINITE = 254, BLOCKED = 255, NOT_YET_STEP = 6;

function rgbOf(css) {
  const m = /rgb\((\d+),(\d+),(\d+)\)/.exec(css || "");
  return m ? [+m[1], +m[2], +m[3]] : [0, 0, 0];
}

// A CSS colour as [r, g, b, a] bytes, read once from a 1×1 canvas (any syntax the page accepts).
const RGBA = new Map();
function rgbaOf(css) {
  if (!RGBA.has(css)) {
    const c = document.createElement("canvas");
    c.width = c.height = 1;
    const x = c.getContext("2d");
    x.fillStyle = css; x.fillRect(0, 0, 1, 1);
    RGBA.set(css, Array.from(x.getImageData(0, 0, 1, 1).data));
  }
  return RGBA.get(css);
}

// Paint codes [rows, cols] at py × px pixels per cell. The painted cells (hatch included) are kept in
// `cache` as one full-size ImageData, so a step that only moves a marker repaints by one putImageData:
// a copy, where a scaled drawImage costs milliseconds on a software canvas (no GPU), once per view and step.
export function paintCells(canvas, codes, rows, cols, py, px, pal, cache) {
  const w = Math.max(1, cols * px), h = Math.max(1, rows * py);
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }  // a resize reallocates
  const ctx = canvas.getContext("2d");
  if (!rows || !cols || codes.length < rows * cols) { ctx.clearRect(0, 0, w, h); return ctx; }
  const ny = pal.notYet, key = [rows, cols, py, px, pal.hatch, ny ? [ny.a, ny.b, ny.bg, ny.stroke] : ""].join();
  if (cache.codes !== codes.buffer || cache.offset !== codes.byteOffset || cache.key !== key
      || cache.lut !== pal.lut.buffer) {  // the table's buffer: each bytesOf() is a new view of it
    Object.assign(cache, { codes: codes.buffer, offset: codes.byteOffset, key, lut: pal.lut.buffer,
                           img: cellsImage(codes, rows, cols, py, px, pal) });
  }
  ctx.putImageData(cache.img, 0, 0);
  return ctx;
}

// Masked cells at least 3 px each way get a one-pixel diagonal in the hatch colour (blended by its alpha),
// from bottom-left to top-right.
function hatch(d, codes, rows, cols, py, px, w, colour) {
  const [hr, hg, hb, ha] = rgbaOf(colour), a = ha / 255, n = Math.max(px, py);
  for (let i = 0; i < rows * cols; i++) {
    if (codes[i] !== BLOCKED) continue;
    const x = (i % cols) * px, y = Math.floor(i / cols) * py;
    for (let t = 0; t < n; t++) {
      const o = 4 * ((y + py - 1 - Math.floor((t + 0.5) * py / n)) * w + x + Math.floor((t + 0.5) * px / n));
      d[o] += (hr - d[o]) * a; d[o + 1] += (hg - d[o + 1]) * a; d[o + 2] += (hb - d[o + 2]) * a;
    }
  }
}

// The cells as one ImageData of (cols·px) × (rows·py) pixels: each cell's colour filled along its first
// pixel row, then that row copied down the cell's height.
function cellsImage(codes, rows, cols, py, px, pal) {
  const ny = pal.notYet;
  const w = cols * px, img = new ImageData(w, rows * py), out = new Uint32Array(img.data.buffer), lut = pal.lut;
  const table = new Uint32Array(256), rgba = new Uint8Array(table.buffer);  // code -> the pixel's 4 bytes
  const blockedRgb = rgbOf(pal.colours.blocked), nonfiniteRgb = rgbOf(pal.colours.nonfinite);
  for (let c = 0; c < 256; c++) {
    const rgb = c === BLOCKED ? blockedRgb : c === NONFINITE ? nonfiniteRgb : [lut[3 * c], lut[3 * c + 1], lut[3 * c + 2]];
    rgba.set([rgb[0] || 0, rgb[1] || 0, rgb[2] || 0, 255], 4 * c);
  }
  for (let r = 0; r < rows; r++) {
    const top = r * py * w;
    for (let c = 0; c < cols; c++) out.fill(table[codes[r * cols + c]], top + c * px, top + c * px + px);
    for (let y = 1; y < py; y++) out.copyWithin(top + y * w, top, top + w);
  }
  if (px >= 3 && py >= 3 && codes.subarray(0, rows * cols).includes(BLOCKED)) hatch(img.data, codes, rows, cols, py, px, w, pal.hatch);
  if (ny && ny.a > 0) notYetRows(img.data, 0, w, Math.min(ny.a, rows) * py, ny);
  if (ny && ny.b >= 0 && ny.b < rows) notYetRows(img.data, ny.b * py, w, rows * py, ny);
  return img;
}

// Pixel rows `top`..`h` of the image: the background, and the stroke (blended by its alpha) where
// (x + y) % NOT_YET_STEP = NOT_YET_STEP - 1.
function notYetRows(d, top, w, h, { bg, stroke }) {
  const [br, bgg, bb] = rgbaOf(bg), [sr, sg, sb, sa] = rgbaOf(stroke), a = sa / 255;
  for (let y = top; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = 4 * (y * w + x), on = (x + y) % NOT_YET_STEP === NOT_YET_STEP - 1;
      d[o] = on ? br + (sr - br) * a : br; d[o + 1] = on ? bgg + (sg - bgg) * a : bgg;
      d[o + 2] = on ? bb + (sb - bb) * a : bb; d[o + 3] = 255;
    }
  }
}

// The current step: a solid outline; the largest weight: a dashed one in the highlight colour.
export function markRow(ctx, r, width, py, colour, dashed = false) {
  outline(ctx, colour, dashed ? [4, 2] : [], 1, r * py, width - 2, Math.max(py, 2));
}
export function markCol(ctx, c, height, px, colour, dashed = false) {
  outline(ctx, colour, dashed ? [4, 2] : [], c * px, 1, Math.max(px, 2), height - 2);
}
