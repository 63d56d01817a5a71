// tr_widgets bar charts: small multiples of float32 vectors on <canvas>, laid out as a flow
// (groups left to right; each arrow travels with the group it points into, so a wrap never strands it).
// Plain ES module loaded by anywidget; no CDN. `values` holds every series back to back (float32);
// `blocked` (uint8, optional) marks masked entries, drawn as hatched grey stubs rather than left blank.
// Every text (names, axis labels, legend, hover line) is DOM text set with textContent, never painted.

// Data colours (positive, negative, blocked, nonfinite: the `colours` dict), bar widths (`bar_px`) and each
// series' axis maximum (`scale_max`, shared within a scale group) come from Python (views/palette.py,
// widgets/bars.py): this file only paints them. Non-data colours (background, zero line, mark,
// highlight, hatch) are the theme's --tr-* properties, read at draw time, so a theme switch repaints.
// A series whose scale group holds no negative value (ms, weights, lengths) is drawn from a zero line at the
// bottom up to its maximum (axis 0 … max); a signed one about a zero line in the middle (axis ±max).
// A group of three or more charts is laid out two abreast (the four LSTM gates as 2 × 2): one screen tall.
const H = 40;  // canvas height in px: compact, so a stepper fits in about one screen
const THEMED = ["bg", "fg-muted", "mark", "highlight", "hatch", "border"];

function bytesOf(v) {
  if (!v) return new Uint8Array(0);
  if (v instanceof DataView) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return new Uint8Array(0);
}

function floatsOf(v) {
  const b = bytesOf(v);
  return new Float32Array(b.slice().buffer, 0, Math.floor(b.length / 4));  // copy: alignment-safe
}

function el(tag, cls, parent) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (parent) parent.appendChild(e);
  return e;
}

// The theme's colours, read once per theme and page: getComputedStyle forces a style recalculation,
// which costs milliseconds per chart on a large notebook; a theme change (see `soon`) reads them anew.
let THEME_CACHE = null;

function themeOf(root, light, fresh = false) {
  if (THEME_CACHE && !fresh) return THEME_CACHE;
  const cs = root.isConnected ? getComputedStyle(root) : null;
  const t = {};
  for (const k of THEMED) t[k] = (cs && cs.getPropertyValue(`--tr-${k}`).trim()) || light[k] || "#888";
  if (cs) THEME_CACHE = t;
  return t;
}

// Whether each series is drawn from the bottom (0 … max): no negative finite, unblocked value in its scale group.
function nonNegative(vals, blk, starts, lengths, shared) {
  const own = lengths.map((n, s) => {
    for (let i = starts[s]; i < starts[s] + n; i++) {
      if (!(blk.length > i && blk[i]) && vals[i] < 0) return false;
    }
    return true;
  });
  return own.map((ok, s) => (shared[s] ? own.every((o, r) => o || shared[r] !== shared[s]) : ok));
}

function outline(ctx, i, bw, colour, dash, inset) {
  ctx.strokeStyle = colour; ctx.lineWidth = 2; ctx.setLineDash(dash);
  const w = Math.max(bw, 3);
  ctx.strokeRect(i * bw + (bw - w) / 2 + 1 + inset, 1 + inset, Math.max(w - 2 - 2 * inset, 1), H - 2 - 2 * inset);
  ctx.setLineDash([]);
}

function drawSeries(canvas, vals, blocked, mark, high, bw, m, c, th, up) {
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
    if (blocked[i]) {
      ctx.fillStyle = c.blocked; ctx.fillRect(x, 0, bw, H);
      if (bw >= 3) {
        ctx.strokeStyle = th.hatch; ctx.lineWidth = 1; ctx.beginPath();
        for (let y = 0; y < H; y += bw) { ctx.moveTo(x, y + bw); ctx.lineTo(x + bw, y); }
        ctx.stroke();
      }
    } else if (!Number.isFinite(v)) {
      ctx.fillStyle = c.nonfinite; ctx.fillRect(x, 0, bw, H);
    } else {
      const h = Math.max(1, Math.round(Math.min(Math.abs(v) / m, 1) * room));
      ctx.fillStyle = v >= 0 ? c.positive : c.negative;
      ctx.fillRect(x, v >= 0 ? mid - h : mid, Math.max(1, bw - (bw > 3 ? 1 : 0)), h);
    }
  }
  ctx.fillStyle = th["fg-muted"]; ctx.fillRect(0, mid, canvas.width, 1);  // the zero line
  if (high >= 0 && high < n) outline(ctx, high, bw, th.highlight, [3, 2], mark === high ? 2 : 0);
  if (mark >= 0 && mark < n) outline(ctx, mark, bw, th.mark, [], 0);
}

