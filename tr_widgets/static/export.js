// tr_widgets exported pages: the live player (player.js) on stand-in models built from the frames
// embedded in the page. No kernel, no widget manager, no CDN: the page imports player.js, matrix.js,
// bars.js and this file from data: URLs and calls mountAll({player, matrix, bars}): the same modules, assembled
// by tr_widgets/widgets/esm.py, that anywidget loads live.

import { el } from "./lib/dom.js";
import { renderCaption } from "./player/caption.js";

class StandIn {
  constructor(state, manager) { this.state = { ...state }; this.handlers = {}; this.widget_manager = manager; }
  get(k) { return this.state[k]; }
  set(k, v) {
    const changes = typeof k === "string" ? { [k]: v } : k;
    const changed = Object.keys(changes).filter((name) => this.state[name] !== changes[name]);
    Object.assign(this.state, changes);
    for (const name of changed) for (const f of this.handlers[`change:${name}`] || []) f();
  }
  on(ev, f) { (this.handlers[ev] ||= []).push(f); }
  off(ev, f) { if (!ev) { this.handlers = {}; return; } this.handlers[ev] = (this.handlers[ev] || []).filter((g) => g !== f); }
  save_changes() {}
  send() {}
}

function b64bytes(s) {
  const bin = atob(s), out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function mountOne(box, mods) {
  const spec = JSON.parse(box.querySelector("script.tr-export-data").textContent);
  const raw = b64bytes(spec.frames);
  const player = mods.player;  // the player module this page loaded: one clock for all of its steppers
  const chunk = await player.decodeFrames(raw);
  const k0 = spec.step - chunk.first;
  const stand = chunk.targets.map((keys) => {
    const st = {};
    for (const key of keys) st[key.name] = player.valueAt(key, k0);
    return new StandIn(st, null);
  });
  const manager = { get_model: async (id) => stand[Number(id)] };
  const clock = new StandIn({ clock_id: `export-${Math.random()}`, step: spec.step, n_steps: spec.n_steps, playing: false, interval: spec.interval,
                              description: spec.step_name, speeds: spec.speeds, frames_mode: true,
                              texts: spec.texts || {}, caption_target: spec.caption_target ?? -1,
                              frames: raw, targets: stand.map((_, i) => String(i)) }, manager);
  player.default.initialize({ model: clock });  // anywidget's entry points, not named exports
  await clock.ready;
  const live = el("div", "tr-export-live");
  const build = (node, parent) => {
    if (node.box) {
      const d = el("div", `tr-export-box tr-export-${node.box}`, parent);
      for (const ch of node.children) build(ch, d);
    } else if (node.controller) {
      const d = el("div", "tr-controller", parent);
      player.default.render({ model: clock, el: el("div", "", d) });
      const r2 = el("div", "tr-export-row", d);
      if (node.selectors) el("span", "tr-export-selectors", r2, node.selectors);
      if (node.caption !== undefined) renderCaption({ model: stand[node.caption], el: el("div", "tr-export-html", r2) });
    } else if (node.html !== undefined) {
      const d = el("div", "tr-export-html", parent), m = stand[node.html];
      const paint = () => { d.innerHTML = m.get("value"); };  // our own markup: user text escaped in Python
      m.on("change:value", paint); paint();
    } else if (node.matrix !== undefined || node.bars !== undefined) {
      const d = el("div", "", parent);
      const mod = node.matrix !== undefined ? mods.matrix : mods.bars;
      mod.default.render({ model: stand[node.matrix ?? node.bars], el: d });
    }
  };
  box.querySelector(".tr-export-static").style.display = "none";
  box.appendChild(live);  // attached before the views render: the controls find their stepper (keys, clicks) at once
  build(spec.layout, live);
  box.dataset.trMounted = "1";
}

export async function mountAll(mods) {
  // Every stepper's script calls this: claim all boxes first, so no two calls mount the same one.
  const boxes = [...document.querySelectorAll(".tr-export[data-tr-frames]:not([data-tr-mounted])")];
  for (const box of boxes) box.dataset.trMounted = "0";
  for (const box of boxes) {
    try { await mountOne(box, mods); } catch (e) { console.error("tr_widgets export:", e); box.dataset.trMounted = "error"; }
  }
}
