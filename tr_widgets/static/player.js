// tr_widgets step clock: the stepper's controls, and its frames. Plain ES module, no CDN, no build.
//
// Live (anywidget): `initialize` runs once per model, so every view of one stepper (a stepper shown
// in two cells) shares one clock, one play timer and one frame cache; `render` draws the controls of
// one view. A frame is the state of every panel at one step; when the frames are in the browser, a
// step is applied here by setting the panels' models (no kernel round trip), and the step is then
// saved to the kernel so Python's `step` follows. Large traces get chunks of frames around the step
// (custom messages); a missing frame is asked for and applied when it arrives.
//
// The stepper around the controls (live: closest(".tr-stepper"); exported: the .tr-export box) is focusable:
// ← → step, Home/End jump, Space plays or pauses, and those keys stop there (never JupyterLab's shortcuts);
// a panel's "tr-go" event selects a step; the controls stay in view; the save control downloads a PNG drawn
// here from the stepper's canvases and text. Every word shown comes from the `texts` trait (i18n "control.").
//
// Exported pages: export.js finds every `.tr-export` element, builds plain stand-in models from the
// frames embedded in it, and runs this same `initialize`/`render` and matrix.js / bars.js on them.
//
// Frames payload (zlib): "TRF1", u32 manifest length, manifest JSON, blobs. The manifest lists per
// target and key either JSON values ("j") or blob entries (bytes "b", shuffled float32 "s", JSON text "J";
// see DECODE), and per key the table index of each step: one int when constant, else the offset of a
// Uint16/Uint32 array in the blobs.

// clock_id -> clock state shared by every view. Keyed by a trait, not by the model object: anywidget
// hands initialize and each render a different proxy of the same model.
const CLOCKS = new Map();

function bytesOf(v) {
  if (!v) return new Uint8Array(0);
  if (v instanceof DataView) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return new Uint8Array(0);
}

async function inflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// Blob entries: [offset, length]; [offset, length, hash] (keep it: later chunks refer to it);
// [hash] (a value this page already holds). A missing one (the cache was lost) throws Missing.
class Missing extends Error {}
const CACHE_MAX = 512, TEXT = new TextDecoder();

// A blob kind's value from its bytes: "b" bytes (a DataView), "s" float32 bytes sent byte-shuffled
// (frames.shuffle4: all first bytes, then all second bytes...), "J" JSON text (kept parsed).
const DECODE = {
  b: (src) => new DataView(src.buffer, src.byteOffset, src.byteLength),
  s: (src) => {
    const n = src.length >> 2, out = new Uint8Array(src.length);
    for (let j = 0; j < 4; j++) {
      const plane = src.subarray(j * n, (j + 1) * n);
      for (let i = 0; i < n; i++) out[4 * i + j] = plane[i];
    }
    return new DataView(out.buffer);
  },
  J: (src) => JSON.parse(TEXT.decode(src)),
};

function blobOf(kind, entry, blobs, cache) {
  if (entry.length === 1) {
    if (!cache || !cache.has(entry[0])) throw new Missing(entry[0]);
    return cache.get(entry[0]);
  }
  const v = DECODE[kind](blobs.subarray(entry[0], entry[0] + entry[1]));
  if (entry.length === 3 && cache) {
    cache.set(entry[2], v);
    if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value);  // oldest first
  }
  return v;
}

// One decoded chunk: {gen, first, count, targets: [[{name, values, index}]]}.
export async function decodeFrames(raw, cache = new Map()) {
  const b = await inflate(bytesOf(raw));
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = dv.getUint32(4, true);
  const man = JSON.parse(TEXT.decode(b.subarray(8, 8 + n)));
  const blobs = b.subarray(8 + n);
  const targets = man.targets.map((keys) => keys.map(([name, kind, table, index, width]) => {
    const values = kind in DECODE ? table.map((e) => blobOf(kind, e, blobs, cache)) : table;
    let idx = index;
    if (Array.isArray(index)) {
      const o = index[0], copy = blobs.slice(o, o + man.count * width);
      idx = width === 2 ? new Uint16Array(copy.buffer) : new Uint32Array(copy.buffer);
    }
    return { name, values, index: idx };
  }));
  return { gen: man.gen, first: man.first, count: man.count, targets };
}

