// The hover line: the cell under the pointer, its row and column (with their labels) and its exact value:
// the `values` trait for small windows; else one row at a time, asked of Python (a custom message).

import { bytesOf, floatsOf } from "../lib/bytes.js";
import { BLOCKED, LEVELS, NONFINITE } from "./paint.js";

// The shortest of 4..9 significant digits that tells `v` from each different neighbour.
export function exactText(v, neighbours) {
  if (!Number.isFinite(v)) return String(v);
  for (let p = 4; p <= 9; p++) {
    const s = v.toPrecision(p);
    if (neighbours.every((n) => n === v || !Number.isFinite(n) || n.toPrecision(p) !== s)) return s;
  }
  return v.toPrecision(9);
}

// Row r's exact values, or null while Python is asked for them.
function exactRow(v, r) {
  const g = v.get, cols = g("cols"), values = g("values");
  if (values && bytesOf(values).length === 4 * g("rows") * cols) {
    if (v.valuesOf !== values) { v.values = floatsOf(values); v.valuesOf = values; }
    return v.values.subarray(r * cols, (r + 1) * cols);
  }
  if (v.rowsExact.has(r)) return v.rowsExact.get(r);
  if (g("exact") && !v.asked.has(r) && typeof v.model.send === "function") {
    v.asked.add(r);
    v.model.send({ exact_row: r, gen: v.gen });
  }
  return null;
}

// Python's answer: kept only if it is this window's row (its codes match the ones shown).
export function exactRowArrived(v, msg, buffers) {
  if (!msg || msg.exact_row === undefined || msg.missing || !buffers || buffers.length < 2) return;
  const g = v.get, r = msg.exact_row, codes = bytesOf(g("codes")), cols = g("cols"), back = bytesOf(buffers[1]);
  if (msg.r0 !== g("r0") || msg.c0 !== g("c0") || back.length !== cols) return;
  for (let c = 0; c < cols; c++) if (back[c] !== codes[r * cols + c]) return;  // another window's row
  v.rowsExact.set(r, floatsOf(buffers[0]));
  if (v.hovered && v.hovered[0] === r) showHover(v, ...v.hovered);
}

function cellValue(v, r, c, code) {
  const g = v.get, texts = g("texts"), row = exactRow(v, r);
  if (code === BLOCKED) return texts.masked;
  const done = g("done_rows") || [];  // a filling window: rows outside [a, b) are not computed yet
  if (done.length === 2 && (r < done[0] || r >= done[1])) return texts.not_yet;
  if (row) {
    const near = [row[c - 1], row[c + 1]].filter((n) => n !== undefined);
    const up = r > 0 ? exactRow(v, r - 1) : null, down = r + 1 < g("rows") ? exactRow(v, r + 1) : null;
    if (up) near.push(up[c]);
    if (down) near.push(down[c]);
    return exactText(row[c], near);
  }
  if (code === NONFINITE) return texts.nonfinite;
  return `${texts.approx} ${(g("vmin") + code / LEVELS * (g("vmax") - g("vmin"))).toPrecision(3)}`;
}

export function showHover(v, r, c) {
  const g = v.get, rows = g("rows"), cols = g("cols");
  if (r < 0 || c < 0 || r >= rows || c >= cols) return;
  v.hovered = [r, c];
  const code = bytesOf(g("codes"))[r * cols + c], value = cellValue(v, r, c, code), units = g("units");
  const rl = g("row_labels")[r], cl = g("col_labels")[c], rr = g("r0") + r, cc = g("c0") + c;
  const line = `${g("row_axis")} ${rr}${rl !== undefined ? ` “${rl}”` : ""} · ` +
    `${g("col_axis")} ${cc}${cl !== undefined ? ` “${cl}”` : ""} · ${value}${units && code !== BLOCKED ? ` ${units}` : ""}`;
  v.hover.textContent = line;
  v.canvas.title = line;
}
