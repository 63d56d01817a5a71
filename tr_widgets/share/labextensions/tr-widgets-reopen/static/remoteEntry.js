// tr_widgets' JupyterLab 4 / Notebook 7 extension, written by hand (no build step, no network): a
// module-federation container as JupyterLab's loader expects it (window._JUPYTERLAB[name] with init and get).
//
// Why: a notebook run and saved in a stock JupyterLab keeps each stepper's widget-view output but not the
// widget state (saveState is off by default). Reopened, the widget-view mime type outranks the output's
// text/html, and @jupyter-widgets/jupyterlab-manager's renderer, once the manager is restored and the model
// is still missing, writes "Error displaying widget: model not found" and stops. This extension wraps that
// renderer: when it ends in an error and the output carries text/html (a stepper's kernel-less page), the
// page is rendered in its place, with the same rendermime registry (so trust and sanitising are JupyterLab's).
(function () {
  "use strict";
  var NAME = "tr-widgets-reopen";
  var WIDGET = "application/vnd.jupyter.widget-view+json";
  var scope = null;

  // The running app's own module, from webpack's share scope (the same classes JupyterLab uses).
  function shared(pkg) {
    var versions = scope && scope[pkg];
    if (!versions) return Promise.reject(new Error(NAME + ": " + pkg + " is not shared"));
    var chosen = Object.keys(versions).find(function (v) { return versions[v].loaded; }) || Object.keys(versions)[0];
    return Promise.resolve(versions[chosen].get()).then(function (factory) { return factory(); });
  }

  function failed(renderer) {
    var kids = renderer.widgets ? renderer.widgets.length : 0;  // a drawn widget view is a child widget
    return kids === 0 && /^Error displaying widget/.test(renderer.node.textContent || "");
  }

  function fallBack(registry, create, renderer, model) {
    var html = model.data && model.data["text/html"];
    html = Array.isArray(html) ? html.join("") : html;
    // Only a tr_widgets stepper's page (other libraries' outputs keep the manager's own message).
    if (!failed(renderer) || typeof html !== "string" || html.indexOf("tr-export") < 0 || !renderer.addWidget) return;
    var page = create.call(registry, "text/html");
    renderer.node.textContent = "";
    renderer.removeClass("jupyter-widgets");
    renderer.addClass("tr-reopened");
    renderer.addWidget(page);
    return page.renderModel(model);
  }

  function patch(RenderMimeRegistry) {
    var proto = RenderMimeRegistry.prototype;
    if (proto.__trReopen) return;
    var create = proto.createRenderer;
    proto.createRenderer = function (mimeType) {
      var renderer = create.apply(this, arguments);
      if (mimeType !== WIDGET || typeof renderer.renderModel !== "function") return renderer;
      var registry = this, render = renderer.renderModel;
      // An instance method: the widget renderer's own re-render (after the manager restores) calls it too.
      renderer.renderModel = function (model) {
        return Promise.resolve(render.call(renderer, model)).then(function () {
          return fallBack(registry, create, renderer, model);
        });
      };
      return renderer;
    };
    proto.__trReopen = true;
  }

  var container = {
    init: function (shareScope) { scope = shareScope; },
    get: function (module) {
      return shared("@jupyterlab/rendermime").then(function (rendermime) {
        var plugin = { id: NAME + ":plugin", description: "Saved steppers reopen as their kernel-less page.",
                       autoStart: true, activate: function () { patch(rendermime.RenderMimeRegistry); } };
        return function () { return { __esModule: true, default: [plugin] }; };
      });
    },
  };
  window._JUPYTERLAB = window._JUPYTERLAB || {};
  window._JUPYTERLAB[NAME] = container;
})();
