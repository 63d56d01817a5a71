// One matrix view: its DOM (title, axis titles and labels, the window's canvas, the colour bar, the overview,
// the notes and the hover line) and `drawMatrix`, which paints the current traits into it.

import { attr, el, text } from "../lib/dom.js";
import { bytesOf } from "../lib/bytes.js";
import { themeColour, themeVar } from "../lib/theme.js";
import { drawBar } from "./colour_bar.js";
import { showHover } from "./hover.js";
import { drawLabels } from "./labels.js";
import { markCol, markRow, paintCells } from "./paint.js";

function plotIn(v, body) {
  const plot = el("div", "tr-matrix-main", body);
  Object.assign(plot.style, { display: "grid", gridTemplateColumns: "auto auto", alignItems: "start" });
  v.rowTitle = el("div", "tr-axis-title tr-row-title", plot);
  el("div", "", plot);
  v.rowLab = el("div", "tr-axis-labels tr-row-labels", plot);
  v.canvas = el("canvas", "tr-window", plot);
  el("div", "", plot);
  v.colLab = el("div", "tr-axis-labels tr-col-labels", plot);
  el("div", "", plot);
  v.colTitle = el("div", "tr-axis-title tr-col-title", plot);
  for (const d of [v.rowLab, v.colLab]) d.style.position = "relative";
  v.rowTitle.style.textAlign = "right";
}

// The view's DOM and state. Painting waits while the view is not rendered (a folded panel) or far off screen
// (`visible`); it is then `stale`, and paints when it comes into view.
export function matrixView(model, root) {
  const v = { model, root, get: (k) => model.get(k), draws: 0, px: 1, py: 1, hovered: null, gen: 0, values: null,
              valuesOf: null, visible: true, stale: false, winCache: {}, ovCache: {}, rowsExact: new Map(),
              asked: new Set(), labelsKey: "", barKey: "", styledWith: null, themeKey: "" };
  root.classList.add("tr-matrix");
  v.title = el("div", "tr-title", root);
  const body = el("div", "tr-matrix-body", root);
  plotIn(v, body);
  v.barBox = el("div", "tr-colour-bar", body);
  v.barRow = el("div", "", v.barBox);
  v.barRow.style.position = "relative";
  v.bar = el("canvas", "tr-bar", v.barRow);
  v.barNote = el("div", "tr-bar-note", v.barBox);
  Object.assign(v.barNote.style, { fontSize: "11px", maxWidth: "90px" });
  v.side = el("div", "tr-matrix-overview", body);
  v.ovCanvas = el("canvas", "tr-overview", v.side);
  v.notice = el("div", "tr-notice", v.side);
  v.axes = el("div", "tr-axes", root);
  v.hover = el("div", "tr-hover", root);
  v.hover.setAttribute("aria-live", "polite");
  return v;
}

// The theme colours the canvases are painted with: a theme switch repaints only when one of them changed.
export function paintedColours(v) {
  const theme = v.get("theme");
  return ["mark", "highlight", "hatch", "fg", "bg", "border"].map((n) => themeColour(v.root, n, theme[n])).join("|");
}

function styleText(v, theme) {  // CSS variables: set once, they follow a theme switch by themselves
  v.styledWith = theme;
  v.root.style.color = themeVar(theme, "fg");
  for (const d of [v.rowTitle, v.colTitle, v.axes, v.hover, v.barNote, v.notice]) d.style.color = themeVar(theme, "fg-muted");
  v.canvas.style.border = `1px solid ${themeVar(theme, "border")}`;
}

