// One bar-chart view: the flow of groups (each arrow travels with the group it points into, so a wrap never
// strands it), each chart's name, value axis, canvas and note, the legend and the hover line, built from the
// panel's Look as Python decided it (views/looks.py): the charts abreast in each group (`columns`), each axis's
// width (`axis_px`, 0: its left neighbour's) and label (`axis`, `up`), notes, the legend's items (`layout`). Every text is DOM text
// set with textContent, never painted.

import { bytesOf, floatsOf } from "../lib/bytes.js";
import { el } from "../lib/dom.js";
import { themeColour } from "../lib/theme.js";
import { drawSeries, fmtValue } from "./paint.js";

const THEMED = ["bg", "fg-muted", "mark", "highlight", "hatch", "border"];

// The theme colours the charts are painted with (`light`: each one's light default, as Python sent it).
export function barColours(root, light, fresh = false) {
  const th = {};
  for (const k of THEMED) th[k] = themeColour(root, k, light[k], fresh);
  return th;
}
export const coloursKey = (th) => THEMED.map((k) => th[k]).join("|");

export function barsView(model, root) {
  root.classList.add("tr-bars");
  const v = { model, root, title: el("div", "tr-title", root), flow: el("div", "tr-flow", root), draws: 0,
              themeKey: "", layoutKey: "", legendKey: "", charts: [] };
  const foot = el("div", "tr-bars-foot", root);  // the legend and the hover line share one row where they fit
  v.legend = el("div", "tr-legend", foot);
  v.hover = el("div", "tr-hover", foot);
  v.hover.setAttribute("aria-live", "polite");
  v.words = (k) => (model.get("texts") || {})[k] || "";
  return v;
}

function chartIn(v, col, s, axisPx) {
  const box = el("div", "tr-series", col), model = v.model;
  el("div", "tr-series-name", box).textContent = model.get("names")[s];
  const plot = el("div", "tr-series-plot", box);
  // an axis of 0 px repeats its left neighbour's (on one scale): kept for screen readers only, not shown
  const ax = el("div", axisPx ? "tr-value-axis" : "tr-value-axis tr-value-axis-repeat", plot);
  const spans = [0, 1, 2].map(() => el("span", "tr-axis-label", ax));
  const canvas = el("canvas", "tr-series-canvas", plot);
  canvas.setAttribute("role", "img");
  const chart = { s, canvas, ax, axisPx: 0, spans, note: el("div", "tr-series-note", box), v: null, b: null };
  canvas.addEventListener("mousemove", (e) => {
    const n = chart.v.length, units = model.get("units") || [], r = canvas.getBoundingClientRect();
    const i = Math.min(n - 1, Math.max(0, Math.floor((e.clientX - r.left) / (r.width || 1) * n)));
    const value = chart.b[i] ? v.words("blocked") : `${fmtValue(chart.v[i])}${units[s] ? ` ${units[s]}` : ""}`;
    const vars = { name: model.get("names")[s], i: String(i), last: String(n - 1), value };
    v.hover.textContent = v.words("hover").replace(/\{(\w+)\}/g, (m, key) => vars[key] ?? m);
  });
  canvas.addEventListener("mouseleave", () => { v.hover.textContent = v.words("hint"); });
  return chart;
}

// The charts' DOM is built once per layout (series, groups, columns, which axes are shown) and then only updated:
// a step redraws the canvases and sets the changed words and axis widths (an axis widens with its label, "+1.23"
// to "+0.123", on many steps); rebuilding the DOM and its layout each step was most of a step's cost in the page.
function buildCharts(v, d) {
  v.flow.replaceChildren();
  v.charts = [];
  d.groups.forEach((group, gi) => {
    const stepBox = el("div", "tr-flow-step", v.flow);  // the arrow and the group it points into
    if (gi > 0 && v.model.get("arrow")) {
      const arrow = el("div", "tr-arrow", stepBox);
      arrow.textContent = v.model.get("arrow");
      arrow.setAttribute("aria-hidden", "true");
    }
    const cols = d.columns[gi] || 1, col = el("div", cols > 1 ? "tr-group tr-group-grid" : "tr-group", stepBox);
    if (cols > 1) col.style.gridTemplateColumns = `repeat(${cols}, minmax(0, max-content))`;
    for (const s of group) if (s < d.lengths.length) v.charts.push(chartIn(v, col, s, d.axisPx[s] || 0));
  });
}