export function valueAt(key, k) {
  return key.values[typeof key.index === "number" ? key.index : key.index[k]];
}

// The clock of one model: its frame chunks, target models, play timer. Created by `initialize`.
function clockOf(model) {
  const id = model.get("clock_id");
  let c = CLOCKS.get(id);
  if (!c) {
    c = { chunks: [], gen: -1, targets: null, applied: [], timer: null, asked: new Map(), views: new Set(),
          decoding: Promise.resolve(), cache: new Map() };
    CLOCKS.set(id, c);
  }
  return c;
}

function chunkFor(c, s) {
  for (let i = c.chunks.length - 1; i >= 0; i--) {
    const ch = c.chunks[i];
    if (s >= ch.first && s < ch.first + ch.count) return ch;
  }
  return null;
}

export function hasFrame(model, s) {
  const c = clockOf(model);
  return !model.get("frames_mode") || chunkFor(c, s) !== null;
}

function addChunk(model, ch) {
  const c = clockOf(model);
  if (ch.gen < c.gen) return;
  if (ch.gen > c.gen) { c.gen = ch.gen; c.chunks = []; c.applied = []; }
  c.chunks.push(ch);
  if (c.chunks.length > 64) c.chunks.splice(0, c.chunks.length - 64);  // bounded memory
  apply(model);
}

// Set every target model to the frame of the current step (only the keys that differ).
function apply(model) {
  const c = clockOf(model), s = model.get("step");
  const ch = chunkFor(c, s);
  if (!ch || !c.targets) { paintViews(model); return false; }
  const k = s - ch.first;
  ch.targets.forEach((keys, t) => {
    const m = c.targets[t];
    if (!m) return;
    const done = c.applied[t] || (c.applied[t] = {});
    const changes = {};
    let any = false;
    for (const key of keys) {
      const v = valueAt(key, k);
      if (done[key.name] !== v) { done[key.name] = v; changes[key.name] = v; any = true; }
    }
    if (any) m.set(changes);
  });
  c.shown = s;
  paintViews(model);
  return true;
}

function ask(model, s) {
  const c = clockOf(model), now = performance.now();
  if (!model.get("frames_mode") || chunkFor(c, s)) return;
  if (now - (c.asked.get(s) || -1e9) < 500) return;
  c.asked.set(s, now);
  model.send({ want: s });
}

// A step chosen in this page: every view follows at once; the kernel is told afterwards, in a task of its
// own (the page may paint the step before the message is built and sent), once for any number of steps
// taken meanwhile (`tell`: play tells it at most every PLAY_SYNC_MS, and on pause).
export function go(model, s, tell = true) {
  const n = model.get("n_steps");
  s = Math.max(0, Math.min(n - 1, s | 0));
  if (s === model.get("step")) return;
  model.set("step", s);
  if (!tell) return;
  const c = clockOf(model);
  if (!c.telling) c.telling = setTimeout(() => { c.telling = null; model.save_changes(); }, 0);
}

// While playing, the kernel hears the step about every 100 ms, not every tick: each message to the kernel
// costs the page a websocket send, the kernel's busy/idle status (JupyterLab repaints its favicon) and the
// echo, milliseconds the 33 ms tick cannot spare. The kernel keeps PLAY_AHEAD_S of frames ahead of it.
const PLAY_SYNC_MS = 100;

function setPlaying(model, on) {
  const c = clockOf(model);
  if (on && model.get("step") >= model.get("n_steps") - 1) go(model, 0);  // play at the end: start again
  model.set("playing", on);
  model.save_changes();
  if (c.timer) { clearInterval(c.timer); c.timer = null; }
  if (on) {
    c.timer = setInterval(() => {
      const s = model.get("step"), n = model.get("n_steps");
      if (s >= n - 1) { setPlaying(model, false); return; }
      if (!hasFrame(model, s + 1)) { ask(model, s + 1); return; }  // wait for it: never skip a step
      const now = performance.now(), tell = now - (c.told || 0) >= PLAY_SYNC_MS;
      if (tell) c.told = now;
      go(model, s + 1, tell);
      if (s + 1 >= n - 1) setPlaying(model, false);  // the last step: stop there, not one tick later
    }, model.get("interval"));
  }
  paintViews(model);
}

