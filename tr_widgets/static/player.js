// tr_widgets step clock: the stepper's controls, and its frames. The module anywidget loads for StepClock,
// assembled by tr_widgets/widgets/esm.py from this file and the files it imports (lib/, player/):
//   player/frames.js    the frames codec (what frames.pack writes)
//   player/clock.js     the clock: frame chunks, the panels' models it sets, play
//   player/keys.js      keys and "tr-go" clicks on the stepper
//   player/in_view.js   the controls kept in view while the panels scroll by
//   player/picture.js   the stepper drawn as a PNG (the save control)
//   player/words.js     the controls' words (i18n "control." keys)
//   player/controls.js  the controls of one view (`render`)
// This file: `initialize`, once per model (see clock.js).
//
// Exported pages: export.js finds every `.tr-export` element, builds plain stand-in models from the frames
// embedded in it, and runs this same `initialize`/`render` and matrix.js / bars.js on them.

import { bytesOf } from "./lib/bytes.js";
import { apply, ask, clockOf, receive, setPlaying } from "./player/clock.js";
import { renderControls } from "./player/controls.js";
import { decodeFrames, valueAt } from "./player/frames.js";

// The panels' models, by widget id; one not created yet is asked for again.
async function resolveTargets(model) {
  const c = clockOf(model), ids = model.get("targets") || [];
  const mgr = model.widget_manager;
  const one = (id) => Promise.race([
    Promise.resolve().then(() => mgr.get_model(String(id).replace(/^IPY_MODEL_/, ""))),
    new Promise((_, reject) => setTimeout(() => reject(new Error("timed out")), 3000))]);
  const targets = await Promise.all(ids.map((id) => one(id).catch((e) => {
    console.warn("tr_widgets: panel model not ready", id, String(e)); return null; })));
  c.targets = targets;
  c.applied = [];
  if (targets.some((m) => m === null)) setTimeout(() => resolveTargets(model), 500);  // not created yet: again
  await c.decoding;
  apply(model);
}

function initialize({ model }) {
  const c = clockOf(model);
  const load = () => {
    const raw = model.get("frames");
    if (!raw || !bytesOf(raw).length) return;
    receive(model, raw, true);
  };
  model.on("change:frames", load);
  model.on("change:targets", () => resolveTargets(model));
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
  model.ready = resolveTargets(model).catch((e) => console.error("tr_widgets:", e));  // not awaited: anywidget gives initialize two seconds
}

export { decodeFrames, valueAt };
export default { initialize, render: renderControls };
