// tr_widgets bar charts: small multiples of float32 vectors on <canvas>, laid out as a flow
// (groups left to right, joined by arrows). Plain ES module loaded by anywidget; no CDN.
// `values` holds every series back to back (float32); `blocked` (uint8, optional) marks masked
// entries, drawn as hatched grey stubs rather than left blank. Names are set as textContent.

// Colours (the `colours` dict) and bar widths (`bar_px`, one per series) come from Python
// (tr_widgets/views/palette.py): this file only paints them.
const H = 64;

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

function drawSeries(canvas, vals, blocked, mark, bw, c) {
  const n = vals.length;
  canvas.width = Math.max(8, n * bw);
  canvas.height = H;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "rgb(255,255,255)";
  ctx.fillRect(0, 0, canvas.width, H);
  let m = 0;
  for (let i = 0; i < n; i++) if (!blocked[i] && Number.isFinite(vals[i])) m = Math.max(m, Math.abs(vals[i]));
  const shown = m;
  m = m || 1;  // an all-zero series (e.g. h_0) is drawn flat, and labelled max |x| 0
  const mid = H / 2;
  for (let i = 0; i < n; i++) {
    const x = i * bw, v = vals[i];
    if (blocked[i]) {
      ctx.fillStyle = c.blocked; ctx.fillRect(x, 0, bw, H);
      if (bw >= 3) {
        ctx.strokeStyle = c.hatch; ctx.beginPath();
        for (let y = 0; y < H; y += bw) { ctx.moveTo(x, y + bw); ctx.lineTo(x + bw, y); }
        ctx.stroke();
      }
    } else if (!Number.isFinite(v)) {
      ctx.fillStyle = c.nonfinite; ctx.fillRect(x, 0, bw, H);
    } else {
      const h = Math.max(1, Math.round(Math.abs(v) / m * (mid - 2)));
      ctx.fillStyle = v >= 0 ? c.positive : c.negative;
      ctx.fillRect(x, v >= 0 ? mid - h : mid, Math.max(1, bw - (bw > 3 ? 1 : 0)), h);
    }
  }
  ctx.fillStyle = c.zero; ctx.fillRect(0, mid, canvas.width, 1);  // the zero line
  if (mark >= 0 && mark < n) { ctx.strokeStyle = c.mark; ctx.lineWidth = 2; ctx.strokeRect(mark * bw + 1, 1, Math.max(bw - 2, 1), H - 2); }
  return shown;
}

function render({ model, el: root }) {
  root.classList.add("tr-bars");
  const title = el("div", "tr-title", root);
  const flow = el("div", "tr-flow", root);
  let draws = 0, scheduled = false;

  function draw() {
    scheduled = false;
    title.textContent = model.get("title");
    flow.replaceChildren();
    const vals = floatsOf(model.get("values")), blk = bytesOf(model.get("blocked"));
    const lengths = model.get("lengths"), names = model.get("names"), notes = model.get("notes");
    const marks = model.get("marks"), groups = model.get("groups");
    const widths = model.get("bar_px"), colours = model.get("colours");
    const starts = []; let acc = 0;
    for (const n of lengths) { starts.push(acc); acc += n; }
    groups.forEach((group, gi) => {
      if (gi > 0) el("div", "tr-arrow", flow).textContent = model.get("arrow");
      const col = el("div", "tr-group", flow);
      for (const s of group) {
        if (s >= lengths.length) continue;
        const box = el("div", "tr-series", col);
        const name = el("div", "tr-series-name", box);
        const canvas = el("canvas", "tr-series-canvas", box);
        const a = starts[s], n = lengths[s];
        const b = blk.length >= a + n ? blk.subarray(a, a + n) : new Uint8Array(n);
        const m = drawSeries(canvas, vals.subarray(a, a + n), b, marks[s] ?? -1, widths[s] || 1, colours);
        canvas.setAttribute("role", "img");
        canvas.setAttribute("aria-label", names[s]);
        name.textContent = names[s];
        el("div", "tr-series-note", box).textContent = `${notes[s] || ""} max |x| ${m.toPrecision(3)}`.trim();
      }
    });
    root.dataset.trStep = String(model.get("step"));
    root.dataset.step = String(model.get("step"));
    root.dataset.trDraws = String(++draws);
  }
  function schedule() {
    if (!scheduled) { scheduled = true; queueMicrotask(draw); }
  }
  const traits = ["values", "blocked", "lengths", "names", "notes", "marks", "groups", "title", "step", "arrow",
    "bar_px", "colours"];
  for (const t of traits) model.on(`change:${t}`, schedule);
  draw();
  return () => { for (const t of traits) model.off(`change:${t}`, schedule); };
}

export default { render };
