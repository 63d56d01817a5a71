// tr_widgets matrix canvas: a window of a matrix (uint8 codes) on <canvas>, its axis labels as text
// elements, a colour bar, the hover line, and an overview. Plain ES module loaded by anywidget from the
// package (no CDN, no build step). Codes 0..253 map onto [vmin, vmax]; 254 = NaN/inf; 255 = blocked by
// a mask (hatched). Labels are user text: only ever set as textContent, never as HTML.
// Python computes what is shown (tr_widgets/views: the colour table `lut`, the cell sizes, which cells
// get a label and its text, the colour bar's ticks, the words in `texts`); this file places and paints it.
// Non-data colours (mark, highlight, hatch, frame, text) come from the theme's CSS variables at draw time.

const LEVELS = 253, NONFINITE = 254, BLOCKED = 255, LINE = 13, BAR_W = 12;

export function bytesOf(v) {
  if (!v) return new Uint8Array(0);
  if (v instanceof DataView) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return new Uint8Array(0);
}

function floatsOf(v) {
  const b = bytesOf(v);
  if (b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, b.byteLength >> 2);
  return new Float32Array(b.slice().buffer);
}

// DOM writes only where something changed: a view redraws on every step, and even an equal textContent
// replaces the text node (a mutation and a relayout).
function text(e, t) { if (e.textContent !== t) e.textContent = t; }
function attr(e, k, v) { if (e.getAttribute(k) !== v) e.setAttribute(k, v); }

function el(tag, cls, parent) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (parent) parent.appendChild(e);
  return e;
}

function rgbOf(css) {
  const m = /rgb\((\d+),(\d+),(\d+)\)/.exec(css || "");
  return m ? [+m[1], +m[2], +m[3]] : [0, 0, 0];
}

// A theme colour: --tr-<name> (tr.css), else the notebook's own variable (JupyterLab, then VS Code),
// else the light default; `theme` is palette.THEME as sent: name -> [jp var, vscode var, light].
// Read once per theme and page (getComputedStyle forces a style recalculation, milliseconds per panel on
// a large notebook); a theme change empties the cache (see `later` below).
const THEME_CACHE = new Map();

export function themeColour(node, theme, name) {
  if (THEME_CACHE.has(name)) return THEME_CACHE.get(name);
  const cs = getComputedStyle(node), own = cs.getPropertyValue(`--tr-${name}`).trim();
  const [jp, vs, light] = theme[name] || [];
  const v = own || (jp && cs.getPropertyValue(jp).trim()) || (vs && cs.getPropertyValue(vs).trim()) || light || "#000";
  if (node.isConnected) THEME_CACHE.set(name, v);
  return v;
}

// The same colour as a CSS value, for DOM text: it follows a theme switch by itself.
function themeVar(theme, name) {
  const [jp, vs, light] = theme[name] || [];
  return `var(--tr-${name}, var(${jp}, var(${vs}, ${light})))`;
}

// Paint codes [rows, cols] at py × px pixels per cell. The painted cells (hatch included) are kept in
// `cache` as one full-size ImageData, so a step that only moves a marker repaints by one putImageData:
// a copy, where a scaled drawImage costs milliseconds on a software canvas (no GPU), once per view and step.
function paint(canvas, codes, rows, cols, py, px, pal, cache) {
  const w = Math.max(1, cols * px), h = Math.max(1, rows * py);
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }  // a resize reallocates
  const ctx = canvas.getContext("2d");
  if (!rows || !cols || codes.length < rows * cols) { ctx.clearRect(0, 0, w, h); return ctx; }
  const key = [rows, cols, py, px, pal.hatch].join();
  if (cache.codes !== codes.buffer || cache.offset !== codes.byteOffset || cache.key !== key
      || cache.lut !== pal.lut.buffer) {  // the table's buffer: each bytesOf() is a new view of it
    Object.assign(cache, { codes: codes.buffer, offset: codes.byteOffset, key, lut: pal.lut.buffer,
                           img: cellsImage(codes, rows, cols, py, px, pal) });
  }
  ctx.putImageData(cache.img, 0, 0);
  return ctx;
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

