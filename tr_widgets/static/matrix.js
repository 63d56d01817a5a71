// tr_widgets matrix canvas: draws a window of a matrix (uint8 codes) and an overview on <canvas>.
// Plain ES module loaded by anywidget from the package (no CDN, no build step).
// Codes 0..253 map onto [vmin, vmax]; 254 = NaN/inf; 255 = blocked by a mask (hatched).
// Labels are user text: only ever set as textContent or drawn with fillText, never as HTML.

const LEVELS = 253, NONFINITE = 254, BLOCKED = 255;
// Colours and cell sizes come from Python (tr_widgets/views/palette.py) through the model: the `lut`
// table (3 bytes per code), the `colours` dict and `cell_w` / `cell_h` / `ov_cell`. Nothing is chosen here.

export function bytesOf(v) {
  if (!v) return new Uint8Array(0);
  if (v instanceof DataView) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return new Uint8Array(0);
}

function el(tag, cls, parent) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (parent) parent.appendChild(e);
  return e;
}

// Paint codes [rows, cols] at py × px pixels per cell; returns the 2D context. The painted cells
// are kept in `cache` (an offscreen canvas) so a step that only moves a marker redraws by one
// drawImage instead of recolouring every cell.
function rgbOf(css) {
  const m = /rgb\((\d+),(\d+),(\d+)\)/.exec(css || "");
  return m ? [+m[1], +m[2], +m[3]] : [0, 0, 0];
}

function paint(canvas, codes, rows, cols, py, px, pal, cache) {
  canvas.width = Math.max(1, cols * px);
  canvas.height = Math.max(1, rows * py);
  const ctx = canvas.getContext("2d");
  if (!rows || !cols || codes.length < rows * cols) return ctx;
  const key = [rows, cols, py, px].join();
  if (cache.codes !== codes.buffer || cache.offset !== codes.byteOffset || cache.key !== key
      || cache.lut !== pal.lut) {
    cache.codes = codes.buffer; cache.offset = codes.byteOffset; cache.key = key; cache.lut = pal.lut;
    cache.canvas = drawCells(codes, rows, cols, py, px, pal);
  }
  ctx.drawImage(cache.canvas, 0, 0);
  return ctx;
}

function drawCells(codes, rows, cols, py, px, pal) {
  const img = new ImageData(cols, rows), d = img.data, lut = pal.lut;
  const blockedRgb = rgbOf(pal.colours.blocked), nonfiniteRgb = rgbOf(pal.colours.nonfinite);
  let anyBlocked = false;
  for (let i = 0; i < rows * cols; i++) {
    const c = codes[i];
    const rgb = c === BLOCKED ? blockedRgb : c === NONFINITE ? nonfiniteRgb : null;
    anyBlocked ||= c === BLOCKED;
    d[4 * i] = rgb ? rgb[0] : lut[3 * c];
    d[4 * i + 1] = rgb ? rgb[1] : lut[3 * c + 1];
    d[4 * i + 2] = rgb ? rgb[2] : lut[3 * c + 2];
    d[4 * i + 3] = 255;
  }
  const tmp = document.createElement("canvas");
  tmp.width = cols; tmp.height = rows;
  tmp.getContext("2d").putImageData(img, 0, 0);
  const out = document.createElement("canvas");
  out.width = cols * px; out.height = rows * py;
  const ctx = out.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tmp, 0, 0, cols * px, rows * py);
  if (anyBlocked && px >= 3 && py >= 3) {  // a diagonal hatch marks masked cells
    ctx.strokeStyle = pal.colours.hatch; ctx.lineWidth = 1; ctx.beginPath();
    for (let i = 0; i < rows * cols; i++) {
      if (codes[i] !== BLOCKED) continue;
      const x = (i % cols) * px, y = Math.floor(i / cols) * py;
      ctx.moveTo(x, y + py); ctx.lineTo(x + px, y);
    }
    ctx.stroke();
  }
  return out;
}

function markRow(ctx, r, width, py, mark) {
  ctx.strokeStyle = mark; ctx.lineWidth = 2;
  ctx.strokeRect(1, r * py, width - 2, Math.max(py, 2));
}

function markCol(ctx, c, height, px, mark) {
  ctx.strokeStyle = mark; ctx.lineWidth = 2;
  ctx.strokeRect(c * px, 1, Math.max(px, 2), height - 2);
}

