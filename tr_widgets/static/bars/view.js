// One bar-chart view: the flow of groups (each arrow travels with the group it points into, so a wrap never
// strands it; a group of three or more charts is laid out two abreast, the four LSTM gates as 2 × 2), each
// chart's name, value axis, canvas and note, the legend and the hover line. Every text is DOM text set with
// textContent, never painted.

import { bytesOf, floatsOf } from "../lib/bytes.js";
import { el } from "../lib/dom.js";
import { themeColour } from "../lib/theme.js";
import { drawSeries, fmtValue, nonNegative } from "./paint.js";

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

function chartIn(v, col, s, axisClasses) {
  const box = el("div", "tr-series", col), model = v.model;
  el("div", "tr-series-name", box).textContent = model.get("names")[s];
  const plot = el("div", "tr-series-plot", box);
  const ax = el("div", `tr-value-axis ${axisClasses}`.trim(), plot);
  const spans = [0, 1, 2].map(() => el("span", "tr-axis-label", ax));
  const canvas = el("canvas", "tr-series-canvas", plot);
  canvas.setAttribute("role", "img");
  const chart = { s, canvas, spans, note: el("div", "tr-series-note", box), v: null, b: null };
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

// The charts' DOM is built once per layout (series, groups, widths, axis kinds) and then only updated:
// a step redraws the canvases and sets the changed words; rebuilding the DOM and its layout each step
// was most of a step's cost in the page.
function buildCharts(v, lengths, groups, shared, up) {
  v.flow.replaceChildren();
  v.charts = [];
  groups.forEach((group, gi) => {
    const stepBox = el("div", "tr-flow-step", v.flow);  // the arrow and the group it points into
    if (gi > 0 && v.model.get("arrow")) {
      const arrow = el("div", "tr-arrow", stepBox);
      arrow.textContent = v.model.get("arrow");
      arrow.setAttribute("aria-hidden", "true");
    }
    const grid = group.length >= 3, col = el("div", grid ? "tr-group tr-group-grid" : "tr-group", stepBox);
    group.forEach((s, k) => {
      if (s >= lengths.length) return;
      // two abreast on one shared scale: the right chart's axis repeats its left neighbour's (hidden, not gone)
      const repeat = grid && k % 2 && shared[s] && shared[s] === shared[group[k - 1]];
      const classes = `${repeat ? "tr-value-axis-repeat" : ""} ${up[s] ? "tr-value-axis-up" : ""}`;
      v.charts.push(chartIn(v, col, s, classes.trim()));
    });
  });
}

function legendItem(v, colour, words) {
  if (!words) return;
  const item = el("span", "tr-legend-item", v.legend);
  if (colour) el("span", "tr-swatch", item).style.background = colour;
  item.appendChild(document.createTextNode(words));
}

function drawLegend(v, seen, th) {
  const model = v.model, marks = model.get("marks"), highs = model.get("highlights") || [], colours = model.get("colours");
  const key = JSON.stringify([marks.some((i) => i >= 0), highs.some((i) => i >= 0), seen.blocked, seen.nonfinite,
    colours, th.mark, th.highlight, model.get("texts")]);
  if (key === v.legendKey) return;
  v.legendKey = key;
  v.legend.replaceChildren();
  const item = el("span", "tr-legend-item", v.legend);  // "red: positive · blue: negative", with swatches
  el("span", "tr-swatch", item).style.background = colours.positive;
  el("span", "tr-swatch", item).style.background = colours.negative;
  item.appendChild(document.createTextNode(v.words("signs")));
  if (marks.some((i) => i >= 0)) legendItem(v, th.mark, v.words("mark"));
  if (highs.some((i) => i >= 0)) legendItem(v, th.highlight, v.words("highlight"));
  if (seen.blocked) legendItem(v, colours.blocked, v.words("blocked"));
  if (seen.nonfinite) legendItem(v, colours.nonfinite, v.words("nonfinite"));
}

function drawChart(v, chart, d, seen) {
  const s = chart.s, a = d.starts[s], n = d.lengths[s], names = v.model.get("names");
  const label = d.axis[s] ?? "";  // all zero (e.g. h_0): only the "0" label
  const ticks = d.flat[s] ? ["", "0", ""] : d.up[s] ? [label, "", "0"] : [`+${label}`, "0", `\u2212${label}`];
  ticks.forEach((t, i) => { if (chart.spans[i].textContent !== t) chart.spans[i].textContent = t; });
  chart.b = d.blk.length >= a + n ? d.blk.subarray(a, a + n) : new Uint8Array(n);
  chart.v = d.vals.subarray(a, a + n);
  drawSeries(chart.canvas, chart.v, chart.b, d.marks[s] ?? -1, d.highs[s] ?? -1, d.widths[s] || 1, d.maxima[s] || 0,
    d.colours, d.th, d.up[s] && !d.flat[s]);
  for (let i = 0; i < n; i++) { seen.blocked ||= !!chart.b[i]; seen.nonfinite ||= !chart.b[i] && !Number.isFinite(chart.v[i]); }
  const aria = `${names[s]}: ${n} values, axis ${d.up[s] ? `0 to ${label}` : `±${label}`}`;
  if (chart.canvas.getAttribute("aria-label") !== aria) chart.canvas.setAttribute("aria-label", aria);
  const first = d.shared[s] && d.shared.indexOf(d.shared[s]) === s;  // said once, under the group's first series
  const note = [d.notes[s] || "", first ? v.words("shared").replace("{group}", () => d.shared[s]) : ""].filter(Boolean).join(" · ");
  if (chart.note.textContent !== note) chart.note.textContent = note;
}

export function drawBars(v) {
  const model = v.model, g = (k) => model.get(k), th = barColours(v.root, g("theme_light") || {});
  v.themeKey = coloursKey(th);
  if (v.title.textContent !== g("title")) v.title.textContent = g("title");
  const d = { vals: floatsOf(g("values")), blk: bytesOf(g("blocked")), lengths: g("lengths"), notes: g("notes"),
              marks: g("marks"), highs: g("highlights") || [], widths: g("bar_px"), colours: g("colours"),
              maxima: g("scale_max") || [], axis: g("axis") || [], shared: g("scale_groups") || [], starts: [], th };
  let acc = 0;
  for (const n of d.lengths) { d.starts.push(acc); acc += n; }
  d.up = nonNegative(d.vals, d.blk, d.starts, d.lengths, d.shared);
  d.flat = d.maxima.map((m) => !(m > 0));
  const key = JSON.stringify([d.lengths, g("names"), g("groups"), d.shared, d.up, g("arrow")]);
  if (key !== v.layoutKey) { v.layoutKey = key; buildCharts(v, d.lengths, g("groups"), d.shared, d.up); }
  const seen = { blocked: false, nonfinite: false };
  for (const chart of v.charts) drawChart(v, chart, d, seen);
  drawLegend(v, seen, th);
  if (!v.hover.textContent) v.hover.textContent = v.words("hint");
  if (v.root.dataset.trTheme !== th.bg) v.root.dataset.trTheme = th.bg;  // only what changed: a write is a mutation
  const step = String(g("step"));
  if (v.root.dataset.step !== step) v.root.dataset.trStep = v.root.dataset.step = step;
  v.root.dataset.trDraws = String(++v.draws);
}
