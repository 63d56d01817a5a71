"""The tutorials are tests (issue 6): every notebook in tutorials/ and tutorials/zh/ must run, and its
committed outputs must still be what it computes.

The Chinese tutorials (issue 15) are tested exactly like the English ones, and
``test_zh_twin_has_the_same_code`` keeps each tutorials/zh/NN_*.ipynb from drifting from its English
twin (the way d2l-zh's code drifted from d2l-en's): the same code cells in the same order, with the
same sources and tags; only the ``parameters`` cell may differ, in its values (``lang``, a prompt),
never in its names or their order. The prose (markdown cells) is written for each language.

* ``test_executes_with_papermill``: papermill runs the notebook (its ``parameters`` cell overridden by an
  injected one), without storing widget state; a failing cell or assert fails the test.
* ``test_outputs_match_with_nbval``: nbval re-runs the committed notebook and compares every output
  (text/plain, text/html, streams) with the stored one, after ``tutorials/nbval_sanitize.cfg``.
  nbval never compares the widget-view mimetype (random model ids) or images; the timing cells are
  tagged ``nbval-ignore-output``. nbval is a pytest plugin that collects .ipynb files and must own its
  pytest session, so one subprocess runs it over the selected notebooks and each notebook's test reads
  its cells' results from the JUnit report.
* The static checks read the committed files: numbering, one parameters cell of literals, executed
  outputs without errors, no stored widget state, a stepper and asserts in every notebook.

Equivalent by hand (from the repository root)::

    python -m pytest -p no:cacheprovider --nbval --nbval-current-env \\
        --nbval-sanitize-with tutorials/nbval_sanitize.cfg tutorials/ tutorials/zh/
"""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "tutorials"
TUTORIALS_ZH = TUTORIALS / "zh"
SANITIZE = TUTORIALS / "nbval_sanitize.cfg"
NOTEBOOKS_EN = sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb"))
NOTEBOOKS_ZH = sorted(TUTORIALS_ZH.glob("[0-9][0-9]_*.ipynb"))
NOTEBOOKS = NOTEBOOKS_EN + NOTEBOOKS_ZH
REQUIRED = ["01_the_clock", "02_recurrent_update", "03_lstm_gates", "04_gru", "05_attention",
            "06_decoding_kv_cache", "07_compute_cycles", "08_bring_your_own_model", "09_recurrence_returns",
            "10_when_time_runs_backwards",
            "11_your_own_clock"]
CELL_TIMEOUT = 180  # seconds per cell: a guard against hangs, not a performance test
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

ids = [p.stem if p.parent == TUTORIALS else f"{p.parent.name}/{p.stem}" for p in NOTEBOOKS]  # "zh/01_the_clock"


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _source(cell: dict) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


# -- static checks of the committed files --------------------------------------------------------

def _parameter_names(cell: dict) -> list[str]:
    return [t.id for node in ast.parse(_source(cell)).body if isinstance(node, ast.Assign)
            for t in node.targets if isinstance(t, ast.Name)]


def test_the_tutorials_are_numbered_in_order():
    stems = [p.stem for p in NOTEBOOKS_EN]
    assert stems[:len(REQUIRED)] == REQUIRED, f"expected {REQUIRED} first, found {stems}"
    numbers = [int(s[:2]) for s in stems]
    assert numbers == list(range(1, len(stems) + 1)), f"tutorial numbers must run 01, 02, ...: {stems}"


def test_every_english_tutorial_has_a_chinese_twin_and_no_other():
    en, zh = [p.name for p in NOTEBOOKS_EN], [p.name for p in NOTEBOOKS_ZH]
    assert not sorted(set(en) - set(zh)), f"tutorials/zh/ lacks {sorted(set(en) - set(zh))} (write them in Chinese)"
    assert not sorted(set(zh) - set(en)), f"tutorials/zh/ has {sorted(set(zh) - set(en))}, with no English twin"


@pytest.mark.parametrize("path", NOTEBOOKS_EN, ids=[p.stem for p in NOTEBOOKS_EN])
def test_zh_twin_has_the_same_code(path):
    twin = TUTORIALS_ZH / path.name
    assert twin.is_file(), f"tutorials/zh/{path.name} is missing: every English tutorial has a Chinese twin"
    en, zh = _code_cells(_read(path)), _code_cells(_read(twin))
    assert len(zh) == len(en), f"zh/{path.name} has {len(zh)} code cells, {path.name} has {len(en)}"
    for i, (a, b) in enumerate(zip(en, zh)):
        where = f"zh/{path.name}, code cell {i} (id {b.get('id')})"
        assert sorted(_tags(b)) == sorted(_tags(a)), f"{where}: tags {_tags(b)}, the English twin has {_tags(a)}"
        if "parameters" in _tags(a):  # values may differ (lang, a Chinese prompt); the names may not
            assert _parameter_names(b) == _parameter_names(a), \
                f"{where}: parameters {_parameter_names(b)}, the English twin has {_parameter_names(a)}"
        else:
            assert _source(b).rstrip() == _source(a).rstrip(), \
                f"{where} differs from the English twin's (the code is shared; only prose is translated):\n" \
                f"--- en\n{_source(a)}\n--- zh\n{_source(b)}"


