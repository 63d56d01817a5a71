// One bar chart on a canvas: a series of float32 values, masked entries as hatched grey stubs (never left
// blank), non-finite ones in their colour, the zero line, and the mark and highlight outlines.
// A series whose scale group holds no negative value (ms, weights, lengths) is drawn from a zero line at the
// bottom up to its maximum (axis 0 … max); a signed one about a zero line in the middle (axis ±max).

import { outline } from "../lib/canvas.js";

export const H = 40;  // canvas height in px: compact, so a stepper fits in about one screen

// Whether each series is drawn from the bottom (0 … max): no negative finite, unblocked value in its scale group.
export function nonNegative(vals, blk, starts, lengths, shared) {
  const own = lengths.map((n, s) => {
    for (let i = starts[s]; i < starts[s] + n; i++) {
      if (!(blk.length > i && blk[i]) && vals[i] < 0) return false;
    }
    return true;
  });
  return own.map((ok, s) => (shared[s] ? own.every((o, r) => o || shared[r] !== shared[s]) : ok));
}

function outlineBar(ctx, i, bw, colour, dash, inset) {
  const w = Math.max(bw, 3);
  outline(ctx, colour, dash, i * bw + (bw - w) / 2 + 1 + inset, 1 + inset, Math.max(w - 2 - 2 * inset, 1), H - 2 - 2 * inset);
}

function drawBlocked(ctx, x, bw, c, th) {
  ctx.fillStyle = c.blocked; ctx.fillRect(x, 0, bw, H);
  if (bw < 3) return;
  ctx.strokeStyle = th.hatch; ctx.lineWidth = 1; ctx.beginPath();
  for (let y = 0; y < H; y += bw) { ctx.moveTo(x, y + bw); ctx.lineTo(x + bw, y); }
  ctx.stroke();
}

export function drawSeries(canvas, vals, blocked, mark, high, bw, m, c, th, up) {
  const n = vals.length;
  const w = Math.max(8, n * bw);
  if (canvas.width !== w || canvas.height !== H) { canvas.width = w; canvas.height = H; }  // a resize reallocates
  canvas.style.height = `${H}px`;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = th.bg;
  ctx.fillRect(0, 0, canvas.width, H);
  m = m || 1;  // an all-zero series (e.g. h_0) is drawn flat
  const mid = up ? H - 1 : H / 2, room = up ? H - 3 : H / 2 - 2;  // the zero line's row, the bars' reach
  for (let i = 0; i < n; i++) {
    const x = i * bw, v = vals[i];
    if (blocked[i]) drawBlocked(ctx, x, bw, c, th);
    else if (!Number.isFinite(v)) {
      ctx.fillStyle = c.nonfinite; ctx.fillRect(x, 0, bw, H);
    } else {
      const h = Math.max(1, Math.round(Math.min(Math.abs(v) / m, 1) * room));
      ctx.fillStyle = v >= 0 ? c.positive : c.negative;
      ctx.fillRect(x, v >= 0 ? mid - h : mid, Math.max(1, bw - (bw > 3 ? 1 : 0)), h);
    }
  }
  ctx.fillStyle = th["fg-muted"]; ctx.fillRect(0, mid, canvas.width, 1);  // the zero line
  if (high >= 0 && high < n) outlineBar(ctx, high, bw, th.highlight, [3, 2], mark === high ? 2 : 0);
  if (mark >= 0 && mark < n) outlineBar(ctx, mark, bw, th.mark, [], 0);
}

export function fmtValue(v) {
  if (!Number.isFinite(v)) return String(v);
  const s = String(Number(v.toPrecision(7)));  // float32: 7 significant digits tell neighbours apart
  return v > 0 ? `+${s}` : s.replace("-", "\u2212");
}