// The cells as one ImageData of (cols·px) × (rows·py) pixels: each cell's colour filled along its first
// pixel row, then that row copied down the cell's height. Masked cells at least 3 px each way get a
// one-pixel diagonal in the hatch colour (blended by its alpha), from bottom-left to top-right.
function cellsImage(codes, rows, cols, py, px, pal) {
  const w = cols * px, img = new ImageData(w, rows * py), d = img.data, out = new Uint32Array(d.buffer), lut = pal.lut;
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
  if (px >= 3 && py >= 3 && codes.subarray(0, rows * cols).includes(BLOCKED)) {
    const [hr, hg, hb, ha] = rgbaOf(pal.hatch), a = ha / 255, n = Math.max(px, py);
    for (let i = 0; i < rows * cols; i++) {
      if (codes[i] !== BLOCKED) continue;
      const x = (i % cols) * px, y = Math.floor(i / cols) * py;
      for (let t = 0; t < n; t++) {
        const o = 4 * ((y + py - 1 - Math.floor((t + 0.5) * py / n)) * w + x + Math.floor((t + 0.5) * px / n));
        d[o] += (hr - d[o]) * a; d[o + 1] += (hg - d[o + 1]) * a; d[o + 2] += (hb - d[o + 2]) * a;
      }
    }
  }
  return img;
}

// The current step: a solid outline; the largest weight: a dashed one in the highlight colour.
function outline(ctx, colour, dashed, x, y, w, h) {
  ctx.save();
  ctx.strokeStyle = colour; ctx.lineWidth = 2;
  if (dashed) ctx.setLineDash([4, 2]);
  ctx.strokeRect(x, y, w, h);
  ctx.restore();
}

function markRow(ctx, r, width, py, colour, dashed = false) { outline(ctx, colour, dashed, 1, r * py, width - 2, Math.max(py, 2)); }
function markCol(ctx, c, height, px, colour, dashed = false) { outline(ctx, colour, dashed, c * px, 1, Math.max(px, 2), height - 2); }

// The shortest of 4..9 significant digits that tells `v` from each different neighbour.
export function exactText(v, neighbours) {
  if (!Number.isFinite(v)) return String(v);
  for (let p = 4; p <= 9; p++) {
    const s = v.toPrecision(p);
    if (neighbours.every((n) => n === v || !Number.isFinite(n) || n.toPrecision(p) !== s)) return s;
  }
  return v.toPrecision(9);
}

function label(parent, text, title, style) {
  const d = el("div", "tr-axis-label", parent);
  d.textContent = text;
  d.title = title;
  Object.assign(d.style, { position: "absolute", whiteSpace: "nowrap", overflow: "hidden", textOverflow: "ellipsis",
    font: `11px/${LINE}px var(--jp-ui-font-family, sans-serif)`, unicodeBidi: "isolate" }, style);
  return d;
}