// The overview of a long matrix, with where the window is: light and dark strokes, seen on any colour.
function drawOverview(v, pal, tc) {
  const g = v.get, orows = g("ov_rows"), ocols = g("ov_cols"), shown = orows && ocols ? "" : "none";
  if (v.side.style.display !== shown) v.side.style.display = shown;
  if (!(orows && ocols)) return;
  const opx = g("ov_cell"), rows = g("rows"), cols = g("cols");
  const notYet = g("ov_done") >= 0 ? { a: 0, b: g("ov_done"), bg: tc("bg"), stroke: tc("border") } : null;
  const octx = paintCells(v.ovCanvas, bytesOf(g("ov_codes")), orows, ocols, opx, opx, { ...pal, notYet }, v.ovCache);
  const perRow = g("ov_fr"), perCol = g("ov_fc");
  const x = Math.floor(g("c0") / perCol) * opx + 0.5, y = Math.floor(g("r0") / perRow) * opx + 0.5;
  const w = Math.max(1, Math.ceil(cols / perCol)) * opx - 1, h = Math.max(1, Math.ceil(rows / perRow)) * opx - 1;
  octx.lineWidth = 1;
  octx.strokeStyle = tc("fg"); octx.strokeRect(x - 1, y - 1, w + 2, h + 2);
  octx.strokeStyle = tc("bg"); octx.strokeRect(x, y, w, h);
  if (g("mark_row") >= 0) markRow(octx, Math.floor(g("mark_row") / perRow), v.ovCanvas.width, opx, tc("mark"));
  if (g("mark_col") >= 0) markCol(octx, Math.floor(g("mark_col") / perCol), v.ovCanvas.height, opx, tc("mark"));
  text(v.notice, g("notice"));
}

function drawWindow(v, pal, tc) {
  const g = v.get, rows = g("rows"), cols = g("cols"), r0 = g("r0"), c0 = g("c0"), canvas = v.canvas;
  v.px = g("cell_w");
  v.py = g("cell_h");
  const done = g("done_rows") || [], notYet = done.length === 2 ? { a: done[0], b: done[1], bg: tc("bg"), stroke: tc("border") } : null;
  const ctx = paintCells(canvas, bytesOf(g("codes")), rows, cols, v.py, v.px, { ...pal, notYet }, v.winCache);
  const hr = g("highlight_row") - r0, hc = g("highlight_col") - c0, mr = g("mark_row") - r0, mc = g("mark_col") - c0;
  if (g("highlight_row") >= 0 && hr >= 0 && hr < rows) markRow(ctx, hr, canvas.width, v.py, tc("highlight"), true);
  if (g("highlight_col") >= 0 && hc >= 0 && hc < cols) markCol(ctx, hc, canvas.height, v.px, tc("highlight"), true);
  if (g("mark_row") >= 0 && mr >= 0 && mr < rows) markRow(ctx, mr, canvas.width, v.py, tc("mark"));
  if (g("mark_col") >= 0 && mc >= 0 && mc < cols) markCol(ctx, mc, canvas.height, v.px, tc("mark"));
  attr(canvas, "role", "img");
  attr(canvas, "aria-label", `${g("title")} (${g("texts").hover || ""})`);
  const cursor = g("click_step") ? "pointer" : "crosshair";
  if (canvas.style.cursor !== cursor) canvas.style.cursor = cursor;
  drawLabels(v, rows, cols, r0, c0);
}

export function drawMatrix(v) {
  const g = v.get, step = String(g("step"));
  if (!v.visible) {
    v.stale = true;
    v.root.dataset.trStep = v.root.dataset.step = step;  // the step it holds follows meanwhile
    return;
  }
  v.stale = false;
  const theme = g("theme"), texts = g("texts"), tc = (name) => themeColour(v.root, name, theme[name]);
  if (theme !== v.styledWith) styleText(v, theme);
  text(v.title, g("title"));
  const pal = { lut: bytesOf(g("lut")), colours: g("colours"), hatch: tc("hatch") };
  drawWindow(v, pal, tc);
  drawBar(v, theme, texts);
  text(v.axes, g("range_note"));
  drawOverview(v, pal, tc);
  v.themeKey = paintedColours(v);
  if (v.hovered) showHover(v, ...v.hovered);
  else text(v.hover, texts.hover || "");
  if (v.root.dataset.step !== step) v.root.dataset.trStep = v.root.dataset.step = step;
  v.root.dataset.trDraws = String(++v.draws);
}
