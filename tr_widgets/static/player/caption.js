// The caption under the controls, painted from the frame's data: `parts` (plain text and token labels
// alternating, as Python's CaptionPanel splits the line) and `step`. The text goes in as text nodes, each label in
// its own bidi-isolated span; nothing is parsed. Laid out as ipywidgets' HTML widget lays out its content, so the
// line looks as it did when it was one.

import { attr, el } from "../lib/dom.js";

// The labels of the caption, quoted, for a screen reader: “a” “b”.
export function captionTokens(parts) {
  return (parts || []).filter((_, i) => i % 2).map((t) => `“${t}”`).join(" ");
}

function captionNodes(parts) {
  return parts.map((p, i) => {
    if (!(i % 2)) return document.createTextNode(p);
    const tok = el("span", "tr-tok", null, p);
    tok.style.unicodeBidi = "isolate";
    return tok;
  });
}

export function renderCaption({ model, el: root }) {
  root.classList.add("jupyter-widgets", "widget-inline-hbox", "widget-html");
  const line = el("span", "tr-caption-text", el("div", "widget-html-content", root));
  let shown = null;
  const draw = () => {
    const parts = model.get("parts") || [], key = JSON.stringify(parts), s = String(model.get("step") ?? "");
    if (key !== shown) { shown = key; line.replaceChildren(...captionNodes(parts)); }
    attr(line, "data-tr-step", s);
    attr(line, "data-step", s);  // set after drawing: the view shows this step
  };
  model.on("change:parts", draw);
  model.on("change:step", draw);
  draw();
  return () => { model.off("change:parts", draw); model.off("change:step", draw); };
}
