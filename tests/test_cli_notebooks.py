"""`bondlab notebooks DIR [--student]`, driven in-process: it copies the six notebooks shipped in the package
(the installed copy is checked end to end in tests/test_packaging.py), writes exercise-only copies with
--student, and refuses, in one line naming DIR and without writing anything, a folder that is not empty."""
import json
import pathlib

import pytest

import bondlab.student as ms
from bondlab.cli import main

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "bondlab" / "notebooks").glob("*.ipynb"))


def test_copies_the_six_notebooks(tmp_path, capsys):
    assert main(["notebooks", str(tmp_path / "new" / "d")]) == 0
    out = sorted((tmp_path / "new" / "d").iterdir())
    assert [p.name for p in out] == [p.name for p in SOURCES] and len(out) == 6
    for p, src in zip(out, SOURCES):
        assert p.read_bytes() == src.read_bytes()
    assert "jupyter lab" in capsys.readouterr().out


def test_student_copies_have_no_solutions(tmp_path):
    (tmp_path / "empty").mkdir()          # an existing empty folder is fine
    assert main(["notebooks", str(tmp_path / "empty"), "--student"]) == 0
    for src in SOURCES:
        teacher = json.loads(src.read_text())
        student = json.loads((tmp_path / "empty" / src.name).read_text())
        assert student == ms.student_notebook(teacher)                     # the module's copy, unchanged
        n_solutions = sum(ms.is_solution(c) for c in teacher["cells"])
        assert n_solutions > 0 and not any(ms.is_solution(c) for c in student["cells"])
        assert sum(ms.is_exercise(c) for c in student["cells"]) == n_solutions
        assert student["cells"][0] == teacher["cells"][0]                  # the install cell stays


@pytest.mark.parametrize("student", [False, True])
def test_refuses_a_folder_that_is_not_empty(tmp_path, capsys, student):
    d = tmp_path / "d"
    d.mkdir()
    (d / SOURCES[0].name).write_text("mine")
    (d / "notes.txt").write_text("keep")
    assert main(["notebooks", str(d)] + (["--student"] if student else [])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "DIR" in err[0] and "not empty" in err[0]
    assert (d / SOURCES[0].name).read_text() == "mine" and sorted(p.name for p in d.iterdir()) == [
        SOURCES[0].name, "notes.txt"]


def test_refuses_a_file(tmp_path, capsys):
    f = tmp_path / "d"
    f.write_text("not a folder")
    assert main(["notebooks", str(f)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "DIR" in err[0] and f.read_text() == "not a folder"


def test_missing_dir_argument_is_a_usage_error(capsys):
    assert main(["notebooks"]) == 2 and "DIR" in capsys.readouterr().err