function fmtValue(v) {
  if (!Number.isFinite(v)) return String(v);
  const s = String(Number(v.toPrecision(7)));  // float32: 7 significant digits tell neighbours apart
  return v > 0 ? `+${s}` : s.replace("-", "\u2212");
}

function render({ model, el: root }) {
  root.classList.add("tr-bars");
  const title = el("div", "tr-title", root);
  const flow = el("div", "tr-flow", root);
  const foot = el("div", "tr-bars-foot", root);  // the legend and the hover line share one row where they fit
  const legend = el("div", "tr-legend", foot);
  const hover = el("div", "tr-hover", foot);
  hover.setAttribute("aria-live", "polite");
  let draws = 0, scheduled = false, themeKey = "";
  const text = (k) => (model.get("texts") || {})[k] || "";

  function legendItem(colour, words) {
    if (!words) return;
    const item = el("span", "tr-legend-item", legend);
    if (colour) el("span", "tr-swatch", item).style.background = colour;
    item.appendChild(document.createTextNode(words));
  }

  // The charts' DOM is built once per layout (series, groups, widths, axis kinds) and then only updated:
  // a step redraws the canvases and sets the changed words; rebuilding the DOM and its layout each step
  // was most of a step's cost in the page.
  let layoutKey = "", legendKey = "", charts = [];

  function build(lengths, names, groups, shared, up) {
    flow.replaceChildren();
    charts = [];
    groups.forEach((group, gi) => {
      const stepBox = el("div", "tr-flow-step", flow);  // the arrow and the group it points into
      if (gi > 0 && model.get("arrow")) {
        const arrow = el("div", "tr-arrow", stepBox);
        arrow.textContent = model.get("arrow");
        arrow.setAttribute("aria-hidden", "true");
      }
      const col = el("div", group.length >= 3 ? "tr-group tr-group-grid" : "tr-group", stepBox);
      group.forEach((s, k) => {
        if (s >= lengths.length) return;
        const box = el("div", "tr-series", col);
        el("div", "tr-series-name", box).textContent = names[s];
        const plot = el("div", "tr-series-plot", box);
        const ax = el("div", "tr-value-axis", plot);
        // two abreast on one shared scale: the right chart's axis repeats its left neighbour's (hidden, not gone)
        if (col.classList.contains("tr-group-grid") && k % 2 && shared[s] && shared[s] === shared[group[k - 1]]) {
          ax.classList.add("tr-value-axis-repeat");
        }
        if (up[s]) ax.classList.add("tr-value-axis-up");
        const spans = [0, 1, 2].map(() => el("span", "tr-axis-label", ax));
        const canvas = el("canvas", "tr-series-canvas", plot);
        canvas.setAttribute("role", "img");
        const chart = { s, canvas, spans, note: el("div", "tr-series-note", box), v: null, b: null };
        canvas.addEventListener("mousemove", (e) => {
          const n = chart.v.length, units = model.get("units") || [], r = canvas.getBoundingClientRect();
          const i = Math.min(n - 1, Math.max(0, Math.floor((e.clientX - r.left) / (r.width || 1) * n)));
          const value = chart.b[i] ? text("blocked") : `${fmtValue(chart.v[i])}${units[s] ? ` ${units[s]}` : ""}`;
          const vars = { name: model.get("names")[s], i: String(i), last: String(n - 1), value };
          hover.textContent = text("hover").replace(/\{(\w+)\}/g, (m, key) => vars[key] ?? m);
        });
        canvas.addEventListener("mouseleave", () => { hover.textContent = text("hint"); });
        charts.push(chart);
      });
    });
  }

  function draw() {
    scheduled = false;
    const th = themeOf(root, model.get("theme_light") || {});
    themeKey = THEMED.map((k) => th[k]).join("|");
    if (title.textContent !== model.get("title")) title.textContent = model.get("title");
    const vals = floatsOf(model.get("values")), blk = bytesOf(model.get("blocked"));
    const lengths = model.get("lengths"), names = model.get("names"), notes = model.get("notes");
    const marks = model.get("marks"), highs = model.get("highlights") || [], groups = model.get("groups");
    const widths = model.get("bar_px"), colours = model.get("colours");
    const maxima = model.get("scale_max") || [], axis = model.get("axis") || [];
    const shared = model.get("scale_groups") || [];
    const starts = []; let acc = 0;
    for (const n of lengths) { starts.push(acc); acc += n; }
    const up = nonNegative(vals, blk, starts, lengths, shared), flat = maxima.map((m) => !(m > 0));
    const key = JSON.stringify([lengths, names, groups, shared, up, model.get("arrow")]);
    if (key !== layoutKey) { layoutKey = key; build(lengths, names, groups, shared, up); }
    let anyBlocked = false, anyNonfinite = false;
    for (const chart of charts) {
      const s = chart.s, a = starts[s], n = lengths[s];
      const label = axis[s] ?? "";  // all zero (e.g. h_0): only the "0" label
      const ticks = flat[s] ? ["", "0", ""] : up[s] ? [label, "", "0"] : [`+${label}`, "0", `\u2212${label}`];
      ticks.forEach((t, i) => { if (chart.spans[i].textContent !== t) chart.spans[i].textContent = t; });
      chart.b = blk.length >= a + n ? blk.subarray(a, a + n) : new Uint8Array(n);
      chart.v = vals.subarray(a, a + n);
      drawSeries(chart.canvas, chart.v, chart.b, marks[s] ?? -1, highs[s] ?? -1, widths[s] || 1, maxima[s] || 0,
        colours, th, up[s] && !flat[s]);
      for (let i = 0; i < n; i++) { anyBlocked ||= !!chart.b[i]; anyNonfinite ||= !chart.b[i] && !Number.isFinite(chart.v[i]); }
      const aria = `${names[s]}: ${n} values, axis ${up[s] ? `0 to ${label}` : `±${label}`}`;
      if (chart.canvas.getAttribute("aria-label") !== aria) chart.canvas.setAttribute("aria-label", aria);
      const first = shared[s] && shared.indexOf(shared[s]) === s;  // said once, under the group's first series
      const note = [notes[s] || "", first ? text("shared").replace("{group}", () => shared[s]) : ""].filter(Boolean).join(" · ");
      if (chart.note.textContent !== note) chart.note.textContent = note;
    }
    const legendNow = JSON.stringify([marks.some((i) => i >= 0), highs.some((i) => i >= 0), anyBlocked, anyNonfinite,
      colours, th.mark, th.highlight, model.get("texts")]);
    if (legendNow !== legendKey) {
      legendKey = legendNow;
      legend.replaceChildren();
      const item = el("span", "tr-legend-item", legend);  // "red: positive · blue: negative", with swatches
      el("span", "tr-swatch", item).style.background = colours.positive;
      el("span", "tr-swatch", item).style.background = colours.negative;
      item.appendChild(document.createTextNode(text("signs")));
      if (marks.some((i) => i >= 0)) legendItem(th.mark, text("mark"));
      if (highs.some((i) => i >= 0)) legendItem(th.highlight, text("highlight"));
      if (anyBlocked) legendItem(colours.blocked, text("blocked"));
      if (anyNonfinite) legendItem(colours.nonfinite, text("nonfinite"));
    }
    if (!hover.textContent) hover.textContent = text("hint");
    if (root.dataset.trTheme !== th.bg) root.dataset.trTheme = th.bg;  // only what changed: a write is a mutation
    if (root.dataset.step !== String(model.get("step"))) root.dataset.trStep = root.dataset.step = String(model.get("step"));
    root.dataset.trDraws = String(++draws);
  }
  function schedule() {
    if (!scheduled) { scheduled = true; queueMicrotask(draw); }
  }
  // Follow the notebook's theme without a re-run: JupyterLab sets data-jp-theme-* on <body> (and loads the
  // theme's CSS around then), VS Code a body class; the OS may switch prefers-color-scheme. Redraw when the
  // resolved --tr-* colours changed (also once the view is first attached and styled).
  const timers = new Set();
  function refresh() {
    const th = themeOf(root, model.get("theme_light") || {}, true);
    if (THEMED.map((k) => th[k]).join("|") !== themeKey) schedule();
  }
  function soon() {
    for (const ms of [0, 120, 400, 1000, 2500]) {
      const id = setTimeout(() => { timers.delete(id); refresh(); }, ms);
      timers.add(id);
    }
  }
  const mo = new MutationObserver(soon);
  if (document.body) {
    mo.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-name", "data-jp-theme-light", "class"] });
  }
  const mq = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  if (mq && mq.addEventListener) mq.addEventListener("change", soon);
  const ro = typeof ResizeObserver !== "undefined" ? new ResizeObserver(refresh) : null;
  if (ro) ro.observe(root);
  const traits = ["values", "blocked", "lengths", "names", "notes", "marks", "highlights", "groups", "title", "step",
    "arrow", "bar_px", "colours", "scale_max", "axis", "units", "scale_groups", "texts", "theme_light"];
  for (const t of traits) model.on(`change:${t}`, schedule);
  draw();
  return () => {
    for (const t of traits) model.off(`change:${t}`, schedule);
    mo.disconnect(); if (ro) ro.disconnect();
    if (mq && mq.removeEventListener) mq.removeEventListener("change", soon);
    for (const id of timers) clearTimeout(id);
  };
}

export default { render };
