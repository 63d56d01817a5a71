// The clock of one stepper: its frame chunks, the panels' models it sets (targets), the play timer.
//
// Live (anywidget): `initialize` runs once per model, so every view of one stepper (a stepper shown in two
// cells) shares one clock, one play timer and one frame cache. When the frames are in the browser, a step is
// applied here by setting the panels' models (no kernel round trip), and the step is then saved to the
// kernel so Python's `step` follows. Large traces get chunks of frames around the step (custom messages); a
// missing frame is asked for and applied when it arrives.

import { Missing, decodeFrames, valueAt } from "./frames.js";

// clock_id -> clock state shared by every view. Keyed by a trait, not by the model object: anywidget
// hands initialize and each render a different proxy of the same model.
const CLOCKS = new Map();

export function clockOf(model) {
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
export function apply(model) {
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

export function ask(model, s) {
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

export function setPlaying(model, on) {
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
export function receive(model, raw, selfContained) {
  const c = clockOf(model);
  c.decoding = c.decoding.then(() => {
    if (selfContained) c.cache = new Map();  // the trait's payload: the kernel's cache starts from it
    return decodeFrames(raw, c.cache);
  }).then((ch) => addChunk(model, ch)).catch((e) => {
    if (!(e instanceof Missing)) { console.error(e); return; }
    c.asked.clear();
    model.send({ want: model.get("step"), lost: true });
  });
}
