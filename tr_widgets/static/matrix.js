// tr_widgets matrix canvas: a window of a matrix (uint8 codes) on <canvas>, its axis labels as text
// elements, a colour bar, the hover line, and an overview. The module anywidget loads for MatrixCanvas,
// assembled by tr_widgets/widgets/esm.py from this file and the files it imports (lib/, matrix/):
//   matrix/paint.js       the cells (and marks) on a canvas
//   matrix/labels.js      the axis labels and titles
//   matrix/colour_bar.js  the colour bar
//   matrix/hover.js       the hover line and the exact values
//   matrix/view.js        one view's DOM, and drawing the traits into it
// This file: `render`, which binds a view to its model, the pointer, the theme and the page's scrolling.
// Python computes what is shown (tr_widgets/views: the colour table `lut`, the cell sizes, which cells
// get a label and its text, the colour bar's ticks, the words in `texts`); these files place and paint it.
// Non-data colours (mark, highlight, hatch, frame, text) come from the theme's CSS variables at draw time.

import { batched } from "./lib/dom.js";
import { watchTheme } from "./lib/theme.js";
import { exactRowArrived, showHover } from "./matrix/hover.js";
import { askStep } from "./matrix/labels.js";
import { drawMatrix, matrixView, paintedColours } from "./matrix/view.js";

const TRAITS = ["codes", "rows", "cols", "r0", "c0", "full_rows", "full_cols", "vmin", "vmax", "cmap",
  "mark_row", "mark_col", "highlight_row", "highlight_col", "row_labels", "col_labels", "row_ticks", "row_texts",
  "col_ticks", "col_texts", "col_rotate", "bar_ticks", "range_note", "units", "texts", "theme", "click_step",
  "ov_codes", "ov_rows", "ov_cols", "ov_fr", "ov_fc", "ov_done", "done_rows", "notice", "title", "step", "cell_w", "cell_h",
  "ov_cell", "lut", "colours", "row_axis", "col_axis", "label_px"];

function pointer(v) {
  const cellAt = (ev) => [Math.floor(ev.offsetY / v.py), Math.floor(ev.offsetX / v.px)];
  v.canvas.addEventListener("mousemove", (ev) => showHover(v, ...cellAt(ev)));
  v.canvas.addEventListener("mouseleave", () => { v.hovered = null; v.hover.textContent = v.get("texts").hover || ""; });
  // The overview: over rows not computed yet (a filling overview), the hover line says so.
  v.ovCanvas.addEventListener("mousemove", (ev) => {
    const done = v.get("ov_done"), r = Math.floor(ev.offsetY / Math.max(1, v.get("ov_cell")));
    const line = done >= 0 && r >= done ? v.get("texts").not_yet || "" : "";
    v.ovCanvas.title = line;
    v.hovered = null;
    v.hover.textContent = line || v.get("texts").hover || "";
  });
  v.ovCanvas.addEventListener("mouseleave", () => { v.hover.textContent = v.get("texts").hover || ""; });
  v.canvas.addEventListener("click", (ev) => {
    const [r, c] = cellAt(ev), how = v.get("click_step");
    if (how === "row" && r >= 0 && r < v.get("rows")) askStep(v.root, v.get("r0") + r);
    if (how === "col" && c >= 0 && c < v.get("cols")) askStep(v.root, v.get("c0") + c);
  });
}

// Painting waits while the view is far off screen; picture() paints stale views first (root.__trFlush).
function whenSeen(v) {
  const seen = typeof IntersectionObserver === "undefined" ? null : new IntersectionObserver((entries) => {
    v.visible = entries[entries.length - 1].isIntersecting;
    // A view first drawn detached (not styled yet) painted the light defaults: once seen, the theme's colours.
    if (v.visible && (v.stale || paintedColours(v) !== v.themeKey)) drawMatrix(v);
  }, { rootMargin: "300px" });
  seen?.observe(v.root);
  v.root.__trFlush = () => { if (v.stale) { const was = v.visible; v.visible = true; drawMatrix(v); v.visible = was; } };
  return () => seen?.disconnect();
}

function renderMatrix({ model, el: root }) {
  const v = matrixView(model, root), schedule = batched(() => drawMatrix(v));
  for (const n of TRAITS) model.on(`change:${n}`, schedule);
  const newWindow = () => { v.gen++; v.rowsExact.clear(); v.asked.clear(); v.values = null; v.valuesOf = null; };
  model.on("change:codes", newWindow);
  model.on("change:values", newWindow);
  const onMsg = (msg, buffers) => exactRowArrived(v, msg, buffers);
  model.on("msg:custom", onMsg);
  pointer(v);
  // A theme switch repaints without re-running the cell, where the painted colours changed.
  const unwatch = watchTheme(() => { if (paintedColours(v) !== v.themeKey) schedule(); });
  const unsee = whenSeen(v);
  drawMatrix(v);
  return () => {
    unsee();
    for (const n of TRAITS) model.off(`change:${n}`, schedule);
    model.off("change:codes", newWindow);
    model.off("change:values", newWindow);
    model.off("msg:custom", onMsg);
    unwatch();
  };
}

export default { render: renderMatrix };
