// The stepper around the controls (live: closest(".tr-stepper"); exported: the .tr-export box) is focusable:
// ← → step, Home/End jump, Space plays or pauses, and those keys stop there (never JupyterLab's shortcuts);
// a panel's "tr-go" event selects a step.

import { go, setPlaying } from "./clock.js";
import { keepInView } from "./in_view.js";

// Keys reach the stepper before JupyterLab sees them: JupyterLab 4 runs its shortcuts from a keydown
// listener on document (bubbling; Notebook 7: capturing), so one capturing listener on window, installed
// once per page, hands the keys to the stepper that holds the focus; the keys it handles stop there.
function onWindowKey(e) {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.shiftKey || e.isComposing) return;
  const root = e.target instanceof Element ? e.target.closest("[data-tr-keys]") : null;
  if (root && root.__trwKeys) root.__trwKeys(e);
}
if (typeof window !== "undefined" && !window.__trwKeysInstalled) {
  window.__trwKeysInstalled = true;
  window.addEventListener("keydown", onWindowKey, true);
  window.addEventListener("keyup", onWindowKey, true);
}
const STEP_KEYS = new Set(["ArrowLeft", "ArrowRight", "Home", "End", " "]);

// A control that uses these keys itself (a menu, a text box): it keeps them, JupyterLab does not get them.
function ownsKeys(t) {
  const tag = t.tagName;
  return tag === "SELECT" || tag === "TEXTAREA" || t.isContentEditable || (tag === "INPUT" && t.type !== "range");
}

function keyHandler(model) {
  return (e) => {
    const t = e.target, onButton = !!t.closest("button");
    if (!STEP_KEYS.has(e.key) && !(e.key === "Enter" && onButton)) return;
    e.stopPropagation();  // never JupyterLab's shortcuts (cell selection, collapsing the heading)
    if (e.key === "Enter" || ownsKeys(t)) return;  // the button's click, the menu's choice: theirs
    e.preventDefault();  // also keeps Space from pressing a focused button
    if (e.type !== "keydown") return;
    const s = model.get("step"), n = model.get("n_steps");
    if (e.key === "ArrowLeft") go(model, s - 1);
    else if (e.key === "ArrowRight") go(model, s + 1);
    else if (e.key === "Home") go(model, 0);
    else if (e.key === "End") go(model, n - 1);
    else if (!e.repeat) setPlaying(model, !model.get("playing"));
  };
}

// The stepper around the controls: focusable, keys, clicks in panels ("tr-go"). Found once attached.
export function bindStepper(model, from, view) {
  const root = from.closest(".tr-stepper") || from.closest(".tr-export");
  if (!root) {
    if (view.tries++ < 100 && !view.gone) view.retry = setTimeout(() => bindStepper(model, from, view), 100);
    return;
  }
  if (root.__trwKeys) return;  // already bound (by another view of the same DOM)
  const onGo = (e) => {
    const s = e.detail && e.detail.step;
    if (Number.isInteger(s)) { e.stopPropagation(); go(model, s); }
  };
  if (!root.hasAttribute("tabindex")) root.tabIndex = 0;
  root.setAttribute("role", "group");
  root.setAttribute("aria-keyshortcuts", "ArrowLeft ArrowRight Home End Space");
  root.dataset.trKeys = "1";
  root.__trwKeys = keyHandler(model);
  root.addEventListener("tr-go", onGo);
  view.root = root;
  const unstick = keepInView(view);
  view.unbind = () => { unstick(); root.removeEventListener("tr-go", onGo); delete root.__trwKeys; delete root.dataset.trKeys; };
  view.label();
}
