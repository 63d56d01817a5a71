// The controls stay in view while the stepper's panels scroll by. CSS position: sticky cannot: JupyterLab's
// output area and ipywidgets' boxes are scroll containers (overflow: auto), so sticky would stick inside
// them; instead the controller is moved down by what the page's scroller hides of the stepper, and below
// any fixed or sticky bar of the host page over that edge (a published page's header: mkdocs-material,
// Sphinx themes), which would otherwise hide the controls it is meant to keep in view.

// The host page's fixed or sticky element that `at` belongs to, if any, and not one around the stepper.
function barOf(at, root) {
  for (let e = at; e && e !== document.body && e !== document.documentElement; e = e.parentElement) {
    const pos = getComputedStyle(e).position;
    if (pos === "fixed" || pos === "sticky") return e.contains(root) ? null : e;
  }
  return null;
}

// The first row (from `top` down) that no bar of the host page covers, at the controls' middle.
function belowBars(root, ctl, top) {
  const r = ctl.getBoundingClientRect();
  const x = Math.min(Math.max(r.left + r.width / 2, 0), window.innerWidth - 1);
  for (let i = 0; i < 4; i++) {  // a header, its tabs, a banner: a few bars stacked at most
    const at = document.elementFromPoint(x, top + 1);
    const bar = at && !root.contains(at) ? barOf(at, root) : null;
    const bottom = bar ? bar.getBoundingClientRect().bottom : top;
    if (bottom <= top) return top;
    top = bottom;
  }
  return top;
}

export function keepInView(view) {
  const root = view.root, ctl = root.querySelector(".tr-controller");
  if (!ctl) return () => {};
  let scheduled = false;
  const visibleTop = () => {
    let top = 0;
    for (let e = root.parentElement; e; e = e.parentElement) {
      const oy = getComputedStyle(e).overflowY;
      if ((oy === "auto" || oy === "scroll") && e.scrollHeight > e.clientHeight + 1) top = Math.max(top, e.getBoundingClientRect().top);
    }
    return top;
  };
  const place = () => {
    scheduled = false;
    const r = root.getBoundingClientRect();
    let top = visibleTop();
    if (r.bottom > top && r.top < window.innerHeight) top = belowBars(root, ctl, top);  // on screen: a hit test or two
    const dy = Math.max(0, Math.min(top - r.top, r.height - ctl.offsetHeight));
    ctl.style.transform = dy > 0 ? `translateY(${dy}px)` : "";
    ctl.classList.toggle("tr-stuck", dy > 0);
  };
  const onScroll = () => { if (!scheduled) { scheduled = true; requestAnimationFrame(place); } };
  document.addEventListener("scroll", onScroll, { capture: true, passive: true });  // any scroller's scroll
  return () => document.removeEventListener("scroll", onScroll, { capture: true });
}
