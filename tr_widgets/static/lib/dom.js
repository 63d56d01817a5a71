// DOM helpers every view uses. Writes happen only where something changed: a view repaints on every step,
// and even an equal textContent replaces the text node (a mutation and a relayout).

export function el(tag, cls, parent, words) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (words !== undefined) e.textContent = words;
  if (parent) parent.appendChild(e);
  return e;
}

export function text(e, t) { if (e.textContent !== t) e.textContent = t; }

export function attr(e, k, v) { if (e.getAttribute(k) !== v) e.setAttribute(k, v); }

// `draw` once per task however many traits changed: a step sets a dozen traits, each with its own event.
export function batched(draw) {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    queueMicrotask(() => { pending = false; draw(); });
  };
}