function render({ model, el: root }) {
  root.classList.add("tr-matrix");
  const title = el("div", "tr-title", root);
  const body = el("div", "tr-matrix-body", root);
  const plot = el("div", "tr-matrix-main", body);
  Object.assign(plot.style, { display: "grid", gridTemplateColumns: "auto auto", alignItems: "start" });
  const rowTitle = el("div", "tr-axis-title tr-row-title", plot);
  el("div", "", plot);
  const rowLab = el("div", "tr-axis-labels tr-row-labels", plot);
  const canvas = el("canvas", "tr-window", plot);
  el("div", "", plot);
  const colLab = el("div", "tr-axis-labels tr-col-labels", plot);
  el("div", "", plot);
  const colTitle = el("div", "tr-axis-title tr-col-title", plot);
  for (const d of [rowLab, colLab]) d.style.position = "relative";
  rowTitle.style.textAlign = "right";
  const barBox = el("div", "tr-colour-bar", body);
  const barRow = el("div", "", barBox);
  barRow.style.position = "relative";
  const bar = el("canvas", "tr-bar", barRow);
  const barNote = el("div", "tr-bar-note", barBox);
  Object.assign(barNote.style, { fontSize: "11px", maxWidth: "90px" });
  const side = el("div", "tr-matrix-overview", body);
  const ovCanvas = el("canvas", "tr-overview", side);
  const notice = el("div", "tr-notice", side);
  const axes = el("div", "tr-axes", root);
  const hover = el("div", "tr-hover", root);
  hover.setAttribute("aria-live", "polite");
  let draws = 0, px = 1, py = 1, scheduled = false, hovered = null, gen = 0, values = null, valuesOf = null;
  // Painting waits while the view is not rendered (a folded panel) or far off screen: the observer says
  // when it comes into view, and it paints then. Its data-step follows every step meanwhile (the step it
  // holds); picture() paints stale views first (root.__trFlush).
  let visible = true, stale = false;
  const winCache = {}, ovCache = {}, rowsExact = new Map(), asked = new Set();
  const g = (k) => model.get(k);

  function draw() {
    scheduled = false;
    if (!visible) {
      stale = true;
      root.dataset.trStep = root.dataset.step = String(g("step"));
      return;
    }
    stale = false;
    const rows = g("rows"), cols = g("cols"), r0 = g("r0"), c0 = g("c0"), theme = g("theme"), texts = g("texts");
    const tc = (name) => themeColour(root, theme, name);
    if (theme !== styledWith) {  // CSS variables: set once, they follow a theme switch by themselves
      styledWith = theme;
      root.style.color = themeVar(theme, "fg");
      for (const d of [rowTitle, colTitle, axes, hover, barNote, notice]) d.style.color = themeVar(theme, "fg-muted");
      canvas.style.border = `1px solid ${themeVar(theme, "border")}`;
    }
    text(title, g("title"));
    const colours = g("colours"), pal = { lut: bytesOf(g("lut")), colours, hatch: tc("hatch") };
    const mark = tc("mark"), high = tc("highlight");
    px = g("cell_w");
    py = g("cell_h");
    const ctx = paint(canvas, bytesOf(g("codes")), rows, cols, py, px, pal, winCache);
    const hr = g("highlight_row") - r0, hc = g("highlight_col") - c0, mr = g("mark_row") - r0, mc = g("mark_col") - c0;
    if (g("highlight_row") >= 0 && hr >= 0 && hr < rows) markRow(ctx, hr, canvas.width, py, high, true);
    if (g("highlight_col") >= 0 && hc >= 0 && hc < cols) markCol(ctx, hc, canvas.height, px, high, true);
    if (g("mark_row") >= 0 && mr >= 0 && mr < rows) markRow(ctx, mr, canvas.width, py, mark);
    if (g("mark_col") >= 0 && mc >= 0 && mc < cols) markCol(ctx, mc, canvas.height, px, mark);
    attr(canvas, "role", "img");
    attr(canvas, "aria-label", `${g("title")} (${texts.hover || ""})`);
    const cursor = g("click_step") ? "pointer" : "crosshair";
    if (canvas.style.cursor !== cursor) canvas.style.cursor = cursor;
    drawLabels(rows, cols, r0, c0);
    drawBar(theme, texts);
    text(axes, g("range_note"));
    const orows = g("ov_rows"), ocols = g("ov_cols");
    if (side.style.display !== (orows && ocols ? "" : "none")) side.style.display = orows && ocols ? "" : "none";
    if (orows && ocols) {
      const opx = g("ov_cell");
      const octx = paint(ovCanvas, bytesOf(g("ov_codes")), orows, ocols, opx, opx, pal, ovCache);
      const fr = g("ov_fr"), fc = g("ov_fc");
      const x = Math.floor(c0 / fc) * opx + 0.5, y = Math.floor(r0 / fr) * opx + 0.5;
      const w = Math.max(1, Math.ceil(cols / fc)) * opx - 1, h = Math.max(1, Math.ceil(rows / fr)) * opx - 1;
      octx.lineWidth = 1;  // where the window is: light and dark strokes, seen on any colour
      octx.strokeStyle = tc("fg"); octx.strokeRect(x - 1, y - 1, w + 2, h + 2);
      octx.strokeStyle = tc("bg"); octx.strokeRect(x, y, w, h);
      if (g("mark_row") >= 0) markRow(octx, Math.floor(g("mark_row") / fr), ovCanvas.width, opx, mark);
      if (g("mark_col") >= 0) markCol(octx, Math.floor(g("mark_col") / fc), ovCanvas.height, opx, mark);
      text(notice, g("notice"));
    }
    if (hovered) showHover(...hovered);
    else text(hover, texts.hover || "");
    if (root.dataset.step !== String(g("step"))) root.dataset.trStep = root.dataset.step = String(g("step"));
    root.dataset.trDraws = String(++draws);
  }

  let labelsKey = "", barKey = "", styledWith = null;  // what the labels and the colour bar were last drawn from: a step that
  // only moves a marker rebuilds neither (DOM work and layout are most of a step's cost in the page)

  function drawLabels(rows, cols, r0, c0) {
    const key = JSON.stringify([rows, cols, r0, c0, px, py, g("row_ticks"), g("row_texts"), g("col_ticks"),
      g("col_texts"), g("col_rotate"), g("click_step"), g("row_axis"), g("col_axis"), g("row_labels"), g("col_labels")]);
    if (key === labelsKey) return;
    labelsKey = key;
    const rl = g("row_labels"), cl = g("col_labels"), rtexts = g("row_texts"), ctexts = g("col_texts");
    const rotate = g("col_rotate"), click = g("click_step");
    const longest = (list) => Math.max(1, ...list.map((s) => s.length));
    const rowW = longest(rtexts) * 7 + 12, colH = rotate ? longest(ctexts) * 7 + 6 : 16;
    rowTitle.textContent = `${g("row_axis")} ↓`;
    colTitle.textContent = `${g("col_axis")} →`;
    Object.assign(rowLab.style, { width: `${rowW}px`, height: `${rows * py}px` });
    Object.assign(colLab.style, { width: `${cols * px}px`, height: `${colH}px` });
    rowLab.replaceChildren();
    colLab.replaceChildren();
    g("row_ticks").forEach((i, k) => {
      const d = label(rowLab, rtexts[k], `${g("row_axis")} ${r0 + i}${rl[i] !== undefined ? `: ${rl[i]}` : ""}`,
        { right: "4px", top: `${(i + 0.5) * py - LINE / 2}px`, height: `${LINE}px`, maxWidth: `${rowW - 4}px`, textAlign: "right" });
      d.dataset.index = String(r0 + i);
      if (click === "row") { d.style.cursor = "pointer"; d.addEventListener("click", () => go(r0 + i)); }
    });
    g("col_ticks").forEach((j, k) => {
      const x = (j + 0.5) * px;
      const style = rotate
        ? { left: `${x - LINE / 2}px`, top: "3px", width: `${LINE}px`, maxHeight: `${colH - 3}px`,
            writingMode: "vertical-rl", transform: "rotate(180deg)", textAlign: "end" }
        : { left: `${x}px`, top: "2px", transform: "translateX(-50%)" };
      const d = label(colLab, ctexts[k], `${g("col_axis")} ${c0 + j}${cl[j] !== undefined ? `: ${cl[j]}` : ""}`, style);
      d.dataset.index = String(c0 + j);
      if (click === "col") { d.style.cursor = "pointer"; d.addEventListener("click", () => go(c0 + j)); }
    });
  }

  function drawBar(theme, texts) {
    const key = JSON.stringify([g("bar_ticks"), g("rows") * py, g("units"), g("cmap"), texts, theme, bytesOf(g("lut")).length]);
    if (key === barKey) return;  // the colour table follows cmap, which the key holds
    barKey = key;
    barBox.style.display = g("bar_ticks").length ? "" : "none";  // no ticks: categories, which a legend names
    if (!g("bar_ticks").length) return;
    const h = Math.min(Math.max(g("rows") * py, 80), 240), lut = bytesOf(g("lut"));
    bar.width = 1; bar.height = LEVELS + 1;
    Object.assign(bar.style, { width: `${BAR_W}px`, height: `${h}px`, border: `1px solid ${themeVar(theme, "border")}` });
    Object.assign(barRow.style, { width: `${BAR_W + 56}px`, height: `${h + 2 + LINE / 2}px`, marginTop: `${LINE + 3}px` });  // room for the last tick's text
    const img = new ImageData(1, LEVELS + 1);
    for (let c = 0; c <= LEVELS && lut.length >= 3 * (LEVELS + 1); c++) {
      const y = LEVELS - c;  // the largest value at the top
      img.data.set([lut[3 * c], lut[3 * c + 1], lut[3 * c + 2], 255], 4 * y);
    }
    bar.getContext("2d").putImageData(img, 0, 0);
    bar.setAttribute("role", "img");
    bar.setAttribute("aria-label", `${texts.bar || ""} ${g("bar_ticks").map((t) => t[1]).join(" … ")}`);
    barRow.querySelectorAll(".tr-bar-tick").forEach((d) => d.remove());
    for (const [pos, text] of g("bar_ticks")) {
      const d = label(barRow, text, "", { left: `${BAR_W + 6}px`, top: `${(1 - pos) * h + 1 - LINE / 2}px` });
      d.className = "tr-bar-tick";
    }
    const units = g("units"), words = [units ? `${texts.units || ""}: ${units}` : "", texts[g("cmap")] || ""];
    barNote.textContent = words.filter(Boolean).join(" · ");
  }

  function go(step) {
    root.dispatchEvent(new CustomEvent("tr-go", { bubbles: true, composed: true, detail: { step } }));
  }

  function schedule() {
    if (!scheduled) { scheduled = true; queueMicrotask(draw); }
  }
  const names = ["codes", "rows", "cols", "r0", "c0", "full_rows", "full_cols", "vmin", "vmax", "cmap",
    "mark_row", "mark_col", "highlight_row", "highlight_col", "row_labels", "col_labels", "row_ticks", "row_texts",
    "col_ticks", "col_texts", "col_rotate", "bar_ticks", "range_note", "units", "texts", "theme", "click_step",
    "ov_codes", "ov_rows", "ov_cols", "ov_fr", "ov_fc", "notice", "title", "step", "cell_w", "cell_h",
    "ov_cell", "lut", "colours", "row_axis", "col_axis"];
  for (const n of names) model.on(`change:${n}`, schedule);
  const newWindow = () => { gen++; rowsExact.clear(); asked.clear(); values = null; valuesOf = null; };
  model.on("change:codes", newWindow);
  model.on("change:values", newWindow);

  // The exact values: the `values` trait for small windows; else one row at a time, asked of Python.
  function exactRow(r) {
    const cols = g("cols"), v = g("values");
    if (v && bytesOf(v).length === 4 * g("rows") * cols) {
      if (valuesOf !== v) { values = floatsOf(v); valuesOf = v; }
      return values.subarray(r * cols, (r + 1) * cols);
    }
    if (rowsExact.has(r)) return rowsExact.get(r);
    if (g("exact") && !asked.has(r) && typeof model.send === "function") {
      asked.add(r);
      model.send({ exact_row: r, gen });
    }
    return null;
  }
  function onMsg(msg, buffers) {
    if (!msg || msg.exact_row === undefined || msg.missing || !buffers || buffers.length < 2) return;
    const r = msg.exact_row, codes = bytesOf(g("codes")), cols = g("cols"), back = bytesOf(buffers[1]);
    if (msg.r0 !== g("r0") || msg.c0 !== g("c0") || back.length !== cols) return;
    for (let c = 0; c < cols; c++) if (back[c] !== codes[r * cols + c]) return;  // another window's row
    rowsExact.set(r, floatsOf(buffers[0]));
    if (hovered && hovered[0] === r) showHover(...hovered);
  }
  model.on("msg:custom", onMsg);

  function showHover(r, c) {
    const rows = g("rows"), cols = g("cols"), texts = g("texts");
    if (r < 0 || c < 0 || r >= rows || c >= cols) return;
    hovered = [r, c];
    const code = bytesOf(g("codes"))[r * cols + c], row = exactRow(r), units = g("units");
    let value;
    if (code === BLOCKED) value = texts.masked;
    else if (row) {
      const near = [row[c - 1], row[c + 1]].filter((n) => n !== undefined);
      const up = r > 0 ? exactRow(r - 1) : null, down = r + 1 < rows ? exactRow(r + 1) : null;
      if (up) near.push(up[c]);
      if (down) near.push(down[c]);
      value = exactText(row[c], near);
    } else if (code === NONFINITE) value = texts.nonfinite;
    else value = `${texts.approx} ${(g("vmin") + code / LEVELS * (g("vmax") - g("vmin"))).toPrecision(3)}`;
    const rl = g("row_labels")[r], cl = g("col_labels")[c], rr = g("r0") + r, cc = g("c0") + c;
    const text = `${g("row_axis")} ${rr}${rl !== undefined ? ` “${rl}”` : ""} · ` +
      `${g("col_axis")} ${cc}${cl !== undefined ? ` “${cl}”` : ""} · ${value}${units && code !== BLOCKED ? ` ${units}` : ""}`;
    hover.textContent = text;
    canvas.title = text;
  }
  const cellAt = (ev) => [Math.floor(ev.offsetY / py), Math.floor(ev.offsetX / px)];
  canvas.addEventListener("mousemove", (ev) => showHover(...cellAt(ev)));
  canvas.addEventListener("mouseleave", () => { hovered = null; hover.textContent = g("texts").hover || ""; });
  canvas.addEventListener("click", (ev) => {
    const [r, c] = cellAt(ev), how = g("click_step");
    if (how === "row" && r >= 0 && r < g("rows")) go(g("r0") + r);
    if (how === "col" && c >= 0 && c < g("cols")) go(g("c0") + c);
  });

  // A theme switch redraws without re-running the cell: JupyterLab marks it on <body>; the OS on the media query.
  const anew = () => { THEME_CACHE.clear(); schedule(); };
  const later = () => { anew(); setTimeout(anew, 250); };
  const watch = new MutationObserver(later);
  watch.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-name", "data-jp-theme-light", "class"] });
  const media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  media?.addEventListener?.("change", later);
  const seen = typeof IntersectionObserver === "undefined" ? null : new IntersectionObserver((entries) => {
    visible = entries[entries.length - 1].isIntersecting;
    if (visible && stale) draw();
  }, { rootMargin: "300px" });
  seen?.observe(root);
  root.__trFlush = () => { if (stale) { const was = visible; visible = true; draw(); visible = was; } };
  draw();
  return () => {
    seen?.disconnect();
    for (const n of names) model.off(`change:${n}`, schedule);
    model.off("change:codes", newWindow);
    model.off("change:values", newWindow);
    model.off("msg:custom", onMsg);
    watch.disconnect();
    media?.removeEventListener?.("change", later);
  };
}

export default { render };
