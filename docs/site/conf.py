"""Sphinx configuration of the documentation site; build it with ``make docs`` (docs/site/build.py).

Sphinx + myst-nb, not mkdocs + mkdocs-jupyter (docs/site/README.md says more):

- the API reference comes from the docstrings with autodoc (mkdocs needs mkdocstrings and its own handlers);
- myst-nb shows the committed outputs as they are (``nb_execution_mode = "off"``): each stepper's
  ``text/html`` output is its self-contained player, written into the page with its script;
- everything the pages load ships in the packages: the alabaster theme, MathML written at build time
  (site_ext.py) instead of MathJax, no require.js (mkdocs-jupyter's nbconvert template links require.js and
  MathJax from a CDN), no intersphinx, no web fonts. The site opens from file:// with the network off.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # site_ext.py lives beside this file

import tr_widgets  # noqa: E402

project = "tr_widgets"
author = "tr_widgets contributors"
copyright = "tr_widgets contributors, MIT licence"  # noqa: A001 — Sphinx's name
release = version = tr_widgets.__version__

extensions = ["myst_nb", "sphinx.ext.autodoc", "site_ext"]
root_doc = "index"
exclude_patterns = ["**/.ipynb_checkpoints"]
language = "en"

# The notebooks are shown as committed: executing them would take minutes and is the tests' job.
nb_execution_mode = "off"
nb_ipywidgets_js = {}  # no widget manager from a CDN: the steppers' HTML players step on their own
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
myst_update_mathjax = False  # no MathJax on this site (html_math_renderer below)
# tutorials/README.md links to files that are not pages (zh/, nbval_sanitize.cfg): right on GitHub, only a
# missing-target warning here. Other warnings are printed; they do not fail the build (a docstring in the works
# should not break the site).
suppress_warnings = ["myst.xref_missing"]

autodoc_member_order = "bysource"
autodoc_typehints = "signature"

html_theme = "alabaster"
html_title = "tr_widgets"
html_math_renderer = "mathml"  # site_ext.py: no MathJax download in the reader's browser
html_copy_source = False  # the notebooks (MBs) are not copied again into _sources
html_show_sourcelink = False
html_theme_options = {
    "description": "Watch sequence models think, one time step at a time",
    "page_width": "1240px",  # wide enough for a stepper's canvases
    "sidebar_width": "230px",
    "show_powered_by": False,
}
