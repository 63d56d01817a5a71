"""binder/ is complete, and its pins agree with the project's constraints file."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def pins(path):
    out = {}
    for line in (ROOT / path).read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)", line.strip())
        if m:
            out[m.group(1).lower().replace("_", "-")] = m.group(2).split("+")[0]  # 2.13.0+cpu -> 2.13.0
    return out


def test_binder_pins_agree_with_constraints():
    binder, constraints = pins("binder/requirements.txt"), pins("constraints.txt")
    assert {"torch", "ipywidgets", "anywidget", "jupyterlab"} <= set(binder)
    for name, version in binder.items():
        assert constraints.get(name) == version, f"{name}: binder {version}, constraints {constraints.get(name)}"


def test_binder_installs_the_repo_with_cpu_torch_on_python_311():
    lines = [l.strip() for l in (ROOT / "binder/requirements.txt").read_text().splitlines()]
    assert "." in lines, "repo2docker does not install the package once binder/ exists"
    assert "-c ../constraints.txt" in lines, "transitive dependencies must be pinned too"
    assert any("torch==" in l and "+cpu" in l for l in lines)
    assert (ROOT / "binder/runtime.txt").read_text().strip() == "python-3.11"


def test_readme_links_binder_to_the_first_tutorial():
    readme = (ROOT / "README.md").read_text()
    m = re.search(r"https://mybinder\.org/v2/\S+urlpath=lab/tree/(tutorials/[\w.]+\.ipynb)", readme)
    assert m, "README needs a Binder badge that opens the first tutorial"
    assert (ROOT / m.group(1)).exists()


def test_binder_installs_the_cjk_font_the_makefile_installs():
    # the Chinese tutorials and steppers need a CJK font; Binder and `make test` use the same one
    apt = [l.partition("#")[0].strip() for l in (ROOT / "binder/apt.txt").read_text().splitlines()]
    m = re.search(r"^CJK_FONT := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert m and m.group(1) in apt, f"binder/apt.txt lists {apt}; the Makefile's CJK_FONT is {m and m.group(1)}"
    assert all(re.fullmatch(r"[a-z0-9.+-]+", p) for p in apt if p), "apt.txt: one package name a line"


def test_binder_opens_either_language():
    # tutorials/README.md and the README link Binder to the first tutorial in English and in Chinese
    for doc in ("tutorials/README.md", "README.md"):
        text = (ROOT / doc).read_text(encoding="utf-8")
        paths = re.findall(r"https://mybinder\.org/v2/\S+urlpath=lab/tree/(tutorials/[\w./]+\.ipynb)", text)
        assert {"tutorials/01_the_clock.ipynb", "tutorials/zh/01_the_clock.ipynb"} <= set(paths), \
            f"{doc}: needs Binder links to tutorials/01_the_clock.ipynb and tutorials/zh/01_the_clock.ipynb"
        assert all((ROOT / p).exists() for p in paths), paths
