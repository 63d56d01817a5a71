// The matrix's axis labels and titles, as text elements beside the canvas. Python chose which cells get a
// label and its text (row_ticks/row_texts, col_ticks/col_texts) and the labels' column and row sizes
// (label_px: the matrix Look's); labels are user text: only ever set as textContent, never as HTML.

import { el } from "../lib/dom.js";

export const LINE = 13;  // a label's line height in px

export function axisLabel(parent, words, title, style) {
  const d = el("div", "tr-axis-label", parent);
  d.textContent = words;
  d.title = title;
  Object.assign(d.style, { position: "absolute", whiteSpace: "nowrap", overflow: "hidden", textOverflow: "ellipsis",
    font: `11px/${LINE}px var(--jp-ui-font-family, sans-serif)`, unicodeBidi: "isolate" }, style);
  return d;
}

// A click on a label or cell selects that step: the stepper around the matrix (player.js) takes the event.
export function askStep(root, step) {
  root.dispatchEvent(new CustomEvent("tr-go", { bubbles: true, composed: true, detail: { step } }));
}

// Rebuilt only when what they are drawn from changed: a step that only moves a marker rebuilds nothing
// (DOM work and layout are most of a step's cost in the page).
export function drawLabels(v, rows, cols, r0, c0) {
  const g = v.get, px = v.px, py = v.py;
  const key = JSON.stringify([rows, cols, r0, c0, px, py, g("row_ticks"), g("row_texts"), g("col_ticks"),
    g("col_texts"), g("col_rotate"), g("click_step"), g("row_axis"), g("col_axis"), g("row_labels"), g("col_labels"),
    g("label_px")]);
  if (key === v.labelsKey) return;
  v.labelsKey = key;
  const rl = g("row_labels"), cl = g("col_labels"), rtexts = g("row_texts"), ctexts = g("col_texts");
  const rotate = g("col_rotate"), click = g("click_step");
  const [rowW, colH] = g("label_px");  // the Look's sizes (views/looks_matrix.py), as the SVG picture has them
  v.rowTitle.textContent = `${g("row_axis")} ↓`;
  v.colTitle.textContent = `${g("col_axis")} →`;
  Object.assign(v.rowLab.style, { width: `${rowW}px`, height: `${rows * py}px` });
  Object.assign(v.colLab.style, { width: `${cols * px}px`, height: `${colH}px` });
  v.rowLab.replaceChildren();
  v.colLab.replaceChildren();
  g("row_ticks").forEach((i, k) => {
    const d = axisLabel(v.rowLab, rtexts[k], `${g("row_axis")} ${r0 + i}${rl[i] !== undefined ? `: ${rl[i]}` : ""}`,
      { right: "4px", top: `${(i + 0.5) * py - LINE / 2}px`, height: `${LINE}px`, maxWidth: `${rowW - 4}px`, textAlign: "right" });
    d.dataset.index = String(r0 + i);
    if (click === "row") { d.style.cursor = "pointer"; d.addEventListener("click", () => askStep(v.root, r0 + i)); }
  });
  g("col_ticks").forEach((j, k) => {
    const x = (j + 0.5) * px;
    const style = rotate
      ? { left: `${x - LINE / 2}px`, top: "3px", width: `${LINE}px`, maxHeight: `${colH - 3}px`,
          writingMode: "vertical-rl", transform: "rotate(180deg)", textAlign: "end" }
      : { left: `${x}px`, top: "2px", transform: "translateX(-50%)" };
    const d = axisLabel(v.colLab, ctexts[k], `${g("col_axis")} ${c0 + j}${cl[j] !== undefined ? `: ${cl[j]}` : ""}`, style);
    d.dataset.index = String(c0 + j);
    if (click === "col") { d.style.cursor = "pointer"; d.addEventListener("click", () => askStep(v.root, c0 + j)); }
  });
}
