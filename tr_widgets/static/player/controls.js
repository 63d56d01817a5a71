// The controls of one view: previous, play, next, the slider, the readout, the speed, save, the loading note
// and what a screen reader says after each step. Every word shown comes from words.js.

import { attr, el, text } from "../lib/dom.js";
import { captionTokens } from "./caption.js";
import { clockOf, go, setPlaying } from "./clock.js";
import { bindStepper } from "./keys.js";
import { savePicture } from "./picture.js";
import { readoutText, word } from "./words.js";

function controlsIn(root) {
  root.classList.add("tr-clock");
  const row = el("div", "tr-clock-row", root);
  const parts = { prev: el("button", "tr-prev", row), play: el("button", "tr-play", row), next: el("button", "tr-next", row) };
  parts.slider = el("input", "tr-step-slider", row);
  parts.slider.type = "range"; parts.slider.min = "0"; parts.slider.step = "1";
  parts.readout = el("span", "tr-step-readout", row);
  parts.speed = el("select", "tr-speed", row);
  parts.save = el("button", "tr-save", row);
  parts.status = el("span", "tr-frames-status", row);
  // What a screen reader says after each step: the readout and the caption's quoted tokens.
  parts.live = el("span", "tr-live", row);
  parts.live.setAttribute("role", "status"); parts.live.setAttribute("aria-live", "polite"); parts.live.setAttribute("aria-atomic", "true");
  return parts;
}

// The caption's tokens, quoted: “a” “b”, from the caption's data (its parts), as the frame set them.
function captionReader(model, c) {
  return () => {
    const m = c.targets && c.targets[model.get("caption_target") ?? -1];
    return m ? captionTokens(m.get("parts")) : "";
  };
}

// paint runs on every step (twice: the clock's views, then the step's own listener): writes only what changed.
function painter(model, root, p, view) {
  const c = clockOf(model), captionTokens = captionReader(model, c);
  const named = (b, key) => { const t = word(model, key); text(b, t); attr(b, "title", t); attr(b, "aria-label", t); };
  const data = (k, v) => { if (root.dataset[k] !== v) root.dataset[k] = v; };
  return () => {
    const s = model.get("step"), n = model.get("n_steps"), playing = !!model.get("playing");
    if (p.slider.max !== String(Math.max(n - 1, 0))) p.slider.max = String(Math.max(n - 1, 0));
    if ((document.activeElement !== p.slider || !c.dragging) && p.slider.value !== String(s)) p.slider.value = String(s);
    attr(p.slider, "aria-label", model.get("description"));
    attr(p.slider, "aria-valuetext", readoutText(model));
    text(p.readout, readoutText(model));
    text(p.live, `${p.readout.textContent} ${captionTokens()}`.trim());
    // a focused button that gets disabled (the first or last step) would drop the focus to the page, and
    // the next key to JupyterLab: the stepper keeps it
    const keep = [p.prev, p.next].includes(document.activeElement);
    p.prev.disabled = s <= 0;
    p.next.disabled = s >= n - 1;
    if (keep && document.activeElement.disabled && view.root) view.root.focus({ preventScroll: true });
    named(p.prev, "previous"); named(p.next, "next"); named(p.play, playing ? "pause" : "play"); named(p.save, "save");
    text(p.save, word(model, "save_short"));  // small; its accessible name is the whole word
    attr(p.speed, "aria-label", word(model, "speed"));
    attr(p.speed, "title", word(model, "speed"));
    const speeds = model.get("speeds") || [];
    if (p.speed.options.length !== speeds.length) {
      p.speed.replaceChildren(...speeds.map(([txt, ms]) => { const o = el("option", "", null, txt); o.value = String(ms); return o; }));
    }
    if (p.speed.value !== String(model.get("interval"))) p.speed.value = String(model.get("interval"));
    text(p.status, model.get("frames_mode") && c.shown !== s ? word(model, "loading") : "");
    data("step", String(s));
    data("trStep", String(s));
    data("trPlaying", String(playing));
    data("trFrames", model.get("frames_mode") ? "browser" : "kernel");
    data("trTargets", String(c.targets ? c.targets.filter(Boolean).length : -1));
    data("trChunks", String(c.chunks.length));
    view.label();
  };
}

function listen(model, root, p, view) {
  const c = clockOf(model);
  p.prev.addEventListener("click", () => go(model, model.get("step") - 1));
  p.next.addEventListener("click", () => go(model, model.get("step") + 1));
  p.play.addEventListener("click", () => setPlaying(model, !model.get("playing")));
  p.save.addEventListener("click", () => savePicture(model, view.root || root).catch((e) => console.error("tr_widgets save:", e)));
  p.slider.addEventListener("pointerdown", () => { c.dragging = true; });
  p.slider.addEventListener("pointerup", () => { c.dragging = false; });
  p.slider.addEventListener("input", () => go(model, Number(p.slider.value)));
  p.speed.addEventListener("change", () => { model.set("interval", Number(p.speed.value)); model.save_changes(); });
}

export function renderControls({ model, el: root }) {
  const c = clockOf(model), parts = controlsIn(root);
  const view = { tries: 0, gone: false, root: null, unbind: null, retry: null,
                 label: () => { if (view.root && view.root.__trwKeys) attr(view.root, "aria-label", `${word(model, "stepper", { name: model.get("description") })} (${word(model, "keys")})`); } };
  const paint = painter(model, root, parts, view);
  listen(model, root, parts, view);
  c.views.add(paint);
  const names = ["step", "n_steps", "playing", "interval", "description", "speeds", "frames_mode", "texts"];
  for (const k of names) model.on(`change:${k}`, paint);
  paint();
  bindStepper(model, root, view);
  model.send({ view: 1 });  // the kernel counts the views shown: work that only fills a view in stops at none
  return () => {
    view.gone = true; clearTimeout(view.retry);
    if (view.unbind) view.unbind();
    c.views.delete(paint); for (const k of names) model.off(`change:${k}`, paint);
    try { model.send({ view: -1 }); } catch (e) { /* the widget was closed: nothing to tell */ }
  };
}