// The legend's items as the Look lists them: [palette names, key of the words in texts]; a name is a theme
// colour, else a data colour.
function drawLegend(v, d) {
  const items = d.layout.legend || [];
  const key = JSON.stringify([items, d.colours, d.th]);
  if (key === v.legendKey) return;
  v.legendKey = key;
  v.legend.replaceChildren();
  for (const [names, key] of items) {
    const words = v.words(key);
    const item = el("span", "tr-legend-item", v.legend);
    for (const name of names) el("span", "tr-swatch", item).style.background = d.th[name] ?? d.colours[name];
    item.appendChild(document.createTextNode(words));
  }
}

// A chart's axis texts top, middle, bottom, by the Look's rule (views/looks.py axis_labels): all zero, "0" only;
// drawn from the bottom, "max" over "0"; signed, "+max", "0", "−max".
function axisTexts(label, max, up) {
  if (!(max > 0)) return ["", "0", ""];
  return up ? [label, "", "0"] : [`+${label}`, "0", `\u2212${label}`];
}

// The axis as wide as the Look says (0: its left neighbour's, hidden by its class); written only when it changed.
function axisWidth(chart, px) {
  if (!px || chart.axisPx === px) return;
  chart.axisPx = px;
  Object.assign(chart.ax.style, { width: `${px}px`, minWidth: `${px}px` });
}

function drawChart(v, chart, d) {
  const s = chart.s, a = d.starts[s], n = d.lengths[s], g = (k) => v.model.get(k);
  axisWidth(chart, d.axisPx[s] || 0);
  axisTexts(d.axis[s] ?? "", d.maxima[s] || 0, d.up[s]).forEach((t, i) => {
    if (chart.spans[i].textContent !== t) chart.spans[i].textContent = t;
  });
  chart.b = d.blk.length >= a + n ? d.blk.subarray(a, a + n) : new Uint8Array(n);
  chart.v = d.vals.subarray(a, a + n);
  drawSeries(chart.canvas, { vals: chart.v, blocked: chart.b, mark: g("marks")[s] ?? -1, high: (g("highlights") || [])[s] ?? -1,
    bw: d.widths[s] || 1, max: d.maxima[s] || 0, h: d.h, up: !!d.up[s] }, d.colours, d.th);
  const aria = `${g("names")[s]}: ${n} values`;
  if (chart.canvas.getAttribute("aria-label") !== aria) chart.canvas.setAttribute("aria-label", aria);
  const note = (g("chart_notes") || [])[s] || "";
  if (chart.note.textContent !== note) chart.note.textContent = note;
}

export function drawBars(v) {
  const model = v.model, g = (k) => model.get(k), th = barColours(v.root, g("theme_light") || {});
  v.themeKey = coloursKey(th);
  if (v.title.textContent !== g("title")) v.title.textContent = g("title");
  const d = { vals: floatsOf(g("values")), blk: bytesOf(g("blocked")), lengths: g("lengths"), groups: g("groups"),
              widths: g("bar_px"), colours: g("colours"), maxima: g("scale_max") || [], axis: g("axis") || [],
              layout: g("chart_layout") || {}, starts: [], th };
  Object.assign(d, { up: d.layout.up || [], axisPx: d.layout.axis_px || [], columns: d.layout.columns || [],
                     h: d.layout.chart_h || 1 });
  let acc = 0;
  for (const n of d.lengths) { d.starts.push(acc); acc += n; }
  const key = JSON.stringify([d.lengths, g("names"), d.groups, d.columns, d.axisPx.map((px) => px > 0), g("arrow")]);
  if (key !== v.layoutKey) { v.layoutKey = key; buildCharts(v, d); }
  for (const chart of v.charts) drawChart(v, chart, d);
  drawLegend(v, d);
  if (!v.hover.textContent) v.hover.textContent = v.words("hint");
  if (v.root.dataset.trTheme !== th.bg) v.root.dataset.trTheme = th.bg;  // only what changed: a write is a mutation
  const step = String(g("step"));
  if (v.root.dataset.step !== step) v.root.dataset.trStep = v.root.dataset.step = step;
  v.root.dataset.trDraws = String(++v.draws);
}
