// The matrix's colour bar: the colour table top (largest) to bottom, its ticks (Python chose them), the
// units and the colour map's name. Hidden without ticks: categories, which a legend names.

import { bytesOf } from "../lib/bytes.js";
import { themeVar } from "../lib/theme.js";
import { LINE, axisLabel } from "./labels.js";
import { LEVELS } from "./paint.js";

const BAR_W = 12;  // the bar's width in px

function paintBar(bar, lut) {
  bar.width = 1; bar.height = LEVELS + 1;
  const img = new ImageData(1, LEVELS + 1);
  for (let c = 0; c <= LEVELS && lut.length >= 3 * (LEVELS + 1); c++) {
    const y = LEVELS - c;  // the largest value at the top
    img.data.set([lut[3 * c], lut[3 * c + 1], lut[3 * c + 2], 255], 4 * y);
  }
  bar.getContext("2d").putImageData(img, 0, 0);
}

export function drawBar(v, theme, texts) {
  const g = v.get, ticks = g("bar_ticks");
  const key = JSON.stringify([ticks, g("label_px"), g("units"), g("cmap"), texts, theme, bytesOf(g("lut")).length]);
  if (key === v.barKey) return;  // the colour table follows cmap, which the key holds
  v.barKey = key;
  v.barBox.style.display = ticks.length ? "" : "none";
  if (!ticks.length) return;
  const h = g("label_px")[2];  // the colour bar's height in the matrix Look
  Object.assign(v.bar.style, { width: `${BAR_W}px`, height: `${h}px`, border: `1px solid ${themeVar(theme, "border")}` });
  Object.assign(v.barRow.style, { width: `${BAR_W + 56}px`, height: `${h + 2 + LINE / 2}px`, marginTop: `${LINE + 3}px` });  // room for the last tick's text
  paintBar(v.bar, bytesOf(g("lut")));
  v.bar.setAttribute("role", "img");
  v.bar.setAttribute("aria-label", `${texts.bar || ""} ${ticks.map((t) => t[1]).join(" … ")}`);
  v.barRow.querySelectorAll(".tr-bar-tick").forEach((d) => d.remove());
  for (const [pos, words] of ticks) {
    const d = axisLabel(v.barRow, words, "", { left: `${BAR_W + 6}px`, top: `${(1 - pos) * h + 1 - LINE / 2}px` });
    d.className = "tr-bar-tick";
  }
  const units = g("units"), note = [units ? `${texts.units || ""}: ${units}` : "", texts[g("cmap")] || ""];
  v.barNote.textContent = note.filter(Boolean).join(" · ");
}
