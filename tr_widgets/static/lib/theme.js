// The theme's colours, for what a canvas paints (DOM text uses themeVar, which the browser resolves itself).
// A colour is --tr-<name> (tr.css), else the notebook's own variable (JupyterLab, then VS Code), else the light
// default: `fallback` is palette.THEME's [jp var, vscode var, light] as sent, or just the light default.
//
// One cache and one watcher per page, shared by every view and every module (anywidget loads each module on
// its own, so they meet on globalThis): getComputedStyle forces a style recalculation, milliseconds per panel
// on a large notebook, so each colour is read once per theme. JupyterLab marks a theme switch on <body>
// (data-jp-theme-*; it loads the theme's CSS around then), VS Code with a body class, the OS through
// prefers-color-scheme: the cache is emptied and every view is told, at once and again as late CSS lands.

const THEME = (globalThis.__trwTheme1 ||= { cache: new Map(), views: new Set(), watching: false });
const THEME_RETRIES_MS = [0, 120, 400, 1000, 2500];

export function themeColour(node, name, fallback, fresh = false) {
  if (!fresh && THEME.cache.has(name)) return THEME.cache.get(name);
  const [jp, vs, light] = Array.isArray(fallback) ? fallback : [null, null, fallback];
  const cs = node.isConnected ? getComputedStyle(node) : null;  // detached: not styled yet, the light default
  const read = (v) => (cs && v ? cs.getPropertyValue(v).trim() : "");
  const v = read(`--tr-${name}`) || read(jp) || read(vs) || light || "#888";
  if (cs) THEME.cache.set(name, v);
  return v;
}

// The same colour as a CSS value, for DOM text and borders: it follows a theme switch by itself.
export function themeVar(theme, name) {
  const [jp, vs, light] = theme[name] || [];
  return `var(--tr-${name}, var(${jp}, var(${vs}, ${light})))`;
}

function themeChanged() {
  for (const ms of THEME_RETRIES_MS) {
    setTimeout(() => { THEME.cache.clear(); for (const view of THEME.views) view(); }, ms);
  }
}

// `onChange` runs after each theme switch (a few times: see above); it compares the colours it painted with.
export function watchTheme(onChange) {
  THEME.views.add(onChange);
  if (!THEME.watching && typeof document !== "undefined" && document.body) {
    THEME.watching = true;
    new MutationObserver(themeChanged).observe(document.body,
      { attributes: true, attributeFilter: ["data-jp-theme-name", "data-jp-theme-light", "class"] });
    const media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
    media?.addEventListener?.("change", themeChanged);
  }
  return () => THEME.views.delete(onChange);
}