def test_sanitize_patterns_compile():
    from nbval.plugin import get_sanitize_patterns

    patterns = get_sanitize_patterns(SANITIZE.read_text(encoding="ascii"))
    assert len(patterns) >= 3
    for regex, replace in patterns:
        re.sub(regex, replace, "0x7f3a2c1b9e40 device='cuda:0'")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_parameters_cell_is_first_and_holds_literals(path):
    cells = _code_cells(_read(path))
    tagged = [i for i, c in enumerate(cells) if "parameters" in _tags(c)]
    assert tagged == [0], f"{path.name}: the first code cell (only) must be tagged 'parameters', got {tagged}"
    tree = ast.parse(_source(cells[0]))
    names = set()
    for node in tree.body:
        assert isinstance(node, ast.Assign), f"{path.name}: the parameters cell only assigns names"
        ast.literal_eval(node.value)  # papermill overrides these: keep them plain literals
        names |= {t.id for t in node.targets}
    assert "seed" in names, f"{path.name}: every tutorial is seeded through its parameters cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_committed_outputs_are_executed_and_clean(path):
    nb = _read(path)
    assert WIDGET_STATE not in json.dumps(nb.get("metadata", {})), f"{path.name}: widget state is stored"
    for c in _code_cells(nb):
        if not _source(c).strip():
            continue
        assert c["execution_count"] is not None, f"{path.name}: cell {c.get('id')} was not executed"
        for out in c["outputs"]:
            assert out["output_type"] != "error", f"{path.name}: cell {c.get('id')} stored an error"
            assert out.get("name") != "stderr", f"{path.name}: cell {c.get('id')} wrote to stderr: {out}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_every_tutorial_shows_a_stepper_and_asserts(path):
    code = "\n".join(_source(c) for c in _code_cells(_read(path)))
    assert re.search(r"\bshow\(|%tr_step", code), f"{path.name}: teaches without a live stepper"
    assert re.search(r"^\s*(assert |torch\.testing\.assert_close)", code, re.M), f"{path.name}: asserts nothing"


# -- execution -------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_executes_with_papermill(path, tmp_path):
    papermill = pytest.importorskip("papermill")
    out = tmp_path / path.name
    papermill.execute_notebook(
        str(path), str(out), parameters={"seed": 0}, kernel_name="python3", cwd=str(path.parent),
        progress_bar=False, log_output=False, execution_timeout=CELL_TIMEOUT,
        store_widget_state=False,  # nbclient option, passed through papermill's engine kwargs
    )
    nb = _read(out)
    assert "widgets" not in nb["metadata"], "widget state was stored"
    injected = [c for c in nb["cells"] if "injected-parameters" in _tags(c)]
    assert len(injected) == 1, "papermill did not find the parameters cell"


def _report_key(path: Path) -> str:
    """How the JUnit report names a notebook: its path from the root, dots for slashes, no suffix."""
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


@pytest.fixture(scope="module")
def nbval_results(request, tmp_path_factory):
    """Run nbval once, in one subprocess, over the notebooks whose nbval test was selected.

    One pytest start-up instead of one per notebook (English and Chinese together); each notebook's
    test then reads its own cells' results from the JUnit report. Returns
    ``{_report_key(notebook): [(cell, failure text or None), ...]}``.
    """
    chosen = [item.callspec.params["path"] for item in request.session.items
              if getattr(item, "originalname", "") == "test_outputs_match_with_nbval"]
    report = tmp_path_factory.mktemp("nbval") / "nbval.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    cmd = [sys.executable, "-m", "pytest", "-q", "--color=no", "-p", "no:cacheprovider", "-p", "no:xdist",
           "--nbval", "--nbval-current-env", "--nbval-sanitize-with", str(SANITIZE),
           "--nbval-cell-timeout", str(CELL_TIMEOUT), f"--junitxml={report}",
           *[str(p.relative_to(ROOT)) for p in chosen]]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=20 * CELL_TIMEOUT * max(len(chosen), 1))
    results: dict[str, list] = {}
    if report.exists():
        for case in ET.parse(report).getroot().iter("testcase"):
            stem = case.get("classname", "").removesuffix(".ipynb")  # "tutorials.zh.01_the_clock"
            bad = [c for c in case if c.tag in ("failure", "error")]
            text = "\n".join(filter(None, ((b.get("message") or "") + "\n" + (b.text or "") for b in bad)))
            results.setdefault(stem, []).append((case.get("name"), text or None))
    results["__log__"] = proc.stdout[-6000:] + proc.stderr[-2000:]
    return results


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_outputs_match_with_nbval(path, nbval_results):
    cells = nbval_results.get(_report_key(path))
    assert cells, f"nbval ran no cell of {path.name}:\n{nbval_results['__log__']}"
    failed = [f"{name}: {text[-3000:]}" for name, text in cells if text]
    assert not failed, f"{path.name}: outputs differ from the committed ones (or a cell failed):\n" + \
        "\n".join(failed)
