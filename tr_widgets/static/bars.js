// tr_widgets bar charts: small multiples of float32 vectors on <canvas>, laid out as a flow. The module
// anywidget loads for BarsCanvas, assembled by tr_widgets/widgets/esm.py from this file and the files it
// imports (lib/, bars/):
//   bars/paint.js  one chart on a canvas
//   bars/view.js   one view's DOM (flow, charts, legend, hover line), and drawing the traits into it
// This file: `render`, which binds a view to its model and to the theme.
// `values` holds every series back to back (float32); `blocked` (uint8, optional) marks masked entries.
// Data colours (positive, negative, blocked, nonfinite: the `colours` dict) and every decision of the panel's
// Look (views/looks.py: bar widths, axis maxima and texts, chart height, columns, notes, legend) come from
// Python: these files only paint them. Non-data colours (background, zero line, mark, highlight, hatch)
// are the theme's --tr-* properties, read at draw time, so a theme switch repaints.

import { batched } from "./lib/dom.js";
import { watchTheme } from "./lib/theme.js";
import { barColours, barsView, coloursKey, drawBars } from "./bars/view.js";

const BAR_TRAITS = ["values", "blocked", "lengths", "names", "marks", "highlights", "groups", "title", "step", "arrow",
  "bar_px", "colours", "scale_max", "axis", "units", "texts", "theme_light", "chart_layout", "chart_notes"];

function renderBars({ model, el: root }) {
  const v = barsView(model, root), schedule = batched(() => drawBars(v));
  // Follow the notebook's theme without a re-run (lib/theme.js), and once the view is first attached and
  // styled: redraw when the resolved --tr-* colours changed.
  const refresh = (fresh) => {
    if (coloursKey(barColours(root, model.get("theme_light") || {}, fresh)) !== v.themeKey) schedule();
  };
  const unwatch = watchTheme(() => refresh(false));
  const resized = typeof ResizeObserver !== "undefined" ? new ResizeObserver(() => refresh(true)) : null;
  if (resized) resized.observe(root);
  for (const t of BAR_TRAITS) model.on(`change:${t}`, schedule);
  drawBars(v);
  return () => {
    for (const t of BAR_TRAITS) model.off(`change:${t}`, schedule);
    if (resized) resized.disconnect();
    unwatch();
  };
}

export default { render: renderBars };