function paintViews(model) {
  for (const v of clockOf(model).views) v();
}

// Decode a payload after the ones before it (its references need them); a lost reference asks again.
function receive(model, raw, self_contained) {
  const c = clockOf(model);
  c.decoding = c.decoding.then(() => {
    if (self_contained) c.cache = new Map();  // the trait's payload: the kernel's cache starts from it
    return decodeFrames(raw, c.cache);
  }).then((ch) => addChunk(model, ch)).catch((e) => {
    if (!(e instanceof Missing)) { console.error(e); return; }
    c.asked.clear();
    model.send({ want: model.get("step"), lost: true });
  });
}

function initialize({ model }) {
  const c = clockOf(model);
  const load = () => {
    const raw = model.get("frames");
    if (!raw || !bytesOf(raw).length) return;
    receive(model, raw, true);
  };
  const resolveTargets = async () => {
    const ids = model.get("targets") || [];
    const mgr = model.widget_manager;
    const one = (id) => Promise.race([
      Promise.resolve().then(() => mgr.get_model(String(id).replace(/^IPY_MODEL_/, ""))),
      new Promise((_, reject) => setTimeout(() => reject(new Error("timed out")), 3000))]);
    const targets = await Promise.all(ids.map((id) => one(id).catch((e) => {
      console.warn("tr_widgets: panel model not ready", id, String(e)); return null; })));
    c.targets = targets;
    c.applied = [];
    if (targets.some((m) => m === null)) setTimeout(resolveTargets, 500);  // not created yet: again
    await c.decoding;
    apply(model);
  };
  model.on("change:frames", load);
  model.on("change:targets", resolveTargets);
  model.on("change:step", () => { if (!apply(model)) ask(model, model.get("step")); });
  model.on("change:playing", () => {
    if (!!model.get("playing") !== !!c.timer) setPlaying(model, !!model.get("playing"));
  });
  model.on("change:interval", () => { if (c.timer) setPlaying(model, true); });
  model.on("msg:custom", (msg, buffers) => {
    if (msg && msg.frames && buffers && buffers.length) receive(model, buffers[0], false);
  });
  load();
  model.send({ hello: 1 });  // a live front end: later outputs carry the widget view
  model.ready = resolveTargets().catch((e) => console.error("tr_widgets:", e));  // not awaited: anywidget gives initialize two seconds
}

export function el(tag, cls, parent, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}

// The controls' words: the stepper's `texts` (i18n "control." keys), English where a key is missing.
const WORDS = { previous: "previous step", next: "next step", play: "play", pause: "pause", speed: "speed",
                loading: "loading…", readout: "{name} {step} ({first}–{last})", readout_symbol: "{name} = {step} ({first}–{last})",
                save: "save picture", save_short: "save", stepper: "stepper: {name}", keys: "← → step · Home, End: first, last · Space: play, pause" };

export function word(model, key, values = {}) {
  const t = (model.get("texts") || {})[key];
  return (typeof t === "string" ? t : WORDS[key]).replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
}

// "query 3 (0–9)", "t = 3 (0–4)": 0-based, as Python indexes steps, with the range.
export function readoutText(model) {
  const name = model.get("description"), last = Math.max(model.get("n_steps") - 1, 0);
  return word(model, [...name].length <= 2 ? "readout_symbol" : "readout", { name, step: model.get("step"), first: 0, last });
}

