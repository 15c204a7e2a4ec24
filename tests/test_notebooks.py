"""Every notebook (bondlab/notebooks/*.ipynb, the one source of each) runs top to bottom in smoke mode, is
committed tidy (no outputs, deterministic cell ids: tools/tidy_notebooks.py), opens with the cell that installs
bondlab where it is missing, and ends with its summary and exercises: a "Summary" heading, then an "Exercises"
heading listing 2-3 exercises, and after that only markdown or worked-solution cells (the convention of
bondlab/student.py, which strips them from the student copies)."""
import importlib.util
import json
import pathlib
import re

import nbformat
import pytest
from nbclient import NotebookClient

import bondlab.student as ms

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "bondlab" / "notebooks").glob("*.ipynb"))

_spec = importlib.util.spec_from_file_location("tidy_notebooks", ROOT / "tools" / "tidy_notebooks.py")
tidy_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tidy_notebooks)

ITEM = re.compile(r"^\s{0,3}\d+\.\s", re.MULTILINE)
summary_and_exercises = ms.summary_and_exercises


def test_there_are_notebooks():
    assert len(NOTEBOOKS) == 6


def test_tidy_cleans_what_jupyter_adds():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook(cells=[code("import x"), md("# t"), code("y = 1"), code("z = 2")])
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    nb.cells[2].execution_count = 3
    nb.cells[2].metadata.update(tags=["solution"], execution={"iopub.status.idle": "2026"}, scrolled=True)
    nb.metadata["widgets"] = {"state": {}}
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    nb = json.loads(json.dumps(nb))   # a plain dict, as read from disk (nbformat would fix the duplicate id)
    for cell, i in zip(nb["cells"], ["install", "cell-000", "0a1b2c3d", "cell-000"]):
        cell["id"] = i
    t = tidy_notebooks.tidy(nb)
    assert [c["id"] for c in t["cells"]] == ["install", "cell-000", "cell-001", "cell-002"]   # new ids: next free
    assert t["cells"][2]["outputs"] == [] and t["cells"][2]["execution_count"] is None
    assert t["cells"][2]["metadata"] == {"tags": ["solution"]}
    assert t["metadata"] == tidy_notebooks.METADATA
    assert tidy_notebooks.tidy(t) == t            # idempotent
    nbformat.validate(nbformat.from_dict(t))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_tidy(path):
    """No outputs, no run metadata, ids install/cell-NNN: `make notebooks-tidy` after editing in Jupyter."""
    text = path.read_text()
    assert ms.dumps(tidy_notebooks.tidy(json.loads(text))) == text, f"run `make notebooks-tidy` ({path.name})"
    nbformat.validate(nbformat.reads(text, as_version=4))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_cell_installs_bondlab_only_where_it_is_missing(path, monkeypatch):
    """Run the first cell in IPython with a stand-in for the %pip magic: nothing happens where bondlab imports,
    `%pip install bondlab` where it does not (a hosted Jupyter)."""
    from IPython.core.interactiveshell import InteractiveShell
    first = json.loads(path.read_text())["cells"][0]
    assert first["cell_type"] == "code" and first["id"] == "install"
    shell = InteractiveShell.instance()
    calls = []
    shell.register_magic_function(lambda line: calls.append(line.split()), "line", "pip")
    src = ms.source(first)
    assert shell.run_cell(src).success and calls == []
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "bondlab" else real(name, *a))
    assert shell.run_cell(src).success
    assert len(calls) == 1 and calls[0][0] == "install" and calls[0][-1] == "bondlab"


def test_summary_and_exercises_finder():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    one_cell = [md("# t"), code("x = 1"), md("## Summary\n* a\n\n## Exercises\n1. a\n2. b")]
    assert summary_and_exercises(one_cell)[:2] == (2, 2)
    split = [md("# t"), md("## Summary\n* a"), md("Exercises are below."), md("## Exercises\n1. a\n2. b"),
             code("# SOLUTION\ny = 2")]
    assert summary_and_exercises(split)[:2] == (1, 3)
    assert len(ITEM.findall(summary_and_exercises(split)[2])) == 2
    assert summary_and_exercises([md("## Exercises\n1. a"), md("## Summary")])[:2] == (1, None)   # wrong order
    assert summary_and_exercises([md("# t"), code("## Summary")])[:2] == (None, None)              # code, not markdown


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in nb["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_ends_with_summary_exercises_and_solutions(path):
    cells = nbformat.read(path, as_version=4).cells      # sources as strings, as tools/make_student.py reads them
    s, e, listing = summary_and_exercises(cells)
    assert s is not None, "no markdown cell with a 'Summary' heading"
    assert e is not None, "no markdown 'Exercises' heading after the Summary heading"
    n_exercises = len(ITEM.findall(listing))
    assert 2 <= n_exercises <= 3, f"the Exercises cell lists {n_exercises} numbered exercises, not 2-3"
    stray = [i for i in range(e + 1, len(cells))
             if cells[i]["cell_type"] != "markdown" and not ms.is_solution(cells[i])]
    assert not stray, f"cells {stray} follow the Exercises heading but are neither markdown nor solution cells"
    solutions = [c for c in cells if ms.is_solution(c)]
    if solutions:   # worked solutions: at least one cell per exercise, each marked both ways (tag and first line)
        assert len(solutions) >= n_exercises
        for c in solutions:
            assert ms.SOLUTION_TAG in c.get("metadata", {}).get("tags", [])
            first = next(ln.strip() for ln in c.get("source", "").splitlines() if ln.strip())
            assert first.startswith(ms.CODE_MARKER if c["cell_type"] == "code" else ms.MARKDOWN_MARKER), first


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_in_smoke_mode(path, monkeypatch):
    monkeypatch.setenv("BONDLAB_SMOKE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    # every worked solution prints or plots its answer
    silent = [c.source.splitlines()[1] if len(c.source.splitlines()) > 1 else c.source
              for c in nb.cells if c.cell_type == "code" and ms.is_solution(c) and not c.get("outputs")]
    assert not silent, f"solution cells without output: {silent}"
