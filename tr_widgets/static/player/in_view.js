// The controls stay in view while the stepper's panels scroll by. CSS position: sticky cannot: JupyterLab's
// output area and ipywidgets' boxes are scroll containers (overflow: auto), so sticky would stick inside
// them; instead the controller is moved down by what the page's scroller hides of the stepper.

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
    const dy = Math.max(0, Math.min(visibleTop() - r.top, r.height - ctl.offsetHeight));
    ctl.style.transform = dy > 0 ? `translateY(${dy}px)` : "";
    ctl.classList.toggle("tr-stuck", dy > 0);
  };
  const onScroll = () => { if (!scheduled) { scheduled = true; requestAnimationFrame(place); } };
  document.addEventListener("scroll", onScroll, { capture: true, passive: true });  // any scroller's scroll
  return () => document.removeEventListener("scroll", onScroll, { capture: true });
}