// Keys reach the stepper before JupyterLab sees them: JupyterLab 4 runs its shortcuts from a keydown
// listener on document (bubbling; Notebook 7: capturing), so one capturing listener on window, installed
// once per page, hands the keys to the stepper that holds the focus; the keys it handles stop there.
function onWindowKey(e) {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.shiftKey || e.isComposing) return;
  const root = e.target instanceof Element ? e.target.closest("[data-tr-keys]") : null;
  if (root && root.__trwKeys) root.__trwKeys(e);
}
if (typeof window !== "undefined" && !window.__trwKeysInstalled) {
  window.__trwKeysInstalled = true;
  window.addEventListener("keydown", onWindowKey, true);
  window.addEventListener("keyup", onWindowKey, true);
}
const STEP_KEYS = new Set(["ArrowLeft", "ArrowRight", "Home", "End", " "]);

// A control that uses these keys itself (a menu, a text box): it keeps them, JupyterLab does not get them.
function ownsKeys(t) {
  const tag = t.tagName;
  return tag === "SELECT" || tag === "TEXTAREA" || t.isContentEditable || (tag === "INPUT" && t.type !== "range");
}

function keyHandler(model) {
  return (e) => {
    const t = e.target, onButton = !!t.closest("button");
    if (!STEP_KEYS.has(e.key) && !(e.key === "Enter" && onButton)) return;
    e.stopPropagation();  // never JupyterLab's shortcuts (cell selection, collapsing the heading)
    if (e.key === "Enter" || ownsKeys(t)) return;  // the button's click, the menu's choice: theirs
    e.preventDefault();  // also keeps Space from pressing a focused button
    if (e.type !== "keydown") return;
    const s = model.get("step"), n = model.get("n_steps");
    if (e.key === "ArrowLeft") go(model, s - 1);
    else if (e.key === "ArrowRight") go(model, s + 1);
    else if (e.key === "Home") go(model, 0);
    else if (e.key === "End") go(model, n - 1);
    else if (!e.repeat) setPlaying(model, !model.get("playing"));
  };
}

// The stepper around the controls: focusable, keys, clicks in panels ("tr-go"). Found once attached.
function bindStepper(model, from, view) {
  const root = from.closest(".tr-stepper") || from.closest(".tr-export");
  if (!root) {
    if (view.tries++ < 100 && !view.gone) view.retry = setTimeout(() => bindStepper(model, from, view), 100);
    return;
  }
  if (root.__trwKeys) return;  // already bound (by another view of the same DOM)
  const onGo = (e) => {
    const s = e.detail && e.detail.step;
    if (Number.isInteger(s)) { e.stopPropagation(); go(model, s); }
  };
  if (!root.hasAttribute("tabindex")) root.tabIndex = 0;
  root.setAttribute("role", "group");
  root.setAttribute("aria-keyshortcuts", "ArrowLeft ArrowRight Home End Space");
  root.dataset.trKeys = "1";
  root.__trwKeys = keyHandler(model);
  root.addEventListener("tr-go", onGo);
  view.root = root;
  const unstick = keepInView(view);
  view.unbind = () => { unstick(); root.removeEventListener("tr-go", onGo); delete root.__trwKeys; delete root.dataset.trKeys; };
  view.label();
}

// The controls stay in view while the stepper's panels scroll by. CSS position: sticky cannot: JupyterLab's
// output area and ipywidgets' boxes are scroll containers (overflow: auto), so sticky would stick inside
// them; instead the controller is moved down by what the page's scroller hides of the stepper.
function keepInView(view) {
  const root = view.root, ctl = root.querySelector(".tr-controller");
  if (!ctl) return () => {};
  let scheduled = false;
  const visibleTop = () => {
    let top = 0;
    for (let e = root.parentElement; e; e = e.parentElement) {
      const oy = getComputedStyle(e).overflowY;
      if ((oy === "auto" || oy === "scroll") && e.scrollHeight > e.clientHeight + 1) top = Math.max(top, e.getBoundingClientRect().top);
    }
    return top;
  };
  const place = () => {
    scheduled = false;
    const r = root.getBoundingClientRect();
    const dy = Math.max(0, Math.min(visibleTop() - r.top, r.height - ctl.offsetHeight));
    ctl.style.transform = dy > 0 ? `translateY(${dy}px)` : "";
    ctl.classList.toggle("tr-stuck", dy > 0);
  };
  const onScroll = () => { if (!scheduled) { scheduled = true; requestAnimationFrame(place); } };
  document.addEventListener("scroll", onScroll, { capture: true, passive: true });  // any scroller's scroll
  return () => document.removeEventListener("scroll", onScroll, { capture: true });
}

