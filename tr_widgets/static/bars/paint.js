// One bar chart on a canvas, exactly as its Look says (views/looks.py; views/svg.py paints the same Look as SVG):
// a series of float32 values drawn with the axis maximum, bar width and height it was sent, from a zero line at
// the bottom (`up`: no negative value in its scale group) or about one in the middle; masked entries as hatched
// grey stubs (never left blank), non-finite ones in their colour, the zero line, the mark and highlight outlines.
// Nothing here decides a size, a scale or a colour.

import { outline } from "../lib/canvas.js";

function outlineBar(ctx, i, bw, h, colour, dash, inset) {
  const w = Math.max(bw, 3);
  outline(ctx, colour, dash, i * bw + (bw - w) / 2 + 1 + inset, 1 + inset, Math.max(w - 2 - 2 * inset, 1), h - 2 - 2 * inset);
}

function drawBlocked(ctx, x, bw, h, c, th) {
  ctx.fillStyle = c.blocked; ctx.fillRect(x, 0, bw, h);
  if (bw < 3) return;
  ctx.strokeStyle = th.hatch; ctx.lineWidth = 1; ctx.beginPath();
  for (let y = 0; y < h; y += bw) { ctx.moveTo(x, y + bw); ctx.lineTo(x + bw, y); }
  ctx.stroke();
}

// `look`: { vals, blocked, mark, high, bw, max, h, up } of one chart; `c`: data colours; `th`: theme colours.
export function drawSeries(canvas, look, c, th) {
  const { vals, blocked, mark, high, bw, h } = look, n = vals.length, w = Math.max(8, n * bw);
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }  // a resize reallocates
  canvas.style.height = `${h}px`;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = th.bg;
  ctx.fillRect(0, 0, w, h);
  const m = look.max || 1;  // an all-zero series (e.g. h_0) is drawn flat
  const mid = look.up ? h - 1 : Math.floor(h / 2), room = look.up ? h - 3 : Math.floor(h / 2) - 2;  // zero line, reach
  for (let i = 0; i < n; i++) {
    const x = i * bw, v = vals[i];
    if (blocked[i]) drawBlocked(ctx, x, bw, h, c, th);
    else if (!Number.isFinite(v)) {
      ctx.fillStyle = c.nonfinite; ctx.fillRect(x, 0, bw, h);
    } else {
      const bh = Math.max(1, Math.round(Math.min(Math.abs(v) / m, 1) * room));
      ctx.fillStyle = v >= 0 ? c.positive : c.negative;
      ctx.fillRect(x, v >= 0 ? mid - bh : mid, Math.max(1, bw - (bw > 3 ? 1 : 0)), bh);
    }
  }
  ctx.fillStyle = th["fg-muted"]; ctx.fillRect(0, mid, w, 1);  // the zero line
  if (high >= 0 && high < n) outlineBar(ctx, high, bw, h, th.highlight, [3, 2], mark === high ? 2 : 0);
  if (mark >= 0 && mark < n) outlineBar(ctx, mark, bw, h, th.mark, [], 0);
}

export function fmtValue(v) {
  if (!Number.isFinite(v)) return String(v);
  const s = String(Number(v.toPrecision(7)));  // float32: 7 significant digits tell neighbours apart
  return v > 0 ? `+${s}` : s.replace("-", "\u2212");
}
