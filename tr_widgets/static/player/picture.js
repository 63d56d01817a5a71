// The picture: the stepper's DOM drawn on one canvas and downloaded as PNG (offline, no kernel): boxes
// (backgrounds, borders), canvases, SVGs and text runs, each at its place in the stepper.

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

const isRendered = (e) => e.getClientRects().length > 0;  // not display: none (nor inside it)

// Boxes, frames, canvases, SVGs, sliders and menus of `root`, at `at(rect)`.
function boxesOf(root, at, items) {
  for (const e of root.querySelectorAll("*")) {
    const inside = e.closest("svg, .tr-export-static, .tr-live, script, style");
    if (!isRendered(e) || (inside && inside !== e)) continue;
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
}

// The text of `root`, word by word: wrapped text keeps its lines.
function wordsOf(root, at, items) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const p = n.parentElement;
    if (!n.textContent.trim() || !p || p.closest("svg, select, script, style, .tr-export-static, .tr-live") || !isRendered(p)) continue;
    const cs = getComputedStyle(p), range = document.createRange();
    let i = 0;
    for (const wd of n.textContent.split(/(\s+)/)) {
      if (wd.trim()) {
        range.setStart(n, i); range.setEnd(n, i + wd.length);
        const r = at(range.getBoundingClientRect());
        if (r.w) items.push({ kind: "text", x: r.x, y: r.y, h: r.h, text: wd, font: cs.font, color: cs.color });
      }
      i += wd.length;
    }
  }
}

function layoutOf(root) {
  const o = root.getBoundingClientRect(), items = [];
  const at = (r) => ({ x: r.left - o.left, y: r.top - o.top, w: r.width, h: r.height });
  boxesOf(root, at, items);
  wordsOf(root, at, items);
  return { width: Math.ceil(o.width), height: Math.ceil(o.height), items };
}

function drawItem(ctx, it, image) {
  if (it.kind === "box") { ctx.fillStyle = it.fill; ctx.fillRect(it.x, it.y, it.w, it.h); }
  else if (it.kind === "frame") { ctx.strokeStyle = it.stroke; ctx.lineWidth = it.lw; ctx.strokeRect(it.x + it.lw / 2, it.y + it.lw / 2, it.w - it.lw, it.h - it.lw); }
  else if (it.kind === "canvas") ctx.drawImage(it.canvas, it.x, it.y, it.w, it.h);
  else if (it.kind === "range") {  // the slider: its track and where the step is
    ctx.fillStyle = it.color; ctx.fillRect(it.x + 6, it.y + it.h / 2 - 1, it.w - 12, 2);
    ctx.beginPath(); ctx.arc(it.x + 6 + it.f * (it.w - 12), it.y + it.h / 2, 6, 0, 2 * Math.PI); ctx.fill();
  }
  else if (it.kind === "svg" && image) ctx.drawImage(image, it.x, it.y, it.w, it.h);
  else if (it.kind === "text") { ctx.font = it.font; ctx.fillStyle = it.color; ctx.fillText(it.text, it.x, it.y + it.h / 2); }
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
    shot.items.forEach((it, i) => { if (layer[it.kind] === kind) drawItem(ctx, it, images[i]); });
  }
  return new Promise((ok) => cv.toBlob(ok, "image/png"));
}

export async function savePicture(model, root) {
  const blob = await picture(root);
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `tr_widgets-${String(model.get("description")).replace(/[^\w-]+/g, "_")}-${model.get("step")}.png`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}