// ---- the picture: the stepper's DOM drawn on one canvas, downloaded as PNG (offline, no kernel) ----

function cssVar(elem, name, fallback) {
  return getComputedStyle(elem).getPropertyValue(name).trim() || fallback;
}

function svgImage(svg) {  // an inline SVG with its computed colours, as an image that drawImage takes
  const copy = svg.cloneNode(true), src = [svg, ...svg.querySelectorAll("*")], dst = [copy, ...copy.querySelectorAll("*")];
  src.forEach((e, i) => {
    const cs = getComputedStyle(e);
    for (const p of ["fill", "stroke", "stroke-width", "font-family", "font-size", "font-weight", "opacity"]) {
      dst[i].style.setProperty(p, cs.getPropertyValue(p));
    }
  });
  const r = svg.getBoundingClientRect();
  copy.setAttribute("width", String(r.width)); copy.setAttribute("height", String(r.height));
  const url = URL.createObjectURL(new Blob([new XMLSerializer().serializeToString(copy)], { type: "image/svg+xml" }));
  const img = new Image();
  return new Promise((ok) => { img.onload = () => ok(img); img.onerror = () => ok(null); img.src = url; })
    .finally(() => URL.revokeObjectURL(url));
}

// What is shown: boxes (backgrounds, borders), canvases, SVGs and text runs, at their place in `root`.
function layoutOf(root) {
  const o = root.getBoundingClientRect(), items = [];
  const at = (r) => ({ x: r.left - o.left, y: r.top - o.top, w: r.width, h: r.height });
  const seen = (e) => e.getClientRects().length > 0;  // not display: none (nor inside it)
  for (const e of root.querySelectorAll("*")) {
    const inside = e.closest("svg, .tr-export-static, .tr-live, script, style");
    if (!seen(e) || (inside && inside !== e)) continue;
    const cs = getComputedStyle(e), r = at(e.getBoundingClientRect());
    if (!r.w || !r.h || cs.visibility === "hidden") continue;
    const bg = cs.backgroundColor, bw = parseFloat(cs.borderTopWidth) || 0;
    if (bg && bg !== "transparent" && !/rgba\(.*,\s*0\)$/.test(bg)) items.push({ kind: "box", ...r, fill: bg });
    if (bw > 0 && cs.borderTopStyle !== "none") items.push({ kind: "frame", ...r, stroke: cs.borderTopColor, lw: bw });
    if (e.tagName === "CANVAS") items.push({ kind: "canvas", ...r, canvas: e });
    else if (e.tagName.toLowerCase() === "svg") items.push({ kind: "svg", ...r, svg: e });
    else if (e.tagName === "INPUT" && e.type === "range") {
      const f = (Number(e.value) - Number(e.min)) / Math.max(Number(e.max) - Number(e.min), 1);
      items.push({ kind: "range", ...r, f, color: cssVar(e, "--tr-fg-muted", "#3d3d3d") });
    } else if (e.tagName === "SELECT" && e.selectedOptions[0]) {
      items.push({ kind: "text", x: r.x + 4, y: r.y, h: r.h, text: e.selectedOptions[0].text, font: cs.font, color: cs.color });
    }
  }
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const p = n.parentElement;
    if (!n.textContent.trim() || !p || p.closest("svg, select, script, style, .tr-export-static, .tr-live") || !seen(p)) continue;
    const cs = getComputedStyle(p), range = document.createRange();
    const words = n.textContent.split(/(\s+)/);
    let i = 0;
    for (const wd of words) {  // word by word: wrapped text keeps its lines
      if (wd.trim()) {
        range.setStart(n, i); range.setEnd(n, i + wd.length);
        const r = at(range.getBoundingClientRect());
        if (r.w) items.push({ kind: "text", x: r.x, y: r.y, h: r.h, text: wd, font: cs.font, color: cs.color });
      }
      i += wd.length;
    }
  }
  return { width: Math.ceil(o.width), height: Math.ceil(o.height), items };
}

