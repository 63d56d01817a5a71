// tr_widgets step clock: the stepper's controls, and its frames. Plain ES module, no CDN, no build.
//
// Live (anywidget): `initialize` runs once per model, so every view of one stepper (a stepper shown
// in two cells) shares one clock, one play timer and one frame cache; `render` draws the controls of
// one view. A frame is the state of every panel at one step; when the frames are in the browser, a
// step is applied here by setting the panels' models (no kernel round trip), and the step is then
// saved to the kernel so Python's `step` follows. Large traces get chunks of frames around the step
// (custom messages); a missing frame is asked for and applied when it arrives.
//
// Exported pages: export.js finds every `.tr-export` element, builds plain stand-in models from the
// frames embedded in it, and runs this same `initialize`/`render` and matrix.js / bars.js on them.
//
// Frames payload (zlib): "TRF1", u32 manifest length, manifest JSON, blobs. The manifest lists per
// target and key either JSON values ("j") or [offset, length] blobs ("b"), and per key the table
// index of each step: one int when constant, else the offset of a Uint16/Uint32 array in the blobs.

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
const CACHE_MAX = 512;

function blobOf(entry, blobs, cache) {
  if (entry.length === 1) {
    const v = cache && cache.get(entry[0]);
    if (!v) throw new Missing(entry[0]);
    return v;
  }
  const v = new DataView(blobs.buffer, blobs.byteOffset + entry[0], entry[1]);
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
  const man = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n)));
  const blobs = b.subarray(8 + n);
  const targets = man.targets.map((keys) => keys.map(([name, kind, table, index, width]) => {
    const values = kind === "b" ? table.map((e) => blobOf(e, blobs, cache)) : table;
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

// A step chosen in this page: every view follows at once; the kernel is told afterwards.
export function go(model, s) {
  const n = model.get("n_steps");
  s = Math.max(0, Math.min(n - 1, s | 0));
  if (s === model.get("step")) return;
  model.set("step", s);
  model.save_changes();
}

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
      go(model, s + 1);
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

function render({ model, el: root }) {
  const c = clockOf(model);
  root.classList.add("tr-clock");
  const row = el("div", "tr-clock-row", root);
  const prev = el("button", "tr-prev", row, "previous step");
  const play = el("button", "tr-play", row, "play");
  const next = el("button", "tr-next", row, "next step");
  for (const [b, name] of [[prev, "previous step"], [play, "play"], [next, "next step"]]) {
    b.type = "button"; b.title = name; b.setAttribute("aria-label", name);
  }
  const label = el("label", "tr-step-label", row);
  const name = el("span", "tr-step-name", label);
  const slider = el("input", "tr-step-slider", label);
  slider.type = "range"; slider.min = "0"; slider.step = "1";
  const readout = el("span", "tr-step-readout", row);
  readout.setAttribute("aria-live", "polite");
  const speed = el("select", "tr-speed", row);
  speed.setAttribute("aria-label", "speed");
  const status = el("span", "tr-frames-status", row);

  function paint() {
    const s = model.get("step"), n = model.get("n_steps"), playing = !!model.get("playing");
    name.textContent = model.get("description") + " ";
    slider.max = String(Math.max(n - 1, 0));
    if (document.activeElement !== slider || !c.dragging) slider.value = String(s);
    slider.setAttribute("aria-label", model.get("description"));
    readout.textContent = `${s} of ${n - 1}`;
    prev.disabled = s <= 0;
    next.disabled = s >= n - 1;
    play.textContent = playing ? "pause" : "play";
    play.setAttribute("aria-pressed", String(playing));
    const speeds = model.get("speeds") || [];
    if (speed.options.length !== speeds.length) {
      speed.replaceChildren(...speeds.map(([txt, ms]) => { const o = el("option", "", null, txt); o.value = String(ms); return o; }));
    }
    speed.value = String(model.get("interval"));
    const waiting = model.get("frames_mode") && c.shown !== s;
    status.textContent = waiting ? "loading…" : "";
    root.dataset.step = String(s);
    root.dataset.trStep = String(s);
    root.dataset.trFrames = model.get("frames_mode") ? "browser" : "kernel";
    root.dataset.trTargets = String(c.targets ? c.targets.filter(Boolean).length : -1);
    root.dataset.trChunks = String(c.chunks.length);
  }
  prev.addEventListener("click", () => go(model, model.get("step") - 1));
  next.addEventListener("click", () => go(model, model.get("step") + 1));
  play.addEventListener("click", () => setPlaying(model, !model.get("playing")));
  slider.addEventListener("pointerdown", () => { c.dragging = true; });
  slider.addEventListener("pointerup", () => { c.dragging = false; });
  slider.addEventListener("input", () => go(model, Number(slider.value)));
  speed.addEventListener("change", () => { model.set("interval", Number(speed.value)); model.save_changes(); });
  c.views.add(paint);
  const names = ["step", "n_steps", "playing", "interval", "description", "speeds", "frames_mode"];
  for (const k of names) model.on(`change:${k}`, paint);
  paint();
  return () => { c.views.delete(paint); for (const k of names) model.off(`change:${k}`, paint); };
}

export default { initialize, render };