function render({ model, el: root }) {
  root.classList.add("tr-matrix");
  const title = el("div", "tr-title", root);
  const body = el("div", "tr-matrix-body", root);
  const main = el("div", "tr-matrix-main", body);
  const canvas = el("canvas", "tr-window", main);
  const axes = el("div", "tr-axes", main);
  const side = el("div", "tr-matrix-overview", body);
  const ovCanvas = el("canvas", "tr-overview", side);
  const notice = el("div", "tr-notice", side);
  const labels = el("div", "tr-labels", root);
  const hover = el("div", "tr-hover", root);
  let draws = 0, px = 1, py = 1, scheduled = false;
  const winCache = {}, ovCache = {};

  function draw() {
    scheduled = false;
    const g = (k) => model.get(k);
    const rows = g("rows"), cols = g("cols"), r0 = g("r0"), c0 = g("c0");
    title.textContent = g("title");
    const colours = g("colours"), pal = { lut: bytesOf(g("lut")), colours }, mark = colours.mark;
    px = g("cell_w");
    py = g("cell_h");
    const ctx = paint(canvas, bytesOf(g("codes")), rows, cols, py, px, pal, winCache);
    const mr = g("mark_row") - r0, mc = g("mark_col") - c0;
    if (g("mark_row") >= 0 && mr >= 0 && mr < rows) markRow(ctx, mr, canvas.width, py, mark);
    if (g("mark_col") >= 0 && mc >= 0 && mc < cols) markCol(ctx, mc, canvas.height, px, mark);
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", g("title"));
    axes.textContent = `${g("row_axis")} ${r0}–${r0 + rows - 1} of ${g("full_rows")} · ` +
      `${g("col_axis")} ${c0}–${c0 + cols - 1} of ${g("full_cols")} · ` +
      `colour range [${g("vmin").toPrecision(3)}, ${g("vmax").toPrecision(3)}]`;
    const orows = g("ov_rows"), ocols = g("ov_cols");
    side.style.display = orows && ocols ? "" : "none";
    if (orows && ocols) {
      const opx = g("ov_cell");
      const octx = paint(ovCanvas, bytesOf(g("ov_codes")), orows, ocols, opx, opx, pal, ovCache);
      const fr = g("ov_fr"), fc = g("ov_fc");
      octx.strokeStyle = colours.frame; octx.lineWidth = 1;  // where the window is
      octx.strokeRect(Math.floor(c0 / fc) * opx + 0.5, Math.floor(r0 / fr) * opx + 0.5,
        Math.max(1, Math.ceil(cols / fc)) * opx - 1, Math.max(1, Math.ceil(rows / fr)) * opx - 1);
      if (g("mark_row") >= 0) markRow(octx, Math.floor(g("mark_row") / fr), ovCanvas.width, opx, mark);
      if (g("mark_col") >= 0) markCol(octx, Math.floor(g("mark_col") / fc), ovCanvas.height, opx, mark);
      notice.textContent = g("notice");
    }
    // Short windows list their labels as text (user text: textContent only).
    // each label in its own bidi-isolated span (tr.css), so an RTL label cannot reorder its neighbours
    const rl = g("row_labels"), cl = g("col_labels"), lines = [];
    const line = (axis, list, start) => {
      const d = el("div", "tr-label-line");
      d.append(`${axis}s: `);
      list.forEach((s, j) => {
        if (j) d.append(" · ");
        d.append(`${start + j} `);
        el("span", "tr-label", d).textContent = s;
      });
      return d;
    };
    if (cl.length && cl.length <= 32) lines.push(line(g("col_axis"), cl, c0));
    if (rl.length && rl.length <= 32 && JSON.stringify(rl) !== JSON.stringify(cl)) lines.push(line(g("row_axis"), rl, r0));
    labels.replaceChildren(...lines);
    root.dataset.trStep = String(g("step"));
    root.dataset.step = String(g("step"));
    root.dataset.trDraws = String(++draws);
  }
  function schedule() {
    if (!scheduled) { scheduled = true; queueMicrotask(draw); }
  }
  const names = ["codes", "rows", "cols", "r0", "c0", "full_rows", "full_cols", "vmin", "vmax", "cmap",
    "mark_row", "mark_col", "row_labels", "col_labels", "ov_codes", "ov_rows", "ov_cols", "ov_fr", "ov_fc",
    "notice", "title", "step", "cell_w", "cell_h", "ov_cell", "lut", "colours", "row_axis", "col_axis"];
  for (const n of names) model.on(`change:${n}`, schedule);

  canvas.addEventListener("mousemove", (ev) => {
    const r = Math.floor(ev.offsetY / py), c = Math.floor(ev.offsetX / px);
    const rows = model.get("rows"), cols = model.get("cols");
    if (r < 0 || c < 0 || r >= rows || c >= cols) return;
    const code = bytesOf(model.get("codes"))[r * cols + c];
    const vmin = model.get("vmin"), vmax = model.get("vmax");
    const value = code === BLOCKED ? "masked" : code === NONFINITE ? "NaN/inf"
      : "≈ " + (vmin + code / LEVELS * (vmax - vmin)).toPrecision(3);
    const rl = model.get("row_labels")[r], cl = model.get("col_labels")[c];
    const rr = model.get("r0") + r, cc = model.get("c0") + c;
    hover.textContent = `${model.get("row_axis")} ${rr}${rl !== undefined ? ` “${rl}”` : ""} · ` +
      `${model.get("col_axis")} ${cc}${cl !== undefined ? ` “${cl}”` : ""} · ${value}`;
  });
  draw();
  return () => { for (const n of names) model.off(`change:${n}`, schedule); };
}

export default { render };