export async function picture(root, scale = window.devicePixelRatio || 1) {
  root.querySelectorAll(".tr-matrix").forEach((m) => m.__trFlush?.());  // views off screen paint now
  root.classList.add("tr-saving");  // not moved down while measured: everything at its own place
  let shot;
  try { shot = layoutOf(root); } finally { root.classList.remove("tr-saving"); }
  const images = await Promise.all(shot.items.map((it) => (it.kind === "svg" ? svgImage(it.svg) : null)));
  const cv = document.createElement("canvas");
  cv.width = Math.max(1, Math.round(shot.width * scale)); cv.height = Math.max(1, Math.round(shot.height * scale));
  const ctx = cv.getContext("2d");
  ctx.scale(scale, scale);
  ctx.fillStyle = cssVar(root, "--tr-bg", "#ffffff");
  ctx.fillRect(0, 0, shot.width, shot.height);
  ctx.imageSmoothingEnabled = false;
  ctx.textBaseline = "middle";
  const layer = { box: 0, frame: 1, canvas: 2, svg: 2, range: 2, text: 3 };
  for (const kind of [0, 1, 2, 3]) {
    shot.items.forEach((it, i) => {
      if (layer[it.kind] !== kind) return;
      if (it.kind === "box") { ctx.fillStyle = it.fill; ctx.fillRect(it.x, it.y, it.w, it.h); }
      else if (it.kind === "frame") { ctx.strokeStyle = it.stroke; ctx.lineWidth = it.lw; ctx.strokeRect(it.x + it.lw / 2, it.y + it.lw / 2, it.w - it.lw, it.h - it.lw); }
      else if (it.kind === "canvas") ctx.drawImage(it.canvas, it.x, it.y, it.w, it.h);
      else if (it.kind === "range") {  // the slider: its track and where the step is
        ctx.fillStyle = it.color; ctx.fillRect(it.x + 6, it.y + it.h / 2 - 1, it.w - 12, 2);
        ctx.beginPath(); ctx.arc(it.x + 6 + it.f * (it.w - 12), it.y + it.h / 2, 6, 0, 2 * Math.PI); ctx.fill();
      }
      else if (it.kind === "svg" && images[i]) ctx.drawImage(images[i], it.x, it.y, it.w, it.h);
      else if (it.kind === "text") { ctx.font = it.font; ctx.fillStyle = it.color; ctx.fillText(it.text, it.x, it.y + it.h / 2); }
    });
  }
  return new Promise((ok) => cv.toBlob(ok, "image/png"));
}

