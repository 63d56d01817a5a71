"""Build the documentation site: ``python docs/site/build.py [OUT]`` (``make docs``: OUT = build/site).

The site's sources are laid out as in the repository (README.md, docs/, tutorials/ and tutorials/zh/), so every
relative link of the README and the tutorials works, plus the pages of docs/site at the top. They are copied,
with their times, into OUT-src/ (git-ignored, beside OUT), and Sphinx builds from there with the configuration in
docs/site/conf.py; doctrees in OUT-doctrees/ make a second build incremental. Nothing is executed and nothing is
downloaded. Example: ``python docs/site/build.py build/site && xdg-open build/site/index.html``.
"""
from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

SITE = Path(__file__).resolve().parent
REPO = SITE.parents[1]
# docs/site's pages, by the name each has in the site: its README stays where the guide links to it
PAGES = {"index.md": "index.md", "api.rst": "api.rst", "README.md": "docs/site/README.md"}
# what the README and the tutorials link to: the guide, the error reference, the screenshots
COPIED = ["README.md", "docs/errors.md", "docs/screenshots"]
TUTORIALS = ["*.ipynb", "README.md"]


def stage(src: Path) -> None:
    """Lay the site's sources out in ``src`` (emptied first; file times kept, so Sphinx rebuilds only changes).

    Example: ``stage(Path("build/site-src"))`` then ``(src / "tutorials" / "zh").is_dir()``.
    """
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    for name, target in PAGES.items():
        (src / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(SITE / name, src / target)
    for rel in COPIED:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        copy = shutil.copytree if (REPO / rel).is_dir() else shutil.copy2
        copy(REPO / rel, src / rel)
    for folder in ("tutorials", "tutorials/zh"):
        (src / folder).mkdir(parents=True, exist_ok=True)
        for pattern in TUTORIALS:
            for path in sorted((REPO / folder).glob(pattern)):
                shutil.copy2(path, src / folder / path.name)


def build(out: Path, quiet: bool = True) -> int:
    """Stage the sources beside ``out`` and build the HTML site into ``out``; Sphinx's exit status.

    Example: ``build(Path("build/site")) == 0`` and ``Path("build/site/index.html").exists()``.
    """
    from sphinx.cmd.build import build_main

    out = out.resolve()
    src, doctrees = out.with_name(out.name + "-src"), out.with_name(out.name + "-doctrees")
    stage(src)
    args = ["-b", "html", "-c", str(SITE), "-d", str(doctrees), str(src), str(out)]
    return build_main((["-q"] if quiet else []) + args)


if __name__ == "__main__":
    start = time.perf_counter()
    target = Path(sys.argv[1] if len(sys.argv) > 1 else REPO / "build" / "site")
    status = build(target)
    print(f"site: {target / 'index.html'} ({time.perf_counter() - start:.1f} s)", file=sys.stderr)
    sys.exit(status)
