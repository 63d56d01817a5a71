// The controls' words: the stepper's `texts` (i18n "control." keys), English where a key is missing.
// Every word the controls show comes from here.

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