async function savePicture(model, root) {
  const blob = await picture(root);
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `tr_widgets-${String(model.get("description")).replace(/[^\w-]+/g, "_")}-${model.get("step")}.png`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

function render({ model, el: root }) {
  const c = clockOf(model);
  root.classList.add("tr-clock");
  const row = el("div", "tr-clock-row", root);
  const prev = el("button", "tr-prev", row), play = el("button", "tr-play", row), next = el("button", "tr-next", row);
  const slider = el("input", "tr-step-slider", row);
  slider.type = "range"; slider.min = "0"; slider.step = "1";
  const readout = el("span", "tr-step-readout", row);
  const speed = el("select", "tr-speed", row);
  const save = el("button", "tr-save", row);
  const status = el("span", "tr-frames-status", row);
  // What a screen reader says after each step: the readout and the caption's quoted tokens.
  const live = el("span", "tr-live", row);
  live.setAttribute("role", "status"); live.setAttribute("aria-live", "polite"); live.setAttribute("aria-atomic", "true");
  // DOM writes only where something changed: paint runs on every step (twice: the clock's views, then the
  // step's own listener), and even an equal textContent replaces the text node (a mutation, a relayout).
  const text = (e, t) => { if (e.textContent !== t) e.textContent = t; };
  const attr = (e, k, v) => { if (e.getAttribute(k) !== v) e.setAttribute(k, v); };
  const named = (b, key) => { const t = word(model, key); text(b, t); attr(b, "title", t); attr(b, "aria-label", t); };
  const data = (k, v) => { if (root.dataset[k] !== v) root.dataset[k] = v; };
  const view = { tries: 0, gone: false, root: null, unbind: null, retry: null,
                 label: () => { if (view.root && view.root.__trwKeys) attr(view.root, "aria-label", `${word(model, "stepper", { name: model.get("description") })} (${word(model, "keys")})`); } };

  let captioned = null, tokens = "";
  function captionTokens() {
    const m = c.targets && c.targets[model.get("caption_target") ?? -1];
    const value = m && m.get("value");
    if (typeof value !== "string") return "";
    if (value !== captioned) {  // parsed once per caption
      const doc = new DOMParser().parseFromString(value, "text/html");  // inert: nothing runs or loads
      captioned = value;
      tokens = [...doc.querySelectorAll(".tr-tok")].map((e) => `“${e.textContent}”`).join(" ");
    }
    return tokens;
  }

  function paint() {
    const s = model.get("step"), n = model.get("n_steps"), playing = !!model.get("playing");
    if (slider.max !== String(Math.max(n - 1, 0))) slider.max = String(Math.max(n - 1, 0));
    if ((document.activeElement !== slider || !c.dragging) && slider.value !== String(s)) slider.value = String(s);
    attr(slider, "aria-label", model.get("description"));
    attr(slider, "aria-valuetext", readoutText(model));
    text(readout, readoutText(model));
    text(live, `${readout.textContent} ${captionTokens()}`.trim());
    // a focused button that gets disabled (the first or last step) would drop the focus to the page, and
    // the next key to JupyterLab: the stepper keeps it
    const keep = [prev, next].includes(document.activeElement);
    prev.disabled = s <= 0;
    next.disabled = s >= n - 1;
    if (keep && document.activeElement.disabled && view.root) view.root.focus({ preventScroll: true });
    named(prev, "previous"); named(next, "next"); named(play, playing ? "pause" : "play"); named(save, "save");
    text(save, word(model, "save_short"));  // small; its accessible name is the whole word
    attr(speed, "aria-label", word(model, "speed"));
    attr(speed, "title", word(model, "speed"));
    const speeds = model.get("speeds") || [];
    if (speed.options.length !== speeds.length) {
      speed.replaceChildren(...speeds.map(([txt, ms]) => { const o = el("option", "", null, txt); o.value = String(ms); return o; }));
    }
    if (speed.value !== String(model.get("interval"))) speed.value = String(model.get("interval"));
    const waiting = model.get("frames_mode") && c.shown !== s;
    text(status, waiting ? word(model, "loading") : "");
    data("step", String(s));
    data("trStep", String(s));
    data("trPlaying", String(playing));
    data("trFrames", model.get("frames_mode") ? "browser" : "kernel");
    data("trTargets", String(c.targets ? c.targets.filter(Boolean).length : -1));
    data("trChunks", String(c.chunks.length));
    view.label();
  }
  prev.addEventListener("click", () => go(model, model.get("step") - 1));
  next.addEventListener("click", () => go(model, model.get("step") + 1));
  play.addEventListener("click", () => setPlaying(model, !model.get("playing")));
  save.addEventListener("click", () => savePicture(model, view.root || root).catch((e) => console.error("tr_widgets save:", e)));
  slider.addEventListener("pointerdown", () => { c.dragging = true; });
  slider.addEventListener("pointerup", () => { c.dragging = false; });
  slider.addEventListener("input", () => go(model, Number(slider.value)));
  speed.addEventListener("change", () => { model.set("interval", Number(speed.value)); model.save_changes(); });
  c.views.add(paint);
  const names = ["step", "n_steps", "playing", "interval", "description", "speeds", "frames_mode", "texts"];
  for (const k of names) model.on(`change:${k}`, paint);
  paint();
  bindStepper(model, root, view);
  return () => {
    view.gone = true; clearTimeout(view.retry);
    if (view.unbind) view.unbind();
    c.views.delete(paint); for (const k of names) model.off(`change:${k}`, paint);
  };
}

export default { initialize, render };
